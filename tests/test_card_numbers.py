"""The numbers a user checks first, in the manifest and the card, checked against the split rows;
and the token histogram as a picture whose bars hold those rows' counts."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.completions import read_completions
from pipelines.completions.table import build_completions
from pipelines.curate import curate_completions, write_curated
from pipelines.export import build_dataset_version, input_snapshot
from pipelines.export.targets.base import read_frame
from pipelines.recipes import Recipe
from tests.test_ingest import ingest

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A version of the default recipe built from the bundled sample, without Dagster."""
    data_dir = tmp_path_factory.mktemp("card")
    with pytest.MonkeyPatch.context() as env:
        for name in ("DISTILLERY_SOURCE", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
            env.delenv(name, raising=False)
        ingest({}, data_dir)
    build_completions(data_dir)
    recipe = Recipe(name="default")
    curated = curate_completions(read_completions(data_dir), recipe)
    write_curated(data_dir, curated)
    built = build_dataset_version(
        data_dir,
        curated.rows,
        recipe,
        curation_steps=curated.steps,
        inputs=input_snapshot(read_completions(data_dir)),
    )
    return built.path


def manifest_of(version: Path) -> dict[str, Any]:
    return json.loads((version / "manifest.json").read_text(encoding="utf-8"))


def split_rows(version: Path, split: str) -> pl.DataFrame:
    return read_frame(version / f"{split}.parquet")


@pytest.mark.slow
def test_the_manifest_has_token_spread_and_rows_by_model_per_split(version: Path) -> None:
    splits = manifest_of(version)["splits"]
    for name, counts in splits.items():
        rows = split_rows(version, name)
        tokens = rows["estimated_tokens"]
        assert counts["rows"] == rows.height
        assert counts["tokens_min"] == tokens.min()
        assert counts["tokens_max"] == tokens.max()
        assert counts["tokens_median"] == tokens.quantile(0.5, interpolation="nearest")
        assert counts["tokens_p95"] == tokens.quantile(0.95, interpolation="nearest")
        assert counts["rows_by_model"] == dict(rows.group_by("model").len().iter_rows())
        assert sum(counts["rows_by_model"].values()) == rows.height


@pytest.mark.slow
def test_the_card_shows_the_spread_and_links_the_histogram(version: Path) -> None:
    splits = manifest_of(version)["splits"]
    card = (version / "README.md").read_text(encoding="utf-8")
    train = splits["train"]

    assert "![Tokens per example, by split](tokens.svg)" in card
    assert (
        f"| train | {train['tokens_min']:,} | {train['tokens_median']:,} |"
        f" {train['tokens_p95']:,} | {train['tokens_max']:,} |"
    ) in card
    model, rows = next(iter(train["rows_by_model"].items()))
    assert f"| `{model}` | {rows:,} |" in card


@pytest.mark.slow
def test_the_histogram_is_an_svg_whose_bars_count_each_splits_rows(version: Path) -> None:
    import json

    path = version / "tokens.svg"
    manifest = json.loads((version / "manifest.json").read_text())
    assert (
        manifest["files"]["tokens.svg"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    )
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"

    groups = {g.get("data-split"): g for g in root.iter(f"{SVG}g")}
    assert set(groups) == {"train", "validation", "eval"}
    for split, group in groups.items():
        tokens = split_rows(version, split)["estimated_tokens"]
        bars = [
            (int(r.get("data-from")), int(r.get("data-to")), int(r.get("data-count")))
            for r in group.iter(f"{SVG}rect")
        ]
        assert sum(count for _, _, count in bars) == len(tokens)
        for low, high, count in bars[:-1]:  # the last bar also holds the maximum
            assert count == tokens.filter((tokens >= low) & (tokens <= high)).len()
