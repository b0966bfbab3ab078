"""Time to forget one user from a realistic lake with three dataset versions.

The lake grows in three days of realistic records (`tests.bench.realistic`, a few KB each, user
ids drawn from 5,000); after each day the pipeline builds completions, the curated table and a
dataset version, so the first day's users are in all three versions. Then one first-day user is
forgotten (`--metadata user_id=…`): every batch holding them rewritten, the tables, all three
versions replaced.

    PYTHONPATH=$PWD .venv/bin/python tests/bench/bench_forget.py --rows 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def build_three_versions(data_dir: Path, rows: int) -> list[str]:
    """Three days of records, a version built after each; returns the version ids."""
    from pipelines.completions import build_completions, read_completions
    from pipelines.curate import curate_lake, read_curated
    from pipelines.export import SNAPSHOT_COLUMNS, build_dataset_version, input_snapshot
    from pipelines.recipes import Recipe
    from tests.bench.realistic import write_realistic_lake

    recipe = Recipe.model_validate({"name": "bench", "dedup": {"near": {"enabled": False}}})
    versions = []
    for day in range(3):
        write_realistic_lake(data_dir, n=rows // 3, seed=day, run=f"day{day}")
        build_completions(data_dir)
        # As the assets do: curation part by part, kept per part.
        curated = curate_lake(data_dir, recipe)
        completions = read_completions(data_dir, columns=list(SNAPSHOT_COLUMNS))
        built = build_dataset_version(
            data_dir,
            read_curated(data_dir, recipe.name),
            recipe,
            curation_steps=curated.steps,
            inputs=input_snapshot(completions),
        )
        versions.append(built.version)
    return versions


def first_user(data_dir: Path) -> str:
    """The user of the first record of the first day: in every version."""
    import polars as pl

    from pipelines.datadir.paths import DataPaths

    first = pl.read_parquet(DataPaths(data_dir).batch_files()[0], n_rows=1)
    return json.loads(first["completion_json"][0])["metadata"]["user_id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--user", help="the user_id to forget (default: the first record's)")
    args = parser.parse_args()

    from pipelines.forget import Selection, forget

    scratch = Path(tempfile.mkdtemp(prefix="bench-forget-"))
    try:
        started = time.perf_counter()
        versions = build_three_versions(scratch, args.rows)
        built_s = time.perf_counter() - started
        user = args.user or first_user(scratch)
        started = time.perf_counter()
        report = forget(scratch, Selection(metadata=(("user_id", user),)))
        forget_s = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "versions_before": len(set(versions)),
                    "build_seconds": round(built_s, 1),
                    "forget_seconds": round(forget_s, 2),
                    "ids_forgotten": report.ids["total"],
                    "places": report.places,
                    "versions_replaced": len(report.versions_replaced),
                },
                indent=2,
            )
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
