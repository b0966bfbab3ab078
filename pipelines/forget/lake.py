"""Erase tombstoned ids from the raw lake and what ingest keeps beside it.

Each place is purged on its own, by the tombstones (not by what one request named), so a run
killed between two places is finished by the next: a batch already rewritten holds no tombstoned
row and is left alone, a segment still holding one is found by its own scan.

Every file is replaced whole through a temporary file renamed over it (on object storage: one
put), so a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import polars as pl

from pipelines import jsontext
from pipelines.datadir.atomic import atomic_path, write_parquet_atomically
from pipelines.datadir.object_storage import AnyPath, read_parquet, scan_parquet
from pipelines.datadir.paths import DataPaths
from pipelines.datadir.tombstones import Tombstones
from pipelines.forget.selection import Selection
from pipelines.ingest.lake import scan_raw_batches
from pipelines.ingest.state import read_state, write_state

BatchHook = Callable[[str], None]
"""Called after each batch is rewritten (its name): where a test injects a kill."""


def purge_raw_batches(
    paths: DataPaths, tombstones: Tombstones, *, dry_run: bool, after_batch: BatchHook | None = None
) -> tuple[int, list[str], int]:
    """Rewrite every raw batch holding a tombstoned id without those rows, and delete the
    segments normalized from it at once (they hold the same rows).

    Returns:
        Rows removed (every fetched copy counts), the batches rewritten, segments deleted.
    """
    hits = (
        scan_raw_batches(paths)
        .select("batch_id", "id")
        .filter(tombstones.matches("id"))
        .group_by("batch_id")
        .len()
        .sort("batch_id")
        .collect()
    )
    if dry_run:
        return int(hits["len"].sum() or 0), hits["batch_id"].to_list(), 0
    removed = segments = 0
    for batch_id, count in hits.iter_rows():
        path = paths.raw_batch(batch_id)
        batch = read_parquet(path)
        write_parquet_atomically(batch.filter(~tombstones.matches("id")), path)
        for segment in _segments_of(paths, batch_id):
            segment.unlink(missing_ok=True)
            segments += 1
        removed += count
        if after_batch is not None:
            after_batch(batch_id)
    return removed, hits["batch_id"].to_list(), segments


def purge_segments(paths: DataPaths, tombstones: Tombstones, *, dry_run: bool) -> int:
    """Delete every normalized segment holding a tombstoned id (the next build makes it again
    from the rewritten batch). Returns the segments deleted."""
    segments = paths.completions_segments()
    if not segments:
        return 0
    by_name = {path.name: path for path in segments}
    holding = (
        scan_parquet(segments, include_file_paths="file")
        .select("id", "file")
        .filter(tombstones.matches("id"))
        .select(pl.col("file").str.split("/").list.last())
        .unique()
        .collect()
    )["file"].to_list()
    if not dry_run:
        for name in holding:
            by_name[name].unlink(missing_ok=True)
    return len(holding)


def _segments_of(paths: DataPaths, batch_id: str) -> list[AnyPath]:
    # `<batch>-<key>.parquet`; a retried batch `<batch>-r001` shares the prefix, so compare whole.
    return [path for path in paths.completions_segments() if paths.segment_batch(path) == batch_id]


def purge_sync_states(paths: DataPaths, tombstones: Tombstones, *, dry_run: bool) -> int:
    """Forget tombstoned ids in every sync state: the ids not found at the source, and an
    unfinished run's list cursor (that run then lists from the start; what it re-reads is
    filtered by the lake's writer). Returns the ids removed."""
    removed = 0
    for name in paths.sync_state_names():
        state = read_state(paths, name)
        missing = [i for i in state.missing if not tombstones.holds(i)]
        cursor = state.run is not None and state.run.after is not None
        cursor_hit = cursor and tombstones.holds(state.run.after)  # type: ignore[union-attr,arg-type]
        hits = len(state.missing) - len(missing) + int(bool(cursor_hit))
        if hits and not dry_run:
            run = state.run.model_copy(update={"after": None}) if cursor_hit else state.run  # type: ignore[union-attr]
            write_state(paths, state.model_copy(update={"missing": missing, "run": run}), name)
        removed += hits
    return removed


def purge_seen_ids(paths: DataPaths, tombstones: Tombstones, *, dry_run: bool) -> int:
    """Remove tombstoned ids from the ids files of unfinished refreshes. Returns ids removed."""
    removed = 0
    for path in paths.seen_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if not (line and tombstones.holds(line))]
        if len(kept) < len(lines) and not dry_run:
            with atomic_path(path) as temporary:
                temporary.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        removed += len(lines) - len(kept)
    return removed


def purge_rejected(
    paths: DataPaths, tombstones: Tombstones, selection: Selection, *, dry_run: bool
) -> int:
    """Remove rejected list items naming a tombstoned id or matching the selection (a rejected
    item often has no usable id: its metadata or user still names it). Returns lines removed."""
    removed = 0
    for path in paths.rejected_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if not _rejected_matches(line, tombstones, selection)]
        if len(kept) < len(lines) and not dry_run:
            with atomic_path(path) as temporary:
                temporary.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        removed += len(lines) - len(kept)
    return removed


def _rejected_matches(line: str, tombstones: Tombstones, selection: Selection) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    if not isinstance(record, dict):
        return False
    item = record.get("item")
    if isinstance(item, str):
        try:
            item = json.loads(item)
        except ValueError:
            # Not JSON at all: only a selector's text inside it can name it.
            return any(text in item for text in _selector_texts(selection))
    ids = [record.get("id"), item.get("id") if isinstance(item, dict) else None]
    if any(isinstance(i, str) and tombstones.holds(i) for i in ids):
        return True
    return selection.matches_item(item)


def _selector_texts(selection: Selection) -> list[str]:
    return [jsontext.dumps(v) for v in (*selection.ids, *selection.users)] + [
        jsontext.dumps(v) for _, v in selection.metadata
    ]
