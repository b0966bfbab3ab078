"""Two builds of one data directory at once, through Dagster: both runs end green, one publishes
and the other finds the version published and says so (issue 21, item 1).

Builds on local disk take no lock (a version is published by an atomic rename, and a build that
loses the rename finds its own version there), so a schedule and a click in the UI race for real.
The interleavings that used to fail a run are forced here at the exact moment, through the real
pipelines functions: only the OS rename, or the call that publishes, is wrapped to wait.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

import pipelines.export.versions as versions
from assets.curation import curated_asset
from assets.export import CHECKS, dataset_asset
from assets.resources import DataDirectory
from pipelines.completions.table import build_completions
from pipelines.curate import read_curated
from pipelines.datadir.paths import STAGING_PREFIX, DataPaths
from pipelines.export.versions import build_dataset_version, latest_version
from pipelines.recipes import Recipe
from tests.test_ingest import ingest

RECIPE = Recipe(name="default")


@pytest.fixture(scope="module")
def curated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the sample's lake, completions and curated table, no version."""
    data_dir = tmp_path_factory.mktemp("curated")
    ingest({"DISTILLERY_SOURCE": "local"}, data_dir)
    build_completions(data_dir)
    dg.materialize([curated_asset(RECIPE)], resources=_resources(data_dir))
    return data_dir


@pytest.fixture
def data_dir(tmp_path: Path, curated_dir: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(curated_dir, target)
    return target


def _resources(data_dir: Path) -> dict[str, Any]:
    return {"data_dir": DataDirectory(path=str(data_dir))}


def _build_run(data_dir: Path) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    """One run of the dataset asset, as `build_datasets_job` runs it after curation, and the
    lines it logged."""
    # Disposed on the thread that made it: SQLite connections may not cross threads.
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [dataset_asset(RECIPE)],
            resources=_resources(data_dir),
            instance=instance,
            raise_on_error=False,
        )
        return result, [entry.user_message for entry in instance.all_logs(result.run_id)]


def _outcome(run: tuple[dg.ExecuteInProcessResult, list[str]]) -> tuple[str, bool, list[str]]:
    """What a user checks of a run: it is green with every check passed; which version, whether
    it was new, and the lines about the version it logged."""
    result, logs = run
    failures = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == dict.fromkeys(CHECKS, True)
    about = [line for line in logs if "dataset version" in line]
    return metadata["version"].value, metadata["new_version"].value, about


def _one_new_one_found(data_dir: Path, outcomes: list[tuple[str, bool, list[str]]]) -> None:
    (version,) = {version for version, _, _ in outcomes}
    assert sorted(new for _, new, _ in outcomes) == [False, True]
    (found,) = [logs for _, new, logs in outcomes if not new]
    assert any("unchanged, already at" in line and "another build" in line for line in found)
    assert latest_version(data_dir, RECIPE.name) == version
    artifacts = DataPaths(data_dir).artifacts(RECIPE.name)
    assert sorted(p.name for p in artifacts.iterdir() if p.is_dir()) == [version]  # no staging


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_build_runs_racing_to_publish_one_version_both_end_green(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both runs wait for each other just before renaming their staging directory: both have
    # passed every check, one rename wins, the other finds the version there.
    together = threading.Barrier(2)
    real_rename = os.rename

    def rename_together(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(src).name.startswith(STAGING_PREFIX):
            together.wait(timeout=120)
        real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename_together)
    results: list[tuple[dg.ExecuteInProcessResult, list[str]]] = []
    runs = [threading.Thread(target=lambda: results.append(_build_run(data_dir))) for _ in "ab"]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=240)

    assert len(results) == 2
    _one_new_one_found(data_dir, [_outcome(result) for result in results])


def _another_build_first(data_dir: Path, call: Callable[..., Any]) -> Callable[..., Any]:
    """`call`, but the first time only after another build published the same version."""
    done = threading.Event()

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not done.is_set():
            done.set()
            other = build_dataset_version(data_dir, read_curated(data_dir, RECIPE.name), RECIPE)
            assert other.created
        return call(*args, **kwargs)

    return wrapped


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("paused_before", ["is_published", "publish_staging"])
def test_a_build_paused_after_its_checks_ends_green_when_another_published_its_version(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, paused_before: str
) -> None:
    # Paused after the dataset checks, before it looks for its version (`is_published`), or
    # after its targets' files passed their checks too, before it publishes (`publish_staging`).
    real = getattr(versions, paused_before)
    monkeypatch.setattr(versions, paused_before, _another_build_first(data_dir, real))

    version, new, logs = _outcome(_build_run(data_dir))

    assert not new
    assert any("unchanged, already at" in line and "another build" in line for line in logs)
    assert latest_version(data_dir, RECIPE.name) == version
