"""A year-old lake and a new day: what a build costs, stage by stage, when 1% of the lake is new.

On realistic records (tests/bench/realistic.py), each stage in a process of its own (as Dagster's
multiprocess executor runs each asset), so each peak RSS is the stage's own: a full build of an
N-record lake (completions → curated → version), then the same lake with 1% new records built twice,
incrementally (on the first build's data directory) and from scratch (on a copy of the lake alone).
Prints seconds, CPU seconds, records/s, MB/s of stored JSON and peak RSS per stage, the new day's
cost as a share of the full build, and whether the incremental version is byte-identical to the
from-scratch one.

Goal (issue 23): a 1%-new day ≤ 10% of the full build, byte-identical; peak RSS ≤ 1 GB at 100k.

    .venv/bin/python tests/bench/bench_incremental.py --n 100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.measure import cpu_seconds, peak_rss_mib  # noqa: E402

STAGES = ("completions", "curated", "version")


def run_stage(name: str, data_dir: Path) -> dict[str, object]:
    """One stage, as its asset does it, in this process alone (Dagster's multiprocess executor
    runs each asset in a process of its own): read its input from the data directory, write its
    output there."""
    from pipelines.completions import build_completions, read_completions
    from pipelines.curate import curate_lake, read_curated, read_curation_steps
    from pipelines.export import SNAPSHOT_COLUMNS, build_dataset_version, input_snapshot
    from pipelines.recipes import Recipe

    recipe = Recipe.model_validate({"name": "bench", "dedup": {"near": {"enabled": False}}})
    started, cpu = time.perf_counter(), cpu_seconds()
    result: dict[str, object] = {}
    if name == "completions":
        segments = build_completions(data_dir).segments
        result = {"normalized_rows": segments.normalized_rows, "reused_rows": segments.reused_rows}
    elif name == "curated":
        curated = curate_lake(data_dir, recipe)
        result = {"parts": curated.parts, "parts_curated": curated.parts_curated}
    else:
        version = build_dataset_version(
            data_dir,
            read_curated(data_dir, recipe.name),
            recipe,
            curation_steps=read_curation_steps(data_dir, recipe.name),
            inputs=input_snapshot(read_completions(data_dir, columns=SNAPSHOT_COLUMNS)),
        )
        result = {"version": version.version}
    return {
        **result,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": cpu_seconds() - cpu,
        "peak_mib": peak_rss_mib(),
    }


def _run_build(data_dir: Path) -> dict[str, object]:
    """Every stage in order, each in a fresh process."""
    stages = {}
    for name in STAGES:
        done = subprocess.run(
            [sys.executable, __file__, "--stage", name, str(data_dir)],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        stages[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "stages": stages,
        "normalized_rows": stages["completions"]["normalized_rows"],
        "reused_rows": stages["completions"]["reused_rows"],
        "version": stages["version"]["version"],
    }


def _print(label: str, result: dict[str, object], rows: int, mb: float) -> tuple[float, float]:
    """Print one build; return its wall and CPU seconds (CPU is steadier on a shared machine)."""
    stages = result["stages"]
    assert isinstance(stages, dict)
    total = sum(stage["seconds"] for stage in stages.values())
    cpu = sum(stage["cpu_seconds"] for stage in stages.values())
    print(
        f"{label}: {total:6.2f} s  {rows / total:8,.0f} rec/s  {mb / total:6.1f} MB/s"
        f"  (normalized {result['normalized_rows']:,}, reused {result['reused_rows']:,} rows)"
    )
    for name in STAGES:
        stage = stages[name]
        print(
            f"  {name:12} {stage['seconds']:6.2f} s ({stage['cpu_seconds']:6.2f} CPU-s)"
            f"  peak {stage['peak_mib']:6.0f} MiB"
        )
    return total, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--new-share", type=float, default=0.01)
    parser.add_argument("--stage", nargs=2, metavar=("STAGE", "DATA_DIR"))
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(run_stage(args.stage[0], Path(args.stage[1]))))
        return
    from pipelines.datadir.paths import DataPaths
    from tests.bench.realistic import write_realistic_lake

    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
        lake = Path(tmp) / "lake"
        stats = write_realistic_lake(lake, n=args.n, seed=2, chain_share=0.1)
        new = int(args.n * args.new_share)
        print(f"lake: {stats.rows:,} records, {stats.mb:,.0f} MB of stored JSON; new day: {new:,}")
        full = _print("full build", _run_build(lake), stats.rows, stats.mb)
        # The new day's batch sorts after the lake's, as the next ingest's would.
        more = write_realistic_lake(lake, n=new, seed=3, chain_share=0.1, run="day2")
        scratch = Path(tmp) / "scratch"
        shutil.copytree(DataPaths(lake).raw_completions, DataPaths(scratch).raw_completions)
        total_rows, total_mb = stats.rows + more.rows, stats.mb + more.mb
        incremental = _run_build(lake)
        daily = _print("new day, incremental", incremental, total_rows, total_mb)
        from_scratch = _run_build(scratch)
        _print("same lake, from scratch", from_scratch, total_rows, total_mb)
        same = incremental["version"] == from_scratch["version"]
        print(
            f"new day costs {daily[0] / full[0]:.1%} of the full build's wall time"
            f" ({daily[1] / full[1]:.1%} of its CPU time);"
            f" version {'identical to' if same else 'DIFFERS from'} the from-scratch build"
        )


if __name__ == "__main__":
    main()
