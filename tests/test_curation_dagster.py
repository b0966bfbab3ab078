"""`curated_<recipe>` assets on the bundled sample, through `dagster.materialize`."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.completions import completions_tables
from assets.curation import curated_asset
from assets.ingestion import raw_completions
from assets.resources import DataDirectory, StoredCompletionsSource
from pipelines.curate.table import read_curated
from pipelines.recipes import load_recipes
from pipelines.sample import SAMPLE_PATH

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
KEY = re.compile(r"sk-[A-Za-z0-9_\-]{20,}")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.ExecuteInProcessResult]:
    data_dir = tmp_path_factory.mktemp("data")
    recipes_file = data_dir / "recipes.yaml"
    recipes_file.write_text(
        "recipes:\n"
        "  default: {}\n"
        "  raw_support:\n"
        "    select: {metadata: {app: support-bot}}\n"
        "    redact: {mode: 'off'}\n"
        "    dedup: {near: {keep: all}}\n"
    )
    recipes = load_recipes(recipes_file)
    with pytest.MonkeyPatch.context() as env:
        for name in ("DISTILLERY_SOURCE", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
            env.delenv(name, raising=False)
        result = dg.materialize(
            [raw_completions, completions_tables, *(curated_asset(r) for r in recipes.values())],
            resources={
                "data_dir": DataDirectory(path=str(data_dir)),
                "source": StoredCompletionsSource(),
            },
        )
    return data_dir, result


def sample_values(pattern: re.Pattern[str]) -> set[str]:
    return set(pattern.findall(SAMPLE_PATH.read_text(encoding="utf-8")))


@pytest.mark.slow
def test_no_two_curated_rows_share_a_dedup_hash(built) -> None:
    data_dir, _ = built
    curated = read_curated(data_dir, "default")

    assert curated.height > 100
    assert curated["dedup_hash"].is_unique().all()
    assert curated["cluster_id"].is_unique().all()  # default keeps one row per cluster


@pytest.mark.slow
def test_no_sample_email_or_key_survives_redaction(built) -> None:
    data_dir, _ = built
    text = read_curated(data_dir, "default").write_ndjson()

    emails, keys = sample_values(EMAIL), sample_values(KEY)
    assert emails and keys  # the sample does plant them
    assert not [e for e in emails if e in text]
    assert not [k for k in keys if k in text]
    assert "<EMAIL>" in text and "<SECRET>" in text


@pytest.mark.slow
def test_each_recipe_is_its_own_asset_with_step_metadata(built) -> None:
    data_dir, result = built
    events = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }

    default = events["curated_default"]
    assert "| select |" in default["steps"].value and "exact_duplicate" in default["steps"].value
    assert "| email |" in default["redactions_by_kind"].value
    assert 0 < default["redacted_record_share"].value < 1
    support = read_curated(data_dir, "raw_support")
    apps = support.select(
        pl.col("metadata")
        .list.eval(
            pl.element().filter(pl.element().struct.field("key") == "app").struct.field("value")
        )
        .list.first()
    ).to_series()
    assert support.height == events["curated_raw_support"]["dagster/row_count"].value > 0
    assert set(apps) == {"support-bot"}
    assert "metadata" in events["curated_raw_support"]["drops_by_reason"].value
    assert EMAIL.search(support.write_ndjson())  # redaction off keeps the text as it was
