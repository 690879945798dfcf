"""Demo generator benchmark: time and peak memory to write N latest-export transaction rows.

    .venv/bin/python bench/demo_bench.py [--rows 1000000] [--workers 2] [--keep DIR] [--json OUT]

Sizes the run with `pipeline.demo.customers_for_rows`, generates into a temporary folder (or
`--keep DIR`), and prints rows per second, output sizes, and the peak resident memory of the
main process and of the largest worker. Memory must not grow with --rows: compare two sizes.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from pipeline.demo import customers_for_rows, generate_seller


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def run(rows: int, workers: int, out: Path) -> dict[str, float]:
    """Generate, print the figures, and return them (for `--json`)."""
    customers = customers_for_rows(rows)
    started = time.perf_counter()
    summary = generate_seller(
        out, customers, 1, workers=workers, progress=lambda line: print(line, file=sys.stderr)
    )
    seconds = time.perf_counter() - started
    sizes = {name: path.stat().st_size for name, path in summary.files.items()}
    print(summary.line())
    print(
        f"{summary.transaction_rows:,} latest-export rows in {seconds:.1f} s "
        f"({summary.transaction_rows / seconds:,.0f} rows/s, {workers} worker(s)); "
        f"peak RSS main {_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}, "
        f"largest worker {_mib(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)}"
    )
    print("sizes: " + ", ".join(f"{name} {size / 2**20:,.0f} MiB" for name, size in sizes.items()))
    return {
        "rows": summary.transaction_rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(summary.transaction_rows / seconds),
        "workers": workers,
        "peak_rss_mib_main": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_rss_mib_worker": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="generate here and keep the files")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.keep:
        figures = run(args.rows, args.workers, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
            figures = run(args.rows, args.workers, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
