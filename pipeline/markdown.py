"""Small markdown renderings for Dagster metadata: a table of rows, a bullet list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows (dicts with the same keys) as a markdown table; `|` and line breaks escaped."""
    if not rows:
        return "(no rows)"
    columns = list(rows[0])

    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def bullets(items: Sequence[str]) -> str:
    """Items as a markdown bullet list."""
    return "\n".join(f"- {item}" for item in items)
