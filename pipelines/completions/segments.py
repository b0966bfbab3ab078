"""Normalized, checked rows kept per raw lake batch, so a build normalizes and validates only the
batches it has not seen.

A lake batch is immutable (`pipelines.ingest.lake.write_batch` never writes over one), a stored
chat completion normalizes from its own row alone, and every check but `id_unique` reads the row
alone. So the normalized rows of a batch and the checks each fails are computed once and kept
beside the lake as a *segment*:

    lake/completions/segments/<batch>-<key>.parquet

`key` hashes what the segment was made from: the batch's rows (their ids, item hashes and deletion
flags) and the code that normalizes and checks them (the source of those modules and the table's
schema). A batch rewritten (an erasure), a normalize that changed, a schema that grew: the key
changes, the segment is made again, and the stale one is removed. A build killed midway keeps the
segments it finished (each written atomically) and the next build reuses them.

Stored responses and conversations are not kept in segments: one is read with its earlier turns,
which may arrive in later batches, so they are normalized on every build from the merged lake
(`pipelines.completions.contexts`). `id_unique`, the one check across rows, is decided on the
merged lake's ids: the few rows whose id another object shares are checked again together. What a
build gives is exactly what normalizing and validating the merged lake at once gives; a test
holds that, row for row.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

import polars as pl

import schemas.completions as completions_model
import schemas.record as record_model
import schemas.types as schema_types
import schemas.vocabularies as vocabularies
from pipelines import jsontext, otlp
from pipelines.completions import contexts, normalize, responses, tokens, traces, validate
from pipelines.completions.normalize import normalize_completions
from pipelines.completions.validate import ID_UNIQUE, REASONS, failed_checks
from pipelines.datadir.atomic import write_parquet_atomically
from pipelines.datadir.object_storage import read_parquet, scan_parquet
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.lake import newest, scan_raw_batches
from schemas import (
    COMPLETIONS_SCHEMA,
    CONVERSATIONS_API,
    LEGACY_API,
    RAW_COMPLETIONS_SCHEMA,
    RESPONSES_API,
)

KEY_CHARS = 16

_WITH_CONTEXT = [RESPONSES_API, CONVERSATIONS_API]
"""APIs whose rows read other rows (earlier turns, referenced items) when normalized."""


@dataclass
class SegmentReport:
    """What one build did with the segments.

    Attributes:
        batches: Lake batches holding rows the build needs.
        normalized_batches: Batches normalized by this build (no valid segment was there).
        normalized_rows: Rows normalized by this build: the new batches' and every stored
            response and conversation.
        reused_rows: Rows read from segments made by earlier builds.
        removed_segments: Stale segments removed (their batch gone or changed, or older code).
    """

    batches: int = 0
    normalized_batches: int = 0
    normalized_rows: int = 0
    reused_rows: int = 0
    removed_segments: int = 0


@dataclass
class CheckedLake:
    """The merged lake normalized and checked, part by part, reusing the segments of batches
    seen before. Iterate it once; `report` is complete when the iteration ends.

    Each part holds the rows of `schemas.Completions` with `REASONS` (what
    `validate.failed_checks` gives those rows in the whole table): the current rows of one
    batch's segment, then every stored response and conversation, then the rows whose id another
    object shares (checked together). Together they are the rows
    `normalize_completions(read_raw_completions(...))` gives, each once; memory holds one part.

    Args:
        paths: The data directory; the caller holds its writer lease (segments are written).
    """

    paths: DataPaths
    report: SegmentReport = field(default_factory=SegmentReport)

    def __iter__(self) -> Iterator[tuple[str, pl.DataFrame]]:
        """(part key, rows) for each part; the key changes whenever the part's rows could."""
        paths = self.paths
        keys = newest(
            scan_raw_batches(paths).select("api", "id", "batch_id", "item_sha256", "deleted")
        ).collect()
        shared = keys.filter(pl.col("id").is_duplicated()).select("api", "id")
        chat_keys = keys.filter(~pl.col("api").is_in(_WITH_CONTEXT))
        wanted = segment_keys(scan_raw_batches(paths), set(chat_keys["batch_id"].unique()))
        report = SegmentReport(batches=len(wanted))
        set_aside = []
        for batch_id, key in sorted(wanted.items()):
            target = paths.completions_segment(batch_id, key)
            if target.exists():
                segment = read_parquet(target)
                report.reused_rows += segment.height
            else:
                segment = _row_checks(_normalize_batch(paths, batch_id))
                write_parquet_atomically(segment, target)
                report.normalized_batches += 1
                report.normalized_rows += segment.height
            current = chat_keys.filter(pl.col("batch_id") == batch_id)
            # A batch holding one object twice keeps its last row, as the lake's merge does.
            kept = segment.join(current.select("api", "id"), on=["api", "id"], how="semi").unique(
                ["api", "id"], keep="last", maintain_order=True
            )
            set_aside.append(kept.join(shared, on=["api", "id"], how="semi"))
            yield (
                part_key(current.join(shared, on=["api", "id"], how="anti")),
                kept.join(shared, on=["api", "id"], how="anti"),
            )
        context_keys = keys.filter(pl.col("api").is_in(_WITH_CONTEXT))
        with_context = _row_checks(_normalize_with_context(paths, keys))
        report.normalized_rows += with_context.height
        set_aside.append(with_context.join(shared, on=["api", "id"], how="semi"))
        yield (
            part_key(context_keys.join(shared, on=["api", "id"], how="anti")),
            with_context.join(shared, on=["api", "id"], how="anti"),
        )
        if not shared.is_empty():
            together = pl.concat(set_aside, how="vertical").sort("id", "api")
            yield (
                part_key(keys.join(shared, on=["api", "id"], how="semi")),
                together.with_columns(failed_checks(together.drop(REASONS))),
            )
        keep = {paths.completions_segment(b, k) for b, k in wanted.items()}
        report.removed_segments = _remove_stale(paths, keep)
        self.report = report


def part_key(rows: pl.DataFrame) -> str:
    """What a part of the table is made from: its raw rows (api, id, batch, item hash, deletion
    flag) and the code that normalizes and checks them. Equal keys, equal rows."""
    lines = (
        rows.select(
            pl.concat_str(
                "api",
                "id",
                "batch_id",
                pl.col("item_sha256").fill_null(""),
                pl.col("deleted").cast(pl.String).fill_null(""),
                separator="\t",
            ).alias("row")
        )
        .sort("row")["row"]
        .str.join("\n")
        .item()
        if rows.height
        else ""
    )
    return hashlib.sha256(f"{_code_key()}\n{lines}".encode()).hexdigest()[:KEY_CHARS]


def segment_keys(batches: pl.LazyFrame, batch_ids: set[str]) -> dict[str, str]:
    """batch id → the key of its segment: its rows' ids, item hashes and deletion flags, and
    the code that normalizes them."""
    if not batch_ids:
        return {}
    rows = (
        batches.filter(
            pl.col("batch_id").is_in(pl.Series(sorted(batch_ids), dtype=pl.String).implode())
            & ~pl.col("api").is_in(_WITH_CONTEXT)
        )
        .select(
            "batch_id",
            pl.concat_str(
                "api",
                "id",
                pl.col("item_sha256").fill_null(""),
                pl.col("deleted").cast(pl.String).fill_null(""),
                separator="\t",
            ).alias("row"),
        )
        .sort("batch_id", "row")
        .group_by("batch_id", maintain_order=True)
        .agg(pl.col("row").str.join("\n"))
        .collect()
    )
    return {
        batch_id: hashlib.sha256(f"{_code_key()}\n{text}".encode()).hexdigest()[:KEY_CHARS]
        for batch_id, text in rows.iter_rows()
    }


def _row_checks(normalized: pl.DataFrame) -> pl.DataFrame:
    """The rows with every check they fail but `id_unique`, which only the whole lake decides."""
    others = pl.col(REASONS).list.filter(pl.element().struct.field("check") != ID_UNIQUE)
    checked = normalized.with_columns(failed_checks(normalized))
    return checked.with_columns(
        pl.when(others.list.len() > 0).then(others).otherwise(None).alias(REASONS)
    )


@cache
def _code_key() -> str:
    """A hash of what decides a segment: the source of the modules that normalize and check a
    row, and the table's schema."""
    digest = hashlib.sha256(str(COMPLETIONS_SCHEMA).encode())
    modules = (
        normalize,
        responses,
        contexts,
        tokens,
        traces,
        otlp,
        jsontext,
        validate,
        completions_model,
        record_model,
        schema_types,
        vocabularies,
        sys.modules[__name__],
    )
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()


def _normalize_batch(paths: DataPaths, batch_id: str) -> pl.DataFrame:
    """Every context-free row of one batch, normalized (deleted or superseded rows too, so the
    segment depends on its batch alone)."""
    raw = (
        scan_parquet(
            [paths.raw_batch(batch_id)],
            schema=RAW_COMPLETIONS_SCHEMA,
            missing_columns="insert",
            extra_columns="ignore",
        )
        .with_columns(pl.col("api").fill_null(LEGACY_API))
        .filter(~pl.col("api").is_in(_WITH_CONTEXT))
        .collect()
    )
    return normalize_completions(raw)


def _normalize_with_context(paths: DataPaths, keys: pl.DataFrame) -> pl.DataFrame:
    """The merged lake's responses and conversations, normalized together (each looks up its
    earlier turns among them)."""
    current = keys.filter(pl.col("api").is_in(_WITH_CONTEXT)).select("api", "id", "batch_id")
    if current.is_empty():
        return COMPLETIONS_SCHEMA.to_frame()
    raw = (
        scan_raw_batches(paths)
        .filter(pl.col("api").is_in(_WITH_CONTEXT))
        .join(current.lazy(), on=["api", "id", "batch_id"], how="semi")
        # A batch holding one object twice keeps its last row, as the lake's merge does.
        .unique(["api", "id"], keep="last", maintain_order=True)
        .sort("id", "api")
        .collect()
    )
    return normalize_completions(raw)


def _remove_stale(paths: DataPaths, keep: set) -> int:
    stale = [path for path in paths.completions_segments() if path not in keep]
    for path in stale:
        path.unlink()
    return len(stale)
