"""Whose pipeline a Dagster object belongs to: one account's (LTV_ACCOUNTS), or the single one.

Every account gets the whole pipeline (raw assets, dbt models, forecast, publishing, jobs,
sensors) in the same code location and the same Dagster instance. Its objects are kept apart
by name: asset keys under the account (`acme/marts/fct_payments`), ops, jobs, sensors, groups,
partition sets and the warehouse pool prefixed with it (`acme__build_marts`). Without accounts
the scope adds nothing, so a single seller's keys and names are those they always were.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from pipeline.settings import Settings

# Every asset that writes a DuckDB warehouse runs in its warehouse's pool. The limit of 1 (set
# in the dagster.yaml installed into DAGSTER_HOME) serialises writers: DuckDB allows one
# writing process per file, and two overlapping runs would otherwise fail with a lock error.
# Each account's warehouse is a file of its own, so each has a pool of its own.
WAREHOUSE_POOL = "duckdb_warehouse"


@dataclass(frozen=True)
class Scope:
    """The account a set of Dagster objects serves (None: the single pipeline)."""

    account: str | None = None

    def key(self, *path: str) -> dg.AssetKey:
        """An asset key of this pipeline."""
        return dg.AssetKey([self.account, *path] if self.account else list(path))

    def name(self, name: str) -> str:
        """An op, job, sensor, group, partition set or pool name of this pipeline (Dagster
        names take letters, digits and underscores only)."""
        if self.account is None:
            return name
        return f"{self.account.replace('-', '_')}__{name}"

    @property
    def pool(self) -> str:
        """The concurrency pool of this pipeline's warehouse."""
        return self.name(WAREHOUSE_POOL)

    def settings(self, settings: Settings) -> Settings:
        """This pipeline's settings, out of those every resource holds."""
        return settings.for_account(self.account)


SINGLE = Scope()


def scopes(settings: Settings) -> list[Scope]:
    """The scope of each of the settings' pipelines: one per account, or the single one."""
    return [Scope(pipeline.account) for pipeline in settings.pipelines()]
