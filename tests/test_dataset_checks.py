"""The publication checks catch what they exist for."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.export.checks import run_dataset_checks
from pipelines.recipes import Recipe


def split_rows(**overrides: list) -> pl.DataFrame:
    columns = {
        "id": ["a", "b", "c", "d"],
        "dedup_hash": ["h1", "h2", "h3", "h4"],
        "split_group": ["g1", "g2", "g3", "g4"],
        "split": ["train", "train", "validation", "eval"],
        "estimated_tokens": [10, 20, 30, 40],
    }
    return pl.DataFrame({**columns, **overrides})


def results(tmp_path: Path, rows: pl.DataFrame, **recipe: object) -> dict[str, tuple[bool, str]]:
    (tmp_path / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "q"}]}\n')
    (tmp_path / "validation.jsonl").write_text("")
    checks = run_dataset_checks(
        tmp_path, rows, recipe=Recipe.model_validate({"name": "r", **recipe}), token_limit=35
    )
    return {check.name: (check.passed, check.message) for check in checks}


def test_each_check_fails_on_what_it_guards(tmp_path: Path) -> None:
    leaked = split_rows(dedup_hash=["h1", "h2", "h3", "h1"], split_group=["g1", "g1", "g3", "g4"])

    found = results(tmp_path, leaked)

    assert found["split_overlap"] == (False, "shared between splits: 1 dedup_hash")
    assert found["tokens_within_limit"] == (
        False,
        "longest example 40 tokens; gpt-4.1-mini allows 35",
    )
    assert found["min_train_examples"][0] is False
    assert "example_missing_assistant_message" in found["fine_tuning_format"][1]


def test_a_clean_split_passes_the_overlap_check(tmp_path: Path) -> None:
    assert results(tmp_path, split_rows())["split_overlap"][0] is True
