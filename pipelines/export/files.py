"""Write one dataset version's rows: a Parquet file per split, and the digest of its content.

    <split>.parquet   completion_id, cluster_id, split, model, created, total_tokens (usage,
                      null without), estimated_tokens (never null), messages (as stored),
                      output, tools, parallel_tool_calls, metadata, and `line`: the example as
                      an OpenAI fine-tuning chat line

Every export target (`pipelines.export.targets`) is made from these files, when the version is
built or later (`distillery export`), so a target can be added without the curated table. The
version id hashes the lines and metadata of every row (`content_sha256`), not any target's
files. Rows are in completion id order within a split and written in slices, so memory stays
bounded whatever the size of the dataset; `version_parts` reads them back the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.datadir.object_storage import AnyPath, scan_parquet
from pipelines.datadir.paths import VersionLayout
from pipelines.export.line_check import FineTuneChecker
from pipelines.export.lines import LINE_COLUMNS, escape_line_breaks, fine_tuning_lines
from pipelines.export.lines import metadata_members as _metadata_members
from pipelines.export.splits import SPLITS

FINE_TUNING_SPLITS = ("train", "validation")
# Rows per slice: lines are built a slice at a time, so memory stays bounded; large enough that
# polars' per-call overhead is lost in the work.
SLICE_ROWS = 100_000
_PARQUET_COLUMNS = ["cluster_id", "split", "created", "total_tokens", "estimated_tokens"]


@dataclass
class SplitFiles:
    """The files written, the sha256 of each split's lines and metadata (the version's basis),
    and the format check of the fine-tuning lines of train and validation."""

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
        # Row numbers of the split in id order; rows are gathered a slice at a time from them, so
        # no copy of a whole split is ever made.
        order = (
            rows.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), "id", "split")
            .filter(pl.col("split") == split)
            .sort("id")["row"]
        )
        _write_split(directory, files, rows, order, split, train_on)
    return files


def _write_split(
    directory: Path,
    files: SplitFiles,
    rows: pl.DataFrame,
    order: pl.Series,
    split: str,
    train_on: str,
) -> None:
    parquet_path = directory / VersionLayout.rows(split)
    digests = {"lines": hashlib.sha256(), "metadata": hashlib.sha256()}
    checked = split in FINE_TUNING_SPLITS
    with ExitStack() as stack:
        writer: pq.ParquetWriter | None = None

        def write(blobs: dict[str, memoryview | bytes], table: pa.Table) -> None:
            nonlocal writer
            for name, data in blobs.items():
                digests[name].update(data)
            if writer is None:
                writer = stack.enter_context(_parquet_writer(parquet_path, table.schema))
            writer.write_table(table)

        def check(lines: pl.Series) -> None:
            files.fine_tuning_check.feed_series(lines)

        # While polars builds a slice's lines (without holding the GIL), one thread writes the
        # previous slice's Parquet and hashes its lines (compression, hashing and writes release
        # the GIL too) and another checks its fine-tuning lines. One slice at most waits. The
        # threads are joined before the file closes, even when something fails.
        with (
            ThreadPoolExecutor(max_workers=1) as writing,
            ThreadPoolExecutor(max_workers=1) as checking,
        ):
            pending: list[Future[None]] = []
            for part in _slices(rows, order):
                lines = fine_tuning_lines(part, train_on=train_on)
                metadata = escape_line_breaks(part, "{" + _metadata_members() + "}", "metadata")
                blobs = {"lines": jsonl_bytes(lines), "metadata": jsonl_bytes(metadata)}
                table = _parquet_rows(part, lines).to_arrow()
                for job in pending:
                    job.result()
                pending = [writing.submit(write, blobs, table)]
                if checked:
                    pending.append(checking.submit(check, lines))
            for job in pending:
                job.result()
    for name, digest in digests.items():
        files.content_sha256[f"{split}.{name}"] = digest.hexdigest()
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
    if order.is_empty():  # an empty split still gets an (empty) file with the full schema
        yield rows.clear()
    for offset in range(0, order.len(), SLICE_ROWS):
        yield rows[order.slice(offset, SLICE_ROWS)]


def _parquet_rows(part: pl.DataFrame, lines: pl.Series) -> pl.DataFrame:
    """Hugging Face-friendly rows: ids, split, the typed input messages and output, the request's
    tools and metadata, and the line.

    The output is its own column: appending it to the message list costs polars more than every
    other part of the export together (nested list concatenation), and `line` holds the whole
    example exactly as OpenAI's fine-tuning JSONL has it.
    """
    return part.select(
        pl.col("id").alias("completion_id"),
        "cluster_id",
        "split",
        "model",
        "created",
        "total_tokens",
        "estimated_tokens",
        "messages",
        pl.struct(
            pl.lit("assistant").alias("role"),
            pl.col("output_content").alias("content"),
            pl.col("output_refusal").alias("refusal"),
            pl.col("output_tool_calls").alias("tool_calls"),
        ).alias("output"),
        "tools",
        "parallel_tool_calls",
        "metadata",
        lines.alias("line"),
    )


def example_tokens(files: list[AnyPath]) -> pl.DataFrame:
    """`estimated_tokens` of every row of split files, for a histogram.

    A version written before the column existed has only `total_tokens` (usage, null where the
    provider gave none): its counts are read from there.
    """
    frame = scan_parquet(files)
    names = frame.collect_schema().names()
    column = "estimated_tokens" if "estimated_tokens" in names else "total_tokens"
    return frame.select(pl.col(column).alias("estimated_tokens")).collect()


def version_parts(directory: Path) -> Iterator[tuple[str, pl.DataFrame]]:
    """(split, rows) of a version's Parquet files, a slice at a time, in file order: the curated
    columns every line is built from (`LINE_COLUMNS`), `split`, `created`, and `line`."""
    for split in SPLITS:
        path = directory / VersionLayout.rows(split)
        with pq.ParquetFile(path) as parquet:
            batches = parquet.iter_batches(batch_size=SLICE_ROWS)
            empty = True
            for batch in batches:
                empty = False
                yield split, _line_columns(pl.from_arrow(batch))  # type: ignore[arg-type]
            if empty:
                yield split, _line_columns(pl.from_arrow(parquet.schema_arrow.empty_table()))  # type: ignore[arg-type]


def _line_columns(frame: pl.DataFrame) -> pl.DataFrame:
    output = pl.col("output").struct
    return frame.select(
        pl.col("completion_id").alias("id"),
        "model",
        "messages",
        output.field("content").alias("output_content"),
        output.field("refusal").alias("output_refusal"),
        output.field("tool_calls").alias("output_tool_calls"),
        "tools",
        "parallel_tool_calls",
        "metadata",
        "split",
        "created",
        "line",
    ).rechunk()
