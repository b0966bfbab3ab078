"""Errors a user makes, under Dagster: one line, as the failure's description, not a traceback."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest

import assets.definitions
from assets.ingestion import raw_completions
from assets.resources import DataDirectory, StoredCompletionsSource


@pytest.fixture
def reload_definitions(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """`assets.definitions` loaded again under the environment the test sets."""
    yield assets.definitions
    monkeypatch.undo()
    importlib.reload(assets.definitions)  # back to the environment the other tests see


def failure_description(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.user_failure_data.description


def build_under(definitions: ModuleType) -> dg.ExecuteInProcessResult:
    job = definitions.defs.resolve_job_def("build_datasets_job")
    return job.execute_in_process(asset_selection=[dg.AssetKey("recipes")], raise_on_error=False)


@pytest.mark.slow
def test_a_missing_recipes_file_fails_the_build_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reload_definitions: ModuleType
) -> None:
    missing = tmp_path / "recipes.yaml"
    monkeypatch.setenv("DISTILLERY_RECIPES", str(missing))
    definitions = importlib.reload(reload_definitions)  # loading does not raise

    result = build_under(definitions)

    assert not result.success
    assert failure_description(result) == f"{missing}: recipes file not found"


def test_a_recipe_typo_fails_the_build_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reload_definitions: ModuleType
) -> None:
    recipes = tmp_path / "recipes.yaml"
    recipes.write_text("recipes:\n  default:\n    slect: {}\n", encoding="utf-8")
    monkeypatch.setenv("DISTILLERY_RECIPES", str(recipes))
    definitions = importlib.reload(reload_definitions)

    result = build_under(definitions)

    description = failure_description(result)
    assert description.startswith(f"{recipes}: recipes.default.slect")
    assert "\n" not in description


def test_a_wrong_source_fails_ingest_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reload_definitions: ModuleType
) -> None:
    monkeypatch.setenv("DISTILLERY_SOURCE", "opneai")
    importlib.reload(reload_definitions)  # loading does not raise

    result = dg.materialize(
        [raw_completions],
        resources={
            "data_dir": DataDirectory(path=str(tmp_path)),
            "source": StoredCompletionsSource(),
        },
        raise_on_error=False,
    )

    assert failure_description(result) == (
        "DISTILLERY_SOURCE='opneai' is not one of openai, azure, local"
    )
