"""Curation part by part gives the rows and the step reports one curation of the whole table
gives, and a new day curates only the parts it brought."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import pipelines.completions.table as completions_table
from pipelines.completions import build_completions, columns_without_raw_json, read_completions
from pipelines.completions.parts import read_table_parts
from pipelines.curate import curate_completions, curate_lake, read_curated, read_curation_steps
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.lake import write_batch
from pipelines.recipes import Recipe
from tests.test_completion_segments import sample_rows, write_days

# Each builds the sample's tables and curates them twice (over half a second): the full tier.
pytestmark = pytest.mark.slow

RECIPES = {
    "default": {"name": "default"},
    "near_dedup": {"name": "near_dedup", "dedup": {"near": {"enabled": True}}},
    "every_turn_drop": {
        "name": "every_turn_drop",
        "chains": {"keep": "every_turn"},
        "redact": {"mode": "drop"},
        "dedup": {"exact": {"keep": "oldest"}},
    },
}


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sample is a few hundred rows: parts of 40 make several, so chats, duplicates and
    # near duplicates fall across parts.
    monkeypatch.setattr(completions_table, "PART_ROWS", 40)


@pytest.mark.parametrize("spec", RECIPES.values(), ids=RECIPES.keys())
def test_part_by_part_equals_the_whole_table(
    tmp_path: Path, small_parts: None, spec: dict[str, object]
) -> None:
    recipe = Recipe.model_validate(spec)
    write_days(tmp_path, sample_rows(), days=7)
    build_completions(tmp_path)
    whole = curate_completions(
        read_completions(tmp_path, columns=columns_without_raw_json()), recipe
    )

    lake = curate_lake(tmp_path, recipe)

    curated = read_curated(tmp_path, recipe.name)
    assert lake.parts > 3
    assert_frame_equal(
        curated.sort("id"), whole.rows.sort("id").select(curated.columns), check_dtypes=False
    )
    assert lake.steps == whole.steps
    assert read_curation_steps(tmp_path, recipe.name) == whole.steps


def test_a_new_day_curates_only_its_own_parts(tmp_path: Path, small_parts: None) -> None:
    recipe = Recipe.model_validate(RECIPES["default"])
    rows = sample_rows()
    write_days(tmp_path, rows[:-30], days=7)
    build_completions(tmp_path)
    first = curate_lake(tmp_path, recipe)
    again = curate_lake(tmp_path, recipe)
    # A new day: its batch sorts last, as the next ingest's would.
    write_batch(DataPaths(tmp_path), "run900-00000", rows[-30:])
    build_completions(tmp_path)

    day = curate_lake(tmp_path, recipe)

    assert first.parts_curated == first.parts and again.parts_curated == 0
    # The new batch's part, and the part of responses and conversations, which is made anew
    # whenever any of them changes; the earlier batches' parts are kept.
    assert 1 <= day.parts_curated <= 3 < day.parts
    whole = curate_completions(
        read_completions(tmp_path, columns=columns_without_raw_json()), recipe
    )
    curated = read_curated(tmp_path, recipe.name)
    assert_frame_equal(
        curated.sort("id"), whole.rows.sort("id").select(curated.columns), check_dtypes=False
    )
    assert day.steps == whole.steps


def test_other_settings_curate_every_part_again_and_remove_the_old(
    tmp_path: Path, small_parts: None
) -> None:
    write_days(tmp_path, sample_rows(), days=4)
    build_completions(tmp_path)
    curate_lake(tmp_path, Recipe.model_validate({"name": "r"}))
    before = set(DataPaths(tmp_path).curation_part_files("r"))

    changed = curate_lake(tmp_path, Recipe.model_validate({"name": "r", "redact": {"mode": "off"}}))

    after = set(DataPaths(tmp_path).curation_part_files("r"))
    assert changed.parts_curated == changed.parts
    assert before and after and not before & after


def test_a_table_whose_footer_lists_no_parts_is_curated_as_one(
    tmp_path: Path, small_parts: None
) -> None:
    recipe = Recipe.model_validate(RECIPES["default"])
    write_days(tmp_path, sample_rows(), days=5)
    build_completions(tmp_path)
    parts = read_table_parts(DataPaths(tmp_path))
    assert (
        parts
        and len(parts) > 3
        and sum(p.rows for p in parts) == read_completions(tmp_path, columns=["id"]).height
    )
    curate_lake(tmp_path, recipe)
    # What an erasure does: the table rewritten by another writer, its footer without parts.
    table = DataPaths(tmp_path).completions
    pl.read_parquet(table).write_parquet(table)

    rewritten = curate_lake(tmp_path, recipe)

    assert rewritten.parts == rewritten.parts_curated == 1
    table_rows = read_completions(tmp_path, columns=columns_without_raw_json())
    whole = curate_completions(table_rows, recipe)
    curated = read_curated(tmp_path, recipe.name)
    assert_frame_equal(
        curated.sort("id"), whole.rows.sort("id").select(curated.columns), check_dtypes=False
    )
