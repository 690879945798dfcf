"""uvicorn's HTTP protocol with the two bounds it lacks: header size and header time.

uvicorn's httptools protocol buffers a request's header section however large it grows (a
200 MB header value was accepted, the process grew by 260 MB) and waits for it however long
it takes (a connection that sends half a header holds its socket for ever). This subclass
counts the bytes of the header section as they arrive and answers 431 past `max_head_bytes`,
and closes a connection whose header section is not complete `head_timeout` seconds after the
connection opened or the previous response went out. Body size and body time are the app's to
bound (`pipeline.sidecar.app`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_SECONDS = 10.0

_TOO_LARGE = b"request header section is too large"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses over-large and too-slow header sections."""

    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        counting = self._in_head
        super().data_received(data)
        # Bytes that did not complete the header section all belong to it.
        if counting and self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(431, b"Request Header Fields Too Large", _TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # its headers are in already
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._start_head()  # the next request on this connection gets the same bounds

    def _start_head(self) -> None:
        self._in_head, self._head_bytes = True, 0
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, b"Request Timeout", b"request headers did not arrive in time")

    def _refuse(self, status: int, phrase: bytes, message: bytes) -> None:
        """Answer `status` and close: the rest of the request is never read."""
        self._stop_head_timer()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, phrase, len(message), message)
        )
        self.transport.close()


def guarded_protocol(
    max_head_bytes: int = MAX_HEAD_BYTES, head_timeout: float = HEAD_TIMEOUT_SECONDS
) -> type[GuardedHttpToolsProtocol]:
    """The protocol class with these bounds, for `uvicorn.Config(http=...)`."""
    bounds = {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout}
    return type("BoundedHttpToolsProtocol", (GuardedHttpToolsProtocol,), bounds)
