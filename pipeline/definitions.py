"""The Dagster code location (`workspace.yaml` and `[tool.dg]` point here).

Definitions are built lazily when the code location loads, so importing this module opens no
file and needs no dbt manifest until Dagster asks for the definitions.
"""

from __future__ import annotations

import dagster as dg

from pipeline.settings import Settings, load_settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Ingest (landing files, webhook log), dbt models, the forecast, publish (snapshot,
    report), automation, once per account of LTV_ACCOUNTS (else once), with their resources
    built from `settings` (default: read from the environment, here only).
    """
    from pipeline.defs.pipeline_defs import pipeline_defs
    from pipeline.defs.resources import pipeline_resources
    from pipeline.defs.scope import scopes

    settings = settings or load_settings()
    resources = dg.Definitions(resources=pipeline_resources(settings))
    pipelines = [pipeline_defs(scope).definitions() for scope in scopes(settings)]
    return dg.Definitions.merge(*pipelines, resources)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
