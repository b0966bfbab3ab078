"""Write one dataset version's split files: fine-tuning JSONL, evaluation JSONL, and Parquet.

Every file lists its rows in the same order (by completion id within a split), and each Parquet
row carries the exact JSONL line it matches. Rows are written in slices, so memory stays bounded
whatever the size of the dataset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
import pyarrow.parquet as pq

from pipelines.export_lines import dumps_line, eval_item, fine_tuning_line, oss_eval_item
from pipelines.splits import SPLITS

FINE_TUNING_SPLITS = ("train", "validation")
_SLICE_ROWS = 20_000
# What the line builders read; converting only these to Python halves the cost per row.
_LINE_COLUMNS = [
    "id",
    "model",
    "messages",
    "output_content",
    "output_refusal",
    "output_tool_calls",
    "tools",
    "parallel_tool_calls",
    "metadata",
]


@dataclass
class SplitFiles:
    """The files written, and the sha256 of each JSONL file's content (the version's basis)."""

    paths: dict[str, Path] = field(default_factory=dict)
    content_sha256: dict[str, str] = field(default_factory=dict)


def write_split_files(directory: Path, rows: pl.DataFrame, *, train_on: str) -> SplitFiles:
    """Write every split of `rows` (with a `split` column) into `directory`."""
    files = SplitFiles()
    for split in SPLITS:
        if split in FINE_TUNING_SPLITS:
            outputs = {
                f"{split}.jsonl": lambda row: fine_tuning_line(row, train_on=train_on),
            }
        else:
            outputs = {"eval.jsonl": eval_item, "eval.openai-evals.jsonl": oss_eval_item}
        # Row numbers of the split in id order; rows are gathered a slice at a time from them, so
        # no copy of a whole split is ever made.
        order = (
            rows.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), "id", "split")
            .filter(pl.col("split") == split)
            .sort("id")["row"]
        )
        _write_split(directory, files, rows, order, split, outputs)
    return files


def _write_split(
    directory: Path,
    files: SplitFiles,
    rows: pl.DataFrame,
    order: pl.Series,
    split: str,
    outputs: dict[str, Callable[[dict[str, Any]], dict[str, Any]]],
) -> None:
    parquet_path = directory / f"{split}.parquet"
    hashes = {name: hashlib.sha256() for name in outputs}
    with ExitStack() as stack:
        streams: dict[str, BinaryIO] = {
            name: stack.enter_context((directory / name).open("wb")) for name in outputs
        }
        writer = None
        for chunk in _slices(rows, order):
            # pyarrow turns nested columns into Python objects faster than polars' iter_rows.
            records = chunk.select(_LINE_COLUMNS).to_arrow().to_pylist()
            first_lines: list[str] = []
            for name, build in outputs.items():
                lines = [dumps_line(build(record)) for record in records]
                data = "".join(line + "\n" for line in lines).encode("utf-8")
                streams[name].write(data)
                hashes[name].update(data)
                first_lines = first_lines or lines
            table = _parquet_rows(chunk, first_lines).to_arrow()
            if writer is None:
                writer = stack.enter_context(
                    pq.ParquetWriter(parquet_path, table.schema, compression="zstd")
                )
            writer.write_table(table)
    for name in outputs:
        files.paths[name] = directory / name
        files.content_sha256[name] = hashes[name].hexdigest()
    files.paths[parquet_path.name] = parquet_path


def _slices(rows: pl.DataFrame, order: pl.Series) -> Iterator[pl.DataFrame]:
    if order.is_empty():  # an empty split still gets (empty) files with the full schema
        yield rows.clear()
    for offset in range(0, order.len(), _SLICE_ROWS):
        yield rows[order.slice(offset, _SLICE_ROWS)]


def _parquet_rows(part: pl.DataFrame, lines: list[str]) -> pl.DataFrame:
    """Hugging Face-friendly rows: ids, split, the typed input messages and output, and the line.

    The output is its own column: appending it to the message list costs polars more than every
    other part of the export together (nested list concatenation), and `line` holds the whole
    example exactly as the JSONL has it.
    """
    message = pl.element().struct
    return part.select(
        pl.col("id").alias("completion_id"),
        "cluster_id",
        "split",
        "model",
        "created",
        "total_tokens",
        pl.col("messages").list.eval(
            pl.struct(
                message.field(
                    "role", "content", "content_parts", "name", "tool_calls", "tool_call_id"
                )
            )
        ),
        pl.struct(
            pl.lit("assistant").alias("role"),
            pl.col("output_content").alias("content"),
            pl.col("output_refusal").alias("refusal"),
            pl.col("output_tool_calls").alias("tool_calls"),
        ).alias("output"),
        pl.Series("line", lines, dtype=pl.String),
    )
