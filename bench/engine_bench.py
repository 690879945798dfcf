"""Each warehouse engine on the same seller: `ltv run` from empty and after a new export, on
DuckDB, PostgreSQL and Spark, stage by stage, and their marts compared row for row.

    .venv/bin/python bench/engine_bench.py [--rows 100000] [--repeat 1] [--json OUT]

The seller and its webhook log are e2e_bench.py's caches, and the stages are its stages, each
in a process of its own (ingest, dbt, publish, forecast; then the new export of 1,000 rows and
the same stages again, incremental). With PostgreSQL the dbt stage also copies the raw tables
over, and publish swaps the marts into schema `ltv` and copies them back into DuckDB. With
Spark (a local `local[2]` Spark inside dbt's process, dbt-spark's session mode) the dbt stage
also writes the raw tables as Parquet, and publish reads Spark's marts from their Parquet files.

PostgreSQL is a local server started for the run (tests/postgres_support.py) with its default,
durable settings (fsync on), on the same two cores: its work is not in the stage processes'
CPU time, so every stage also reports the machine's busy CPU seconds over its wall time
(/proc/stat), which on a quiet machine is the stage plus the server. Engines alternate when
repeated. Last, the DuckDB engine's marts and each other engine's (their copy in its DuckDB
file) are compared row for row: they must be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import duckdb

from pipeline.settings import ENGINES, PROJECT_ROOT, load_settings

# bench/, and the tests' throwaway server and mart comparison (they import each other by name)
sys.path.insert(0, str(PROJECT_ROOT / "tests"))
sys.path.insert(0, str(PROJECT_ROOT))
from postgres_support import Cluster, throwaway_cluster
from test_dbt_support import marts_differences

from bench.e2e_bench import OUT, STAGES, cached_log, cached_seller, link_pipeline, run_stage

E2E = str(Path(__file__).resolve().with_name("e2e_bench.py"))


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent not idle since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def timed_stages(env: dict[str, str], log: Path) -> dict[str, dict[str, Any]]:
    """e2e_bench's stages of one `ltv run`, each with the machine's busy CPU over it."""
    stages = {}
    for stage in STAGES:
        before = machine_busy_seconds()
        figures = run_stage([sys.executable, E2E, "--stage", stage], env, log)
        figures["machine_cpu_seconds"] = round(machine_busy_seconds() - before, 2)
        stages[stage] = figures
    return stages


def run_engine(
    engine: str, seller: Path, log_dir: Path, work: Path, cluster: Cluster
) -> tuple[dict[str, Any], Path]:
    """`ltv run` from empty, a new export, `ltv run` again, on `engine`; the figures and the
    DuckDB file holding its marts."""
    env = link_pipeline(seller, log_dir, work)
    if engine == "postgres":
        target = cluster.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        env.update(LTV_ENGINE="postgres", LTV_WAREHOUSE=target.url)
    if engine == "spark":
        env.update(LTV_ENGINE="spark", LTV_WAREHOUSE=str(work / "spark"))
    log = OUT / f"engine-{engine}.log"
    log.write_text("")
    run = {"from_empty": timed_stages(env, log)}
    run_stage([sys.executable, E2E, "--stage", "change_export"], env, log)
    run["new_export"] = timed_stages(env, log)
    for figures in run.values():
        _totals(figures)
    return run, load_settings(env).warehouse


def _totals(stages: dict[str, Any]) -> None:
    """The `ltv run` figures: sums of the stages' wall and CPU, the largest process."""
    parts = [stages[stage] for stage in STAGES]
    stages["total"] = {
        "seconds": round(sum(p["seconds"] for p in parts), 2),
        "cpu_seconds": round(sum(p["cpu_seconds"] for p in parts), 2),
        "machine_cpu_seconds": round(sum(p["machine_cpu_seconds"] for p in parts), 2),
        "peak_rss_mib": max(p["peak_rss_mib"] for p in parts),
        "peak_tree_mib": max(p["peak_tree_mib"] for p in parts),
    }


def differences(marts: dict[str, Path]) -> dict[str, tuple[int, int]]:
    """Rows of each mart found in DuckDB's marts and not another engine's, or the reverse, by
    `<engine>/<mart>`."""
    found = {}
    with duckdb.connect() as con:
        for engine, path in marts.items():
            con.execute(f"attach '{path}' as on_{engine} (read_only)")
        for engine in ENGINES[1:]:
            for mart, rows in marts_differences(con, "on_duckdb", f"on_{engine}").items():
                found[f"{engine}/{mart}"] = rows
    return found


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per phase and stage, the median of every figure over the runs."""
    return {
        phase: {
            stage: {
                figure: statistics.median(r[phase][stage][figure] for r in runs)
                for figure in runs[0][phase][stage]
                if isinstance(runs[0][phase][stage][figure], int | float)
            }
            for stage in runs[0][phase]
        }
        for phase in runs[0]
    }


def run_engines(
    seller: Path, log_dir: Path, repeat: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Every engine `repeat` times, alternating which goes first; the runs per engine and the
    marts that differed between the engines in any repeat."""
    runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in ENGINES}
    found: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="engines-", dir=OUT) as tmp,
        throwaway_cluster(durable=True) as cluster,
    ):
        for index in range(repeat):
            marts = {}
            for engine in ENGINES if index % 2 == 0 else ENGINES[::-1]:
                work = Path(tmp) / f"{engine}-{index}"
                run, marts[engine] = run_engine(engine, seller, log_dir, work, cluster)
                runs[engine].append(run)
                total = run["from_empty"]["total"]["seconds"]
                print(f"  {engine}: ltv run {total:.1f} s", file=sys.stderr, flush=True)
            found.update(differences(marts))
    return runs, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    seller, facts = cached_seller(args.rows, args.seed)
    log_dir, _ = cached_log(seller, args.rows, args.seed)
    runs, found = run_engines(seller, log_dir, args.repeat)
    result = {
        "rows": args.rows,
        "latest_export_rows": facts["latest_export_rows"],
        "deliveries": facts["deliveries"],
        "engines": {engine: {"runs": rs, "median": medians(rs)} for engine, rs in runs.items()},
        "differences": found,
    }
    for engine in ENGINES:
        total = result["engines"][engine]["median"]["from_empty"]["total"]
        print(f"{engine}: ltv run from empty {total['seconds']:.1f} s")
    print(f"marts that differ: {found or 'none'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
