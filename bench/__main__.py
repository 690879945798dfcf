"""`make bench`: run every benchmark in bench/ and write bench/results.md.

    .venv/bin/python -m bench                      # BENCH_SCALE=small (default): a few minutes
    BENCH_SCALE=large .venv/bin/python -m bench    # the full curve (1M rows, e2e up to 10M)
    .venv/bin/python -m bench e2e freshness        # only these benchmarks

Each benchmark is its own script (run alone, each documents its method); this runner calls them
one after another as subprocesses with the scale's arguments, collects their machine-readable
figures, and renders one table per benchmark: the command, the median of several runs, min-max,
and the ratio to the ceiling or floor and to the peers measured in the same run (the machine is
shared and noisy, so only same-run ratios mean anything). A benchmark that fails is reported as
such and the others still run. Naming benchmarks reruns only those; results.md keeps the latest
section of the others. Logs: bench/out/logs/<name>.log.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
RESULTS = BENCH / "results.md"
SECTIONS = OUT / "sections"  # the latest rendered section of each benchmark
GIB = 1024


@dataclass(frozen=True)
class Benchmark:
    """One script, its arguments per scale, where it leaves its JSON, and how to show it."""

    name: str
    title: str
    script: str
    args: dict[str, list[str]]  # scale -> arguments
    render: Callable[[Any], list[str]]
    result: Path | None = None  # a fixed results file of the script; else it gets --json
    invocations: int = 1  # separate runs of the script (for a script that keeps only medians)


def _spread(values: list[float], digits: int = 2) -> str:
    return f"{min(values):,.{digits}f}–{max(values):,.{digits}f}"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**NOT MET**"


def render_raw_load(result: dict[str, Any]) -> list[str]:
    runs = result["runs"]
    seconds = {name: [r["seconds"] for r in rs] for name, rs in runs.items()}
    median = {name: statistics.median(s) for name, s in seconds.items()}
    lines = [
        f"{result['rows']:,} rows ({result['file_mib']} MiB). Runs: {len(seconds['ceiling'])} "
        "alternating ceiling/asset, 1 pandas (`to_sql` timed on a sample, scaled).",
        "",
        "| contender | median s | min–max s | rows/s | peak MiB | speed vs ceiling "
        "| speed vs pandas |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("ceiling", "asset", "pandas"):
        lines.append(
            f"| {name} | {median[name]:.2f} | {_spread(seconds[name])} "
            f"| {result['rows'] / median[name]:,.0f} | {result['peak_rss_mb'][name]} "
            f"| {median['ceiling'] / median[name]:.2f} | {median['pandas'] / median[name]:.1f}x |"
        )
    vs_ceiling = median["ceiling"] / median["asset"]
    vs_pandas = median["pandas"] / median["asset"]
    cpu = result["median_cpu_seconds"]
    return [
        *lines,
        "",
        f"- asset / ceiling speed {vs_ceiling:.2f} (in CPU time "
        f"{cpu['ceiling'] / cpu['asset']:.2f}); goal >= 0.7: {_met(vs_ceiling >= 0.7)}",
        f"- asset / pandas speed {vs_pandas:.1f}x; goal >= 5x: {_met(vs_pandas >= 5)}",
    ]


def render_sidecar(result: dict[str, Any]) -> list[str]:
    median = result["medians"]  # each server's median round, as sidecar_bench chose it
    rounds = {m: [r for r in result["results"] if r["mode"] == m] for m in median}
    rate = result["rate"]
    lines = [
        f"{result['clients']} keep-alive clients, {result['rounds']} alternating rounds of "
        f"{result['seconds']:g} s per server; each server's median round. ceiling and durable: "
        f"saturated (back to back); paced: the durable server offered {rate:,.0f} events/s, "
        "latency from each request's due time.",
        "",
        "| server | events/s | min–max events/s | p50 ms | p99 ms | CPU µs/event | errors "
        "| vs ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, r in median.items():
        rates = [x["events_per_second"] for x in rounds[mode]]
        ratio = r["events_per_second"] / median["ceiling"]["events_per_second"]
        vs_ceiling = "" if mode == "paced" else f"{ratio:.2f}"  # paced: the rate offered
        lines.append(
            f"| {mode} | {r['events_per_second']:,.0f} | {_spread(rates, 0)} "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['cpu_us_per_event']:.0f} "
            f"| {sum(x['errors'] for x in rounds[mode])} | {vs_ceiling} |"
        )
    durable, paced = median["durable"], median["paced"]
    ratio = durable["events_per_second"] / median["ceiling"]["events_per_second"]
    return [
        *lines,
        "",
        f"- durable {durable['events_per_second']:,.0f} events/s; goal >= 1,000: "
        f"{_met(durable['events_per_second'] >= 1000)}",
        f"- durable / ceiling {ratio:.2f}; goal >= 0.5: {_met(ratio >= 0.5)}",
        f"- durable p99 at {rate:,.0f} events/s offered {paced['p99_ms']:.1f} ms (saturated: "
        f"{durable['p99_ms']:.1f} ms); goal < 50 ms: {_met(paced['p99_ms'] < 50)}",
    ]


def _build_and_floor(
    size: tuple[dict[str, Any], ...], prefix: str = ""
) -> tuple[list[float], list[float], tuple[float, float, float]]:
    """One size's build and floor seconds per run, and the medians of build, dbt's own
    time and floor (`prefix` "change_": the incremental build after the change)."""
    build = [r[f"{prefix}dbt_build_seconds"] for r in size]
    own = [r[f"{prefix}dbt_elapsed_seconds"] for r in size]
    floor = [r[f"{prefix}floor_seconds"] for r in size]
    medians = tuple(statistics.median(x) for x in (build, own, floor))
    return build, floor, medians


def render_dbt(results: list[list[dict[str, Any]]]) -> list[str]:
    lines = [
        f"{len(results)} runs (each a fresh copy of the raw warehouse). dbt own = dbt's "
        "`elapsed_time` (models and tests, without start-up and parse); floor = one hand-written "
        "DuckDB query for `dim_customers`, checked equal to dbt's.",
        "",
        "| rows | dbt build s | min–max s | dbt own s | floor s | min–max s | build / floor "
        "| own / floor | floor rows differing |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in zip(*results, strict=True):
        build, floor, (b, o, f) = _build_and_floor(size)
        lines.append(
            f"| {size[0]['latest_export_rows']:,} | {b:.1f} | {_spread(build, 1)} | {o:.1f} "
            f"| {f:.2f} | {_spread(floor)} | {b / f:.0f}x | {o / f:.0f}x "
            f"| {max(r['floor_rows_differing_from_dim_customers'] for r in size)} |"
        )
    return [*lines, "", *render_dbt_change(results)]


def render_dbt_change(results: list[list[dict[str, Any]]]) -> list[str]:
    """The incremental build after a new export, against the floor for the same change."""
    lines = [
        "Then a new export of 1,000 rows (orders the warehouse holds) loaded on each copy, and "
        "the same `dbt build`, now incremental, against a hand-written floor for the change (its "
        "customers deleted from the floor table and computed again from all their rows).",
        "",
        "| rows | incremental build s | min–max s | dbt own s | floor s | build / floor "
        "| own / floor | goal build / floor ≤ 5x | floor rows differing |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for size in zip(*results, strict=True):
        build, _, (b, o, f) = _build_and_floor(size, "change_")
        lines.append(
            f"| {size[0]['latest_export_rows']:,} | {b:.1f} | {_spread(build, 1)} | {o:.1f} "
            f"| {f:.3f} | {b / f:.0f}x | {o / f:.0f}x | {_met(b / f <= 5)} "
            f"| {max(r['change_floor_rows_differing'] for r in size)} |"
        )
    return lines


def render_demo(result: dict[str, Any]) -> list[str]:
    return [
        "| rows | seconds | rows/s | workers | peak MiB main | peak MiB worker |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {result['rows']:,} | {result['seconds']:.1f} | {result['rows_per_second']:,} "
        f"| {result['workers']} | {result['peak_rss_mib_main']} "
        f"| {result['peak_rss_mib_worker']} |",
        "",
        "One run: the generator is not part of the pipeline; no goal.",
    ]


def render_fixed_cost(result: dict[str, Any]) -> list[str]:
    runs = result["runs"]
    lines = [
        f"The `ltv` command in one process, as a user runs it, on a seller of "
        f"{result['latest_export_rows']:,} latest-export rows and {result['deliveries']:,} "
        f"webhook deliveries; median of {result['repeat']} fresh pipeline(s), each run in turn.",
        "",
        "| `ltv run` | median s | min–max s | CPU s | peak MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        spread = _spread([run["min_seconds"], run["max_seconds"]], 1)
        lines.append(
            f"| {name} | {run['median_seconds']:.1f} | {spread} | "
            f"{run['median_cpu_seconds']:.1f} | {run['peak_rss_mib']:,} |"
        )
    lines.append("")
    for name in ("from empty", "one new webhook"):
        seconds = runs[name]["median_seconds"]
        lines.append(f"- {name}: {seconds:.1f} s; goal ≤ 8 s: {_met(seconds <= 8)}")
    return lines


def render_e2e(result: dict[str, Any]) -> list[str]:
    from bench.e2e_bench import STAGES

    sizes = result["sizes"]
    lines = [
        f"Median of {len(sizes[0]['runs'])} run(s) per size; every stage in a process of its own: "
        "wall s / CPU s / peak MiB. `ltv run` = the sum of the stages; the marts are in the "
        "snapshot after publish, the forecast follows. Generating the seller and replaying its "
        "deliveries into the webhook log (the sidecar's work, done live as "
        "they arrive) are cached per size and shown apart, as wall s, when this run did them.",
        "",
        "| latest-export rows | deliveries | "
        + " | ".join(STAGES)
        + " | ltv run s | min–max s | ltv run CPU s | peak MiB | generate s | replay s |",
        "|---:|---:|" + "---:|" * (len(STAGES) + 6),
    ]
    for size in sizes:
        cells = []
        for stage in STAGES:
            figures = [r["stages"][stage] for r in size["runs"]]
            wall = statistics.median(f["seconds"] for f in figures)
            cpu = statistics.median(f["cpu_seconds"] for f in figures)
            cells.append(f"{wall:.1f} / {cpu:.1f} / {max(f['peak_rss_mib'] for f in figures)}")
        generate, replay = (
            f"{size[apart]['seconds']:.0f}" if size.get(apart) else "cached"
            for apart in ("generate", "replay")
        )
        totals = _spread([r["seconds"] for r in size["runs"]], 1)
        lines.append(
            f"| {size['latest_export_rows']:,} | {size['deliveries']:,} | "
            + " | ".join(cells)
            + f" | {size['median_seconds']:.1f} | {totals} | {size['median_cpu_seconds']:.1f} "
            f"| {size['peak_rss_mib']} | {generate} | {replay} |"
        )
    lines += ["", "Growth, k in time ~ rows^k between sizes (1 = linear):", ""]
    lines += ["| from → to | ltv run | ltv run CPU | " + " | ".join(STAGES) + " |"]
    lines += ["|---|---:|---:|" + "---:|" * len(STAGES)]
    for step in result["growth"]:
        lines.append(
            f"| {step['from']:,} → {step['to']:,} | {step['ltv_run']} | {step['ltv_run_cpu']} | "
            + " | ".join(str(step[s]) for s in STAGES)
            + " |"
        )
    lines += ["", *_incremental_lines(sizes)]
    failed = {
        f"{size['rows']:,} rows, {stage}: {message.splitlines()[0]}"
        for size in sizes
        for run in size["runs"]
        for stage, figures in run["stages"].items()
        for message in map(_headline, figures.get("failures", []))
    }
    # The stages still run and are timed; `ltv run` itself would stop before publishing.
    notes = [f"- a run failed (figures kept): {f}" for f in failed]
    return [*lines, "", *_e2e_goals(sizes), *sorted(notes)]


# Goals of an incremental `ltv run` on a built warehouse of 1M rows.
INCREMENTAL_GOALS = {"export": 15.0}


def _incremental_lines(sizes: list[dict[str, Any]]) -> list[str]:
    """The incremental runs after each change, and whether their marts equal a full refresh."""
    from bench.e2e_bench import CHANGE_EXPORT_ROWS, CHANGES, STAGES

    what = {
        "export": f"new export of {CHANGE_EXPORT_ROWS:,} rows",
        "webhook": "one new order.success",
    }
    lines = [
        "Incremental `ltv run` on the warehouse the run above built, after each change "
        "(wall s / CPU s / peak MiB); the marts then against a `--full-refresh` build:",
        "",
        "| latest-export rows | change | " + " | ".join(STAGES) + " | ltv run s | goal | "
        "equal to full refresh |",
        "|---:|---|" + "---:|" * (len(STAGES) + 1) + "---|---|",
    ]
    for size in sizes:
        run = size["runs"][0]
        check = run.get("check")
        equal = (
            "not checked"
            if check is None
            else "**yes**"
            if not check["differences"]
            else f"**NO**: {check['differences']}"
        )
        for change in CHANGES:
            stages = run["incremental"][change]
            cells = [
                f"{f['seconds']:.1f} / {f['cpu_seconds']:.1f} / {f['peak_rss_mib']}"
                for f in (stages[s] for s in STAGES)
            ]
            total = sum(stages[s]["seconds"] for s in STAGES)
            goal = INCREMENTAL_GOALS.get(change) if size["rows"] == 1_000_000 else None
            verdict = f"≤ {goal:.0f} s: {_met(total <= goal)}" if goal else ""
            lines.append(
                f"| {size['latest_export_rows']:,} | {what[change]} | "
                + " | ".join(cells)
                + f" | {total:.1f} | {verdict} | {equal} |"
            )
    return lines


def _headline(message: str) -> str:
    """The informative line of a failure: dagster-dbt puts dbt's own errors after a preamble."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    marker = "Errors parsed from dbt logs:"
    return lines[lines.index(marker) + 1] if marker in lines[:-1] else lines[0]


def _e2e_goals(sizes: list[dict[str, Any]]) -> list[str]:
    """The 1M and 10M goals: measured when the scale ran them, else extrapolated (and said so)."""
    by_rows = {s["rows"]: s for s in sizes}
    lines = []  # the fixed cost's goal: the fixed_cost benchmark, `ltv run` in one process
    if 1_000_000 in by_rows:
        m = by_rows[1_000_000]
        ok = m["median_seconds"] <= 40 and m["peak_rss_mib"] < 4 * GIB
        lines.append(
            f"- 1M from an empty warehouse: `ltv run` {m['median_seconds']:.0f} s, peak "
            f"{m['peak_rss_mib']:,} MiB; goal ≤ 40 s and < 4 GiB: {_met(ok)}"
        )
    if 10_000_000 in by_rows:
        m = by_rows[10_000_000]
        ok = m["median_seconds"] <= 360 and m["peak_rss_mib"] <= 6 * GIB
        lines.append(
            f"- 10M from an empty warehouse: `ltv run` {m['median_seconds']:.0f} s, peak "
            f"{m['peak_rss_mib']:,} MiB; goal ≤ 360 s and ≤ 6 GiB: {_met(ok)}"
        )
    if len(sizes) < 2:
        return lines
    # Fixed costs (process and Dagster start-up) dominate small sizes, so a power law through
    # them would flatter large ones: extrapolate a + b * rows through the two largest instead,
    # in CPU time (wall time on a shared machine follows the load more than the rows).
    small, large = sizes[-2:]
    rows = large["latest_export_rows"] - small["latest_export_rows"]
    per_row = (large["median_cpu_seconds"] - small["median_cpu_seconds"]) / rows
    for target in (1_000_000, 10_000_000):
        if target in by_rows or large["rows"] >= target:
            continue
        estimate = large["median_cpu_seconds"] + per_row * (target - large["latest_export_rows"])
        lines.append(
            f"- {target:,}: not run at this scale; a + b × rows through the two largest sizes "
            f"({per_row * 1000:.2f} CPU s per 1,000 rows) gives `ltv run` ~{estimate:,.0f} CPU s"
        )
    return lines


TIMES = ("started", "ended")
# POST to visible: a demo seller, and a 1M-row seller (the large scale).
FRESHNESS_GOAL, FRESHNESS_GOAL_AT_SCALE = 60, 20


def render_engines(result: dict[str, Any]) -> list[str]:
    from bench.e2e_bench import STAGES

    engines = result["engines"]
    runs = len(next(iter(engines.values()))["runs"])
    lines = [
        f"{result['latest_export_rows']:,} latest-export rows, {result['deliveries']:,} "
        f"deliveries; median of {runs} run(s) per engine, engines alternating. `ltv run` from "
        "an empty warehouse, then after a new export of 1,000 rows (incremental). Stages in "
        "wall s; CPU s of the pipeline's processes, and of the whole machine over the same "
        "time (the PostgreSQL server's and Spark's JVM's work included); peak MiB of the "
        "largest pipeline process, and of a stage's whole process tree together (sampled; "
        "with Spark, its JVM, which rusage misses: pyspark never waits for it).",
        "",
        "| engine | run | " + " | ".join(STAGES) + " | ltv run s | vs DuckDB | CPU s "
        "| machine CPU s | peak MiB | tree peak MiB |",
        "|---|---|" + "---:|" * (len(STAGES) + 6),
    ]
    for phase in ("from_empty", "new_export"):
        duckdb_total = engines["duckdb"]["median"][phase]["total"]["seconds"]
        for engine, figures in engines.items():
            stages, total = figures["median"][phase], figures["median"][phase]["total"]
            cells = " | ".join(f"{stages[stage]['seconds']:.1f}" for stage in STAGES)
            lines.append(
                f"| {engine} | {phase.replace('_', ' ')} | {cells} | {total['seconds']:.1f} "
                f"| {total['seconds'] / duckdb_total:.2f} | {total['cpu_seconds']:.1f} "
                f"| {total['machine_cpu_seconds']:.1f} | {total['peak_rss_mib']:.0f} "
                f"| {total['peak_tree_mib']:.0f} |"
            )
    differ = result["differences"]
    equal = f"- marts equal row for row on every engine: {_met(not differ)}"
    return [*lines, "", f"{equal} {differ or ''}".rstrip()]


def render_freshness(result: dict[str, Any]) -> list[str]:
    seconds = [r["seconds"] for r in result["runs"]]
    median = statistics.median(seconds)
    if "rows" in result:
        seller = (
            f"The end-to-end bench's seller of {result['rows']:,} latest-export rows, loaded, "
            "built and published before the stack started"
        )
        goal = FRESHNESS_GOAL_AT_SCALE
    else:
        seller = f"Seed seller of {result['customers']} customers loaded through the running stack"
        goal = FRESHNESS_GOAL
    lines = [
        f"{seller}; {len(seconds)} POSTs, one at a time, each once no run had been active "
        "for 35 s.",
        "",
        "| POST → visible in snapshot | median s | min–max s | goal |",
        "|---|---:|---:|---|",
        f"| one new order.success | {median:.1f} | {_spread(seconds, 1)} | ≤ {goal} s: "
        f"{_met(median <= goal)} |",
        "",
        "Runs the first POST caused (seconds after the POST):",
        "",
        "| assets | created | started | ended |",
        "|---|---:|---:|---:|",
    ]
    for run in result["runs"][0]["runs"]:
        started, ended = (run[k] if run[k] is not None else "still running" for k in TIMES)
        lines.append(f"| {run['assets'] or 'a job run'} | {run['created']} | {started} | {ended} |")
    return lines


SCALES = ("small", "large")
BENCHMARKS = [
    Benchmark(
        "raw_load",
        "1. Raw CSV load: asset vs DuckDB read_csv (ceiling) vs pandas + to_sql (peer)",
        "raw_load_bench.py",
        {
            "small": ["--rows", "100000", "--repeat", "3", "--pandas-rows", "5000"],
            "large": ["--rows", "1000000", "--repeat", "3", "--pandas-rows", "50000"],
        },
        render_raw_load,
        result=OUT / "raw_load" / "results.json",
    ),
    Benchmark(
        "sidecar",
        "2. Webhook sidecar: durable vs the same server not writing (ceiling)",
        "sidecar_bench.py",
        {
            "small": ["--rounds", "3", "--seconds", "4", "--warmup", "1"],
            "large": ["--rounds", "5", "--seconds", "15", "--warmup", "2"],
        },
        render_sidecar,
    ),
    Benchmark(
        "dbt",
        "3. dbt build, full and incremental, vs a hand-written DuckDB dim_customers (floor)",
        "dbt_bench.py",
        {
            "small": ["--rows", "10000", "--repeat", "1"],
            "large": ["--rows", "10000", "100000", "1000000", "--repeat", "1"],
        },
        render_dbt,
        result=OUT / "dbt" / "results.json",
        invocations=3,
    ),
    Benchmark(
        "e2e",
        "4. End to end: generated seller through the stages of `ltv run`",
        "e2e_bench.py",
        {
            "small": ["--rows", "100", "10000", "100000"],
            "large": ["--rows", "100", "10000", "100000", "1000000", "10000000"],
        },
        render_e2e,
    ),
    Benchmark(
        "freshness",
        "5. Freshness: webhook POST to visible in the published snapshot, with `make run` up",
        "freshness_bench.py",
        {"small": ["--repeat", "2"], "large": ["--repeat", "3", "--rows", "1000000"]},
        render_freshness,
    ),
    Benchmark(
        "engines",
        "6. Warehouse engines: the same seller through `ltv run` on DuckDB, PostgreSQL and Spark",
        "engine_bench.py",
        {"small": ["--rows", "100000"], "large": ["--rows", "100000", "--repeat", "3"]},
        render_engines,
    ),
    Benchmark(
        "fixed_cost",
        "7. Fixed cost: `ltv run` in one process on a seller of 25 customers",
        "fixed_cost_bench.py",
        {"small": ["--repeat", "3"], "large": ["--repeat", "3"]},
        render_fixed_cost,
    ),
    Benchmark(
        "demo",
        "Demo generator (context: the e2e sellers are made with it)",
        "demo_bench.py",
        {"small": ["--rows", "10000"], "large": ["--rows", "1000000"]},
        render_demo,
    ),
]


def run(benchmark: Benchmark, scale: str) -> tuple[str, Any]:
    """Run the script (`invocations` times); (the command, its figures or an error string)."""
    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(BENCH / benchmark.script), *benchmark.args[scale]]
    output = benchmark.result or OUT / f"{benchmark.name}.json"
    if benchmark.result is None:
        argv += ["--json", str(output)]
    command = " ".join(["python", f"bench/{benchmark.script}", *benchmark.args[scale]])
    if benchmark.invocations > 1:
        command += f"   (run {benchmark.invocations} times)"
    figures = []
    with (logs / f"{benchmark.name}.log").open("w") as log:
        for _ in range(benchmark.invocations):
            output.unlink(missing_ok=True)
            done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, cwd=BENCH.parent)
            # sidecar_bench exits 1 when a goal is missed: its figures are still good.
            if not output.exists():
                return command, f"failed (exit {done.returncode}); see bench/out/logs/"
            figures.append(json.loads(output.read_text()))
    return command, figures[0] if benchmark.invocations == 1 else figures


def machine() -> list[str]:
    """What the figures were measured on, and how busy it was."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        int(line.split()[1]) // 2**20
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCH.parent
    ).stdout.strip()
    packages = ", ".join(f"{p} {version(p)}" for p in ("dagster", "dbt-core", "duckdb", "pandas"))
    return [
        f"- {os.cpu_count()} CPUs ({cpu}), {memory} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; {packages}",
        f"- commit {commit} (plus whatever was uncommitted in the checkout)",
    ]


def published_sections() -> dict[str, str]:
    """The sections results.md holds now, by their `## ` title line."""
    if not RESULTS.exists():
        return {}
    parts = RESULTS.read_text().split("\n## ")[1:]
    return {part.split("\n", 1)[0]: f"## {part.rstrip()}\n" for part in parts}


def write_results() -> None:
    """results.md from every benchmark's latest section, so `python -m bench e2e` refreshes
    one: the section this checkout ran last, else the one results.md already has (a fresh
    clone has no bench/out/)."""
    published = published_sections()

    def latest(benchmark: Benchmark) -> str | None:
        path = SECTIONS / f"{benchmark.name}.md"
        return path.read_text() if path.exists() else published.get(benchmark.title)

    sections = [section for b in BENCHMARKS if (section := latest(b))]
    header = [
        "# Benchmark results",
        "",
        "Generated by `make bench` (`python -m bench`); each section says when it ran and at "
        "which scale. Do not edit: rerun. Method and what was learned: bench/README.md.",
        "",
        *machine(),
        "- The machine is shared: compare ratios measured in the same run, not absolute "
        "figures across runs.",
        "",
    ]
    RESULTS.write_text("\n".join(header + sections))


def main() -> None:
    scale = os.environ.get("BENCH_SCALE", "small")
    if scale not in SCALES:
        raise SystemExit(f"BENCH_SCALE={scale!r}: use one of {', '.join(SCALES)}")
    only = set(sys.argv[1:])
    SECTIONS.mkdir(parents=True, exist_ok=True)
    for benchmark in BENCHMARKS:
        if only and benchmark.name not in only:
            continue
        load = os.getloadavg()[0]
        print(f"bench: {benchmark.name} ...", flush=True)
        began, started = time.monotonic(), datetime.now(UTC)
        command, figures = run(benchmark, scale)
        took = time.monotonic() - began
        print(f"bench: {benchmark.name} done in {took:.0f} s", flush=True)
        body = [figures] if isinstance(figures, str) else benchmark.render(figures)
        section = [
            f"## {benchmark.title}",
            "",
            f"`{command}` (BENCH_SCALE={scale}): {started:%Y-%m-%d %H:%M} UTC, {took:.0f} s, "
            f"load average {load:.1f} at the start.",
            "",
            *body,
            "",
        ]
        (SECTIONS / f"{benchmark.name}.md").write_text("\n".join(section))
    write_results()
    print(f"bench: wrote {RESULTS}")


if __name__ == "__main__":
    main()
