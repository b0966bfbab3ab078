"""Publishing under kills and races: LATEST follows the last build, stale staging goes, and
concurrent builds of one version all succeed. Builds run in real (spawned) processes, killed
for real; only the OS calls are wrapped, to kill or hold a build at an exact moment."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.curate.table import curate_completions
from pipelines.datadir.paths import STAGING_PREFIX, DataPaths
from pipelines.export.versions import build_dataset_version, latest_version, list_versions
from pipelines.recipes import Recipe
from tests.test_versions import publish, sample_completions  # noqa: F401 (a fixture)

SPAWN = multiprocessing.get_context("spawn")
RESEEDED = {"name": "default", "split": {"seed": 9}}


@pytest.fixture(scope="module")
def curated_sample(
    tmp_path_factory: pytest.TempPathFactory,
    sample_completions: pl.DataFrame,  # noqa: F811
) -> Path:
    """The sample's curated rows for the default recipe, as a file a child process can read."""
    path = tmp_path_factory.mktemp("curated") / "default.parquet"
    curate_completions(sample_completions, Recipe(name="default")).rows.write_parquet(path)
    return path


def _kill_self(*args: Any, **kwargs: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _build_killed_at(curated: str, recipe: dict, data_dir: str, moment: str) -> None:
    """Child: build, and die by SIGKILL as LATEST is replaced or as staging is renamed."""
    real_replace, real_rename = os.replace, os.rename
    latest = DataPaths(data_dir).latest(recipe["name"])

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if moment == "latest" and Path(dst) == latest:
            _kill_self()
        real_replace(src, dst, *args, **kwargs)

    def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if moment == "publish" and Path(src).name.startswith(STAGING_PREFIX):
            _kill_self()
        real_rename(src, dst, *args, **kwargs)

    os.replace, os.rename = replace, rename
    build_dataset_version(data_dir, pl.read_parquet(curated), Recipe.model_validate(recipe))


def _run_killed_build(curated: Path, recipe: dict, data_dir: Path, moment: str) -> None:
    child = SPAWN.Process(
        target=_build_killed_at, args=(str(curated), recipe, str(data_dir), moment)
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode == -signal.SIGKILL


def _version_dirs(data_dir: Path, recipe: str) -> list[str]:
    root = DataPaths(data_dir).artifacts(recipe)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.mark.slow
def test_a_retry_after_a_kill_before_latest_points_latest_at_the_new_version(
    tmp_path: Path, curated_sample: Path
) -> None:
    rows = pl.read_parquet(curated_sample)
    first = build_dataset_version(tmp_path, rows, Recipe(name="default"))
    _run_killed_build(curated_sample, RESEEDED, tmp_path, "latest")
    (killed,) = set(_version_dirs(tmp_path, "default")) - {first.version}
    assert latest_version(tmp_path, "default") == first.version  # published, LATEST not moved

    retried = build_dataset_version(tmp_path, rows, Recipe.model_validate(RESEEDED))

    assert (retried.version, retried.created) == (killed, False)
    assert latest_version(tmp_path, "default") == killed


@pytest.mark.slow
def test_reverting_a_recipe_points_latest_back_at_the_earlier_version(
    tmp_path: Path,
    sample_completions: pl.DataFrame,  # noqa: F811
) -> None:
    first = publish(tmp_path, sample_completions, Recipe(name="default"))
    second = publish(tmp_path, sample_completions, Recipe.model_validate(RESEEDED))
    assert latest_version(tmp_path, "default") == second.version != first.version

    reverted = publish(tmp_path, sample_completions, Recipe(name="default"))

    assert (reverted.version, reverted.created) == (first.version, False)
    assert latest_version(tmp_path, "default") == first.version
    assert [v.version for v in list_versions(tmp_path, "default")] == [
        first.version,
        second.version,
    ]


def _own_staging(data_dir: str, recipe: str, ready: Any, go: Any) -> None:
    """Child: a build that made its staging directory and wrote a file, until `go` is set."""
    from pipelines.export.publish import create_staging

    staging = create_staging(DataPaths(data_dir), recipe)
    (staging / "train.jsonl").write_text("{}\n", encoding="utf-8")
    ready.set()
    go.wait(timeout=120)


def _start_owner(data_dir: Path, *, exit_at_once: bool) -> tuple[Any, Any]:
    ready, go = SPAWN.Event(), SPAWN.Event()
    if exit_at_once:
        go.set()
    owner = SPAWN.Process(target=_own_staging, args=(str(data_dir), "default", ready, go))
    owner.start()
    assert ready.wait(timeout=60)
    return owner, go


def _staging_dirs(data_dir: Path, recipe: str) -> list[Path]:
    return sorted(DataPaths(data_dir).artifacts(recipe).glob(f"{STAGING_PREFIX}*"))


@pytest.mark.slow
def test_a_build_removes_staging_of_dead_builds_and_keeps_live_ones(
    tmp_path: Path, curated_sample: Path
) -> None:
    paths = DataPaths(tmp_path)
    rows = pl.read_parquet(curated_sample)
    # Killed inside the rename: its owner file is already gone, so only its age can tell.
    _run_killed_build(curated_sample, RESEEDED, tmp_path, "publish")
    (killed_dir,) = _staging_dirs(tmp_path, "default")
    ownerless = paths.staging("default", "just-made")  # a build between mkdir and owner file
    ownerless.mkdir()
    build_dataset_version(tmp_path, rows, Recipe(name="default"))
    assert _staging_dirs(tmp_path, "default") == sorted([killed_dir, ownerless])  # both fresh
    a_day_ago = time.time() - 25 * 3600
    os.utime(killed_dir, (a_day_ago, a_day_ago))
    build_dataset_version(tmp_path, rows, Recipe(name="default"))
    assert _staging_dirs(tmp_path, "default") == [ownerless]

    dead, _ = _start_owner(tmp_path, exit_at_once=True)
    dead.join(timeout=60)
    (dead_dir,) = set(_staging_dirs(tmp_path, "default")) - {ownerless}
    live, go = _start_owner(tmp_path, exit_at_once=False)
    try:
        (live_dir,) = set(_staging_dirs(tmp_path, "default")) - {dead_dir, ownerless}

        build_dataset_version(tmp_path, rows, Recipe(name="other"))
        assert len(_staging_dirs(tmp_path, "default")) == 3  # another recipe's are left alone
        build_dataset_version(tmp_path, rows, Recipe(name="default"))

        assert _staging_dirs(tmp_path, "default") == sorted([live_dir, ownerless])
        assert (live_dir / "train.jsonl").read_text(encoding="utf-8") == "{}\n"
    finally:
        go.set()
        live.join(timeout=60)
    build_dataset_version(tmp_path, rows, Recipe(name="default"))
    assert _staging_dirs(tmp_path, "default") == [ownerless]


def _build_in_rounds(
    curated: str,
    data_dirs: list[str],
    gated: list[bool],
    starts: list[Any],
    renames: list[Any],
    results: Any,
) -> None:
    """Child: one build per round, all workers starting together; in a gated round every worker
    also waits for the others just before renaming its staging directory, so all race there."""
    rows = pl.read_parquet(curated)
    real_rename = os.rename
    at_rename: list[Any] = [None]

    def rename_together(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if at_rename[0] is not None and Path(src).name.startswith(STAGING_PREFIX):
            with contextlib.suppress(threading.BrokenBarrierError):
                at_rename[0].wait(timeout=60)
        real_rename(src, dst, *args, **kwargs)

    os.rename = rename_together
    for data_dir, gate, start, rename in zip(data_dirs, gated, starts, renames, strict=True):
        at_rename[0] = rename if gate else None
        start.wait(timeout=120)
        try:
            built = build_dataset_version(data_dir, rows, Recipe(name="default"))
            results.put((data_dir, built.version, built.created, None))
        except Exception:
            results.put((data_dir, None, None, traceback.format_exc()))


@pytest.mark.slow
def test_concurrent_builds_of_one_version_all_succeed(tmp_path: Path, curated_sample: Path) -> None:
    workers, gated = 4, [True, False, True, False]
    data_dirs = [str(tmp_path / f"round-{i}") for i in range(len(gated))]
    starts = [SPAWN.Barrier(workers) for _ in gated]
    renames = [SPAWN.Barrier(workers) for _ in gated]
    results = SPAWN.Queue()
    children = [
        SPAWN.Process(
            target=_build_in_rounds,
            args=(str(curated_sample), data_dirs, gated, starts, renames, results),
        )
        for _ in range(workers)
    ]
    for child in children:
        child.start()
    outcomes: list[tuple[str, str | None, bool | None, str | None]] = []
    try:
        for _ in range(workers * len(gated)):
            outcomes.append(results.get(timeout=240))
    except queue.Empty:
        pytest.fail(f"only {len(outcomes)} of {workers * len(gated)} builds reported")
    finally:
        for child in children:
            child.join(timeout=60)

    assert [error for *_, error in outcomes if error] == []
    for data_dir in data_dirs:
        built = [(version, created) for where, version, created, _ in outcomes if where == data_dir]
        versions = {version for version, _ in built}
        assert len(versions) == 1 and sorted(created for _, created in built) == [
            False,
            False,
            False,
            True,
        ]
        assert _version_dirs(Path(data_dir), "default") == sorted(versions)
        assert latest_version(data_dir, "default") == versions.pop()
        assert list(DataPaths(data_dir).artifacts("default").glob(f"{STAGING_PREFIX}*")) == []
