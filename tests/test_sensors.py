"""Schedules and the build-after-ingest sensor, evaluated against real materializations."""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster as dg
import pytest

import assets.definitions
from assets.ingestion import raw_completions
from assets.resources import DataDirectory, StoredCompletionsSource
from tests.store_process import StoreProcess
from tests.test_ingest import make_records, source_env


def ingest_into(instance: dg.DagsterInstance, data_dir: Path) -> None:
    result = dg.materialize(
        [raw_completions],
        instance=instance,
        resources={
            "data_dir": DataDirectory(path=str(data_dir)),
            "source": StoredCompletionsSource(),
        },
    )
    assert result.success


@pytest.mark.slow
def test_the_sensor_requests_a_build_only_after_an_ingest_that_changed_something(
    fresh_store: StoreProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in source_env(fresh_store, "openai").items():
        monkeypatch.setenv(name, value)
    fresh_store.import_records(make_records(30))
    sensor = assets.definitions.build_after_new_completions_sensor
    with dg.instance_for_test() as instance:
        ingest_into(instance, tmp_path)
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        (request,) = first.run_requests
        assert request.tags["completions_new"] == "30"
        assert first.cursor

        ingest_into(instance, tmp_path)  # nothing new
        second = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, cursor=first.cursor)
        )
        assert second.run_requests == []
        assert "no new, updated or deleted" in second.skip_message

    job = assets.definitions.defs.resolve_job_def("build_datasets_from_lake_job")
    assert dg.AssetKey("raw_completions") not in job.asset_layer.executable_asset_keys
    assert dg.AssetKey("dataset_default") in job.asset_layer.executable_asset_keys


@pytest.mark.parametrize(
    ("env", "status"),
    [
        ({}, dg.DefaultScheduleStatus.STOPPED),
        ({"OPENAI_API_KEY": "sk-x"}, dg.DefaultScheduleStatus.RUNNING),
    ],
)
def test_schedules_and_sensor_are_on_by_default_only_with_a_real_source(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], status: dg.DefaultScheduleStatus
) -> None:
    for name in ("DISTILLERY_SOURCE", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    definitions = importlib.reload(assets.definitions)

    assert definitions.daily_ingest_schedule.default_status == status
    assert definitions.daily_build_datasets_schedule.default_status == status
    assert definitions.build_after_new_completions_sensor.default_status.value == status.value
    monkeypatch.undo()
    importlib.reload(assets.definitions)  # back to the environment the other tests see
