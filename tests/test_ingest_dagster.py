"""The `raw_completions` asset and `ingest_completions_job` through real Dagster machinery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import defs
from assets.ingestion import raw_completions
from assets.resources import DataDirectory, StoredCompletionsSource
from pipelines.ingest import IngestSettings
from pipelines.ingest.lake import read_raw_completions
from tests.store_process import StoreProcess, store_process
from tests.test_ingest import make_records, source_env

REPO = Path(__file__).resolve().parent.parent


def materialize_ingest(data_dir: Path, **config: bool) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_completions],
        resources={
            "data_dir": DataDirectory(path=str(data_dir)),
            "source": StoredCompletionsSource(),
        },
        run_config={"ops": {"raw_completions": {"config": config}}} if config else None,
        raise_on_error=False,
    )


@pytest.mark.slow
def test_materialize_reports_what_the_sync_did(
    fresh_store: StoreProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_store.import_records(make_records(120))
    for name, value in source_env(fresh_store, "azure").items():
        monkeypatch.setenv(name, value)

    first = materialize_ingest(tmp_path)
    second = materialize_ingest(tmp_path, full_refresh=True)

    assert first.success and second.success
    (event,) = first.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["source"] == "azure"
    assert (metadata["mode"], metadata["pages"], metadata["completions_new"]) == ("full", 2, 120)
    assert metadata["requests"] == 2 + 120
    assert metadata["path"] == str(tmp_path / "lake" / "raw_completions")
    (again,) = second.get_asset_materialization_events()
    assert again.materialization.metadata["completions_new"].value == 0
    assert read_raw_completions(tmp_path).height == 120


def test_an_access_error_fails_the_run_with_one_clear_message(
    fresh_store: StoreProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in source_env(fresh_store, "openai", key="sk-not-the-key").items():
        monkeypatch.setenv(name, value)

    result = materialize_ingest(tmp_path)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "rejected the API key (HTTP 401)" in failure.step_failure_data.error.message
    assert not (tmp_path / "lake" / "raw_completions").exists()


def test_the_definitions_carry_the_job_and_its_daily_schedule() -> None:
    job = defs.resolve_job_def("ingest_completions_job")
    schedule = defs.resolve_schedule_def("daily_ingest_schedule")

    assert job.asset_layer.executable_asset_keys == {dg.AssetKey("raw_completions")}
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.job_name == "ingest_completions_job"


@pytest.mark.slow
def test_job_execute_from_the_shell_never_writes_the_key(tmp_path: Path) -> None:
    canary = "sk-distillery-canary-3e8b1d"
    with store_process(tmp_path / "store.db", api_key=canary) as store:
        store.import_records(make_records(30))
        env = {
            **os.environ,
            **source_env(store, "openai", key=canary),
            "DISTILLERY_DATA_DIR": str(tmp_path / "data"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        }
        (tmp_path / "dagster_home").mkdir()
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "dagster"),
                "job",
                "execute",
                "-m",
                "assets.definitions",
                "-j",
                "ingest_completions_job",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=300,
        )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "30 new" in result.stdout + result.stderr
    assert canary not in result.stdout + result.stderr
    files = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and p.name != "store.db" and "store.db" not in p.name
    ]
    assert any("dagster_home" in str(p) for p in files)  # the event log is among them
    for path in files:
        assert canary.encode() not in path.read_bytes(), path
    assert read_raw_completions(tmp_path / "data").height == 30


def test_the_resource_left_alone_runs_with_the_pipelines_settings() -> None:
    # The defaults are written once (IngestSettings); the resource only offers to change them.
    assert StoredCompletionsSource().settings(full_refresh=False) == IngestSettings()
    assert StoredCompletionsSource(concurrency=2).settings(full_refresh=True) == IngestSettings(
        concurrency=2, full_refresh=True
    )
