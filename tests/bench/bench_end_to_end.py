"""End to end on realistic records: lake → completions → curated → dataset version, against a
plain-Python pipeline doing the same steps (tests/bench/baseline.py) and against the polars I/O
floor (read the lake, write as many JSONL bytes). Each runs in a fresh process on the same lake, so
its peak RSS is its own. Near dedup is off (the baseline has none); chains are on (the default)
unless `--no-chains`.

Goal (issue 17): ≥ 10× the baseline, ≤ 5× the floor, ≤ 4 GB peak at a million records.

    .venv/bin/python tests/bench/bench_end_to_end.py --n 100000 [--repeat 2] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.measure import cpu_seconds, peak_rss_mib  # noqa: E402


def measure(kind: str, lake: Path, out: Path, chains: bool) -> dict[str, float]:
    import polars as pl

    from pipelines.completions import build_completions, read_completions
    from pipelines.curate import curate_lake, read_curated
    from pipelines.datadir.paths import DataPaths
    from pipelines.export import SNAPSHOT_COLUMNS, build_dataset_version, input_snapshot
    from pipelines.recipes import Recipe
    from tests.bench.baseline import run_baseline

    recipe = Recipe.model_validate(
        {"name": "bench", "dedup": {"near": {"enabled": False}}, "chains": {"enabled": chains}}
    )

    def pipeline() -> None:
        shutil.copytree(lake / "lake", out / "lake")
        # As the assets do it, stage after stage through the data directory.
        build_completions(out)
        curated = curate_lake(out, recipe)
        build_dataset_version(
            out,
            read_curated(out, recipe.name),
            recipe,
            curation_steps=curated.steps,
            inputs=input_snapshot(read_completions(out, columns=SNAPSHOT_COLUMNS)),
        )

    started, cpu_started = time.perf_counter(), cpu_seconds()
    if kind == "floor":
        frame = pl.read_parquet(DataPaths(lake).batch_files())
        frame.select("completion_json", "messages_json").write_ndjson(out / "floor.jsonl")
    elif kind == "baseline":
        run_baseline(lake, out)
    elif kind == "profile":
        profile = cProfile.Profile()
        profile.runcall(pipeline)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(
            r"pipelines", 35
        )
    else:
        pipeline()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_mib": peak_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-chains", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--measure", nargs=3, metavar=("KIND", "LAKE", "OUT"))
    args = parser.parse_args()
    if args.measure:
        kind, lake, out = args.measure
        print(json.dumps(measure(kind, Path(lake), Path(out), not args.no_chains)))
        return
    from tests.bench.realistic import write_realistic_lake

    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
        lake = Path(tmp) / "source"
        stats = write_realistic_lake(lake, n=args.n, seed=2, chain_share=0.1)
        print(f"records {stats.rows:,}: {stats.mb:,.0f} MB of stored JSON")
        kinds = ["floor", "baseline", "pipeline"] + (["profile"] if args.profile else [])
        for attempt in range(1, args.repeat + 1):
            results = {}
            for kind in kinds:
                out = Path(tmp) / f"{kind}-{attempt}"
                out.mkdir()
                flags = ["--no-chains"] if args.no_chains else []
                done = subprocess.run(
                    [sys.executable, __file__, *flags, "--measure", kind, str(lake), str(out)],
                    stdout=subprocess.PIPE,
                    text=True,
                    check=True,
                    env={**os.environ, "PYTHONPATH": str(REPO)},
                )
                results[kind] = json.loads(done.stdout.strip().splitlines()[-1])
                shutil.rmtree(out)
            floor, baseline = results["floor"]["seconds"], results["baseline"]["seconds"]
            print(f"-- run {attempt}")
            for kind in ("floor", "baseline", "pipeline"):
                seconds, cpu, peak = (
                    results[kind][k] for k in ("seconds", "cpu_seconds", "peak_mib")
                )
                print(
                    f"{kind:9} {seconds:7.2f} s ({cpu:6.2f} CPU-s)  {stats.rows / seconds:9,.0f}"
                    f" rec/s  {stats.mb / seconds:7.1f} MB/s  peak {peak:6.0f} MiB"
                    f"  {seconds / floor:5.2f}x floor  {baseline / seconds:5.2f}x faster than"
                    " baseline"
                )


if __name__ == "__main__":
    main()
