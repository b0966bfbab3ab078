"""Forget on the lake alone, in process: what a dry run counts, what a forget rewrites, and the
tombstones that keep an id out of every later batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.datadir.paths import DataPaths
from pipelines.forget import Selection, forget, read_tombstones
from pipelines.ingest import read_raw_completions
from pipelines.ingest.lake import write_batch
from pipelines.ingest.rows import lake_row
from tests.records import completion_record


def _rows(*records: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        lake_row(
            record,
            record.get("input_messages", []),
            api="chat_completions",
            source_kind="local",
            ingested_at=datetime(2026, 12, 1, tzinfo=UTC),
            source_endpoint="http://127.0.0.1",
        )
        for record in records
    ]


def _lake(data_dir: Path) -> None:
    paths = DataPaths(data_dir)
    write_batch(
        paths,
        "run1-000001",
        _rows(
            completion_record("chatcmpl-keep-1", metadata={"user_id": "u1"}),
            completion_record("chatcmpl-gone-1", metadata={"user_id": "u2"}),
        ),
    )
    # A later fetch of the same object (metadata changed since), and a user named by `user`.
    write_batch(
        paths,
        "run2-000001",
        _rows(
            completion_record("chatcmpl-gone-1", metadata={"user_id": "changed"}),
            completion_record("chatcmpl-gone-2", user="end-user-7"),
            completion_record("chatcmpl-keep-2"),
        ),
    )


def _every_byte(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _files(root: Path) -> dict[Path, bytes]:
    # The lock file a writer takes (and names itself in) is not data.
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.suffix != ".lock"}


def test_a_dry_run_counts_and_changes_nothing(tmp_path: Path) -> None:
    _lake(tmp_path)
    before = _files(tmp_path)
    report = forget(
        tmp_path, Selection(metadata=(("user_id", "u2"),), users=("end-user-7",)), dry_run=True
    )
    assert (report.ids["total"], report.places["raw_rows"]) == (2, 3)
    assert report.places["raw_batches_rewritten"] == 2
    assert report.record is None
    assert _files(tmp_path) == before


def test_forget_rewrites_the_batches_and_keeps_the_ids_out_for_good(tmp_path: Path) -> None:
    _lake(tmp_path)
    report = forget(tmp_path, Selection(metadata=(("user_id", "u2"),), users=("end-user-7",)))
    # Every fetched copy goes, the older one too (matched by the metadata it had then).
    assert report.places["raw_rows"] == 3
    assert sorted(read_raw_completions(tmp_path)["id"]) == ["chatcmpl-keep-1", "chatcmpl-keep-2"]
    stored = _every_byte(tmp_path)
    assert b"chatcmpl-gone" not in stored and b"end-user-7" not in stored
    record = json.loads(Path(report.record or "").read_text())
    assert record["ids"]["total"] == 2 and record["selectors"]["users"][0] != "end-user-7"

    # A later ingest of the same objects (the source still has them) writes them nowhere.
    paths = DataPaths(tmp_path)
    write_batch(paths, "run3-000001", _rows(completion_record("chatcmpl-gone-2", user="x")))
    assert sorted(read_raw_completions(tmp_path)["id"]) == ["chatcmpl-keep-1", "chatcmpl-keep-2"]
    tombstones = read_tombstones(paths)
    assert tombstones.holds("chatcmpl-gone-1") and not tombstones.holds("chatcmpl-keep-1")
    assert b"chatcmpl-gone" not in _every_byte(tmp_path)
