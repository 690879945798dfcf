"""Fixed cost: `ltv run` itself, one process as a user runs it, on a seller of 25 customers.

    .venv/bin/python bench/fixed_cost_bench.py [--repeat 3] [--json OUT]

The seller is the end-to-end bench's smallest (`--rows 100`: 25 customers, 121 latest-export
rows, 41 webhook deliveries; generated and replayed once, cached in bench/out/e2e/). Each repeat
gets a fresh pipeline (landing folder and log linked from the cache, empty warehouse, snapshot
and DAGSTER_HOME) and times the `ltv` command three times:

- from empty: everything loaded, built, published, forecast, reported;
- one new webhook: one live `order.success` appended to today's log segment (the end-to-end
  bench's change), then `ltv run`: an incremental build;
- nothing new: `ltv run` again, which finds nothing to load and builds nothing.

Wall, CPU and peak RSS come from `wait4` on the `ltv` process (dbt's subprocess included). At
this size nearly all of it is fixed cost: interpreter and Dagster start-up, Dagster's runs and
events, dbt's start-up and its ~136 nodes, the forecast's imports and fit, the report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.e2e_bench import OUT, cached_log, cached_seller, link_pipeline, run_process, run_stage

SELLER_ROWS = 100  # the e2e bench's `--rows` that makes a seller of 25 customers
RUNS = ("from empty", "one new webhook", "nothing new")
LTV = str(Path(sys.executable).with_name("ltv"))
E2E = str(Path(__file__).with_name("e2e_bench.py"))


def one_repeat(seller: Path, log_dir: Path, work: Path, log: Path) -> dict[str, dict[str, Any]]:
    """The three `ltv run`s on a fresh pipeline under `work`."""
    env = link_pipeline(seller, log_dir, work)
    figures = {}
    for name in RUNS:
        if name == "one new webhook":
            run_stage([sys.executable, E2E, "--stage", "change_webhook"], env, log)
        _, figures[name] = run_process([LTV, "run"], env, log)
    return figures


def bench(repeat: int, seed: int) -> dict[str, Any]:
    seller, facts = cached_seller(SELLER_ROWS, seed)
    log_dir, _ = cached_log(seller, SELLER_ROWS, seed)
    log = OUT / "fixed-cost.log"
    log.write_text("")
    repeats = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="fixed-", dir=OUT) as tmp:
            repeats.append(one_repeat(seller, log_dir, Path(tmp), log))
    runs = {}
    for name in RUNS:
        measured = [r[name] for r in repeats]
        seconds = [m["seconds"] for m in measured]
        runs[name] = {
            "median_seconds": round(statistics.median(seconds), 2),
            "min_seconds": min(seconds),
            "max_seconds": max(seconds),
            "median_cpu_seconds": round(statistics.median(m["cpu_seconds"] for m in measured), 2),
            "peak_rss_mib": max(m["peak_rss_mib"] for m in measured),
        }
    return {**facts, "repeat": repeat, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    result = bench(args.repeat, args.seed)
    for name, run in result["runs"].items():
        print(f"{name}: {run['median_seconds']:.1f} s, {run['median_cpu_seconds']:.1f} CPU s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
