"""uvicorn's HTTP protocol with the two bounds it lacks: header size and header time.

uvicorn's httptools protocol buffers a request's header section however large it grows (a
200 MB header value was accepted, the process grew by 260 MB) and waits for it however long
it takes (a connection that sends half a header holds its socket for ever). This subclass
counts the bytes of the header section as they arrive and answers 431 past `max_head_bytes`,
and closes a connection whose header section is not complete `head_timeout` seconds after the
connection opened or the request's first byte arrived. Body size and body time are the app's to
bound (`pipeline.sidecar.app`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_SECONDS = 10.0
# How often connections are checked for a header section past its time.
SWEEP_SECONDS = 0.5

_TOO_LARGE = b"request header section is too large"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses over-large and too-slow header sections."""

    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_since: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_since = self.loop.time()
        _watch(self)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        counting = self._in_head
        super().data_received(data)
        # Bytes that did not complete the header section all belong to it.
        if counting and self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self.refuse(431, b"Request Header Fields Too Large", _TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        if self._head_since is None:  # a keep-alive connection's next request
            self._head_since = self.loop.time()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_since = False, None
        super().on_headers_complete()

    def head_overdue(self, now: float) -> bool:
        """Whether this connection has been sending one header section for too long."""
        since = self._head_since
        return since is not None and self._in_head and now - since > self.head_timeout

    def refuse(self, status: int, phrase: bytes, message: bytes) -> None:
        """Answer `status` and close: the rest of the request is never read."""
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, phrase, len(message), message)
        )
        self.transport.close()


def _watch(protocol: GuardedHttpToolsProtocol) -> None:
    """Start, once per server, the sweep that closes connections stuck in their headers.

    One periodic sweep over the server's connections instead of a timer per request: a timer
    armed and cancelled for every request cost the sidecar ~5% of its throughput.
    """
    state = protocol.server_state
    if getattr(state, "ltv_head_sweep", None) is None:
        loop = protocol.loop
        state.ltv_head_sweep = loop.call_later(SWEEP_SECONDS, _sweep, loop, state)


def _sweep(loop: asyncio.AbstractEventLoop, state: Any) -> None:
    now = loop.time()
    for protocol in list(state.connections):
        guarded = isinstance(protocol, GuardedHttpToolsProtocol)
        if guarded and protocol.head_overdue(now) and not protocol.transport.is_closing():
            protocol.refuse(408, b"Request Timeout", b"request headers did not arrive in time")
    state.ltv_head_sweep = loop.call_later(SWEEP_SECONDS, _sweep, loop, state)


def guarded_protocol(
    max_head_bytes: int = MAX_HEAD_BYTES, head_timeout: float = HEAD_TIMEOUT_SECONDS
) -> type[GuardedHttpToolsProtocol]:
    """The protocol class with these bounds, for `uvicorn.Config(http=...)`."""
    bounds = {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout}
    return type("BoundedHttpToolsProtocol", (GuardedHttpToolsProtocol,), bounds)
