"""The whole `build_datasets_job` with the data directory on a real S3-compatible server (moto's
server mode, started here on a loopback port): the first run, the re-run that writes nothing,
`datasets` reading the version from the S3 URL, and Dagster's multiprocess executor with every
step in its own process and working directory, sharing nothing but the bucket."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.datadir.object_storage import ObjectPath
from tests.object_store_jobs import assert_latest_is_whole, dagster, job_env, objects, run_job
from tests.s3_server import fsspec_options, moto_server, new_bucket, s3_environment

VERSION_LINE = re.compile(
    r"dataset version (\w+) of recipe default (written|unchanged, already) at (\S+)"
)


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    with moto_server() as env, s3_environment(env):
        yield env


@pytest.fixture(scope="module")
def main_job(
    s3: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, dict[str, str], str]:
    """The main job, run once for the module: its data directory URL, cwd, env and output."""
    cwd = tmp_path_factory.mktemp("main-job-s3")
    url = f"s3://{new_bucket(s3)}/prod/distillery"
    env = job_env(cwd / "home", url, s3)
    return url, cwd, env, run_job("build_datasets_job", cwd=cwd, env=env)


@pytest.mark.slow
def test_main_job_on_s3_then_a_rerun_that_writes_nothing(
    main_job: tuple[str, Path, dict[str, str], str],
) -> None:
    url, tmp_path, env, first = main_job
    data_dir = ObjectPath.from_url(url)

    version, state, where = VERSION_LINE.search(first).groups()  # type: ignore[union-attr]
    assert (state, where) == ("written", f"{url}/artifacts/default/{version}")
    assert assert_latest_is_whole(data_dir) == version
    assert not list(tmp_path.glob("distillery-data*")), "nothing may land on local disk"
    before = objects(data_dir)
    assert any(key.startswith("lake/raw_completions/batch-") for key in before)

    second = run_job("build_datasets_job", cwd=tmp_path, env=env)

    again = VERSION_LINE.search(second)
    assert again and again.groups()[:2] == (version, "unchanged, already")
    after = objects(data_dir)
    for prefix in ("artifacts/", "lake/raw_completions/"):
        assert {k: v for k, v in after.items() if k.startswith(prefix)} == {
            k: v for k, v in before.items() if k.startswith(prefix)
        }, prefix
    assert "lake/state/writer.lease" not in after  # released by every step


@pytest.mark.slow
def test_datasets_loads_a_version_straight_from_the_s3_url(
    s3: dict[str, str], main_job: tuple[str, Path, dict[str, str], str], tmp_path: Path
) -> None:
    import datasets

    url = main_job[0]
    version = assert_latest_is_whole(ObjectPath.from_url(url))
    base = f"{url}/artifacts/default/{version}"

    loaded = datasets.load_dataset(
        "parquet",
        data_files={split: f"{base}/{split}.parquet" for split in ("train", "validation")},
        storage_options=fsspec_options(s3),
        cache_dir=str(tmp_path / "hf-cache"),
    )

    assert loaded["train"].num_rows > 10
    assert set(loaded["train"].column_names) >= {"completion_id", "messages", "output", "line"}


@pytest.mark.slow
def test_multiprocess_executor_shares_nothing_but_the_bucket(
    s3: dict[str, str], tmp_path: Path
) -> None:
    url = f"s3://{new_bucket(s3)}/distillery"
    config = tmp_path / "run.yaml"
    config.write_text("execution:\n  config:\n    multiprocess:\n      max_concurrent: 4\n")
    empty = tmp_path / "run-cwd"
    empty.mkdir()

    output = run_job(
        "build_datasets_job", cwd=empty, env=job_env(tmp_path / "home", url, s3), config=config
    )

    launched = set(re.findall(r'Launching subprocess for "([\w.]+)"', output))
    assert {"raw_completions", "completions_tables", "curated_default", "dataset_default"} <= (
        launched
    ), output[-3000:]
    assert list(empty.iterdir()) == []
    version = assert_latest_is_whole(ObjectPath.from_url(url))

    # Each asset as its own run, as run pods would: a fresh working directory and Dagster home
    # per step, nothing carried between them but the bucket. The same inputs, the same version.
    url2 = f"s3://{new_bucket(s3)}/distillery"
    steps = ["raw_completions", "completions,completions_quarantine", "curated_default"]
    for step, selection in enumerate([*steps, "dataset_default"]):
        pod = tmp_path / f"pod-{step}"
        pod.mkdir()
        materialize = ("asset", "materialize", "-m", "assets.definitions", "--select", selection)
        process = dagster(*materialize, cwd=pod, env=job_env(pod / "home", url2, s3))
        out, _ = process.communicate(timeout=600)
        assert process.returncode == 0, out[-3000:]
        assert [p.name for p in pod.iterdir()] == ["home"]
    assert assert_latest_is_whole(ObjectPath.from_url(url2)) == version
