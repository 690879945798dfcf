"""`ltv webhooks serve` refusals, and replaying deliveries straight into a log dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.sidecar.replay import ReplayError, replay_to_log
from pipeline.webhook_log import (
    LogLockedError,
    SegmentAppender,
    iter_complete_lines,
    list_segments,
)

SAMPLES = Path(__file__).parent / "fixtures" / "webhooks"
FORM_TYPE = "application/x-www-form-urlencoded"
SECRETS = {"magloft": "SAMPLESECRET1", "engagemorecrm": "SAMPLESECRET2"}


def sample(name: str, kind: str) -> str:
    return (SAMPLES / f"{name}.{kind}").read_text()


def write_deliveries(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = [json.dumps({"sent_at": t, "content_type": ct, "body": b}) for t, ct, b in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def deliveries(tmp_path: Path) -> Path:
    """Five deliveries over three UTC days: two samples twice each, a ping, one with a wrong
    secret."""
    return write_deliveries(
        tmp_path / "deliveries.jsonl",
        [
            ("2026-03-01T23:59:59.5Z", FORM_TYPE, sample("order.success", "form")),
            ("2026-03-02T00:00:00+00:00", "application/json", sample("order.success", "json")),
            ("2026-03-02T01:00:00-05:00", FORM_TYPE, sample("order.subscription_payment", "form")),
            ("2026-03-03T08:00:00Z", "application/json", ""),
            (
                "2026-03-03T09:00:00Z",
                FORM_TYPE,
                sample("order.success", "form").replace("SECRET1", "guess"),
            ),
        ],
    )


def stored(log_dir: Path) -> dict[str, list[dict]]:
    return {
        s.name: [json.loads(line) for _, line in iter_complete_lines(s)]
        for s in list_segments(log_dir)
    }


def test_replay_to_log_writes_what_the_server_would_dated_by_sent_at(
    tmp_path: Path, deliveries: Path
) -> None:
    progress: list[tuple[int, int]] = []
    summary = replay_to_log(
        deliveries, tmp_path / "webhooks", SECRETS, progress=lambda *p: progress.append(p)
    )
    assert (summary.sent, summary.accepted, summary.pings) == (5, 3, 1)
    assert summary.refused == {"unauthorized": 1}
    assert progress[-1] == (5, 5) and len(progress) == 5
    segments = stored(tmp_path / "webhooks")
    assert list(segments) == ["thrivecart-2026-03-01.jsonl", "thrivecart-2026-03-02.jsonl"]
    first, second, rebill = [r for records in segments.values() for r in records]
    assert first["received_at"] == "2026-03-01T23:59:59.500000Z"
    assert rebill["received_at"] == "2026-03-02T06:00:00.000000Z"
    assert first["payload"] == second["payload"]
    assert first["delivery_id"] == second["delivery_id"]
    assert (first["format"], second["format"], first["remote_addr"]) == ("form", "json", None)
    assert rebill["event"] == "order.subscription_payment"
    for path in list_segments(tmp_path / "webhooks"):
        assert b"SAMPLESECRET" not in path.read_bytes()


def test_replay_to_log_refuses_a_bad_file_before_writing_anything(tmp_path: Path) -> None:
    bad = tmp_path / "deliveries.jsonl"
    good = json.dumps({"sent_at": "2026-03-01T00:00:00Z", "content_type": FORM_TYPE, "body": ""})
    for second_line, message in [
        ("{not json", "deliveries.jsonl:2: not a delivery"),
        ('{"sent_at": "yesterday", "content_type": "x", "body": ""}', "Invalid isoformat"),
        ('{"sent_at": "2026-03-01T00:00:00Z", "body": ""}', '"content_type"'),
    ]:
        bad.write_text(f"{good}\n{second_line}\n")
        with pytest.raises(ReplayError, match=message):
            replay_to_log(bad, tmp_path / "webhooks", SECRETS)
    assert list_segments(tmp_path / "webhooks") == []


def test_replay_to_log_will_not_write_beside_a_running_sidecar(
    tmp_path: Path, deliveries: Path
) -> None:
    with SegmentAppender(tmp_path), pytest.raises(LogLockedError, match="replay --url"):
        replay_to_log(deliveries, tmp_path, SECRETS)


def test_cli_replay_into_a_log_dir_prints_progress_and_summary(
    tmp_path: Path, deliveries: Path
) -> None:
    args = ["webhooks", "replay", str(deliveries), "--log-dir", str(tmp_path / "log")]
    result = CliRunner().invoke(main, [*args, "--secret", "SAMPLESECRET1"])
    assert result.exit_code == 1  # the wrong-secret delivery, and the other account's
    assert "sent 5, accepted 2, pings 1, refused 2 (unauthorized 2)" in result.stdout
    assert "replayed 5/5" in result.stderr
    assert "2 of 5 deliveries were refused" in result.stderr
    assert sum(len(r) for r in stored(tmp_path / "log").values()) == 2
    multi = "magloft:SAMPLESECRET1,engagemorecrm:SAMPLESECRET2"
    args[-1] = str(tmp_path / "log2")
    result = CliRunner().invoke(main, args, env={"THRIVECART_SECRET": multi})
    assert "accepted 3" in result.stdout


@pytest.mark.parametrize("targets", [[], ["--url", "http://127.0.0.1:9/x", "--log-dir", "d"]])
def test_cli_replay_needs_exactly_one_target(deliveries: Path, targets: list[str]) -> None:
    result = CliRunner().invoke(main, ["webhooks", "replay", str(deliveries), *targets])
    assert result.exit_code == 2
    assert "exactly one of --url or --log-dir" in result.stderr


def test_serve_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {"THRIVECART_SECRET": "", "LTV_LANDING_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["webhooks", "serve"], env=env)
    assert result.exit_code == 1
    assert "Set THRIVECART_SECRET" in result.stderr
    assert not (tmp_path / "webhooks").exists()


def test_serve_refuses_a_log_dir_another_writer_holds(tmp_path: Path) -> None:
    env = {"THRIVECART_SECRET": "s", "LTV_LANDING_DIR": str(tmp_path)}
    with SegmentAppender(tmp_path / "webhooks"):
        result = CliRunner().invoke(main, ["webhooks", "serve"], env=env)
    assert result.exit_code == 1
    assert "already being written" in result.stderr


def test_serve_refuses_a_log_dir_it_cannot_create(tmp_path: Path) -> None:
    (tmp_path / "landing").write_text("a file, not a folder")
    env = {"THRIVECART_SECRET": "s", "LTV_LANDING_DIR": str(tmp_path / "landing")}
    result = CliRunner().invoke(main, ["webhooks", "serve"], env=env)
    assert result.exit_code == 1
    assert "cannot write the webhook log in" in result.stderr
