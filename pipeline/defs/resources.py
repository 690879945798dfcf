"""The resources every Dagster object receives, built once from the settings.

`definitions.py` reads the settings (the one place that does) and hands them over here:
assets and sensors take `settings` and `warehouse` as parameters, so tests pass settings of
their own instead of setting environment variables.

The warehouse resource holds no connection: each asset opens the file when it runs and closes
it when done, so nothing touches DuckDB when the code location loads, and a run holds the
single-writer lock only while it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from pipeline.settings import DEFAULT_MEMORY_LIMIT, Settings
from pipeline.warehouse import DEFAULT_LOCK_TIMEOUT_SECONDS, connect


class WarehouseResource(dg.ConfigurableResource):
    """Opens the DuckDB warehouse, waiting out another process's lock (see pipeline.warehouse)."""

    path: str
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS

    @classmethod
    def of(cls, settings: Settings) -> WarehouseResource:
        """The warehouse the settings name, bounded by their memory limit."""
        return cls(path=str(settings.warehouse), memory_limit=settings.memory_limit)

    def for_settings(self, settings: Settings) -> WarehouseResource:
        """The same limits on the warehouse of `settings` (one account's, say)."""
        if Path(self.path) == settings.warehouse:
            return self
        return self.model_copy(update={"path": str(settings.warehouse)})

    @contextmanager
    def connect(
        self, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for the duration of the `with` block; `on_wait` hears who holds the
        file if it has to wait (pass the run's log so the wait shows in the UI)."""
        con = connect(
            Path(self.path),
            memory_limit=self.memory_limit,
            lock_timeout=self.lock_timeout_seconds,
            on_wait=on_wait,
        )
        try:
            yield con
        finally:
            con.close()


def pipeline_resources(settings: Settings) -> dict[str, Any]:
    """Every resource the pipeline's assets, checks and sensors ask for, by name."""
    from pipeline.defs.dbt import dbt_resource

    warehouse = WarehouseResource.of(settings)
    return {"settings": settings, "warehouse": warehouse, "dbt": dbt_resource()}
