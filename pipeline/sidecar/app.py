"""The sidecar's ASGI app: ThriveCart's webhook URL, `/healthz` and `/metrics`.

The handler does as little as possible between ThriveCart and the disk: read the body (capped
in size and in time), let :func:`~pipeline.sidecar.records.process_delivery` decide, await the
group-committed append, answer. A 2xx is only ever sent after the line is fsync'd; an I/O error
answers 503 so ThriveCart retries, and the next request tries the disk again.

No request may hold the event loop for others: a body too slow to arrive is answered 408, and
a large body is decoded on a worker thread (real deliveries, a few KB, are decoded in place,
where a thread hop would cost more than the decoding).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.sidecar.metrics import CONTENT_TYPE, SidecarMetrics
from pipeline.sidecar.records import (
    MAX_BODY_BYTES,
    Accepted,
    Outcome,
    Ping,
    Refused,
    process_delivery,
    unauthorized,
)

WEBHOOK_PATH = "/webhooks/thrivecart"
NO_SECRET_MESSAGE = (
    "No ThriveCart secret word is configured, so every delivery would be refused. Set "
    "THRIVECART_SECRET in the environment or in .env: the secret word from ThriveCart's "
    "Settings > API & Webhooks, or account1:secret1,account2:secret2 for several accounts."
)
# How long a client may take to send its body once the headers are in.
BODY_TIMEOUT_SECONDS = 30.0
# Bodies above this are decoded off the event loop.
INLINE_DECODE_BYTES = 64 * 1024
logger = logging.getLogger("pipeline.sidecar")


class WebhookLog(Protocol):
    """Where accepted lines go: :class:`pipeline.webhook_log.GroupCommitLog` in production."""

    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc_info: object) -> None: ...
    async def append(self, day: date, line: bytes) -> None: ...
    async def check(self, day: date) -> None: ...
    def stats(self) -> dict[str, int]: ...


@dataclass
class Sidecar:
    """Everything the handlers need, kept on `app.state.sidecar`.

    `logs` holds one log per account (LTV_ACCOUNTS: each account's pipeline reads its own), or
    a single log under the key None that takes every account.
    """

    secrets: Mapping[str, str]
    logs: Mapping[str | None, WebhookLog]
    max_body_bytes: int = MAX_BODY_BYTES
    body_timeout: float = BODY_TIMEOUT_SECONDS
    metrics: SidecarMetrics = field(default_factory=SidecarMetrics)


class BodyTooLarge(Exception):
    """The body went over the cap; reading stopped there."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing early (by Content-Length) or as soon as it passes `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def webhook(request: Request) -> Response:
    """`/webhooks/thrivecart`: HEAD and GET are URL checks, POST is a delivery."""
    sidecar: Sidecar = request.app.state.sidecar
    if request.method != "POST":
        return _answer(request, sidecar, Ping())
    received_at = datetime.now(UTC)
    try:
        async with asyncio.timeout(sidecar.body_timeout):
            body = await read_body(request, sidecar.max_body_bytes)
    except BodyTooLarge:
        limit = sidecar.max_body_bytes
        outcome: Outcome = Refused(413, "body_too_large", f"body is larger than {limit} bytes")
    except TimeoutError:
        message = f"the body did not arrive within {sidecar.body_timeout:g} s"
        outcome = Refused(408, "body_timeout", message)
    except ClientDisconnect:  # counted, not an error: nobody is left to answer
        outcome = Refused(400, "client_disconnected", "the connection closed mid-body")
    else:
        decide = functools.partial(
            process_delivery,
            body,
            request.headers.get("content-type"),
            sidecar.secrets,
            received_at=received_at,
            remote_addr=request.client.host if request.client else None,
            max_body_bytes=sidecar.max_body_bytes,
        )
        outcome = decide() if len(body) <= INLINE_DECODE_BYTES else await run_in_threadpool(decide)
    if isinstance(outcome, Accepted):
        outcome = await _store(sidecar, outcome)
    return _answer(request, sidecar, outcome)


async def _store(sidecar: Sidecar, accepted: Accepted) -> Accepted | Refused:
    account = accepted.record["account"]
    log = sidecar.logs[None] if None in sidecar.logs else sidecar.logs.get(account)
    if log is None:  # authenticated by a secret for any account, but not one of LTV_ACCOUNTS
        return unauthorized(f"account {account!r} is not in LTV_ACCOUNTS")
    try:
        await log.append(accepted.day, accepted.line)
    except OSError as exc:
        logger.error("webhook log write failed, answering 503 so ThriveCart retries: %s", exc)
        return Refused(503, "write_failed", "the event could not be written to disk; retry")
    return accepted


def _answer(request: Request, sidecar: Sidecar, outcome: Outcome) -> Response:
    """Count the outcome, note it for the request log line, and build the response."""
    metrics = sidecar.metrics
    if isinstance(outcome, Ping):
        request.state.outcome = "ping"
        metrics.pings.inc(request.method)
        return JSONResponse({"status": "ok", "receiver": "ThriveCart webhooks"})
    if isinstance(outcome, Accepted):
        record = outcome.record
        request.state.outcome = "accepted"
        request.state.event = record["event"]
        metrics.accepted.inc(record["event"] if record["known_event"] else "unknown")
        return JSONResponse({"status": "accepted", "delivery_id": record["delivery_id"]})
    request.state.outcome = outcome.reason
    metrics.refused.inc(outcome.reason)
    if outcome.detail:  # for the operator only: the sender gets the message alone
        logger.warning("refused (%s): %s", outcome.reason, _printable(outcome.detail))
    return JSONResponse(
        {"status": "refused", "reason": outcome.reason, "error": outcome.message},
        status_code=outcome.status,
        headers={"Retry-After": "5"} if outcome.status == 503 else None,
    )


async def healthz(request: Request) -> Response:
    """200 while today's segment can be opened for writing, else 503 with the error."""
    sidecar: Sidecar = request.app.state.sidecar
    try:
        for log in sidecar.logs.values():
            await log.check(datetime.now(UTC).date())
    except OSError as exc:
        return JSONResponse({"status": "failing", "error": f"log not writable: {exc}"}, 503)
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    sidecar: Sidecar = request.app.state.sidecar
    totals: Counter[str] = Counter()
    for log in sidecar.logs.values():
        totals.update(log.stats())
    text = sidecar.metrics.render(dict(totals))
    return PlainTextResponse(text, media_type=CONTENT_TYPE)


def _printable(text: object, limit: int = 120) -> str:
    """Keep log lines one line each, whatever a client put in a path or an event name."""
    return str(text)[:limit].encode("unicode_escape").decode("ascii")


class RequestLog:
    """One log line per request: method, path, status, latency, event and outcome.

    No client address, query string, header or body: those can hold personal data or secrets.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            state = scope.get("state", {})
            logger.info(
                "%s %s %d %.1fms event=%s outcome=%s",
                scope["method"],
                _printable(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
                _printable(state.get("event") or "-", 64),
                state.get("outcome", "-"),
            )


def create_app(
    secrets: Mapping[str, str],
    log: WebhookLog | Mapping[str | None, WebhookLog],
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    body_timeout: float = BODY_TIMEOUT_SECONDS,
) -> Starlette:
    """The sidecar app; it opens and closes `log` with its lifespan. `log` takes every
    delivery, or, one per account, those of its account (others are refused; a log under None
    takes every account). No secret: ValueError."""
    if not secrets:
        raise ValueError(NO_SECRET_MESSAGE)
    logs: dict[str | None, WebhookLog] = dict(log) if isinstance(log, Mapping) else {None: log}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for each in logs.values():
                await stack.enter_async_context(each)
            yield

    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, webhook, methods=["GET", "HEAD", "POST"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=[Middleware(RequestLog)],
        lifespan=lifespan,
    )
    app.state.sidecar = Sidecar(dict(secrets), logs, max_body_bytes, body_timeout)
    return app
