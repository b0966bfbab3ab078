"""The same stored completions give the same dataset version, whether the lake was built in one go
or day by day: ten daily syncs and builds end on the version one sync and one build make.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.completions import build_completions, read_completions
from pipelines.curate import curate_lake, read_curated
from pipelines.export import SNAPSHOT_COLUMNS, build_dataset_version, input_snapshot
from pipelines.recipes import Recipe
from pipelines.sample import SAMPLE_PATH
from tests.store_process import StoreProcess
from tests.test_ingest import ingest, source_env

DAYS = 10


def build(data_dir: Path, recipe: Recipe) -> Path:
    """What the assets do: the tables and the curation keep their pieces from day to day."""
    build_completions(data_dir)
    curated = curate_lake(data_dir, recipe)
    version = build_dataset_version(
        data_dir,
        read_curated(data_dir, recipe.name),
        recipe,
        curation_steps=curated.steps,
        inputs=input_snapshot(read_completions(data_dir, columns=SNAPSHOT_COLUMNS)),
    )
    return version.path


def data_files(version: Path) -> dict[str, bytes]:
    """Every file of a version; the manifest (its `created_at`) and the card's line naming the
    build's time left out."""
    files = {}
    for path in version.rglob("*"):
        if not path.is_file() or path.name == "manifest.json":
            continue
        content = path.read_bytes()
        if path.name == "README.md":
            lines = content.decode().splitlines()
            content = "\n".join(x for x in lines if not x.startswith("Built by")).encode()
        files[str(path.relative_to(version))] = content
    return files


@pytest.mark.slow
def test_ten_daily_builds_end_on_the_version_of_one_build(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    records = [json.loads(line) for line in SAMPLE_PATH.read_text(encoding="utf-8").splitlines()]
    stamped = sorted(
        (r for r in records if isinstance(r.get("created"), int)), key=lambda r: r["created"]
    )
    undated = [r for r in records if not isinstance(r.get("created"), int)]
    first, last = stamped[0]["created"], stamped[-1]["created"]
    day_length = (last - first) / DAYS + 1
    recipe = Recipe(name="default")
    env = source_env(fresh_store, "openai")

    daily = tmp_path / "daily"
    imported = 0
    for day in range(1, DAYS + 1):
        arriving = [
            r
            for r in stamped
            if first + (day - 1) * day_length <= r["created"] < first + day * day_length
        ]
        if day == DAYS:
            arriving += undated
        fresh_store.import_records(arriving)
        imported += len(arriving)
        ingest(env, daily)
        if imported >= 30:  # fewer rows than a version needs are refused, as they should be
            daily_version = build(daily, recipe)
    assert imported == len(records)

    at_once = tmp_path / "at-once"
    ingest(env, at_once, full_refresh=True)
    once_version = build(at_once, recipe)

    assert daily_version.name == once_version.name
    assert data_files(daily_version) == data_files(once_version)
    once = json.loads((once_version / "manifest.json").read_text())
    daily_manifest = json.loads((daily_version / "manifest.json").read_text())
    for key in ("version", "splits", "inputs", "drops_by_reason"):
        assert daily_manifest[key] == once[key], key
    # The card names the build's time; every other file is the same, byte for byte.
    del daily_manifest["files"]["README.md"], once["files"]["README.md"]
    assert daily_manifest["files"] == once["files"]
