"""Replaying recorded deliveries (`deliveries.jsonl`) into a sidecar or straight into a log dir.

The demo generator writes the HTTP deliveries ThriveCart would have sent, one JSON object a
line: `{"sent_at", "content_type", "body"}`. `replay_to_url` POSTs them to a running sidecar;
`replay_to_log` appends exactly the records the sidecar would have written, through the same
:func:`process_delivery`, dated by `sent_at` so segments spread over days like a real history.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.sidecar.records import Accepted, Outcome, Ping, process_delivery
from pipeline.webhook_log import SegmentAppender

if TYPE_CHECKING:
    import httpx

Progress = Callable[[int, int], None]  # (done, total)
BATCH_LINES = 1000  # lines per fsync when writing offline


class ReplayError(Exception):
    """The deliveries file is unusable, or the sidecar cannot be reached."""


@dataclass(frozen=True)
class Delivery:
    """One recorded HTTP delivery."""

    sent_at: datetime
    content_type: str
    body: str


@dataclass
class ReplaySummary:
    """What happened to each delivery: accepted, a ping, or refused (by reason)."""

    sent: int = 0
    accepted: int = 0
    pings: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def count(self, outcome: str) -> None:
        """Add one delivery whose outcome is `accepted`, `ping`, or a refusal reason."""
        self.sent += 1
        if outcome == "accepted":
            self.accepted += 1
        elif outcome == "ping":
            self.pings += 1
        else:
            self.refused[outcome] += 1

    def describe(self) -> str:
        """One line for people: `sent 10, accepted 9, pings 0, refused 1 (wrong_secret 1)`."""
        total = sum(self.refused.values())
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.refused.items()))
        text = f"sent {self.sent}, accepted {self.accepted}, pings {self.pings}, refused {total}"
        return f"{text} ({reasons})" if reasons else text


def _parse_line(text: str) -> Delivery:
    item = json.loads(text)
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    values = [item.get(k) for k in ("sent_at", "content_type", "body")]
    if not all(isinstance(v, str) for v in values):
        raise ValueError('needs string fields "sent_at", "content_type" and "body"')
    sent_at = datetime.fromisoformat(values[0])
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)  # the file's times are UTC by contract
    return Delivery(sent_at.astimezone(UTC), values[1], values[2])


def iter_deliveries(path: Path) -> Iterator[Delivery]:
    """Each delivery in `path`, in file order; ReplayError names the first bad line."""
    with path.open(encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                yield _parse_line(text)
            except ValueError as exc:  # JSON, ISO date and field errors alike
                raise ReplayError(f"{path}:{number}: not a delivery: {exc}") from exc


def count_deliveries(path: Path) -> int:
    """Validate and count every delivery in `path`, so a bad file sends or writes nothing.

    A pass of its own instead of a list kept for the replay: a 10M-row seller's deliveries
    are ~10 GB, and memory stays flat however long the history.
    """
    return sum(1 for _ in iter_deliveries(path))


def _outcome_name(outcome: Outcome) -> str:
    if isinstance(outcome, Accepted):
        return "accepted"
    return "ping" if isinstance(outcome, Ping) else outcome.reason


def replay_to_log(
    deliveries: Path,
    log_dir: Path,
    secrets: Mapping[str, str],
    *,
    progress: Progress | None = None,
) -> ReplaySummary:
    """Append the records the sidecar would have stored for `deliveries` into `log_dir`.

    `received_at` is each delivery's `sent_at` and `remote_addr` is null. Deliveries are
    authenticated with `secrets` (account -> secret word, `*` = any) like the server does.
    Raises ReplayError for a bad file, LogLockedError if a sidecar is writing `log_dir`.
    """
    total = count_deliveries(deliveries)
    summary = ReplaySummary()
    pending: list[tuple[date, bytes]] = []
    with SegmentAppender(log_dir) as appender:
        for done, delivery in enumerate(iter_deliveries(deliveries), start=1):
            outcome = process_delivery(
                delivery.body.encode("utf-8"),
                delivery.content_type,
                secrets,
                received_at=delivery.sent_at,
                remote_addr=None,
            )
            if isinstance(outcome, Accepted):
                pending.append((outcome.day, outcome.line))
            if len(pending) >= BATCH_LINES:
                appender.append_batch(pending)
                pending = []
            summary.count(_outcome_name(outcome))
            if progress:
                progress(done, total)
        if pending:
            appender.append_batch(pending)
    return summary


def _response_outcome(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    if response.is_success:
        return "accepted" if answer.get("status") == "accepted" else "ping"
    return str(answer.get("reason") or f"http_{response.status_code}")


def replay_to_url(
    deliveries: Path, url: str, *, progress: Progress | None = None, timeout: float = 10.0
) -> ReplaySummary:
    """POST every delivery, in order, to a running sidecar at `url`; count its answers."""
    import httpx  # only this client needs it: `ltv webhooks serve` never imports it

    total = count_deliveries(deliveries)
    summary = ReplaySummary()
    with httpx.Client(timeout=timeout) as client:
        for done, delivery in enumerate(iter_deliveries(deliveries), start=1):
            try:
                response = client.post(
                    url,
                    content=delivery.body.encode("utf-8"),
                    headers={"Content-Type": delivery.content_type},
                )
            except httpx.HTTPError as exc:
                raise ReplayError(
                    f"cannot deliver to {url} after {summary.sent} deliveries: {exc}"
                ) from exc
            summary.count(_response_outcome(response))
            if progress:
                progress(done, total)
    return summary
