"""One erasure, start to end, in an order a kill cannot spoil.

1. Resolve the selection to ids (the raw lake, and each store file named).
2. Tombstone them: from here on no ingest writes them, and every later step (of this run, or of
   the run that finishes it after a kill) erases *every* tombstoned id, not only this request's.
3. Delete at the source, if asked.
4. The raw lake (each batch rewritten, its segments deleted at once), the other segments, the
   sync states, the refresh ids, the rejected items.
5. The tables: completions, quarantine, every curated table.
6. The versions: each one holding a forgotten row replaced, LATEST moved, the old one deleted.
7. The store files: rows deleted, bytes erased.
8. The record, `forget/<time>.json`.

The run holds the data directory as its one writer (the ingest lock on local disk, the lease on
object storage) from step 1 to 8.
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipelines.datadir.lease import build_wait_s, one_writer
from pipelines.datadir.object_storage import AnyPath
from pipelines.datadir.paths import DataPaths
from pipelines.datadir.tombstones import (
    Tombstones,
    ensure_salt,
    read_tombstones,
    write_tombstones,
)
from pipelines.forget import lake, tables, versions
from pipelines.forget.record import ForgetReport, write_record
from pipelines.forget.selection import Selection, resolve_ids
from pipelines.forget.stores import purge_store

KILL_HOOK = "DISTILLERY_TEST_KILL_FORGET_AT"
"""Tests only: SIGKILL this process at the named point (`raw_batch`: after the first batch is
rewritten; `version`: after the first replacement is published, before the old one goes), to
prove a re-run finishes the job."""


def forget(
    data_dir: str | AnyPath,
    selection: Selection,
    *,
    dry_run: bool = False,
    store_dbs: Sequence[str | Path] = (),
    source_client: object | None = None,
) -> ForgetReport:
    """Erase every object the selection names from everything distillery keeps.

    Args:
        data_dir: The data directory.
        selection: Ids, metadata pairs and users to erase (with the responses built on them).
        dry_run: Count what would be erased, per place, and the versions that would be replaced;
            change nothing, write no record.
        store_dbs: Store SQLite files (local or capture store) to erase from as well.
        source_client: An `openai.OpenAI` client to delete at the source through (`--at-source`).

    Returns:
        The report; unless `dry_run`, also written as the record.
    """
    paths = DataPaths(data_dir)
    started = datetime.now(UTC)
    with one_writer(paths, what="a forget", wait_s=build_wait_s(), local_lock="ingest"):
        current = read_tombstones(paths) if dry_run else ensure_salt(paths)
        if not current.salt:  # a dry run before any erasure: a salt for this run only
            current = Tombstones(secrets.token_hex(32), frozenset())
        report = ForgetReport(started, dry_run, selection.hashed(current.salt))
        resolved = resolve_ids(paths, selection)
        found = _store_ids(store_dbs, selection, current)
        ids = set(resolved.ids) | found
        tombstones = current.with_ids(ids)
        if not dry_run:
            write_tombstones(paths, tombstones)
        report.ids = {
            "total": len(ids),
            "dependents": resolved.dependents,
            "by_api": {api: len(v) for api, v in sorted(resolved.by_api.items())},
            "tombstones": len(tombstones.hashes),
        }
        if source_client is not None and not dry_run:
            from pipelines.forget.source import delete_at_source

            done = delete_at_source(source_client, resolved.by_api, ids)  # type: ignore[arg-type]
            report.at_source = {
                "deleted": done.deleted,
                "not_found": done.not_found,
                "not_deletable": done.not_deletable,
                "refused": done.refused,
                "refused_statuses": done.refused_statuses,
            }
        report.places = _purge_lake(paths, tombstones, selection, dry_run=dry_run)
        report.places.update(tables.purge_tables(paths, tombstones, dry_run=dry_run))
        replaced = versions.purge_versions(
            paths, tombstones, dry_run=dry_run, after_build=lambda _: _kill_point("version")
        )
        report.places["version_rows"] = replaced.rows_removed
        report.versions_replaced = replaced.replaced
        report.versions_refused = replaced.refusals
        report.latest = replaced.latest
        for db in store_dbs:
            purged = purge_store(db, selection, tombstones, dry_run=dry_run)
            report.stores[str(db)] = {
                "deleted": purged.deleted,
                "wal_bytes": purged.wal_bytes,
                "checkpoint_busy": purged.checkpoint_busy,
            }
        if not dry_run:
            report.record = str(write_record(paths, report))
            versions.finish_versions(paths)
    return report


def _store_ids(
    store_dbs: Sequence[str | Path], selection: Selection, tombstones: Tombstones
) -> set[str]:
    """The ids each store file holds for the selection, found before anything is erased."""
    found: set[str] = set()
    for db in store_dbs:
        found |= purge_store(db, selection, tombstones, dry_run=True).ids
    return found


def _purge_lake(
    paths: DataPaths, tombstones: Tombstones, selection: Selection, *, dry_run: bool
) -> dict[str, int]:
    rows, batches, segments = lake.purge_raw_batches(
        paths, tombstones, dry_run=dry_run, after_batch=lambda _: _kill_point("raw_batch")
    )
    return {
        "raw_rows": rows,
        "raw_batches_rewritten": len(batches),
        "segments": segments + lake.purge_segments(paths, tombstones, dry_run=dry_run),
        "sync_state_ids": lake.purge_sync_states(paths, tombstones, dry_run=dry_run),
        "refresh_ids": lake.purge_seen_ids(paths, tombstones, dry_run=dry_run),
        "rejected_items": lake.purge_rejected(paths, tombstones, selection, dry_run=dry_run),
    }


def _kill_point(name: str) -> None:
    if os.environ.get(KILL_HOOK) == name:
        os.kill(os.getpid(), signal.SIGKILL)
