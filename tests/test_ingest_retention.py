"""What a full refresh makes of an object gone from the source: deleted if it went before the
source's retention ran out, expired (kept as it was, the archive being the point) if after, and
nothing at all if it came from another store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2
import polars as pl
import pytest

from pipelines.datadir.paths import DataPaths
from pipelines.ingest import LakeWriteError, SourceConfigError, open_source
from pipelines.ingest.lake import read_raw_completions
from tests.conftest import STORE_KEY
from tests.records import completion_record, response_record
from tests.store_process import StoreProcess, store_process
from tests.test_ingest import ingest, source_env
from tests.test_ingest_responses import by_id_env, run_ingest
from tests.test_ingest_responses_resume import fail_on_call

DAY = 86_400


def test_a_completion_gone_after_the_retention_expired_and_one_gone_before_was_deleted(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    now = int(time.time())
    fresh_store.import_records(
        [completion_record(f"chatcmpl-old-{i}", created=now - 60 * DAY) for i in range(3)]
        + [completion_record(f"chatcmpl-new-{i}", created=now - DAY) for i in range(3)]
    )
    env = {**source_env(fresh_store, "openai"), "DISTILLERY_SOURCE_RETENTION_DAYS": "30"}
    ingest(env, tmp_path)
    for gone in ("chatcmpl-old-1", "chatcmpl-new-1"):
        httpx2.delete(
            f"{fresh_store.url}/v1/chat/completions/{gone}",
            headers={"Authorization": f"Bearer {STORE_KEY}"},
        ).raise_for_status()

    report = ingest(env, tmp_path, full_refresh=True)

    assert (report.deleted, report.expired) == (1, 1)
    assert "1 expired" in report.summary()
    lake = read_raw_completions(tmp_path)
    assert set(lake.filter("deleted")["id"]) == {"chatcmpl-new-1"}
    assert lake.height == 6  # the expired one stays, as it was


def test_a_response_gone_after_the_retention_expired(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    now = int(time.time())
    fresh_store.import_records(
        [
            response_record("resp_old", created_at=now - 45 * DAY),
            response_record("resp_new", created_at=now - DAY),
        ]
    )
    env = {
        **by_id_env(fresh_store, tmp_path, ["resp_old", "resp_new"]),
        "DISTILLERY_CHAT_COMPLETIONS": "off",
        "DISTILLERY_CONVERSATION_IDS": "",
        "DISTILLERY_SOURCE_RETENTION_DAYS": "30",
    }
    run_ingest(env, tmp_path / "data")
    for gone in ("resp_old", "resp_new"):
        httpx2.delete(
            f"{fresh_store.url}/v1/responses/{gone}",
            headers={"Authorization": f"Bearer {STORE_KEY}"},
        ).raise_for_status()

    run = run_ingest(env, tmp_path / "data", full_refresh=True)

    report = run.by_reader()["responses_ids"]
    assert (report.deleted, report.expired) == (1, 1)
    lake = read_raw_completions(tmp_path / "data")
    assert dict(zip(lake["id"], lake["deleted"], strict=True)) == {
        "resp_new": True,
        "resp_old": False,
    }


def test_openai_and_azure_keep_30_days_and_a_store_of_ones_own_for_ever() -> None:
    def retention(env: dict[str, str]) -> float | None:
        with open_source(env) as (_, info, _):
            return info.retention_days

    assert retention({"OPENAI_API_KEY": "sk-x"}) == 30
    assert (
        retention(
            {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com", "AZURE_OPENAI_API_KEY": "k"}
        )
        == 30
    )
    assert (
        retention({"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://127.0.0.1:8787/v1"}) is None
    )
    assert retention({"OPENAI_API_KEY": "sk-x", "DISTILLERY_SOURCE_RETENTION_DAYS": "none"}) is None
    with pytest.raises(SourceConfigError, match="DISTILLERY_SOURCE_RETENTION_DAYS='-3'"):
        retention({"OPENAI_API_KEY": "sk-x", "DISTILLERY_SOURCE_RETENTION_DAYS": "-3"})


def test_a_second_store_over_the_same_data_directory_is_read_whole_and_flags_none_of_the_first(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    # The way distillery is meant to be adopted: read OpenAI's store, then the capturing store
    # that replaces it, into one lake.
    now = int(time.time())
    data = tmp_path / "data"
    fresh_store.import_records(
        [completion_record(f"chatcmpl-first-{i}", created=now - 3600 * i) for i in range(5)]
    )
    ingest(source_env(fresh_store, "openai"), data)
    with store_process(tmp_path / "second.db", api_key=STORE_KEY) as second:
        # Older than anything the first store had: an incremental run would stop before them.
        second.import_records(
            [completion_record(f"chatcmpl-second-{i}", created=now - 5 * DAY - i) for i in range(3)]
        )
        switched = ingest(source_env(second, "openai"), data)
        refreshed = ingest(source_env(second, "openai"), data, full_refresh=True)

    assert (switched.mode, switched.new) == ("full", 3)
    assert refreshed.deleted == 0
    lake = read_raw_completions(data)
    assert lake.height == 8 and not lake["deleted"].any()
    assert set(lake["source_endpoint"]) == {
        fresh_store.url.removeprefix("http://"),
        second.url.removeprefix("http://"),
    }


def strip_source_endpoints(data: Path) -> None:
    """Make the lake and its state look written by a distillery from before `source_endpoint`."""
    paths = DataPaths(data)
    for batch in paths.batch_files():
        pl.read_parquet(batch).drop("source_endpoint").write_parquet(batch)
    state = json.loads(paths.ingest_state.read_text())
    state.pop("legacy_store", None)
    paths.ingest_state.write_text(json.dumps(state))


def test_rows_from_before_the_store_column_stay_the_first_stores_after_a_switch(
    fresh_store: StoreProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.ingest.reader as reader

    now, data = int(time.time()), tmp_path / "data"
    fresh_store.import_records(
        [completion_record(f"chatcmpl-first-{i}", created=now - 3600 * i) for i in range(5)]
    )
    ingest(source_env(fresh_store, "openai"), data)
    strip_source_endpoints(data)
    with store_process(tmp_path / "second.db", api_key=STORE_KEY) as second:
        second.import_records(
            [completion_record(f"chatcmpl-second-{i}", created=now - 60 * i) for i in range(5)]
        )
        env = source_env(second, "openai")
        # The first run against the new store is killed after its first checkpoint...
        monkeypatch.setattr(reader, "write_state", fail_on_call(2, reader.write_state))
        with pytest.raises(LakeWriteError):
            ingest(env, data, page_size=2)
        monkeypatch.undo()
        resumed = ingest(env, data, page_size=2)  # ...and resumed against it
        refreshes = [ingest(env, data, full_refresh=True) for _ in range(2)]

    assert resumed.resumed and resumed.mode == "full"
    assert [r.deleted for r in refreshes] == [0, 0]
    lake = read_raw_completions(data)
    assert lake.height == 10 and not lake["deleted"].any()


def test_openai_in_any_region_and_port_spelling_keeps_30_days() -> None:
    for base_url in ("https://us.api.openai.com/v1", "https://api.openai.com:443/v1"):
        with open_source({"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": base_url}) as (_, info, _):
            assert info.retention_days == 30, base_url
