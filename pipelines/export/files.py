"""Write one dataset version's split files: fine-tuning JSONL, evaluation JSONL, and Parquet.

Every file lists its rows in the same order (by completion id within a split), and each Parquet
row carries the exact JSONL line it matches. Rows are written in slices, so memory stays bounded
whatever the size of the dataset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.export.line_check import FineTuneChecker
from pipelines.export.lines import LINE_COLUMNS, eval_items, fine_tuning_lines, oss_eval_items
from pipelines.export.splits import SPLITS

FINE_TUNING_SPLITS = ("train", "validation")
# Rows per slice: lines are built a slice at a time, so memory stays bounded; large enough that
# polars' per-call overhead is lost in the work.
_SLICE_ROWS = 100_000
_PARQUET_COLUMNS = ["cluster_id", "split", "created", "total_tokens"]


@dataclass
class SplitFiles:
    """The files written, the sha256 of each JSONL file's content (the version's basis), and the
    format check of the fine-tuning lines, made on the lines as they were written."""

    paths: dict[str, Path] = field(default_factory=dict)
    content_sha256: dict[str, str] = field(default_factory=dict)
    fine_tuning_check: FineTuneChecker = field(default_factory=FineTuneChecker)


def write_split_files(directory: Path, rows: pl.DataFrame, *, train_on: str) -> SplitFiles:
    """Write every split of `rows` (with a `split` column) into `directory`."""
    files = SplitFiles()
    # One chunk per column: polars 2.1 gathers rows from a list-of-struct column in several chunks
    # (as Parquet reads it) some 40 times slower than from one.
    rows = rows.select(*LINE_COLUMNS, *_PARQUET_COLUMNS).rechunk()
    for split in SPLITS:
        outputs: dict[str, Callable[[pl.DataFrame], pl.Series]]
        if split in FINE_TUNING_SPLITS:
            outputs = {f"{split}.jsonl": lambda part: fine_tuning_lines(part, train_on=train_on)}
        else:
            outputs = {"eval.jsonl": eval_items, "eval.openai-evals.jsonl": oss_eval_items}
        # Row numbers of the split in id order; rows are gathered a slice at a time from them, so
        # no copy of a whole split is ever made.
        order = (
            rows.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), "id", "split")
            .filter(pl.col("split") == split)
            .sort("id")["row"]
        )
        checked = FINE_TUNING_SPLITS if split in FINE_TUNING_SPLITS else ()
        _write_split(directory, files, rows, order, split, outputs, checked)
    return files


def _write_split(
    directory: Path,
    files: SplitFiles,
    rows: pl.DataFrame,
    order: pl.Series,
    split: str,
    outputs: dict[str, Callable[[pl.DataFrame], pl.Series]],
    checked: tuple[str, ...],
) -> None:
    parquet_path = directory / f"{split}.parquet"
    hashes = {name: hashlib.sha256() for name in outputs}
    with ExitStack() as stack:
        streams: dict[str, BinaryIO] = {
            name: stack.enter_context((directory / name).open("wb")) for name in outputs
        }
        writer: pq.ParquetWriter | None = None

        def write(blobs: dict[str, memoryview | bytes], table: pa.Table) -> None:
            nonlocal writer
            for name, data in blobs.items():
                streams[name].write(data)
                hashes[name].update(data)
            if writer is None:
                writer = stack.enter_context(_parquet_writer(parquet_path, table.schema))
            writer.write_table(table)

        def check(batches: list[pl.Series]) -> None:
            for lines in batches:
                files.fine_tuning_check.feed_series(lines)

        # While polars builds a slice's lines (without holding the GIL), one thread writes the
        # previous slice's files (compression, hashing and writes release the GIL too) and another
        # checks its fine-tuning lines: the very lines written. One slice at most waits. The
        # threads are joined before the files close, even when something fails.
        with (
            ThreadPoolExecutor(max_workers=1) as writing,
            ThreadPoolExecutor(max_workers=1) as checking,
        ):
            pending: list[Future[None]] = []
            for part in _slices(rows, order):
                lines = {name: build(part) for name, build in outputs.items()}
                blobs = {name: jsonl_bytes(text) for name, text in lines.items()}
                table = _parquet_rows(part, next(iter(lines.values()))).to_arrow()
                for job in pending:
                    job.result()
                pending = [writing.submit(write, blobs, table)]
                to_check = [
                    text for name, text in lines.items() if name.removesuffix(".jsonl") in checked
                ]
                if to_check:
                    pending.append(checking.submit(check, to_check))
            for job in pending:
                job.result()
    for name in outputs:
        files.paths[name] = directory / name
        files.content_sha256[name] = hashes[name].hexdigest()
    files.paths[parquet_path.name] = parquet_path


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    # Dictionary pages only where values repeat: for ids, messages and lines, building one is
    # wasted work. Statistics only on the scalar columns, where they let readers skip row groups.
    return pq.ParquetWriter(
        path,
        schema,
        compression="zstd",
        use_dictionary=["split", "model"],
        write_statistics=["completion_id", "cluster_id", "split", "model", "created"],
    )


def jsonl_bytes(lines: pl.Series) -> memoryview | bytes:
    """`lines` as JSONL: each line and a newline, UTF-8.

    The bytes are the data buffer of the lines' Arrow array, read in place: no Python string per
    line (joining a million of them took longer than building them).
    """
    if lines.is_empty():
        return b""
    if lines.null_count():
        raise ValueError("a JSONL line is null")
    array = (lines + "\n").to_arrow(compat_level=pl.CompatLevel.oldest())
    _, offsets, data = array.buffers()
    offset = memoryview(offsets).cast("q")  # large_string: 64-bit offsets
    return memoryview(data)[offset[array.offset] : offset[array.offset + len(array)]]


def _slices(rows: pl.DataFrame, order: pl.Series) -> Iterator[pl.DataFrame]:
    if order.is_empty():  # an empty split still gets (empty) files with the full schema
        yield rows.clear()
    for offset in range(0, order.len(), _SLICE_ROWS):
        yield rows[order.slice(offset, _SLICE_ROWS)]


def _parquet_rows(part: pl.DataFrame, lines: pl.Series) -> pl.DataFrame:
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
        lines.alias("line"),
    )
