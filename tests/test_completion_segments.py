"""A build normalizes and validates only the lake batches it has not seen, and gives exactly what
normalizing and validating the whole merged lake at once gives: chats, responses continued across
batches, conversations, malformed records, ids two objects share, updates and deletions alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.completions import build_completions, normalize_completions
from pipelines.completions import segments as segments_module
from pipelines.completions.validate import ValidatedCompletions, validate_completions
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.lake import read_raw_completions, write_batch
from pipelines.ingest.rows import lake_row
from pipelines.sample import CONVERSATIONS_SAMPLE_PATH, RESPONSES_SAMPLE_PATH, SAMPLE_PATH

INNER = {
    "chat_completions": (SAMPLE_PATH, "input_messages"),
    "responses": (RESPONSES_SAMPLE_PATH, "input_items"),
    "conversations": (CONVERSATIONS_SAMPLE_PATH, "items"),
}
DAY0 = datetime(2026, 11, 1, tzinfo=UTC)


def sample_rows() -> list[dict[str, Any]]:
    """Every object of the bundled sample as ingest writes it (a quarter of them malformed or
    unusable on purpose), chats, responses and conversations interleaved."""
    rows = []
    for api, (path, inner) in INNER.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            items = record.pop(inner, [])
            rows.append(
                lake_row(
                    record,
                    items if isinstance(items, list) else [],
                    api=api,
                    source_kind="local",
                    ingested_at=DAY0,
                    source_endpoint="http://127.0.0.1:1/v1",
                )
            )
    return sorted(rows, key=lambda row: row["id"][::-1])  # any order but the APIs'


def write_days(data_dir: Path, rows: list[dict[str, Any]], days: int) -> None:
    """The rows spread over `days` batches, a response's earlier turns often in another one."""
    paths = DataPaths(data_dir)
    for day in range(days):
        batch = [{**row, "ingested_at": DAY0 + timedelta(days=day)} for row in rows[day::days]]
        write_batch(paths, f"run{day:03d}-00000", batch)


def from_scratch(data_dir: Path) -> ValidatedCompletions:
    """What validating the whole merged lake at once gives."""
    return validate_completions(normalize_completions(read_raw_completions(data_dir)))


@pytest.mark.slow
def test_a_lake_built_from_segments_equals_one_validated_at_once(tmp_path: Path) -> None:
    rows = sample_rows()
    chat = next(row for row in rows if row["api"] == "chat_completions")
    conversation = next(row for row in rows if row["api"] == "conversations")
    # A conversation that shares a chat's id, stored in another batch: both fail id_unique.
    rows = [row if row is not conversation else {**row, "id": chat["id"]} for row in rows]
    write_days(tmp_path, rows, days=7)
    # Later batches update an object's metadata and flag another deleted: the newest row wins.
    changed = rows[3]["completion_json"].replace("{", '{"x": 1, ', 1)
    updated = {**rows[3], "completion_json": changed}
    write_batch(DataPaths(tmp_path), "run100-00000", [updated, {**rows[5], "deleted": True}])
    expected = from_scratch(tmp_path)

    built = build_completions(tmp_path)

    # Written part by part (a batch's rows together), so in another order than the merged lake's.
    assert_frame_equal(built.completions.sort("id", "api"), expected.completions)
    assert_frame_equal(built.quarantine.sort("id", "api"), expected.quarantine)
    assert built.completions.height + built.quarantine.height == len(rows)
    shared = built.quarantine.filter(pl.col("id") == chat["id"])
    assert sorted(shared["api"]) == ["chat_completions", "conversations"]
    assert all("id_unique" in [r["check"] for r in reasons] for reasons in shared["reasons"])
    deleted = pl.concat([built.completions.select("id", "deleted_at_source")]).filter(
        pl.col("id") == rows[5]["id"]
    )
    assert deleted["deleted_at_source"].to_list() in ([True], [])
    assert built.segments.normalized_batches == built.segments.batches == 8
    assert built.segments.reused_rows == 0


@pytest.mark.slow
def test_a_second_build_normalizes_only_the_new_batch(tmp_path: Path) -> None:
    rows = sample_rows()
    chats = [row for row in rows if row["api"] == "chat_completions"]
    with_context = len(rows) - len(chats)
    write_days(tmp_path, rows[:-20], days=5)
    first = build_completions(tmp_path)

    again = build_completions(tmp_path)
    write_batch(DataPaths(tmp_path), "run200-00000", rows[-20:])
    third = build_completions(tmp_path)

    assert first.segments.normalized_batches == 5
    assert again.segments.normalized_batches == 0
    # Only responses and conversations (which read each other) are normalized on every build.
    assert again.segments.normalized_rows == with_context - sum(
        row["api"] != "chat_completions" for row in rows[-20:]
    )
    assert again.segments.reused_rows == len(chats) - sum(
        row["api"] == "chat_completions" for row in rows[-20:]
    )
    assert third.segments.normalized_batches == 1
    assert third.completions.height + third.quarantine.height == len(rows)
    table = pl.concat([third.completions.select("api", "id"), third.quarantine.select("api", "id")])
    assert sorted(table["id"]) == sorted(row["id"] for row in rows)


def test_a_rewritten_batch_is_normalized_again_and_its_old_segment_removed(
    tmp_path: Path,
) -> None:
    rows = [row for row in sample_rows() if row["api"] == "chat_completions"][:30]
    paths = DataPaths(tmp_path)
    write_batch(paths, "run000-00000", rows)
    build_completions(tmp_path)
    (old_segment,) = paths.completions_segments()
    forgotten = rows[0]["id"]

    # What an erasure does: the batch rewritten without one object, under the same name.
    paths.raw_batch("run000-00000").unlink()
    write_batch(paths, "run000-00000", rows[1:])
    rebuilt = build_completions(tmp_path)

    (new_segment,) = paths.completions_segments()
    assert new_segment != old_segment and not old_segment.exists()
    assert rebuilt.segments.normalized_batches == 1 and rebuilt.segments.removed_segments == 1
    assert forgotten.encode() not in new_segment.read_bytes()
    assert forgotten not in rebuilt.completions["id"].to_list() + rebuilt.quarantine["id"].to_list()


def test_a_change_to_the_normalizing_code_remakes_every_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_days(tmp_path, sample_rows(), days=3)
    build_completions(tmp_path)
    before = set(DataPaths(tmp_path).completions_segments())

    monkeypatch.setattr(segments_module, "_code_key", lambda: "normalize, changed")
    rebuilt = build_completions(tmp_path)

    after = set(DataPaths(tmp_path).completions_segments())
    assert rebuilt.segments.normalized_batches == 3 and rebuilt.segments.removed_segments == 3
    assert len(after) == 3 and not after & before
