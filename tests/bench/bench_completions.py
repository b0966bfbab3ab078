"""Normalize + validate benchmark: N raw-lake rows (3 input messages each) into `completions`.

Builds the raw rows with polars string expressions (so building is not what is measured), then
times normalization, pandera validation, and the Parquet writes of `build_completions`. Run on
demand:

    .venv/bin/python tests/bench/bench_completions.py --n 1000000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines.completions.normalize import normalize_completions  # noqa: E402
from pipelines.completions.table import build_completions  # noqa: E402
from pipelines.completions.validate import validate_completions  # noqa: E402
from pipelines.datadir.paths import DataPaths  # noqa: E402
from schemas import RAW_COMPLETIONS_SCHEMA  # noqa: E402


def fill(template: str, *values: str | pl.Expr) -> pl.Expr:
    """`template` with each `{}` replaced by the next value (column name or expression)."""
    pieces = template.split("{}")
    exprs: list[pl.Expr] = []
    for piece, value in zip(pieces, [*values, None], strict=True):
        exprs.append(pl.lit(piece))
        if value is not None:
            exprs.append((pl.col(value) if isinstance(value, str) else value).cast(pl.String))
    return pl.concat_str(exprs)


def raw_rows(n: int) -> pl.DataFrame:
    """`n` raw rows like ingest writes them; every 1000th has an unknown role (quarantined)."""
    i = pl.int_range(n, eager=True).alias("i")
    frame = pl.DataFrame(i)
    completion = fill(
        '{"id":"chatcmpl-{}","object":"chat.completion","created":{},"model":"gpt-4o-mini",'
        '"choices":[{"index":0,"message":{"role":"assistant","content":"Answer number {} is '
        'forty-two.","refusal":null},"finish_reason":"stop","logprobs":null}],'
        '"usage":{"prompt_tokens":30,"completion_tokens":8,"total_tokens":38},'
        '"metadata":{"app":"bench","n":"{}"},"temperature":1.0,"top_p":1.0,"seed":null}',
        "i",
        pl.col("i") + 1_760_000_000,
        "i",
        "i",
    )
    role = pl.when(pl.col("i") % 1000 == 999).then(pl.lit("narrator")).otherwise(pl.lit("user"))
    messages = fill(
        '[{"id":"chatcmpl-{}-0","role":"system","content":"You are helpful.","content_parts":null,'
        '"name":null},{"id":"chatcmpl-{}-1","role":"{}","content":"What is question {}?",'
        '"content_parts":null,"name":null},{"id":"chatcmpl-{}-2","role":"assistant","content":'
        '"Let me think about {}.","content_parts":null,"name":null}]',
        "i",
        "i",
        role,
        "i",
        "i",
        "i",
    )
    return frame.select(
        pl.lit("chat_completions").alias("api"),
        fill("chatcmpl-{}", "i").alias("id"),
        (pl.col("i") + 1_760_000_000).alias("created"),
        pl.lit("gpt-4o-mini").alias("model"),
        pl.lit("local").alias("source"),
        pl.lit("local").alias("source_endpoint"),
        pl.lit(datetime(2026, 11, 1, tzinfo=UTC)).alias("ingested_at"),
        pl.lit("bench-000001").alias("batch_id"),
        pl.lit(False).alias("deleted"),
        pl.lit("0" * 64).alias("item_sha256"),
        completion.alias("completion_json"),
        messages.alias("messages_json"),
    ).cast(RAW_COMPLETIONS_SCHEMA)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    raw = raw_rows(args.n)
    started = time.perf_counter()
    normalized = normalize_completions(raw)
    normalized_s = time.perf_counter() - started
    started = time.perf_counter()
    validated = validate_completions(normalized)
    validated_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
        paths = DataPaths(Path(tmp))
        paths.raw_completions.mkdir(parents=True)
        raw.write_parquet(paths.raw_completions / "batch-bench-000001.parquet")
        started = time.perf_counter()
        build_completions(tmp)
        build_s = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows                 {args.n:>12,}")
    print(f"normalize            {normalized_s:>10.2f} s")
    print(f"validate (pandera)   {validated_s:>10.2f} s")
    print(f"build_completions    {build_s:>10.2f} s   (read lake + normalize + validate + write)")
    kept, quarantined = validated.completions.height, validated.quarantine.height
    print(f"completions / quarantined  {kept:,} / {quarantined:,}")
    print(f"peak RSS             {peak:>10.0f} MiB")


if __name__ == "__main__":
    main()
