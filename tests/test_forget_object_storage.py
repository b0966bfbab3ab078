"""Forget on object storage: the same erasure as on local disk, against a real S3-compatible
server (moto's server mode) on a loopback port.

A small lake is written to `s3://`, built into one version, and one id whose record holds a
canary is forgotten; then every object under the data directory is read (Parquet decoded).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from pipelines.completions.table import build_completions, read_completions
from pipelines.curate.lake import curate_lake
from pipelines.curate.table import read_curated
from pipelines.datadir.object_storage import ObjectPath
from pipelines.datadir.paths import DataPaths, VersionLayout
from pipelines.export.manifest import read_manifest
from pipelines.export.versions import build_dataset_version, latest_version, list_versions
from pipelines.forget import Selection, forget
from pipelines.ingest import read_raw_completions
from pipelines.ingest.lake import write_batch
from pipelines.ingest.rows import lake_row
from pipelines.recipes import Recipe
from tests.records import completion_record
from tests.s3_server import moto_server, new_bucket, s3_environment

CANARY = "wombatmarzipan-canary"
GONE = "chatcmpl-wombat-gone"
TOPICS = [
    *("tides", "compilers", "bread", "glaciers", "tariffs", "vaccines", "jazz", "orbits"),
    *("lichen", "ferries", "sonnets", "ledgers", "volcanoes", "kernels", "saffron", "pulleys"),
]


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    with moto_server() as env, s3_environment(env):
        yield env


def _row(completion_id: str, question: str, answer: str) -> dict[str, Any]:
    record = completion_record(
        completion_id,
        metadata={"user_id": f"user-{completion_id}"},
        input_messages=[{"role": "user", "content": question}],
        answer=answer,
    )
    return lake_row(
        record,
        record["input_messages"],
        api="chat_completions",
        source_kind="local",
        ingested_at=datetime(2026, 12, 1, tzinfo=UTC),
        source_endpoint="http://127.0.0.1",
    )


def _rows(ids: list[str], topics: list[str]) -> list[dict[str, Any]]:
    return [
        _row(i, f"What do {topic} and {n} have in common?", f"Both are {topic}, {n} times.")
        for n, (i, topic) in enumerate(zip(ids, topics, strict=True))
    ]


def _decoded(path: ObjectPath) -> bytes:
    """The object's raw bytes, and for Parquet its rows as JSON (compressed pages hide text)."""
    data = path.read_bytes()
    if path.name.endswith(".parquet"):
        data += pl.read_parquet(data).write_ndjson().encode("utf-8")
    return data


def _holding(data_dir: ObjectPath, *texts: str) -> list[str]:
    return [
        str(path)
        for path in data_dir.walk()
        if any(text.encode("utf-8") in _decoded(path) for text in texts)
    ]


@pytest.mark.slow
def test_forget_on_s3_leaves_no_byte_and_replaces_the_version(s3: dict[str, str]) -> None:
    data_dir = ObjectPath.from_url(f"s3://{new_bucket(s3)}/team/distillery")
    paths = DataPaths(data_dir)
    kept = [f"chatcmpl-keep-{n:02}" for n in range(1, 17)]
    write_batch(paths, "run1-000001", _rows(kept[:8], TOPICS[:8]))
    write_batch(
        paths,
        "run2-000001",
        [
            *_rows(kept[8:], TOPICS[8:]),
            _row(GONE, f"Tell nobody: {CANARY} is my secret.", f"Noted, {CANARY}."),
        ],
    )
    build_completions(data_dir)
    # Near-deduplication off: the records are alike by design, and a version needs 10 to train on.
    recipe = Recipe.model_validate({"name": "default", "dedup": {"near": {"enabled": False}}})
    curate_lake(data_dir, recipe)
    old = build_dataset_version(data_dir, read_curated(data_dir, "default"), recipe)
    old_objects = list(old.path.walk())
    assert old_objects and _holding(data_dir, CANARY, GONE)  # the test plants what it looks for

    report = forget(data_dir, Selection(ids=(GONE,)))

    # No object under the prefix holds the canary or the id, Parquet decoded.
    assert _holding(data_dir, CANARY, GONE) == []
    # The other records remain, in the lake and every table.
    assert sorted(read_raw_completions(data_dir)["id"]) == kept
    assert sorted(read_completions(data_dir)["id"]) == kept
    assert sorted(read_curated(data_dir, "default")["id"]) == kept
    # LATEST names a new version, whose manifest verifies; the old version's objects are gone.
    new = latest_version(data_dir, "default")
    assert new is not None and new != old.version
    assert report.versions_replaced == {f"default/{old.version}": f"default/{new}"}
    assert [m.version for m in list_versions(data_dir, "default")] == [new]
    version_dir = paths.version("default", new)
    manifest = read_manifest(version_dir / "manifest.json")
    for name, entry in manifest.files.items():
        data = (version_dir / name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry.sha256, entry.bytes), name
    rows = pl.concat(
        pl.read_parquet((version_dir / VersionLayout.rows(split)).read_bytes())
        for split in manifest.splits
        if (version_dir / VersionLayout.rows(split)).is_file()
    )
    assert sorted(rows["completion_id"]) == kept
    assert [path for path in old_objects if path.exists()] == []

    # The tombstone keeps a re-fetched copy out of a later batch.
    write_batch(
        paths,
        "run3-000001",
        [_row(GONE, f"Again: {CANARY}.", "Again."), _row("chatcmpl-keep-99", "New one.", "Yes.")],
    )
    assert sorted(read_raw_completions(data_dir)["id"]) == [*kept, "chatcmpl-keep-99"]
    assert _holding(data_dir, CANARY, GONE) == []
