"""The dbt project as Dagster assets: one `@dbt_assets`, dbt data tests as asset checks.

No `from __future__ import annotations` here: Dagster reads the context annotation at
definition time.
"""

import shutil
from collections.abc import Iterator, Mapping
from functools import cache, cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging.version import Version
from pydantic import Field

from pipeline.dbt_artifacts import keep_build_files, seed_parse_state
from pipeline.dbt_command import build_args
from pipeline.dbt_docs import dbt_executable
from pipeline.dbt_state import full_refresh_reason, project_fingerprint
from pipeline.defs.scope import Scope
from pipeline.engines import postgres_raw, spark
from pipeline.settings import DBT_PROJECT_DIR, Settings

# dagster-dbt writes a fresh target folder per invocation; keep only the newest few.
KEEP_TARGET_RUNS = 5


class LtvDbtTranslator(DagsterDbtTranslator):
    """Maps dbt nodes onto our asset graph.

    dbt sources are the raw tables the ingest assets write, so a source `thrivecart.<table>`
    becomes the asset `raw/<table>` and the lineage runs from landing files to marts. Models are
    keyed and grouped by their schema (staging, intermediate, marts), as SQL users name them,
    under the pipeline's scope.
    """

    def __init__(self, scope: Scope) -> None:
        super().__init__()
        self.scope = scope

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["sources"].get(unique_id) or manifest["nodes"].get(unique_id, {})
        if node.get("resource_type") == "source":
            return spec.replace_attributes(key=self.scope.key("raw", node["name"]))
        # Models are keyed by schema, e.g. marts/fct_payments, and grouped by layer.
        schema = node.get("schema", "dbt")
        return spec.replace_attributes(
            key=self.scope.key(schema, node["name"]),
            group_name=self.scope.name(schema),
        )


@cache
def dbt_project() -> DbtProject:
    """The dbt project, built once on first use (never at import time)."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class LtvDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs we never use (about 6 CPU seconds of
    every build, profiled in bench/README.md).

    - The dbt version comes from the installed, pinned dbt-core package, the one whose `dbt`
      runs: dagster-dbt would start a second dbt process (`dbt --version`) per run to ask.
    - No in-process dbt adapter: dagster-dbt uses it only to fetch row counts and column
      metadata, which these assets do not request.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Any) -> None:
        return None

    def new_target_path(self, context: dg.AssetExecutionContext) -> Path:
        """The absolute target folder of a new invocation, named as dagster-dbt names it (so
        prune_target_runs finds it), chosen before dbt starts so it can be seeded."""
        return DBT_PROJECT_DIR / self._get_unique_target_path(context=context)


def dbt_resource() -> LtvDbtCliResource:
    """The dbt CLI resource; each command passes the settings itself (`pipeline.dbt_command`)."""
    return LtvDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())


def prune_target_runs(op_name: str, keep: int = KEEP_TARGET_RUNS) -> None:
    """Delete all but the newest `keep` per-invocation target folders dagster-dbt leaves.

    dagster-dbt names them `<op name>-<run id>-<uuid>` under `target/`; nothing else matches.
    """
    runs = sorted(
        (DBT_PROJECT_DIR / "target").glob(f"{op_name}-*"), key=lambda p: p.stat().st_mtime
    )
    for old in runs[: max(len(runs) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


class DbtBuildConfig(dg.Config):
    """Launchpad options of a marts build."""

    full_refresh: bool = Field(
        default=False,
        description=(
            "Rebuild every incremental model from the raw tables instead of patching what "
            "changed. Done by itself when the dbt project changed; the result is the same."
        ),
    )


def dbt_models(scope: Scope) -> dg.AssetsDefinition:
    """One pipeline's dbt assets over the prepared manifest (see pipeline/dbt_manifest.py)."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name=scope.name("ltv_dbt_models"),
        dagster_dbt_translator=LtvDbtTranslator(scope),
        pool=scope.pool,
    )
    def ltv_dbt_models(
        context: dg.AssetExecutionContext,
        config: DbtBuildConfig,
        dbt: LtvDbtCliResource,
        settings: dg.ResourceParam[Settings],
    ) -> Iterator[Any]:
        """Build every model and run its data tests (`pipeline.dbt_command.build_args`):
        incrementally, or from raw when asked or when the project changed. The build's
        manifest and parse state are kept for the docs page and the next build
        (pipeline/dbt_artifacts.py)."""
        settings = scope.settings(settings)
        prune_target_runs(context.op_execution_context.op.name)
        if settings.postgres is not None:
            changed = postgres_raw.sync_raw(settings)
            context.log.info(f"Raw tables brought up to date in {settings.postgres.url}: {changed}")
        if settings.spark is not None:
            written = spark.sync_raw(settings)
            context.log.info(f"Raw tables written for Spark in {settings.spark.storage}: {written}")
        full_refresh = config.full_refresh
        if not full_refresh:
            reason = full_refresh_reason(settings, project_fingerprint())
            if reason:
                context.log.info(f"Rebuilding every model from raw: {reason}.")
                full_refresh = True
        target = dbt.new_target_path(context)
        seed_parse_state(settings, target)
        args = build_args(settings, full_refresh)
        invocation = dbt.cli(args, context=context, target_path=target)
        yield from invocation.stream()
        keep_build_files(settings, target)

    return ltv_dbt_models
