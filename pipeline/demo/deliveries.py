"""Which webhooks arrived, when, how encoded, and the send-ordered deliveries.jsonl.

Deliveries start at the webhook setup date. About 2% never arrive (a gap in the feed: those
payments are known from the CSV only, or not at all after the last export), about 20% come as
JSON, about 3% arrive twice with an identical body. The fates are drawn from the customer's own
random generator once the whole history is simulated, so they never change the history.

The file is sorted by send time with a bounded-memory external merge: each chunk of customers
writes its deliveries as one sorted run, and runs are merged with `heapq.merge`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from contextlib import ExitStack
from json.encoder import encode_basestring_ascii
from pathlib import Path

from pipeline.demo.events import Delivery, Event, History
from pipeline.demo.people import uniform_int
from pipeline.demo.timeline import iso_z_micros
from pipeline.demo.webhook_bodies import FORM, WebhookBodies
from pipeline.demo.world import World

DROP_RATE, JSON_RATE, DUPLICATE_RATE = 0.02, 0.20, 0.03
MERGE_FAN_IN = 512  # run files merged at once: one pass up to 512 chunks (~2M rows)


def plan_deliveries(world: World, history: History) -> None:
    """Decide the webhook fate of each event of `history` (sets `event.delivery`)."""
    rng = history.rng
    setup = world.timeline.webhook_setup_at
    for event in history.events:
        if event.at < setup or rng.random() < DROP_RATE:
            continue
        sent = event.at * 1_000_000 + uniform_int(rng, 800_000, 20_000_000)
        as_json = rng.random() < JSON_RATE
        resent = (
            sent + uniform_int(rng, 30, 1800) * 1_000_000 if rng.random() < DUPLICATE_RATE else None
        )
        event.delivery = Delivery(sent, as_json, resent)


def delivery_lines(
    bodies: WebhookBodies, index: int, events: list[Event], stream: int = 0
) -> list[str]:
    """Sort-keyed lines (`<key>\\t<record>`) for the delivered events of one customer.

    The key is the send time, then (stream, customer, event number), so ties break the same way
    however the customers were chunked.
    """
    lines = []
    bodies.start_customer()
    for number, event in enumerate(events):
        delivery = event.delivery
        if delivery is None:
            continue
        content_type, body = bodies.body(event, delivery.as_json)
        rest = _record_rest(content_type, body)
        for copy, sent in enumerate((delivery.sent_at_us, delivery.resent_at_us)):
            if sent is not None:
                key = f"{sent:017d}{stream}{index:010d}{number:05d}{copy}"
                lines.append(f'{key}\t{{"sent_at": "{iso_z_micros(sent)}{rest}')
    return lines


def _record_rest(content_type: str, body: str) -> str:
    """A record's text after its `sent_at` value, the same for a resent copy: what
    `json.dumps({"sent_at": …, "content_type": …, "body": …})` writes. A form body is
    URL-encoded, so it holds nothing JSON escapes and is written as it is; a JSON body (a few
    KB) is escaped once by json's own C function instead of through a JSONEncoder per copy."""
    text = f'"{body}"' if content_type == FORM else encode_basestring_ascii(body)
    return f'", "content_type": "{content_type}", "body": {text}}}\n'


def _merged(paths: list[Path], stack: ExitStack) -> Iterator[bytes]:
    """The lines of sorted runs, merged. Bytes sort like the (ASCII) text and need no decoding."""
    files = [stack.enter_context(p.open("rb")) for p in paths]
    return heapq.merge(*files)


def merge_runs(runs: list[Path], out: Path) -> None:
    """Merge sorted runs into the final deliveries file, dropping the keys."""
    runs = list(runs)
    while len(runs) > MERGE_FAN_IN:
        batch, runs = runs[:MERGE_FAN_IN], runs[MERGE_FAN_IN:]
        merged = batch[0].with_name(batch[0].name + ".merged")
        with ExitStack() as stack, merged.open("wb") as target:
            target.writelines(_merged(batch, stack))
        for path in batch:
            path.unlink()
        runs.append(merged)
    with ExitStack() as stack, out.open("wb") as target:
        target.writelines(line.partition(b"\t")[2] for line in _merged(runs, stack))
