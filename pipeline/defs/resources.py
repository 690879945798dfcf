"""The DuckDB warehouse as a Dagster resource.

It holds no connection: each asset opens the file when it runs and closes it when done, so
nothing touches DuckDB when the code location loads, and a run holds the single-writer lock
only while it writes. The path comes from the settings at run time unless configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.settings import load_settings
from pipeline.warehouse import DEFAULT_LOCK_TIMEOUT_SECONDS, connect


class WarehouseResource(dg.ConfigurableResource):
    """Opens the DuckDB warehouse, waiting out another process's lock (see pipeline.warehouse)."""

    path: str | None = None
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for the duration of the `with` block."""
        settings = load_settings()
        path = Path(self.path) if self.path else settings.warehouse
        con = connect(
            path, memory_limit=settings.memory_limit, lock_timeout=self.lock_timeout_seconds
        )
        try:
            yield con
        finally:
            con.close()
