"""The full build (lake → completions → curated → dataset version) with the data directory on an
S3 server (moto's server mode on a loopback port) against the same build on local disk, on the
same realistic lake; prints both times and their ratio.

moto keeps objects in memory and answers over HTTP on this machine, so the ratio measures what
distillery adds on object storage (whole-object puts, uploads of a staged version, the lease, the
extra reads of a listing), not a real network's latency or bandwidth.

    .venv/bin/python tests/bench/bench_object_store.py --n 20000 [--repeat 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def build(data_dir: object) -> str:
    """Every stage after ingest, as `build_datasets_from_lake_job` runs them; the version id."""
    from pipelines.completions import build_completions, read_completions
    from pipelines.curate import curate_completions, write_curated
    from pipelines.export import build_dataset_version, input_snapshot
    from pipelines.recipes import Recipe

    recipe = Recipe(name="bench")
    build_completions(data_dir)  # type: ignore[arg-type]
    completions = read_completions(data_dir)  # type: ignore[arg-type]
    curated = curate_completions(completions, recipe)
    write_curated(data_dir, curated)  # type: ignore[arg-type]
    return build_dataset_version(
        data_dir,  # type: ignore[arg-type]
        curated.rows,
        recipe,
        curation_steps=curated.steps,
        inputs=input_snapshot(completions),
    ).version


def main() -> None:
    from pipelines.datadir.object_storage import ObjectPath
    from pipelines.datadir.paths import DataPaths
    from tests.bench.realistic import write_realistic_lake
    from tests.s3_server import moto_server, new_bucket, s3_environment

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-object-store-") as scratch:
        lake = Path(scratch) / "lake-source"
        write_realistic_lake(lake, n=args.n, seed=0)
        batches = DataPaths(lake).batch_files()
        best = {"local": float("inf"), "s3": float("inf")}
        versions = set()
        with moto_server() as env, s3_environment(env):
            for attempt in range(args.repeat):
                local = Path(scratch) / f"local-{attempt}"
                shutil.copytree(lake, local)
                started = time.perf_counter()
                versions.add(build(local))
                best["local"] = min(best["local"], time.perf_counter() - started)

                remote = ObjectPath.from_url(f"s3://{new_bucket(env)}/bench")
                for batch in batches:
                    (DataPaths(remote).raw_completions / batch.name).upload(batch)
                started = time.perf_counter()
                versions.add(build(remote))
                best["s3"] = min(best["s3"], time.perf_counter() - started)
    assert len(versions) == 1, "the same lake must give the same version on both"
    print(f"full build of {args.n:,} realistic completions (best of {args.repeat})")
    print(f"  local disk   {best['local']:7.2f} s")
    print(f"  S3 (moto)    {best['s3']:7.2f} s")
    print(f"  ratio        {best['s3'] / best['local']:7.2f} ×")


if __name__ == "__main__":
    main()
