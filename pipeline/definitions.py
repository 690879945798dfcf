"""The Dagster code location (`workspace.yaml` and `[tool.dg]` point here).

Definitions are built lazily when the code location loads, so importing this module opens no
file and needs no dbt manifest until Dagster asks for the definitions.
"""

from __future__ import annotations

import dagster as dg


def build_definitions() -> dg.Definitions:
    """Ingest (landing files, webhook log), dbt models, publish (snapshot, report), automation."""
    from pipeline.defs import automation, dbt, ingest, publish

    return dg.Definitions.merge(ingest.defs, dbt.build_defs(), publish.defs, automation.defs)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
