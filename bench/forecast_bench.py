"""The lifetime-value forecast on a built seller: wall, CPU and peak memory of the step.

    .venv/bin/python bench/forecast_bench.py [--rows 1000000] [--json FILE]

The seller's raw warehouse comes from dbt_bench's cache (bench/out/dbt/raw-<rows>.duckdb, built
once), and its marts are built once by `dbt build` and cached beside the forecast's figures
(bench/out/forecast/marts-<rows>.duckdb). Each run then takes a fresh copy of the marts and runs
the forecast step as the Dagster asset does (`pipeline.forecast.write.write_forecast`) in a
process of its own, twice (nothing is compiled or cached between them: the two show the noise).
The backtest (fit six months back, score the held-out months) runs once after, in its own
process too.

Goal: the forecast step within 60 s on the 1M-row seller.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dbt_bench import DBT, prepare_raw

from pipeline.dbt_command import build_args, project_args
from pipeline.settings import load_settings

OUT = Path(__file__).resolve().parent / "out" / "forecast"
GOAL_SECONDS = 60.0

# Runs in the child: the forecast step, or the backtest, on the warehouse named in argv.
# Each prints one JSON line, with its own peak RSS (the parent's view of its children's peak
# is the largest child so far, dbt's included).
FORECAST_CHILD = """
import sys, json, resource
from pipeline.forecast.write import write_forecast
from pipeline.settings import load_settings
result = write_forecast(load_settings({"LTV_WAREHOUSE": sys.argv[1]}))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({**result.tables, "peak_rss_mib": peak}))
"""
BACKTEST_CHILD = """
import sys, json, duckdb, resource
from pipeline.forecast.backtest import backtest
with duckdb.connect(sys.argv[1], read_only=True) as con:
    result = backtest(con)
print(json.dumps({"mae_forecast": round(result.mae_forecast, 2),
                  "mae_naive": round(result.mae_naive, 2),
                  "improvement": round(result.improvement, 4),
                  "cohorts": len(result.cohorts),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def prepare_marts(rows: int) -> Path:
    """The seller's warehouse after `dbt build`, built once from the cached raw warehouse."""
    marts = OUT / f"marts-{rows}.duckdb"
    if marts.exists():
        return marts
    raw, _, _ = prepare_raw(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="forecast-bench-") as tmp:
        warehouse = Path(tmp) / "ltv.duckdb"
        shutil.copyfile(raw, warehouse)
        settings = load_settings({"LTV_WAREHOUSE": str(warehouse)})
        command = [str(DBT), *build_args(settings), *project_args()]
        command += ["--target-path", f"{tmp}/target", "--log-path", f"{tmp}/logs"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"dbt build failed:\n{done.stdout[-4000:]}")
        shutil.copyfile(warehouse, marts.with_suffix(".part"))
    marts.with_suffix(".part").rename(marts)
    return marts


def run_child(code: str, warehouse: Path) -> dict:
    """Run `code` in a fresh Python; its wall, CPU and peak RSS, and what it printed."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(warehouse)], capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"the forecast failed:\n{done.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "peak_rss_mib": output.pop("peak_rss_mib"),
        "load_average": round(load, 1),
        "output": output,
    }


def bench(rows: int) -> dict:
    marts = prepare_marts(rows)
    runs = {}
    for run in ("first", "second"):
        with tempfile.TemporaryDirectory(prefix="forecast-bench-run-") as tmp:
            warehouse = Path(tmp) / "ltv.duckdb"
            shutil.copyfile(marts, warehouse)
            runs[run] = run_child(FORECAST_CHILD, warehouse)
    slower = max(run["wall_seconds"] for run in runs.values())
    return {
        "rows": rows,
        **runs,
        "backtest": run_child(BACKTEST_CHILD, marts),
        "goal_seconds": GOAL_SECONDS,
        "goal_met": slower <= GOAL_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, default=OUT / "results.json")
    args = parser.parse_args()
    result = bench(args.rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
