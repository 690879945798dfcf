"""Hostile and broken clients on a real sidecar over loopback: none of them can hold the server.

Over-large or endless header sections get 431, headers or bodies that stall are cut off after
their timeout, and a large body is decoded without stopping `/healthz` and other deliveries.
Every loop here is bounded in count and time.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_sidecar_http import FORM, PATH, metric, sample, sidecar, stored

from pipeline.sidecar import app as app_module

# Short enough for a test, long enough for a loaded machine to send a normal request.
HEAD_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0


def _address(client: httpx.Client) -> tuple[str, int]:
    return client.base_url.host, client.base_url.port or 80


def _raw_request(client: httpx.Client, data: bytes, wait: float = 10.0) -> bytes:
    """Send `data` on a fresh connection and read until the server closes it."""
    with socket.create_connection(_address(client), timeout=wait) as sock:
        # The server may answer and close before it has read everything: read its answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        return _read_to_close(sock)


def _read_to_close(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_an_over_large_header_gets_431_without_being_buffered(tmp_path: Path) -> None:
    with sidecar(tmp_path) as client:
        before = _rss_bytes()
        with socket.create_connection(_address(client), timeout=10) as sock:
            sock.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Big: ")
            chunk = b"a" * (1 << 20)
            try:
                for _ in range(200):  # 200 MB unless the server stops reading
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = _read_to_close(sock)
        grown = _rss_bytes() - before
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert grown < 32 << 20, f"the server grew by {grown >> 20} MB"
        assert client.get("/healthz").status_code == 200
    assert stored(tmp_path) == []


def test_a_hundred_thousand_headers_get_431(tmp_path: Path) -> None:
    with sidecar(tmp_path) as client:
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 100_000 + b"\r\n"
        answer = _raw_request(client, head)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_connections_that_stall_in_their_headers_are_closed(tmp_path: Path) -> None:
    limits = {"head_timeout": HEAD_TIMEOUT}
    with sidecar(tmp_path, limits=limits) as client:
        stalled = [socket.create_connection(_address(client), timeout=10) for _ in range(200)]
        try:
            for sock in stalled:
                sock.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
            assert client.get("/healthz").status_code == 200  # others are served meanwhile
            answers = [_read_to_close(sock) for sock in stalled]  # each ends when closed
        finally:
            for sock in stalled:
                sock.close()
    assert {a[:13] for a in answers} == {b"HTTP/1.1 408 "}


def test_a_body_that_stalls_gets_408_and_nothing_is_stored(tmp_path: Path) -> None:
    body = sample("order.success", "form")
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM['content-type']}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with sidecar(tmp_path, body_timeout=BODY_TIMEOUT) as client:
        with socket.create_connection(_address(client), timeout=10) as sock:
            sock.sendall(head + body[:100])  # and never the rest
            answer = _read_to_close(sock)
        assert client.post(PATH, content=body, headers=FORM).status_code == 200
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"body_timeout" in answer
    assert len(stored(tmp_path)) == 1


def test_a_client_that_hangs_up_mid_body_is_counted_not_logged_as_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Hanging up is the client's choice: no traceback for anyone to flood the log with."""
    body = sample("order.success", "form")
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM['content-type']}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    series = 'ltv_webhook_refused_total{reason="client_disconnected"}'
    with caplog.at_level(logging.INFO), sidecar(tmp_path) as client:
        with socket.create_connection(_address(client), timeout=10) as sock:
            sock.sendall(head + body[:100])
        for _ in range(200):  # the server notices the hang-up on its next read
            if metric(client, series) == 1:
                break
            time.sleep(0.05)
        assert metric(client, series) == 1
        assert client.post(PATH, content=body, headers=FORM).status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert len(stored(tmp_path)) == 1


def test_a_large_body_is_decoded_while_healthz_still_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body above the inline size is decoded off the event loop: however long its decoding
    takes (made to take a second here), other requests are answered meanwhile."""
    decode = app_module.process_delivery

    def slow_decode(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.0)
        finished["decoding"] = time.monotonic()
        return decode(*args, **kwargs)

    finished: dict[str, float] = {}
    monkeypatch.setattr(app_module, "process_delivery", slow_decode)
    fields = "&".join(f"a[]={i:04d}" for i in range(app_module.INLINE_DECODE_BYTES // 9 + 1))
    body = f"thrivecart_account=magloft&thrivecart_secret=SAMPLESECRET1&{fields}".encode()
    with sidecar(tmp_path) as client:

        def post_large() -> None:
            with httpx.Client(base_url=client.base_url, timeout=60) as other:
                finished["status"] = other.post(PATH, content=body, headers=FORM).status_code

        sender = threading.Thread(target=post_large)
        sender.start()
        time.sleep(0.2)  # the large body is being decoded
        assert client.get("/healthz").status_code == 200
        finished["healthz"] = time.monotonic()
        sender.join(timeout=60)
    assert finished["status"] == 200
    assert finished["healthz"] < finished["decoding"]
    (record,) = stored(tmp_path)
    assert record["payload"]["a"][-1] == f"{app_module.INLINE_DECODE_BYTES // 9:04d}"
