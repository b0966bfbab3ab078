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
from pipelines.completions.table import build_completions, read_quarantine
from pipelines.completions.validate import reason_counts
from pipelines.curate import curate_completions, read_curated, write_curated
from pipelines.export import build_dataset_version, input_snapshot
from pipelines.export.targets.base import read_frame
from pipelines.ingest import read_raw_completions
from pipelines.recipes import Recipe
from tests.test_ingest import ingest

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
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
    quarantine = read_quarantine(data_dir)
    inputs = input_snapshot(
        read_completions(data_dir),
        quarantined=quarantine.height,
        quarantined_by_reason=reason_counts(quarantine),
    )
    version = build_dataset_version(
        data_dir, curated.rows, recipe, curation_steps=curated.steps, inputs=inputs
    )
    return data_dir, version.path


@pytest.fixture(scope="module")
def version(built: tuple[Path, Path]) -> Path:
    return built[1]


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


@pytest.mark.slow
def test_records_read_and_quarantined_by_reason_add_up_to_the_lake(
    built: tuple[Path, Path],
) -> None:
    data_dir, version = built
    inputs = manifest_of(version)["inputs"]
    quarantine = read_quarantine(data_dir)
    card = (version / "README.md").read_text(encoding="utf-8")

    assert inputs["rows"] + inputs["quarantined"] == read_raw_completions(data_dir).height
    assert inputs["quarantined"] == quarantine.height > 0
    assert inputs["quarantined_by_reason"] == reason_counts(quarantine)
    read = inputs["rows"] + inputs["quarantined"]
    assert f"- records read: {read:,}; valid: {inputs['rows']:,}; quarantined:" in card
    check, count = next(iter(inputs["quarantined_by_reason"].items()))
    assert f"{check} {count:,}" in card


@pytest.mark.slow
def test_redactions_by_kind_cover_the_published_rows(built: tuple[Path, Path]) -> None:
    data_dir, version = built
    (redact,) = [s for s in manifest_of(version)["steps"] if s["step"] == "redact"]
    kinds = {k: n for k, n in redact["counts"].items() if k != "records_redacted"}
    curated = read_curated(data_dir, "default")
    card = (version / "README.md").read_text(encoding="utf-8")

    # Counted when redacted, before dedup and chains fold rows away: never fewer than survive.
    assert kinds and sum(kinds.values()) >= curated["redactions"].sum() > 0
    assert redact["counts"]["records_redacted"] >= (curated["redactions"] > 0).sum()
    assert "## Redactions, by kind" in card
    assert all(f"- {kind}: {count:,}" in card for kind, count in kinds.items())
