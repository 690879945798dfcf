"""What one `ltv run` did, as the lines it prints at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

REJECTED_ROWS_HINT = "see: select * from raw.rejected_rows"


@dataclass
class RunSummary:
    """Counts and messages gathered while the run goes; `lines()` renders them."""

    files_loaded: list[str] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rows_loaded: int = 0
    rows_rejected: int = 0
    new_events: int = 0
    reloaded_events: int = 0
    lines_rejected: int = 0
    payments: int | None = None
    customers: int | None = None

    @property
    def failed(self) -> bool:
        """Anything the user has to act on: a failed run or a file left unloaded."""
        return bool(self.failures or self.not_loaded)

    def lines(self, seconds: float) -> list[str]:
        built = self.payments is not None
        lines = [f"files loaded: {len(self.files_loaded)} ({self.rows_loaded:,} rows)"]
        if self.rows_rejected:
            lines.append(f"rows rejected: {self.rows_rejected:,} ({REJECTED_ROWS_HINT})")
        if self.forgotten:
            lines.append(f"files forgotten (gone from the landing folder): {len(self.forgotten)}")
            lines += [f"  - {file}" for file in self.forgotten]
        if self.not_loaded:
            lines.append(f"files not loaded: {len(self.not_loaded)}")
            lines += [f"  - {reason}" for reason in self.not_loaded]
        lines.append(f"webhook events: {self.new_events:,} new ({self.reloaded_events:,} reloaded)")
        if self.lines_rejected:
            lines.append(f"webhook lines rejected: {self.lines_rejected:,} ({REJECTED_ROWS_HINT})")
        lines += [
            f"payments: {self.payments:,}  customers: {self.customers:,}" if built else
            "marts: not published",
            f"failed: {len(self.failures)}",
            f"time: {seconds:.1f} s",
        ]  # fmt: skip
        return lines + [f"  - {failure}" for failure in self.failures]
