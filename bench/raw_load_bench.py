"""Raw CSV load: the raw asset against DuckDB's own `read_csv` (the ceiling) and pandas.

    .venv/bin/python bench/raw_load_bench.py [--rows 1000000] [--repeat 3] [--pandas-rows 50000]

One Transactions export of `--rows` rows is built once from the demo generator's rows (cached in
bench/out/raw_load/). Then, in one run, each contender loads it into a fresh warehouse file on
the same disk, each in a process of its own so its peak memory (max RSS) is its own:

- ceiling: `CREATE TABLE … AS SELECT * FROM read_csv(file, all_varchar = true)`;
- asset:   `raw/thrivecart_transactions` materialized in-process (header mapping, NUL stripping,
           lineage, rejected rows, SHA-256 check, ledger, metadata: everything the asset does);
- pandas:  `pandas.read_csv(dtype=str)` of the whole file, then `DataFrame.to_sql` through
           SQLAlchemy (duckdb-engine), what a user writes by hand. `to_sql` inserts row by row
           and would take tens of minutes, so it runs on the first `--pandas-rows` rows and its
           time is scaled linearly to the whole file (reported as such).

Ceiling and asset alternate `--repeat` times and the medians are compared, so both see the same
machine load. Results go to stdout and bench/out/raw_load/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "raw_load"
SEED_CUSTOMERS = 5000  # about 20,000 realistic rows, repeated up to --rows


def prepare_export(rows: int) -> Path:
    """A Transactions export of exactly `rows` data rows, built once and cached."""
    target = OUT / f"transactions-{rows}.csv"
    if target.exists():
        return target
    from pipeline.demo import generate_seller

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        seller = generate_seller(Path(tmp), customers=SEED_CUSTOMERS, seed=1, workers=2)
        lines = seller.files["latest"].read_bytes().splitlines(keepends=True)
    header, records = lines[0], lines[1:]
    if any(line.count(b'"') % 2 for line in records):
        raise SystemExit("the seed export has a quoted line break; cannot repeat it line by line")
    partial = target.with_suffix(".part")
    with partial.open("wb") as out:
        out.write(header)
        for i in range(rows):
            out.write(records[i % len(records)])
    partial.rename(target)
    return target


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_seconds() -> float:
    """User + system CPU of this process and its threads: less sensitive to a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ceiling(csv_path: Path, warehouse: Path) -> dict[str, float]:
    import duckdb

    con = duckdb.connect(str(warehouse))
    start, cpu = time.perf_counter(), _cpu_seconds()
    con.execute(
        "CREATE TABLE thrivecart_transactions AS SELECT * FROM read_csv(?, all_varchar = true)",
        [str(csv_path)],
    )
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    rows = con.execute("SELECT count(*) FROM thrivecart_transactions").fetchone()[0]
    con.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": rows}


def run_asset(csv_path: Path, warehouse: Path) -> dict[str, float]:
    import dagster as dg

    from pipeline.defs.ingest.partitions import LANDING_PATH_TAG
    from pipeline.defs.pipeline_defs import pipeline_defs
    from pipeline.defs.resources import WarehouseResource
    from pipeline.defs.scope import SINGLE
    from pipeline.ingest.headers import TRANSACTIONS
    from pipeline.ingest.landing import file_sha256
    from pipeline.settings import load_settings

    # LTV_ARCHIVE_DIR empty: never move the benchmark file away.
    env = {"LTV_LANDING_DIR": str(csv_path.parent), "LTV_WAREHOUSE": str(warehouse)}
    settings = load_settings({**env, "LTV_ARCHIVE_DIR": ""})
    # The resources the asset uses, built before the clock starts, as the code location does.
    resources = {"settings": settings, "warehouse": WarehouseResource.of(settings)}
    ingest = pipeline_defs(SINGLE).ingest
    asset = ingest.landing[TRANSACTIONS]
    sha256 = file_sha256(csv_path)  # the sensor's work, not the load's
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(ingest.partitions[TRANSACTIONS].name, [sha256])
        start, cpu = time.perf_counter(), _cpu_seconds()
        result = dg.materialize(
            [asset],
            partition_key=sha256,
            tags={LANDING_PATH_TAG: csv_path.name},
            instance=instance,
            resources=resources,
        )
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": metadata["rows"].value,
        "rejected_rows": metadata["rejected_rows"].value,
    }


def run_pandas(csv_path: Path, warehouse: Path, sample_rows: int) -> dict[str, float]:
    import pandas as pd
    import sqlalchemy

    start, cpu = time.perf_counter(), _cpu_seconds()
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    read_seconds, read_cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    engine = sqlalchemy.create_engine(f"duckdb:///{warehouse}")
    sample = frame.head(sample_rows)
    start, cpu = time.perf_counter(), _cpu_seconds()
    sample.to_sql("thrivecart_transactions", engine, index=False)
    sample_seconds, sample_cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    engine.dispose()
    scale = len(frame) / len(sample)
    return {
        "seconds": read_seconds + sample_seconds * scale,
        "cpu_seconds": read_cpu + sample_cpu * scale,
        "rows": len(frame),
        "read_csv_seconds": read_seconds,
        "to_sql_rows": len(sample),
        "to_sql_seconds": sample_seconds,
    }


def worker(args: argparse.Namespace) -> None:
    """Run one contender in this process and print its figures as one JSON line."""
    csv_path, warehouse = Path(args.csv), Path(args.warehouse)
    if args.worker == "ceiling":
        figures = run_ceiling(csv_path, warehouse)
    elif args.worker == "asset":
        figures = run_asset(csv_path, warehouse)
    else:
        figures = run_pandas(csv_path, warehouse, args.pandas_rows)
    print(json.dumps({**figures, "peak_rss_mb": _peak_mb()}))


def measure(contender: str, csv_path: Path, pandas_rows: int) -> dict[str, float]:
    """Run a contender in a fresh process against a fresh warehouse file."""
    work = OUT / "work"
    work.mkdir(parents=True, exist_ok=True)
    warehouse = work / f"{contender}.duckdb"
    for stale in work.glob(f"{contender}.duckdb*"):
        stale.unlink()
    command = [sys.executable, __file__, "--worker", contender, "--csv", str(csv_path)]
    command += ["--warehouse", str(warehouse), "--pandas-rows", str(pandas_rows)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    for stale in work.glob(f"{contender}.duckdb*"):
        stale.unlink()
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pandas-rows", type=int, default=50_000)
    parser.add_argument("--worker", choices=["ceiling", "asset", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    csv_path = prepare_export(args.rows)
    print(f"{csv_path.name}: {args.rows:,} rows, {csv_path.stat().st_size / 2**20:,.0f} MiB")
    runs: dict[str, list[dict[str, float]]] = {"ceiling": [], "asset": []}
    for i in range(args.repeat):
        for contender in runs:
            runs[contender].append(measure(contender, csv_path, args.pandas_rows))
            print(f"  {contender} #{i + 1}: {runs[contender][-1]['seconds']:.2f} s", flush=True)
    runs["pandas"] = [measure("pandas", csv_path, args.pandas_rows)]
    print(f"  pandas: {runs['pandas'][0]['seconds']:.1f} s (to_sql scaled)", flush=True)
    report(args, csv_path, runs)


def report(args: argparse.Namespace, csv_path: Path, runs: dict[str, list[dict]]) -> None:
    seconds = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    cpu = {name: statistics.median(r["cpu_seconds"] for r in rs) for name, rs in runs.items()}
    summary = {
        "rows": args.rows,
        "file_mib": round(csv_path.stat().st_size / 2**20, 1),
        "cpus": os.cpu_count(),
        "median_seconds": {k: round(v, 2) for k, v in seconds.items()},
        "median_cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "peak_rss_mb": {k: round(max(r["peak_rss_mb"] for r in rs)) for k, rs in runs.items()},
        "asset_speed_vs_ceiling": round(seconds["ceiling"] / seconds["asset"], 2),
        "asset_speed_vs_ceiling_per_round": [
            round(c["seconds"] / a["seconds"], 2)
            for c, a in zip(runs["ceiling"], runs["asset"], strict=True)
        ],
        "asset_speedup_vs_pandas": round(seconds["pandas"] / seconds["asset"], 1),
        "asset_cpu_vs_ceiling_cpu": round(cpu["ceiling"] / cpu["asset"], 2),
        "runs": runs,
    }
    (OUT / "results.json").write_text(json.dumps(summary, indent=2))
    print()
    print("| contender | median s | rows/s | median CPU s | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in ("ceiling", "asset", "pandas"):
        rate = args.rows / seconds[name]
        print(
            f"| {name} | {seconds[name]:.2f} | {rate:,.0f} | {cpu[name]:.2f} "
            f"| {summary['peak_rss_mb'][name]} |"
        )
    print()
    print(f"asset speed / ceiling speed: {summary['asset_speed_vs_ceiling']} (goal >= 0.7)")
    print(f"  per round:                 {summary['asset_speed_vs_ceiling_per_round']}")
    print(f"  in CPU time:               {summary['asset_cpu_vs_ceiling_cpu']}")
    print(f"asset speed / pandas speed:  {summary['asset_speedup_vs_pandas']}x (goal >= 5)")


if __name__ == "__main__":
    main()
