"""End to end: a generated seller through `ltv run`, stage by stage, at growing sizes.

    .venv/bin/python bench/e2e_bench.py [--rows 10000 100000 1000000] [--repeat 1] [--json OUT]

For each size, a demo seller with about that many rows in its latest Transactions export is
generated once and cached in bench/out/e2e/seller-<rows>-seed<seed>/, and its webhook
deliveries are replayed once into a webhook log (`replay_to_log`: what the sidecar would have
written as they arrived, dated by each delivery's time) cached in bench/out/e2e/log-<rows>-
seed<seed>/. Neither is part of `ltv run`: their times are reported apart, and only by the run
that made them (the replay alone takes ~25 min at 10M rows). Every repeat then gets a fresh
pipeline (landing folder and log hard-linked from the caches, empty warehouse, snapshot and
DAGSTER_HOME) and runs the stages of `ltv run`, each in a process of its own so that its wall
time, CPU time and peak memory (`wait4` rusage: the largest process of the stage, dbt's
subprocess included; and the whole process tree's, sampled from /proc) are its own:

- ingest:  `ltv run`'s ingest step: every landing file and all webhook days, through Dagster;
- dbt:     the dbt assets of `ltv run`'s build step (`dbt build` via dagster-dbt);
- publish: the snapshot and its Parquet files (the marts are visible from here on), and the
           dbt docs;
- forecast: the LTV forecast fitted on the marts and added to the snapshot, then the HTML
           report, as the build step runs them after publishing.

Then, on the warehouse that run built, two changes each followed by the same stages,
which now patch only what the change touched (an incremental build):

- export:  a new Transactions export of 1,000 rows (the latest export's first rows, saved
           again under a later name: orders the warehouse already holds, as a re-export has);
- webhook: one new live `order.success` (a demo order with a new order id and email) appended
           to today's webhook log segment, as the sidecar writes it.

Last, for sizes up to 1M rows, the incremental marts are compared row for row with a
`--full-refresh` build of a copy of the same warehouse (not timed).

`ltv run` does the last two in one Dagster run and all of it in one process; splitting them
costs one interpreter start and Dagster import per stage (about 2-4 s each), counted here.
The `ltv run` time is the sum of the stages. Growth with size is the exponent k of time ~
rows^k between consecutive sizes (1 = linear), in wall and in CPU time (CPU is less sensitive
to other load).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.settings import PROJECT_ROOT, load_settings
from pipeline.webhook_log import segment_path

sys.path.insert(0, str(PROJECT_ROOT))  # the environment helper lives with the end-to-end tests
from tests.e2e_support import stack_environment

OUT = Path(__file__).resolve().parent / "out" / "e2e"
# What `ltv run` does, stage by stage.
STAGES = ("ingest", "dbt", "publish", "forecast")
# What happens to a built warehouse before an incremental `ltv run`.
CHANGES = ("export", "webhook")
CHANGE_EXPORT_ROWS = 1_000
# Beyond this size the full-refresh comparison costs more than the run it checks.
CHECK_MAX_ROWS = 1_000_000
ACCOUNT, SECRET = "bench-seller", "bench-secret"
FORM = "application/x-www-form-urlencoded"


def pipeline_env(root: Path) -> dict[str, str]:
    """Environment of a pipeline living entirely under `root` (no .env or shell settings),
    as the end-to-end tests build it; blank LTV_ARCHIVE_DIR keeps the cached seller's files."""
    return stack_environment(root, THRIVECART_SECRET=SECRET)


# --- the stages, each run by `--stage NAME` in a process of its own ---------------------------


def stage_generate(out: Path, rows: int, seed: int) -> dict[str, Any]:
    from pipeline.demo import customers_for_rows, generate_seller

    summary = generate_seller(
        out, customers_for_rows(rows), seed, account=ACCOUNT, secret=SECRET, workers=2
    )
    return {
        "latest_export_rows": summary.transaction_rows,
        "older_export_rows": summary.older_export_rows,
        "subscription_rows": summary.subscription_rows,
        "deliveries": summary.deliveries,
    }


def stage_replay() -> dict[str, Any]:
    from pipeline.sidecar.replay import replay_to_log

    settings = load_settings()
    deliveries = settings.landing_dir / "_demo" / "deliveries.jsonl"
    summary = replay_to_log(deliveries, settings.webhooks_dir, settings.secrets)
    return {"accepted": summary.accepted}


def stage_ingest() -> dict[str, Any]:
    from pipeline.instance import dagster_instance
    from pipeline.run.driver import ingest
    from pipeline.run.summary import RunSummary

    settings = load_settings()
    summary = RunSummary()
    ingest(dagster_instance(settings), settings, summary)
    if summary.failures:
        raise SystemExit(f"ingest failed: {summary.failures}")
    return {"files": len(summary.files_loaded), "rows": summary.rows_loaded}


def _materialize(assets: list[Any], resources: dict[str, Any]) -> dict[str, Any]:
    """One in-process Dagster run of `assets` on the persistent instance, as `ltv run` does.

    A failed dbt data test fails the run but is a data finding, not a benchmark failure: the
    messages are returned with the figures, and the next stage still runs and is timed.
    """
    import dagster as dg

    from pipeline.instance import dagster_instance
    from pipeline.run.driver import QUIET_RUN_CONFIG, failure_messages

    result = dg.materialize(
        assets,
        instance=dagster_instance(load_settings()),
        resources=resources,
        run_config=QUIET_RUN_CONFIG,
        raise_on_error=False,
    )
    return {"failures": failure_messages([result])}


def stage_dbt() -> dict[str, Any]:
    from pipeline.defs.resources import pipeline_resources
    from pipeline.run.driver import defs_of

    settings = load_settings()
    return _materialize([defs_of(settings).dbt_models], pipeline_resources(settings))


def stage_change_export() -> dict[str, Any]:
    """A new export: the latest export's first rows, saved again under a later name."""
    orders = load_settings().landing_dir / "orders"
    latest = sorted(orders.glob("ThriveCart Customer Export *.csv"))[-1]
    with latest.open("rb") as source:
        head = [source.readline() for _ in range(CHANGE_EXPORT_ROWS + 1)]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H_%M_%S")
    (orders / f"ThriveCart Customer Export {stamp}.csv").write_bytes(b"".join(head))
    return {"rows": len(head) - 1}


def stage_change_webhook() -> dict[str, Any]:
    """One new live order.success, appended to today's segment as the sidecar appends it."""
    from bench.freshness_bench import new_order, order_template
    from pipeline.sidecar.records import Accepted, process_delivery
    from pipeline.webhook_log import SegmentAppender

    settings = load_settings()
    template = order_template(settings.landing_dir / "_demo" / "deliveries.jsonl")
    body = new_order(template, str(9_000_000_000 + int(time.time())), f"new-{time.time_ns()}@x.org")
    outcome = process_delivery(
        body, FORM, settings.secrets, received_at=datetime.now(UTC), remote_addr=None
    )
    assert isinstance(outcome, Accepted), outcome
    with SegmentAppender(settings.webhooks_dir) as appender:
        appender.append_batch([(outcome.day, outcome.line)])
    return {"deliveries": 1}


def stage_check() -> dict[str, Any]:
    """The marts against a --full-refresh build of a copy of the warehouse: rows that differ."""
    import duckdb

    from pipeline.dbt_command import build_args, project_args
    from tests.test_dbt_support import marts_differences

    settings = load_settings()
    copy = settings.warehouse.parent / "check" / "ltv.duckdb"
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(settings.warehouse, copy)
    full = load_settings({**os.environ, "LTV_WAREHOUSE": str(copy)})
    dbt = [str(Path(sys.executable).with_name("dbt")), *build_args(full, full_refresh=True)]
    subprocess.run([*dbt, *project_args()], check=True, capture_output=True)
    with duckdb.connect() as con:
        con.execute(f"attach '{settings.warehouse}' as incremental (read_only)")
        con.execute(f"attach '{copy}' as full_build (read_only)")
        differences = marts_differences(con, "incremental", "full_build")
    shutil.rmtree(copy.parent)
    return {"differences": differences}


def stage_publish() -> dict[str, Any]:
    import duckdb

    from pipeline.defs.resources import pipeline_resources
    from pipeline.run.driver import defs_of

    settings = load_settings()
    marts_snapshot, _, _, dbt_docs = defs_of(settings).publish
    facts = _materialize([marts_snapshot, dbt_docs], pipeline_resources(settings))
    snapshot = load_settings().marts_snapshot
    with duckdb.connect(str(snapshot), read_only=True) as con:
        facts["payments"] = con.execute("select count(*) from fct_payments").fetchone()[0]
    return facts


def stage_forecast() -> dict[str, Any]:
    from pipeline.defs.resources import pipeline_resources
    from pipeline.run.driver import defs_of

    settings = load_settings()
    defs = defs_of(settings)
    _, forecast_in_snapshot, ltv_report, _ = defs.publish
    assets = [defs.forecast, forecast_in_snapshot, ltv_report]
    return _materialize(assets, pipeline_resources(settings))


# --- the driver ------------------------------------------------------------------------------


def _tree_rss_mib(root: int) -> float:
    """The resident memory of `root` and every process below it, in MiB (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        below = [pid for pid, parent in parents.items() if parent in frontier]
        tree.update(below)
        frontier = below
    pages = 0
    for pid in tree:
        try:
            pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class TreeMemory(threading.Thread):
    """Samples a process tree's resident memory every quarter second until stopped: the peak
    of all of it together, which rusage cannot give (it keeps the largest waited-for process,
    and Spark's JVM, which pyspark starts beside dbt, is never waited for)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mib, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.25):
            self.peak_mib = max(self.peak_mib, _tree_rss_mib(self.pid))

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak_mib


def run_process(argv: list[str], env: dict[str, str], log: Path) -> tuple[str, dict[str, Any]]:
    """Run one process, stderr into `log`; its stdout, and its wall, CPU and peak RSS (the
    largest process of its tree, and the whole tree's at its peak)."""
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=out)
        memory = TreeMemory(process.pid)
        memory.start()
        stdout = process.stdout.read() if process.stdout else b""
        tree_mib = memory.stop()
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    returncode = os.waitstatus_to_exitcode(status)
    if returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:])} failed ({returncode}); see {log}")
    figures = {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
        "peak_tree_mib": round(tree_mib),
    }
    return stdout.decode(), figures


def run_stage(argv: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run one stage process: its figures and the facts it printed (its last line, JSON)."""
    stdout, figures = run_process(argv, env, log)
    return {**figures, **json.loads(stdout.strip().splitlines()[-1])}


def cached_seller(rows: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The generated seller for (rows, seed), generating it now if absent (figures included)."""
    seller = OUT / f"seller-{rows}-seed{seed}"
    facts = seller.with_suffix(".json")
    if seller.exists() and facts.exists():
        return seller, {**json.loads(facts.read_text()), "generate": None}
    partial = seller.with_name(seller.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    argv = [sys.executable, __file__, "--stage", "generate", "--out", str(partial)]
    argv += ["--rows", str(rows), "--seed", str(seed)]
    generate = run_stage(argv, dict(os.environ), OUT / "generate.log")
    partial.rename(seller)
    keys = ("latest_export_rows", "older_export_rows", "subscription_rows", "deliveries")
    summary = {k: generate.pop(k) for k in keys}
    facts.write_text(json.dumps(summary))
    return seller, {**summary, "generate": generate}


def cached_log(seller: Path, rows: int, seed: int) -> tuple[Path, dict[str, Any] | None]:
    """The seller's webhook log, replaying its deliveries now if absent (figures included)."""
    log = OUT / f"log-{rows}-seed{seed}"
    facts = log.with_suffix(".json")
    if log.exists() and facts.exists():
        return log, None
    with tempfile.TemporaryDirectory(prefix="replay-", dir=OUT) as tmp:
        root = Path(tmp)
        env = pipeline_env(root)
        shutil.copytree(seller, root / "landing", copy_function=os.link)
        argv = [sys.executable, __file__, "--stage", "replay"]
        replay = run_stage(argv, env, OUT / "replay.log")
        shutil.rmtree(log, ignore_errors=True)
        load_settings(env).webhooks_dir.rename(log)
    facts.write_text(json.dumps(replay))
    return log, replay


def run_stages(env: dict[str, str], log: Path) -> dict[str, dict[str, Any]]:
    """The stages of one `ltv run`, each in a process of its own."""
    return {
        stage: run_stage([sys.executable, __file__, "--stage", stage], env, log) for stage in STAGES
    }


def link_pipeline(seller: Path, log_dir: Path, work: Path) -> dict[str, str]:
    """A fresh pipeline under `work` with the cached seller's landing folder and webhook log
    hard-linked in (today's segment copied: it may be appended to); its environment."""
    env = pipeline_env(work)
    shutil.copytree(seller, work / "landing", copy_function=os.link)
    log_copy = load_settings(env).webhooks_dir
    shutil.copytree(log_dir, log_copy, copy_function=os.link)
    today = segment_path(log_copy, datetime.now(UTC).date())
    if today.exists():
        shutil.copyfile(today, today.with_suffix(".tmp"))
        today.with_suffix(".tmp").replace(today)
    return env


def run_once(seller: Path, log_dir: Path, work: Path, log: Path, rows: int) -> dict[str, Any]:
    """Every stage on a fresh pipeline under `work`, then each change and the incremental run
    after it, then the full-refresh check."""
    env = link_pipeline(seller, log_dir, work)
    log.write_text("")  # kept outside `work`, which is deleted even when a stage fails
    run = {"stages": run_stages(env, log), "incremental": {}}
    for change in CHANGES:
        run_stage([sys.executable, __file__, "--stage", f"change_{change}"], env, log)
        run["incremental"][change] = run_stages(env, log)
    if rows <= CHECK_MAX_ROWS:
        run["check"] = run_stage([sys.executable, __file__, "--stage", "check"], env, log)
    return run


def bench(rows: int, seed: int, repeat: int) -> dict[str, Any]:
    """Figures of every repeat at one size, and the medians."""
    seller, facts = cached_seller(rows, seed)
    log_dir, replay = cached_log(seller, rows, seed)
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="run-", dir=OUT) as tmp:
            run = run_once(seller, log_dir, Path(tmp), OUT / f"stages-{rows}.log", rows)
        ltv_run = list(run["stages"].values())
        runs.append(
            {
                **run,
                "seconds": round(sum(s["seconds"] for s in ltv_run), 2),
                "cpu_seconds": round(sum(s["cpu_seconds"] for s in ltv_run), 2),
            }
        )
        print(f"  {rows:,} rows: ltv run {runs[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
    return {
        "rows": rows,
        **facts,
        "replay": replay,
        "median_seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "median_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
        "peak_rss_mib": max(s["peak_rss_mib"] for r in runs for s in r["stages"].values()),
        "runs": runs,
    }


def _exponent(small: dict[str, Any], large: dict[str, Any], pick: Any) -> float:
    """k in time ~ rows^k from the median of `pick(run)` at two sizes."""
    a = statistics.median(pick(r) for r in small["runs"])
    b = statistics.median(pick(r) for r in large["runs"])
    scale = large["latest_export_rows"] / small["latest_export_rows"]
    return round(math.log(b / a) / math.log(scale), 2)


def growth(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """k in time ~ rows^k between consecutive sizes, for the total and for every stage."""
    steps = []
    for small, large in itertools.pairwise(sizes):
        step = {"from": small["rows"], "to": large["rows"]}
        step["ltv_run"] = _exponent(small, large, lambda r: r["seconds"])
        step["ltv_run_cpu"] = _exponent(small, large, lambda r: r["cpu_seconds"])
        for stage in STAGES:
            step[stage] = _exponent(small, large, lambda r, s=stage: r["stages"][s]["seconds"])
        steps.append(step)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    stages = ["generate", "replay", *STAGES, *(f"change_{c}" for c in CHANGES), "check"]
    parser.add_argument("--stage", choices=stages, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        if args.stage == "generate":
            facts = stage_generate(args.out, args.rows[0], args.seed)
        else:
            facts = globals()[f"stage_{args.stage}"]()
        print(json.dumps(facts))
        return

    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [bench(rows, args.seed, args.repeat) for rows in sorted(args.rows)]
    result = {"sizes": sizes, "growth": growth(sizes)}
    print("| rows | " + " | ".join(f"{s} s" for s in STAGES) + " | ltv run s | peak MiB |")
    print("|---:|" + "---:|" * (len(STAGES) + 2))
    for size in sizes:
        cells = [statistics.median(r["stages"][s]["seconds"] for r in size["runs"]) for s in STAGES]
        row = " | ".join(f"{c:.1f}" for c in cells)
        print(
            f"| {size['latest_export_rows']:,} | {row} | {size['median_seconds']:.1f} "
            f"| {size['peak_rss_mib']} |"
        )
    for step in result["growth"]:
        print(f"growth {step['from']:,} -> {step['to']:,}: ltv run time ~ rows^{step['ltv_run']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
