"""Request counters, exposed at `/metrics` in the Prometheus text format operators scrape.

Kept in-process and dependency-free: the sidecar is one process with one event loop, so plain
integers suffice. Every known label value starts at 0 so a dashboard sees a series before the
first refusal happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

REFUSAL_REASONS = (
    "missing_secret",
    "unauthorized",
    "malformed_body",
    "unsupported_media_type",
    "body_too_large",
    "body_timeout",
    "client_disconnected",
    "write_failed",
)
PING_METHODS = ("HEAD", "GET", "POST")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Counter:
    """A monotonically increasing count per value of one label."""

    def __init__(self, name: str, help_text: str, label: str, initial: Iterable[str] = ()):
        self.name = name
        self.help_text = help_text
        self.label = label
        self.values: dict[str, int] = dict.fromkeys(initial, 0)

    def inc(self, label_value: str) -> None:
        self.values[label_value] = self.values.get(label_value, 0) + 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} counter"]
        for value, count in sorted(self.values.items()):
            lines.append(f'{self.name}{{{self.label}="{_escape(value)}"}} {count}')
        return lines


class SidecarMetrics:
    """The sidecar's counters: accepted by event, refused by reason, pings by method."""

    def __init__(self) -> None:
        self.accepted = Counter(
            "ltv_webhook_accepted_total",
            "Deliveries written to the log and acknowledged, by event ('unknown' if not known).",
            "event",
        )
        self.refused = Counter(
            "ltv_webhook_refused_total",
            "Deliveries answered with an error and not stored, by reason.",
            "reason",
            REFUSAL_REASONS,
        )
        self.pings = Counter(
            "ltv_webhook_pings_total",
            "URL checks answered 2xx without storing anything (HEAD, GET, empty POST).",
            "method",
            PING_METHODS,
        )

    def render(self, log_stats: Mapping[str, int]) -> str:
        """Prometheus text: the request counters, then the log writer's own counters."""
        lines: list[str] = []
        for counter in (self.accepted, self.refused, self.pings):
            lines.extend(counter.render())
        for key, value in sorted(log_stats.items()):
            name = f"ltv_webhook_log_{key}_total"
            lines.extend(
                [
                    f"# HELP {name} Webhook log writer: {key.replace('_', ' ')}.",
                    f"# TYPE {name} counter",
                    f"{name} {value}",
                ]
            )
        return "\n".join(lines) + "\n"
