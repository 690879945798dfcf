"""Running the generator: determinism, worker independence, the CLI and its errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.demo import (
    DELIVERIES_PER_CUSTOMER,
    ROWS_PER_CUSTOMER,
    DemoOutputError,
    TruthError,
    customers_for_rows,
    generate,
    generate_seller,
    load_truth,
)
from pipeline.demo import deliveries as demo_deliveries
from pipeline.demo.cli import demo_data


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_arguments_give_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first = generate_seller(tmp_path / "a", 120, 5)
    generate_seller(tmp_path / "b", 120, 5)
    generate_seller(tmp_path / "c", 120, 6)
    a, b, c = (_files(tmp_path / name) for name in "abc")
    assert a == b
    assert set(a) == set(c)
    # The cost rules follow the calendar and the catalogue, not the seed; the rest differs.
    assert all((a[name] == c[name]) == name.startswith("costs/") for name in a)
    assert set(a) == {str(p.relative_to(tmp_path / "a")) for p in first.files.values()}
    assert first.transaction_rows > 120 and first.deliveries > 0


def test_output_does_not_depend_on_workers_or_chunking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    single = generate_seller(tmp_path / "single", 130, 3)
    monkeypatch.setattr(generate, "CHUNK_CUSTOMERS", 40)
    chunked = generate_seller(tmp_path / "chunked", 130, 3, workers=2)
    assert _files(tmp_path / "single") == _files(tmp_path / "chunked")
    assert (single.transaction_rows, single.deliveries) == (
        chunked.transaction_rows,
        chunked.deliveries,
    )


def test_merging_more_runs_than_the_fan_in_gives_the_same_deliveries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large sellers merge the chunks' sorted runs in several passes; the bytes must not move."""
    generate_seller(tmp_path / "one-pass", 130, 3)
    monkeypatch.setattr(generate, "CHUNK_CUSTOMERS", 10)
    monkeypatch.setattr(demo_deliveries, "MERGE_FAN_IN", 3)
    generate_seller(tmp_path / "passes", 130, 3)
    assert _files(tmp_path / "one-pass") == _files(tmp_path / "passes")


def test_end_moves_the_whole_history(tmp_path: Path) -> None:
    end = datetime(2025, 3, 1, tzinfo=UTC)
    summary = generate_seller(tmp_path, 50, 1, end=end)
    assert summary.as_of <= end
    assert (end - summary.as_of).days < 30
    assert (end - summary.webhook_setup_at).days == 122
    assert load_truth(tmp_path)["as_of"].startswith("2025-")


def test_a_folder_with_exports_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    mine = tmp_path / "orders" / "my real export.csv"
    mine.write_text("keep me")
    with pytest.raises(DemoOutputError, match="orders already holds 1 file"):
        generate_seller(tmp_path, 10, 1)
    assert mine.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["my real export.csv", "orders"]


def test_no_partial_or_work_files_remain(tmp_path: Path) -> None:
    generate_seller(tmp_path, 30, 2)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".part") or ".work-" in p.name]
    assert leftovers == []


def test_bad_options_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="csv_timezone='Mars/Base' is not an IANA time zone"):
        generate_seller(tmp_path, 10, 1, csv_timezone="Mars/Base")
    with pytest.raises(DemoOutputError, match="at least one customer"):
        generate_seller(tmp_path, 0, 1)


def test_cli_writes_the_seller_and_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        demo_data,
        ["--out", str(tmp_path), "--customers", "40", "--seed", "9", "--account", "acme",
         "--csv-timezone", "Europe/Berlin", "--single-currency", "--end", "2026-01-15"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "demo-data: 40 customers" in result.output
    truth = load_truth(tmp_path / "_demo" / "truth.json")
    assert (truth["account"], truth["csv_timezone"], truth["currencies"]) == (
        "acme",
        "Europe/Berlin",
        ["USD"],
    )
    assert truth["as_of"] < "2026-01-15T00:00:01Z"


def test_cli_defaults_to_the_configured_landing_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LTV_LANDING_DIR", str(tmp_path / "landing"))
    result = CliRunner().invoke(demo_data, ["--customers", "5"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "landing" / "_demo" / "truth.json").is_file()


def test_cli_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "_demo").mkdir()
    (tmp_path / "_demo" / "truth.json").write_text("{}")
    result = CliRunner().invoke(demo_data, ["--out", str(tmp_path), "--customers", "5"])
    assert result.exit_code == 1
    assert "_demo already holds 1 file(s)" in result.output
    result = CliRunner().invoke(demo_data, ["--out", str(tmp_path), "--csv-timezone", "Nowhere"])
    assert result.exit_code == 2 and "not an IANA time zone" in result.output


def test_load_truth_names_the_file_it_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(TruthError, match=r"truth\.json: cannot read the demo truth"):
        load_truth(tmp_path)
    (tmp_path / "truth.json").write_text('{"customers": []}')
    with pytest.raises(TruthError, match="no 'cohorts' section"):
        load_truth(tmp_path / "truth.json")


def test_documented_volume_per_customer_holds(tmp_path: Path) -> None:
    """Benchmarks size their runs with these figures; keep them true within 15%."""
    summary = generate_seller(tmp_path, 1000, 4)
    assert summary.transaction_rows / 1000 == pytest.approx(ROWS_PER_CUSTOMER, rel=0.15)
    assert summary.deliveries / 1000 == pytest.approx(DELIVERIES_PER_CUSTOMER, rel=0.15)
    assert customers_for_rows(39_000) == 10_000
