"""The main job from the shell, as README's first command runs it, and refusal through Dagster."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.curation import curated_asset
from assets.export import dataset_asset
from assets.resources import DataDirectory
from pipelines.completions.table import build_completions
from pipelines.export.card import dataset_card
from pipelines.export.manifest import Manifest
from pipelines.export.targets.base import read_frame
from pipelines.export.versions import latest_version
from pipelines.recipes import Recipe
from pipelines.version import __version__
from tests.sample_generator.planted import planted_values
from tests.test_ingest import ingest

VERSION_LINE = re.compile(
    r"dataset version (\w+) of recipe default (written|unchanged, already) at (\S+)"
)


SAMPLE_DIR = Path("distillery-data") / "sample"
"""Where a build of the bundled sample lands when DISTILLERY_DATA_DIR is unset."""


def clean_env() -> dict[str, str]:
    """The environment of a fresh shell: no credentials, no distillery or Dagster settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "DISTILLERY_", "DAGSTER_"))
    }


def distillery(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `distillery` console script, as README's commands run it, in `cwd`."""
    command = str(Path(sys.executable).parent / "distillery")
    return subprocess.run(
        [command, *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def run_main_job(cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """README's first command, after the install: `distillery build`."""
    return distillery(cwd, "build", *options)


@pytest.fixture(scope="module")
def main_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """README's main command, run once for the module in a fresh directory."""
    cwd = tmp_path_factory.mktemp("main-job")
    return cwd, run_main_job(cwd)


@pytest.mark.slow
def test_readme_main_command_builds_a_version_from_the_sample(
    main_job: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    tmp_path, first = main_job

    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-4000:]
    version, state, path = VERSION_LINE.search(output).groups()  # type: ignore[union-attr]
    assert state == "written"
    expected = tmp_path / SAMPLE_DIR / "artifacts" / "default" / version
    assert Path(path) == expected.resolve()
    manifest = json.loads((expected / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "local"
    assert manifest["splits"]["train"]["rows"] >= 10
    assert latest_version(tmp_path / SAMPLE_DIR, "default") == version
    # The sample mixes stored chat completions, responses and conversations: one version, whose
    # manifest counts what each source and API gave, as the completions table holds it.
    completions = pl.read_parquet(tmp_path / SAMPLE_DIR / "lake" / "completions.parquet")
    counts = completions.group_by("api").len()
    assert manifest["inputs"]["rows_by_source"] == {"local": dict(counts.sort("api").iter_rows())}
    assert set(manifest["inputs"]["rows_by_source"]["local"]) == {
        "chat_completions",
        "responses",
        "conversations",
    }
    published = {api: 0 for api in ("chat_completions", "responses", "conversations")}
    for split in manifest["splits"].values():
        assert sum(split["rows_by_api"].values()) == split["rows"]
        for api, rows in split["rows_by_api"].items():
            published[api] += rows
    assert all(published.values()), published

    # One recipe by name: its assets and what they read, the same version again.
    second = run_main_job(tmp_path, "--recipe", "default")

    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    again = VERSION_LINE.search(second.stdout + second.stderr)
    assert again and again.groups()[:2] == (version, "unchanged, already")
    assert {p.name for p in expected.parent.iterdir()} == {"LATEST", version}


@pytest.mark.slow
def test_dagster_dev_afterwards_shows_what_the_build_materialized(
    main_job: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    cwd, run = main_job
    home = (cwd / SAMPLE_DIR / ".dagster").resolve()
    assert f"DAGSTER_HOME={home} dagster dev" in run.stdout

    # What the UI reads: the instance's runs and each asset's latest materialization.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        materialized = {
            key.to_user_string()
            for key in instance.all_asset_keys()
            if instance.get_latest_materialization_event(key) is not None
        }

    assert {r.job_name for r in runs} == {"build_datasets_job"}
    assert all(r.is_success for r in runs)
    assert {
        "raw_completions",
        "completions",
        "completions_quarantine",
        "curated_default",
        "dataset_default",
    } <= materialized


@pytest.mark.slow
def test_the_card_headline_names_every_source_with_its_rows(
    main_job: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    cwd, _ = main_job
    latest = latest_version(cwd / SAMPLE_DIR, "default")
    version = cwd / SAMPLE_DIR / "artifacts" / "default" / str(latest)
    manifest = Manifest.model_validate_json((version / "manifest.json").read_text())
    rows = sum(manifest.inputs.rows_by_source["local"].values())
    card = (version / "README.md").read_text(encoding="utf-8")
    assert f"read from **local** ({rows:,} rows, 127.0.0.1:" in card

    # A lake that two sources fed (as a sample mixed into captured rows once was) says so.
    manifest.inputs.rows_by_source = {
        "openai": {"chat_completions": 10},
        "local": {"chat_completions": 180, "responses": 4},
    }
    mixed = dataset_card(manifest, read_frame(version / "train.parquet"))
    assert "read from **openai** (10 rows), **local** (184 rows, 127.0.0.1:" in mixed


@pytest.mark.slow
def test_build_names_the_known_recipes_when_one_is_unknown(tmp_path: Path) -> None:
    run = distillery(tmp_path, "build", "--recipe", "defualt")

    assert run.returncode == 2
    assert run.stderr.strip() == "distillery: error: no recipe 'defualt'; known recipes: default"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_version_prints_the_package_version(tmp_path: Path) -> None:
    run = distillery(tmp_path, "--version")

    assert (run.returncode, run.stdout.strip()) == (0, f"distillery {__version__}")


@pytest.mark.usefixtures("no_credentials")
@pytest.mark.slow
def test_fewer_than_ten_examples_fail_the_asset_with_a_clear_message(tmp_path: Path) -> None:
    ingest({}, tmp_path)
    build_completions(tmp_path)
    tiny = Recipe.model_validate(
        {"name": "tiny", "select": {"metadata": {"app": "math-tutor"}, "max_total_tokens": 60}}
    )

    result = dg.materialize(
        [curated_asset(tiny), dataset_asset(tiny)],
        resources={"data_dir": DataDirectory(path=str(tmp_path))},
        raise_on_error=False,
    )

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "fine-tuning needs at least 10" in failure.step_failure_data.error.message
    assert latest_version(tmp_path, "tiny") is None


@pytest.mark.usefixtures("no_credentials")
@pytest.mark.slow
def test_the_dataset_asset_shows_split_sizes_and_a_token_histogram(tmp_path: Path) -> None:
    ingest({}, tmp_path)
    build_completions(tmp_path)
    recipe = Recipe(name="default")

    result = dg.materialize(
        [curated_asset(recipe), dataset_asset(recipe)],
        resources={"data_dir": DataDirectory(path=str(tmp_path))},
    )

    events = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    metadata = events["dataset_default"].materialization.metadata
    version = metadata["version"].value
    assert events["dataset_default"].materialization.tags["dagster/data_version"] == version
    assert f"| train | {metadata['train_rows'].value} |" in metadata["split_sizes"].value
    assert "█" in metadata["token_histogram"].value
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()} == {
        "fine_tuning_format": True,
        "min_train_examples": True,
        "tokens_within_limit": True,
        "split_overlap": True,
        "targets_format": True,
    }


@pytest.mark.slow
def test_no_planted_personal_data_or_key_is_published_or_logged(
    main_job: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    # The values the sample generator planted, recorded as it drew them (no redaction pattern
    # involved), searched for in every published file and in everything Dagster stored: the
    # event log (metadata previews included), run storage and captured logs.
    cwd, run = main_job
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    planted = planted_values()
    assert {kind: len(values) > 0 for kind, values in planted.items()} == {
        "phone": True,
        "card": True,
        "secret": True,
        "email": True,
    }
    assert {"+33 6 89 99 67 28", "+61 2 5550 9128"} <= planted["phone"]
    version = latest_version(cwd / SAMPLE_DIR, "default")
    published = cwd / SAMPLE_DIR / "artifacts" / "default" / str(version)
    texts = {
        str(path.relative_to(published)): (
            read_frame(path).write_ndjson()
            if path.suffix == ".parquet"
            else path.read_text(encoding="utf-8")
        )
        for path in published.rglob("*")
        if path.is_file()
    }
    assert {
        "train.jsonl",
        "train.parquet",
        "hf/messages/train.parquet",
        "promptfoo/tests.jsonl",
        "README.md",
        "manifest.json",
    } <= set(texts)
    stored_by_dagster = b"".join(
        path.read_bytes() for path in (cwd / SAMPLE_DIR / ".dagster").rglob("*") if path.is_file()
    )
    assert b"summary" in stored_by_dagster  # the event log is where we look

    leaks = [
        (kind, value, name)
        for kind, values in planted.items()
        for value in values
        for name, text in texts.items()
        if value in text
    ] + [
        (kind, value, ".dagster")
        for kind, values in planted.items()
        for value in values
        if value.encode("utf-8") in stored_by_dagster
    ]
    assert leaks == []
