"""Write one dataset version's split files: fine-tuning JSONL, evaluation JSONL, and Parquet.

Every file lists its rows in the same order (by completion id within a split), and each Parquet
row carries the exact JSONL line it matches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.export_lines import dumps_line, eval_item, fine_tuning_line, oss_eval_item
from pipelines.splits import SPLITS
from schemas.types import MESSAGE

FINE_TUNING_SPLITS = ("train", "validation")


@dataclass
class SplitFiles:
    """The files written, and the sha256 of each JSONL file's content (the version's basis)."""

    paths: dict[str, Path] = field(default_factory=dict)
    content_sha256: dict[str, str] = field(default_factory=dict)


def write_split_files(directory: Path, rows: pl.DataFrame, *, train_on: str) -> SplitFiles:
    """Write every split of `rows` (with a `split` column) into `directory`."""
    files = SplitFiles()
    for split in SPLITS:
        part = rows.filter(pl.col("split") == split)
        records = list(part.iter_rows(named=True))
        if split in FINE_TUNING_SPLITS:
            lines = [dumps_line(fine_tuning_line(r, train_on=train_on)) for r in records]
            _write_jsonl(files, directory / f"{split}.jsonl", lines)
        else:
            lines = [dumps_line(eval_item(r)) for r in records]
            _write_jsonl(files, directory / "eval.jsonl", lines)
            oss = [dumps_line(oss_eval_item(r)) for r in records]
            _write_jsonl(files, directory / "eval.openai-evals.jsonl", oss)
        parquet = directory / f"{split}.parquet"
        _parquet_rows(part, lines).write_parquet(parquet, compression="zstd")
        files.paths[parquet.name] = parquet
    return files


def _write_jsonl(files: SplitFiles, path: Path, lines: list[str]) -> None:
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(text)
    files.paths[path.name] = path
    files.content_sha256[path.name] = hashlib.sha256(text).hexdigest()


def _parquet_rows(part: pl.DataFrame, lines: list[str]) -> pl.DataFrame:
    """Hugging Face-friendly rows: ids, split, the whole conversation typed, and the JSONL line."""
    output = pl.struct(
        pl.lit("assistant").alias("role"),
        pl.coalesce("output_content", "output_refusal").alias("content"),
        pl.lit("string").alias("content_type"),
        pl.lit(None, pl.String).alias("content_parts"),
        pl.lit(None, pl.String).alias("name"),
        pl.col("output_tool_calls").alias("tool_calls"),
        pl.lit(None, pl.String).alias("tool_call_id"),
        pl.lit(None, pl.Boolean).alias("tool_call_matched"),
        pl.lit(None, pl.Int64).alias("weight"),
    ).cast(MESSAGE)
    keep = ["role", "content", "content_parts", "name", "tool_calls", "tool_call_id", "weight"]
    return part.select(
        pl.col("id").alias("completion_id"),
        "cluster_id",
        "split",
        "model",
        "created",
        "total_tokens",
        pl.concat_list(pl.col("messages"), output)
        .list.eval(pl.struct(pl.element().struct.field(*keep)))
        .alias("messages"),
        pl.Series("line", lines, dtype=pl.String),
    )
