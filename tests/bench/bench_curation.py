"""Curation benchmark: filters + redaction + exact dedup over N completions, against the floor of
reading the same Parquet and writing the same rows with polars.

A third figure is the least this work can cost: read, one streaming pass that scans every text
for PII and hashes the conversation, one row filter, write; no rewriting, no counts. It shows how
much of the gap to the floor is the pipeline's overhead and how much the work itself.

    .venv/bin/python tests/bench/bench_curation.py --n 1000000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import polars_hash as plh  # noqa: E402

from pipelines.completions.normalize import normalize_completions  # noqa: E402
from pipelines.curate.dedup import conversation_key, dedupe_exact  # noqa: E402
from pipelines.curate.filters import select_completions  # noqa: E402
from pipelines.curate.redact import redact_completions  # noqa: E402
from pipelines.privacy.pii import PATTERNS  # noqa: E402
from pipelines.recipes import Recipe  # noqa: E402
from tests.bench.bench_completions import fill, raw_rows  # noqa: E402


def completions(n: int) -> pl.DataFrame:
    """`n` normalized completions; every 50th user text carries an e-mail and a phone number,
    every 10th is an exact duplicate of its neighbour."""
    raw = raw_rows(n)
    i = pl.int_range(pl.len())
    pii = fill("Mail me at user{}@example.com or call 555-010-{}. ", i, (i % 9000 + 1000))
    question = fill("What is question {}?", pl.when(i % 10 == 1).then(i - 1).otherwise(i))
    # Put the planted text where the generated user question was.
    raw = raw.with_columns(
        pl.col("messages_json")
        .str.replace(r"What is question [0-9]+\?", "QUESTION")
        .str.replace(
            "QUESTION",
            pl.when(i % 50 == 0).then(pl.concat_str([pii, question])).otherwise(question),
            literal=True,
        )
    )
    # Every 10th row repeats its neighbour's conversation exactly (exact dedup has work to do).
    repeat = pl.int_range(pl.len()) % 10 == 1
    return normalize_completions(raw).with_columns(
        pl.when(repeat).then(pl.col(name).shift(1)).otherwise(pl.col(name)).alias(name)
        for name in ("messages", "output_content")
    )


def least_work(source: Path, out: Path, recipe: Recipe) -> None:
    """Read, scan + hash in one streaming pass, keep one row per hash, write."""
    frame = pl.read_parquet(source)
    pattern = "|".join(f"(?:{p})" for p in PATTERNS.values())
    texts = pl.col("messages").list.eval(pl.element().struct.field("content")).list.join("\n")
    computed = (
        frame.lazy()
        .select(
            pl.concat_str([texts, pl.col("output_content")], ignore_nulls=True)
            .str.contains(pattern)
            .alias("suspect"),
            conversation_key(recipe.dedup.exact).alias("_key"),
        )
        .select("suspect", plh.col("_key").chash.sha2_256().alias("dedup_hash"))
        .collect(engine="streaming")
    )
    first = (
        frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), "created", "id")
        .with_columns(computed["dedup_hash"])
        .sort(["created", "id"], descending=[True, False])
        .unique("dedup_hash", keep="first")["_row"]
    )
    keep = pl.repeat(False, frame.height, eager=True).scatter(first, True)
    frame.with_columns(computed["dedup_hash"]).filter(keep).write_parquet(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    recipe = Recipe(name="bench")
    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
        source, floor_out, out = (Path(tmp) / f"{name}.parquet" for name in ("in", "floor", "out"))
        completions(args.n).drop("completion_json", "messages_json").write_parquet(source)

        started = time.perf_counter()
        pl.read_parquet(source).write_parquet(floor_out)
        floor_s = time.perf_counter() - started

        started = time.perf_counter()
        frame = pl.read_parquet(source)
        frame, _ = select_completions(frame, recipe.select)
        frame, redacted = redact_completions(frame, recipe.redact)
        frame, deduped = dedupe_exact(frame, recipe.dedup.exact)
        frame.write_parquet(out)
        curation_s = time.perf_counter() - started

        started = time.perf_counter()
        least_work(source, out, recipe)
        least_s = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows                          {args.n:>12,}")
    print(f"floor: read + write parquet   {floor_s:>10.2f} s")
    ratio = curation_s / floor_s
    print(f"select + redact + exact dedup {curation_s:>10.2f} s   ({ratio:.2f}x floor)")
    print(f"least work (scan, hash, keep) {least_s:>10.2f} s   ({least_s / floor_s:.2f}x floor)")
    print(f"redactions                    {redacted.counts}")
    print(f"exact duplicates dropped      {deduped.dropped}")
    print(f"rows out                      {frame.height:>12,}")
    print(f"peak RSS                      {peak:>10.0f} MiB")


if __name__ == "__main__":
    main()
