"""The raw lake: append-only Parquet batches of stored objects, merged by (api, id) on read.

Layout under the data directory:

    lake/raw_completions/batch-<run>-<page>.parquet   one file per fetched page (or deletions)
    lake/state/ingest.json                            sync state (`pipelines.ingest.state`)
    lake/state/seen-<run>.txt                         ids listed by an unfinished full refresh

Every file is written under a temporary name and renamed into place (on object storage: put as
one object), so a killed run leaves whole files or none. The newest batch of an (api, id) wins
when batches are merged. Batches written before the `api` column existed hold chat completions
only, and read as such.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import polars as pl

from pipelines.datadir.atomic import write_parquet_atomically
from pipelines.datadir.object_storage import AnyPath, ObjectPath, append_text, scan_parquet
from pipelines.datadir.paths import DataPaths
from pipelines.datadir.tombstones import read_tombstones
from schemas import LEGACY_API, RAW_COMPLETIONS_SCHEMA

LAKE_KEY = ["api", "id"]
"""What identifies a stored object in the lake: ids of different APIs may coincide."""

BY_ID_MARK = "-byid-"
"""In the name of every batch a by-id reader writes. Whichever reader wrote an object last
decides whether it is gone: a list need not hold what was read by id, so a listed reader never
flags such an object deleted (the by-id reader's full refresh asks for it)."""


def write_batch(paths: DataPaths, batch_id: str, rows: list[dict[str, Any]]) -> AnyPath:
    """Write one batch file atomically, never over an existing one.

    A run killed after a batch but before its checkpoint writes that page (or chunk) again
    when resumed, under the same name, and with fewer rows: what the lost checkpoint's batch
    stored is known by then, so it is not written again. Replacing the file would lose those
    rows, so the later batch is named `<batch_id>-r001` (then -r002, …), which sorts right after.

    Args:
        paths: The lake.
        batch_id: Sortable batch name; newer batches must sort later.
        rows: Rows with the columns of `RAW_COMPLETIONS_SCHEMA` except `batch_id`.

    Returns:
        The batch file.
    """
    name, retry = batch_id, 0
    while paths.raw_batch(name).exists():
        retry += 1
        name = f"{batch_id}-r{retry:03d}"  # padded: -r010 sorts after -r009
    frame = pl.DataFrame([{**row, "batch_id": name} for row in rows], schema=RAW_COMPLETIONS_SCHEMA)
    tombstones = read_tombstones(paths)
    if tombstones:
        frame = frame.filter(~tombstones.matches("id"))
    target = paths.raw_batch(name)
    write_parquet_atomically(frame, target)
    return target


def scan_raw_batches(paths: DataPaths) -> pl.LazyFrame:
    """Every batch row, unmerged (an object may appear in several batches)."""
    files = paths.batch_files()
    if not files:
        return pl.LazyFrame(schema=RAW_COMPLETIONS_SCHEMA)
    return scan_parquet(
        # Columns a batch lacks (written before they existed) read as null; columns it has and
        # this version does not know (written by a later one) are left out, so either way round
        # a lake stays readable.
        files,
        schema=RAW_COMPLETIONS_SCHEMA,
        missing_columns="insert",
        extra_columns="ignore",
    ).with_columns(pl.col("api").fill_null(LEGACY_API))


def newest(batches: pl.LazyFrame) -> pl.LazyFrame:
    """The merge rule, written once: each object's row from its newest batch."""
    return batches.sort("batch_id").unique(LAKE_KEY, keep="last", maintain_order=True)


def read_raw_completions(data_dir: str | AnyPath, *, include_deleted: bool = True) -> pl.DataFrame:
    """The lake merged by (api, id): the newest batch's row for each object, ordered by id.

    Args:
        data_dir: The data directory.
        include_deleted: Keep completions the source no longer has (flagged `deleted`).
    """
    merged = newest(scan_raw_batches(DataPaths(data_dir)))
    if not include_deleted:
        merged = merged.filter(~pl.col("deleted"))
    return merged.sort("id", "api").collect()


def lake_index(paths: DataPaths, api: str) -> dict[str, tuple[str, bool]]:
    """id → (item hash, deleted) of `api`'s objects in the merged lake, to decide what a fetch
    changes."""
    batches = scan_raw_batches(paths).filter(pl.col("api") == api)
    merged = newest(batches.select("api", "id", "batch_id", "item_sha256", "deleted")).collect()
    return {
        row[0]: (row[1], row[2])
        for row in merged.select("id", "item_sha256", "deleted").iter_rows()
    }


def read_rows(paths: DataPaths, api: str, ids: Iterable[str]) -> pl.DataFrame:
    """The newest lake rows of `api`'s `ids` (to carry messages over when only metadata
    changed, or to flag them deleted)."""
    wanted = pl.Series("id", list(ids), dtype=pl.String)
    batches = scan_raw_batches(paths).filter(
        (pl.col("api") == api) & pl.col("id").is_in(wanted.implode())
    )
    return newest(batches).collect()


def append_seen_ids(paths: DataPaths, run_id: str, ids: Iterable[str]) -> None:
    """Record ids listed by a full refresh; fsynced so a resumed run still knows them."""
    path = paths.seen_ids(run_id)
    if isinstance(path, ObjectPath):  # a put is durable when it returns: no fsync to do
        append_text(path, "".join(f"{i}\n" for i in ids))
        return
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(f"{i}\n" for i in ids))
        out.flush()
        os.fsync(out.fileno())


def read_seen_ids(paths: DataPaths, run_id: str) -> set[str]:
    path = paths.seen_ids(run_id)
    if not path.exists():
        return set()
    # A kill mid-write can leave a partial last line; its page is re-fetched on resume anyway.
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    return set(lines[:-1] if not text.endswith("\n") else lines) - {""}


def utc_now() -> datetime:
    return datetime.now(UTC)
