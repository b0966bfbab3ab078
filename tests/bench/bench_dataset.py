"""Dataset-version benchmark: split + every export + checks of N curated completions, against the
floor of polars reading the same Parquet and writing about as much JSONL, with the peak RSS of each.

The curated rows are generated first; each measurement runs in a fresh process so its peak RSS is
its own. A third figure is the least an export costs: every row's fine-tuning line built and
written, nothing else. `--profile` runs the version once more under cProfile and prints where the
time goes.

    .venv/bin/python tests/bench/bench_dataset.py --n 1000000 [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.measure import cpu_seconds, peak_rss_mib  # noqa: E402


def prepare(n: int, path: Path) -> None:
    import polars_hash as plh

    from pipelines.completions.validate import validate_completions
    from tests.bench.bench_curation import completions

    curated = (
        validate_completions(completions(n))
        .completions.drop("completion_json", "messages_json")
        .with_columns(
            pl.lit(0, pl.Int64).alias("redactions"),
            pl.lit([], pl.List(pl.String)).alias("redacted_kinds"),
            plh.col("id").chash.sha2_256().alias("dedup_hash"),
            pl.lit(1, pl.UInt32).alias("duplicate_count"),
            pl.col("id").alias("cluster_id"),
            pl.lit(1, pl.UInt32).alias("cluster_size"),
        )
    )
    curated.write_parquet(path)


def measure(kind: str, source: Path, out: Path) -> dict[str, float]:
    # Imported before the clock starts: loading the package (the openai SDK with it) is not work
    # on the rows.
    from pipelines.export.files import jsonl_bytes
    from pipelines.export.lines import LINE_COLUMNS, fine_tuning_lines
    from pipelines.export.versions import build_dataset_version
    from pipelines.recipes import Recipe

    started, cpu_started = time.perf_counter(), cpu_seconds()
    if kind == "floor":
        # About as much JSONL as the version writes (within a tenth): each row's id, the role and
        # text of its messages, and its output. Whole message structs would be 2.4 times as much,
        # all their null fields written out.
        message = pl.element().struct
        (
            pl.read_parquet(source, columns=["id", "messages", "output_content"])
            .with_columns(pl.col("messages").list.eval(pl.struct(message.field("role", "content"))))
            .write_ndjson(out / "floor.jsonl")
        )
    elif kind == "lines":
        # The least an export of these rows costs: one fine-tuning line per row, built and
        # written; no split, no evaluation files, no Parquet, no checks.
        rows = pl.read_parquet(source, columns=LINE_COLUMNS).rechunk()
        with (out / "train.jsonl").open("wb") as stream:
            for offset in range(0, rows.height, 100_000):
                stream.write(jsonl_bytes(fine_tuning_lines(rows.slice(offset, 100_000))))
    else:

        def build() -> None:
            build_dataset_version(out, pl.read_parquet(source), Recipe(name="bench"))

        if kind == "profile":
            profile = cProfile.Profile()
            profile.runcall(build)
            stats = pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative")
            stats.print_stats(r"pipelines|parquet|collect", 30)
        else:
            build()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_mib": peak_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--measure", nargs=3, metavar=("KIND", "SOURCE", "OUT"))
    parser.add_argument(
        "--profile", action="store_true", help="also print where the version's time goes"
    )
    args = parser.parse_args()
    if args.measure:
        kind, source, out = args.measure
        print(json.dumps(measure(kind, Path(source), Path(out))))
        return
    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
        source = Path(tmp) / "curated.parquet"
        prepare(args.n, source)
        results = {}
        for kind in ("floor", "lines", "version", *(["profile"] if args.profile else [])):
            out = Path(tmp) / kind
            out.mkdir()
            done = subprocess.run(
                [sys.executable, __file__, "--measure", kind, str(source), str(out)],
                stdout=subprocess.PIPE,
                text=True,
                check=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            results[kind] = json.loads(done.stdout.strip().splitlines()[-1])
        sizes = {
            kind: sum(p.stat().st_size for p in (Path(tmp) / kind).rglob("*.jsonl"))
            for kind in ("floor", "lines", "version")
        }
    floor = results["floor"]["seconds"]
    print(f"rows                               {args.n:>12,}")
    for kind, label in (
        ("floor", "floor: read parquet + write JSONL"),
        ("lines", "least: fine-tuning lines only    "),
        ("version", "split + every export + checks    "),
    ):
        seconds, cpu, peak = (results[kind][k] for k in ("seconds", "cpu_seconds", "peak_mib"))
        print(
            f"{label}  {seconds:>6.2f} s ({cpu:5.2f} CPU-s)  {peak:>6.0f} MiB"
            f"  {sizes[kind] / 2**20:4,.0f} MiB JSONL  {seconds / floor:5.2f} x floor"
        )


if __name__ == "__main__":
    main()
