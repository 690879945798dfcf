"""The Dagster code location (`workspace.yaml` and `[tool.dg]` point here).

Definitions are built lazily when the code location loads, so importing this module opens no
file and needs no dbt manifest until Dagster asks for the definitions.
"""

from __future__ import annotations

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    from pipeline.defs import dbt, ingest

    return dg.Definitions.merge(ingest.defs, dbt.build_defs())
