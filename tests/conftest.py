"""Fixtures shared by the test modules: an isolated pipeline environment per test.

Dagster and the demo generator are imported inside the fixtures that need them, so test
modules that use neither (the sidecar's, say) do not pay for the import.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import hypothesis
import pytest

from pipeline.demo.cost_inputs import DEMO_REPORTING_CURRENCY
from pipeline.settings import Settings, load_settings

# Property tests judge correctness, not speed: on a shared 2-core machine under load, input
# generation and single examples can be slow without anything being wrong.
hypothesis.settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("shared-machine")

if TYPE_CHECKING:
    import dagster as dg
    from postgres_support import Cluster

    from pipeline.demo import SellerSummary


@pytest.fixture
def pipeline_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a fresh landing folder, warehouse and DAGSTER_HOME under `tmp_path`.

    They are also put in the environment, so code that calls `load_settings()` itself (assets,
    sensors, the CLI) sees the same paths.
    """
    env = {
        "LTV_LANDING_DIR": tmp_path / "landing",
        "LTV_WAREHOUSE": tmp_path / "warehouse" / "ltv.duckdb",
        "LTV_MARTS_SNAPSHOT": tmp_path / "warehouse" / "marts.duckdb",
        "DAGSTER_HOME": tmp_path / "dagster_home",
        "LTV_ARCHIVE_DIR": "",
        "LTV_ACCOUNTS": "",  # one pipeline, whatever the project's .env says
        # truth.json converts into the demo seller's reporting currency
        "LTV_REPORTING_CURRENCY": DEMO_REPORTING_CURRENCY,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    settings = load_settings()
    settings.landing_dir.mkdir(parents=True)
    return settings


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh warehouse with the raw schema, for tests of the loaders."""
    from pipeline.warehouse import connect, ensure_raw_schema

    connection = connect(tmp_path / "ltv.duckdb")
    ensure_raw_schema(connection)
    yield connection
    connection.close()


@pytest.fixture
def dagster_instance(pipeline_settings: Settings) -> Iterator[dg.DagsterInstance]:
    """A persistent Dagster instance in the test's DAGSTER_HOME, configured by the same
    `pipeline/dagster.yaml` that `ltv up` installs (the single-writer pool)."""
    import dagster as dg

    from pipeline.instance import prepare_dagster_home

    prepare_dagster_home(pipeline_settings)
    with dg.DagsterInstance.from_config(str(pipeline_settings.dagster_home)) as instance:
        yield instance


@pytest.fixture
def ephemeral_instance(pipeline_settings: Settings) -> Iterator[dg.DagsterInstance]:
    """An in-memory Dagster instance: runs store their events without disk writes, so tests
    that execute many runs stay fast. Use `dagster_instance` where the instance config matters."""
    import dagster as dg

    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _settle(folder: Path) -> None:
    past = time.time_ns() - 60 * 10**9
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(past, past))


@pytest.fixture
def settle() -> Callable[[Path], None]:
    """Date every file under a folder a minute back, so the landing scan sees it as written."""
    return _settle


@pytest.fixture
def demo_landing(pipeline_settings: Settings) -> SellerSummary:
    """A small demo seller written into the test's landing folder, every file settled."""
    from pipeline.demo import generate_seller

    summary = generate_seller(pipeline_settings.landing_dir, customers=30, seed=3)
    _settle(pipeline_settings.landing_dir)
    return summary


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the session (tests/postgres_support.py); the tests
    that use it skip, saying why, where PostgreSQL is not installed or does not start."""
    from postgres_support import PostgresUnavailable, throwaway_cluster

    with ExitStack() as stack:
        try:
            cluster = stack.enter_context(throwaway_cluster())
        except PostgresUnavailable as exc:
            pytest.skip(f"PostgreSQL unavailable: {exc}")
        yield cluster
