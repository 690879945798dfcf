"""The sidecar over real HTTP on loopback: answers, what lands on disk, failures and recovery."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from pipeline.phpform import encode_php_form
from pipeline.sidecar.app import create_app
from pipeline.sidecar.replay import replay_to_url
from pipeline.sidecar.server import server_config
from pipeline.webhook_log import (
    GroupCommitLog,
    SegmentAppender,
    iter_complete_lines,
    list_segments,
)

SAMPLES = Path(__file__).parent / "fixtures" / "webhooks"
SECRETS = {"magloft": "SAMPLESECRET1", "engagemorecrm": "SAMPLESECRET2"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}
PATH = "/webhooks/thrivecart"


@contextlib.contextmanager
def serving(app: Any, **limits: Any) -> Iterator[str]:
    """Run `app` under uvicorn, configured as `ltv webhooks serve` does, in a thread on a free
    loopback port; stop it on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(server_config(app, **limits))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class FlakyDiskAppender(SegmentAppender):
    """A real appender that fails like a full disk while `disk_full` is set."""

    disk_full = False

    def append_batch(self, lines: Sequence[tuple[date, bytes]]) -> None:
        if self.disk_full:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().append_batch(lines)


@contextlib.contextmanager
def sidecar(
    log_dir: Path,
    appender: SegmentAppender | None = None,
    limits: dict[str, Any] | None = None,
    **options: Any,
):
    """A running sidecar writing to `log_dir`; yields an HTTP client bound to it."""
    with appender or SegmentAppender(log_dir) as opened:
        app = create_app(SECRETS, GroupCommitLog(opened), **options)
        with (
            serving(app, **(limits or {})) as base,
            httpx.Client(base_url=base, timeout=10) as client,
        ):
            yield client


def stored(log_dir: Path) -> list[dict[str, Any]]:
    """Every complete line of every segment, parsed (a line that is not JSON fails the test)."""
    return [json.loads(line) for s in list_segments(log_dir) for _, line in iter_complete_lines(s)]


def sample(name: str, kind: str) -> bytes:
    return (SAMPLES / f"{name}.{kind}").read_bytes()


def metric(client: httpx.Client, series: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in /metrics")


def test_no_secret_no_app(tmp_path: Path) -> None:
    with (
        SegmentAppender(tmp_path) as appender,
        pytest.raises(ValueError, match="THRIVECART_SECRET"),
    ):
        create_app({}, GroupCommitLog(appender))


def test_url_checks_and_pings_answer_200_and_store_nothing(tmp_path: Path) -> None:
    with sidecar(tmp_path) as client:
        head = client.head(PATH)
        assert (head.status_code, head.content) == (200, b"")
        assert client.get(PATH).status_code == 200
        assert client.post(PATH).status_code == 200
        for method, count in (("HEAD", 1), ("GET", 1), ("POST", 1)):
            assert metric(client, f'ltv_webhook_pings_total{{method="{method}"}}') == count
    assert stored(tmp_path) == []


def test_a_post_that_is_not_a_delivery_is_refused_or_stored_never_dropped(tmp_path: Path) -> None:
    delivery = json.loads(sample("order.success", "json"))
    with sidecar(tmp_path) as client:
        no_secret = client.post(PATH, content=b"thrivecart_account=magloft", headers=FORM)
        as_json_labelled_form = client.post(PATH, content=json.dumps(delivery), headers=FORM)
    assert (no_secret.status_code, no_secret.json()["reason"]) == (401, "missing_secret")
    assert as_json_labelled_form.status_code == 200
    (record,) = stored(tmp_path)
    assert (record["event"], record["format"]) == ("order.success", "json")
    assert record["delivery_id"] == as_json_labelled_form.json()["delivery_id"]


@pytest.mark.parametrize("name", ["order.success", "order.subscription_payment"])
def test_samples_as_form_and_json_are_stored_alike_without_the_secret(
    tmp_path: Path, name: str
) -> None:
    with sidecar(tmp_path) as client:
        answers = [
            client.post(PATH, content=sample(name, "form"), headers=FORM),
            client.post(PATH, content=sample(name, "json"), headers=JSON),
        ]
    assert [a.status_code for a in answers] == [200, 200]
    form, as_json = stored(tmp_path)
    expected = json.loads(sample(name, "json"))
    del expected["thrivecart_secret"]
    assert form["payload"] == as_json["payload"] == expected
    assert (form["format"], as_json["format"]) == ("form", "json")
    assert [form["delivery_id"]] * 2 == [a.json()["delivery_id"] for a in answers]
    assert form["remote_addr"] == "127.0.0.1"
    for segment in list_segments(tmp_path):
        assert b"SAMPLESECRET" not in segment.read_bytes()


def test_wrong_or_missing_secret_is_401_and_nothing_is_written(tmp_path: Path) -> None:
    body = sample("order.success", "form")
    with sidecar(tmp_path) as client:
        wrong = client.post(PATH, content=body.replace(b"SAMPLESECRET1", b"guess"), headers=FORM)
        missing = client.post(
            PATH, content=body.replace(b"thrivecart_secret=", b"x="), headers=FORM
        )
        assert (wrong.status_code, wrong.json()["reason"]) == (401, "unauthorized")
        assert (missing.status_code, missing.json()["reason"]) == (401, "missing_secret")
        assert metric(client, 'ltv_webhook_refused_total{reason="unauthorized"}') == 1
    assert stored(tmp_path) == []


def test_bad_bodies_get_400_413_415_with_a_message(tmp_path: Path) -> None:
    big = b"event=order.success&x=" + b"a" * 2000

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while streaming
        yield from (big[i : i + 500] for i in range(0, len(big), 500))

    with sidecar(tmp_path, max_body_bytes=1000) as client:
        answers = {
            400: client.post(PATH, content=b'{"event": ', headers=JSON),
            415: client.post(PATH, content=b"event=x", headers={"content-type": "text/plain"}),
            413: client.post(PATH, content=big, headers=FORM),
        }
        streamed = client.post(PATH, content=chunks(), headers=FORM)
    for status, answer in answers.items():
        assert answer.status_code == status
        assert answer.json()["status"] == "refused" and answer.json()["error"]
    assert streamed.status_code == 413
    assert stored(tmp_path) == []


def test_n_concurrent_clients_give_exactly_n_valid_lines(tmp_path: Path) -> None:
    base = json.loads(sample("order.success", "json"))
    bodies = [encode_php_form({**base, "order_id": str(i)}).encode() for i in range(64)]

    async def fire(url: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
            posts = (client.post(PATH, content=body, headers=FORM) for body in bodies)
            return await asyncio.gather(*posts)

    with sidecar(tmp_path) as client:
        answers = asyncio.run(fire(str(client.base_url)))
        assert metric(client, "ltv_webhook_log_lines_total") == len(bodies)
    assert all(a.status_code == 200 for a in answers)
    records = stored(tmp_path)
    assert len(records) == len(bodies)
    assert {r["delivery_id"] for r in records} == {a.json()["delivery_id"] for a in answers}
    assert sorted(int(r["payload"]["order_id"]) for r in records) == list(range(len(bodies)))


def test_a_full_disk_answers_503_and_the_server_stays_up(tmp_path: Path) -> None:
    body = sample("order.success", "form")
    appender = FlakyDiskAppender(tmp_path)
    with sidecar(tmp_path, appender) as client:
        appender.disk_full = True
        failed = client.post(PATH, content=body, headers=FORM)
        appender.disk_full = False
        recovered = client.post(PATH, content=body, headers=FORM)
        assert metric(client, 'ltv_webhook_refused_total{reason="write_failed"}') == 1
    assert (failed.status_code, failed.headers["retry-after"]) == (503, "5")
    assert recovered.status_code == 200
    assert len(stored(tmp_path)) == 1


def test_an_unwritable_log_dir_answers_503_then_recovers(tmp_path: Path) -> None:
    """A regular file in place of the log dir stops root too, unlike chmod."""
    log_dir, aside = tmp_path / "webhooks", tmp_path / "aside"
    body = sample("order.subscription_payment", "json")
    with sidecar(log_dir) as client:
        assert client.post(PATH, content=body, headers=JSON).status_code == 200
        log_dir.rename(aside)
        log_dir.write_text("in the way")
        assert client.post(PATH, content=body, headers=JSON).status_code == 503
        assert client.get("/healthz").status_code == 503
        log_dir.unlink()
        aside.rename(log_dir)
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.post(PATH, content=body, headers=JSON).status_code == 200
    assert len(stored(log_dir)) == 2


def test_one_log_line_per_request_without_secret_or_personal_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.sidecar")
    with sidecar(tmp_path) as client:
        client.post(PATH, content=sample("order.success", "form"), headers=FORM)
        client.post(PATH + "?thrivecart_secret=SAMPLESECRET1", content=b"{", headers=JSON)
        client.get("/healthz")
    lines = [r.getMessage() for r in caplog.records if r.name == "pipeline.sidecar"]
    assert len(lines) == 3
    assert lines[0].startswith("POST /webhooks/thrivecart 200 ")
    assert "event=order.success outcome=accepted" in lines[0]
    assert lines[1].endswith("outcome=malformed_body")
    assert "ms " in lines[2]
    for forbidden in ("SAMPLESECRET", "ana.example", "Ana Example", "203.0.113.10", "127.0.0.1"):
        assert forbidden not in caplog.text


def test_metrics_speak_prometheus_text(tmp_path: Path) -> None:
    body = json.loads(sample("order.success", "json"))
    with sidecar(tmp_path) as client:
        client.post(PATH, content=encode_php_form(body).encode(), headers=FORM)
        unknown = {**body, "event": "order.teleported"}
        client.post(PATH, content=encode_php_form(unknown).encode(), headers=FORM)
        answer = client.get("/metrics")
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert metric(client, 'ltv_webhook_accepted_total{event="order.success"}') == 1
        assert metric(client, 'ltv_webhook_accepted_total{event="unknown"}') == 1
        assert "# TYPE ltv_webhook_refused_total counter" in answer.text
    assert [r["known_event"] for r in stored(tmp_path)] == [True, False]


def test_replay_to_url_posts_every_delivery_and_counts_answers(tmp_path: Path) -> None:
    deliveries = tmp_path / "deliveries.jsonl"
    rows = [
        ("application/x-www-form-urlencoded", sample("order.success", "form")),
        ("application/json", sample("order.subscription_payment", "json")),
        ("application/json", sample("order.success", "json").replace(b"SECRET1", b"guess")),
        ("application/json", b""),
    ]
    deliveries.write_text(
        "".join(
            json.dumps({"sent_at": "2026-01-02T03:04:05Z", "content_type": ct, "body": b.decode()})
            + "\n"
            for ct, b in rows
        )
    )
    with sidecar(tmp_path / "webhooks") as client:
        summary = replay_to_url(deliveries, f"{client.base_url}{PATH}")
    assert (summary.sent, summary.accepted, summary.pings) == (4, 2, 1)
    assert summary.refused == {"unauthorized": 1}
    assert len(stored(tmp_path / "webhooks")) == 2


def test_with_several_accounts_each_delivery_goes_to_its_accounts_log(tmp_path: Path) -> None:
    """LTV_ACCOUNTS: one log per account; an account outside it is refused even when a
    secret word for any account would let it in, and nothing of it is written."""
    secrets = {"*": "ANYSECRET"}
    dirs = {account: tmp_path / account / "webhooks" for account in ("magloft", "other")}

    def delivery(account: str) -> str:
        body = json.loads(sample("order.success", "json"))
        return json.dumps({**body, "thrivecart_account": account, "thrivecart_secret": "ANYSECRET"})

    with contextlib.ExitStack() as stack:
        logs = {a: GroupCommitLog(stack.enter_context(SegmentAppender(d))) for a, d in dirs.items()}
        app = create_app(secrets, logs)
        base = stack.enter_context(serving(app))
        client = stack.enter_context(httpx.Client(base_url=base, timeout=10))
        answers = {
            a: client.post(PATH, content=delivery(a), headers=JSON) for a in (*dirs, "stranger")
        }
        health = client.get("/healthz").status_code
        lines = metric(client, "ltv_webhook_log_lines_total")
    assert {a: r.status_code for a, r in answers.items()} == {
        "magloft": 200,
        "other": 200,
        "stranger": 401,
    }
    assert answers["stranger"].json()["reason"] == "unauthorized"
    assert [r["account"] for r in stored(dirs["magloft"])] == ["magloft"]
    assert [r["account"] for r in stored(dirs["other"])] == ["other"]
    assert not (tmp_path / "stranger").exists()
    assert (health, lines) == (200, 2)
