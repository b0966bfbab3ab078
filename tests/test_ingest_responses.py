"""Ingest of stored responses and conversations through the real SDK against the local store:
by id (OpenAI, which lists neither), through the responses list (Azure Foundry, a capturing
store), beside chat completions in one lake."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import openai
import pytest

from pipelines.datadir.paths import DataPaths
from pipelines.ingest import (
    IdsFileError,
    IngestSettings,
    SourceAccessError,
    SourceUnavailableError,
    ingest,
    read_ids,
    read_plan,
)
from pipelines.ingest.lake import read_raw_completions
from pipelines.ingest.paging import RetryPolicy
from pipelines.ingest.run import IngestRun
from pipelines.ingest.sources import open_source
from pipelines.sample import CONVERSATIONS_SAMPLE_PATH, RESPONSES_SAMPLE_PATH, SAMPLE_PATH
from tests.conftest import STORE_KEY
from tests.hostile_server import Behaviour, hostile_server
from tests.records import (
    completion_record,
    conversation_record,
    dialogue_items,
    response_record,
)
from tests.store_process import StoreProcess, store_process
from tests.test_ingest import api_json, lake_files, source_env

BASE = 1_765_000_000


def responses(count: int, *, start: int = 0) -> list[dict[str, Any]]:
    return [
        response_record(f"resp_ing_{i:04d}", created_at=BASE + 60 * i, metadata={"n": str(i)})
        for i in range(start, start + count)
    ]


def conversations() -> list[dict[str, Any]]:
    # One long enough that its items take two pages (the items list gives at most 100).
    return [
        conversation_record("conv_ing_long", dialogue_items("long", 130), created_at=BASE),
        conversation_record(
            "conv_ing_short", dialogue_items("short", 4), created_at=BASE + 5, metadata={"a": "b"}
        ),
    ]


def ids_file(path: Path, ids: list[str], *, jsonl: bool = False) -> Path:
    lines = ["# response ids the application logged"]
    lines += [json.dumps({"id": i, "metadata": {"feature": "x"}}) if jsonl else i for i in ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_ingest(env: dict[str, str], data_dir: Path, **settings: Any) -> IngestRun:
    settings.setdefault("retry", RetryPolicy(attempts=3, max_wait_s=0.2))
    with open_source(env, max_retries=1) as (client, source, requests):
        return ingest(
            client,
            source=source,
            data_dir=data_dir,
            plan=read_plan(source.kind, env),
            settings=IngestSettings(**settings),
            requests=requests,
        )


def by_id_env(store: StoreProcess, tmp_path: Path, response_ids: list[str]) -> dict[str, str]:
    return {
        **source_env(store, "openai"),
        "DISTILLERY_RESPONSE_IDS": str(ids_file(tmp_path / "responses.txt", response_ids)),
        "DISTILLERY_CONVERSATION_IDS": str(
            ids_file(
                tmp_path / "conversations.jsonl", ["conv_ing_long", "conv_ing_short"], jsonl=True
            )
        ),
    }


def item_requests(store: StoreProcess) -> dict[str, int]:
    counts = store.stats()["requests"]
    kinds = ("response_retrieve", "input_items", "conversation_retrieve", "conversation_items")
    return {kind: counts.get(kind, 0) for kind in kinds}


@pytest.fixture
def mixed_store(fresh_store: StoreProcess) -> StoreProcess:
    fresh_store.import_records(
        [completion_record(f"chatcmpl-mix-{i}", created=BASE + i) for i in range(5)]
        + responses(12)
        + conversations()
    )
    return fresh_store


def test_responses_and_conversations_by_id_land_beside_chat_completions(
    mixed_store: StoreProcess, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = by_id_env(mixed_store, tmp_path, [f"resp_ing_{i:04d}" for i in range(12)])

    run = run_ingest(env, data, page_size=5)

    lake = read_raw_completions(data)
    keys = set(zip(lake["api"], lake["id"], strict=True))
    assert keys == (
        {("chat_completions", f"chatcmpl-mix-{i}") for i in range(5)}
        | {("responses", f"resp_ing_{i:04d}") for i in range(12)}
        | {("conversations", "conv_ing_long"), ("conversations", "conv_ing_short")}
    )
    readers = run.by_reader()
    assert list(readers) == ["chat_completions_list", "responses_ids", "conversations_ids"]
    assert (readers["responses_ids"].new, readers["responses_ids"].pages) == (12, 3)
    assert readers["conversations_ids"].new == 2
    row = lake.filter(lake["id"] == "resp_ing_0007").row(0, named=True)
    assert json.loads(row["completion_json"]) == api_json(mixed_store, "/responses/resp_ing_0007")
    assert [item["id"] for item in json.loads(row["messages_json"])] == ["msg_in_resp_ing_0007"]
    assert row["created"] == BASE + 7 * 60 and row["source"] == "openai"
    long = lake.filter(lake["id"] == "conv_ing_long").row(0, named=True)
    items = json.loads(long["messages_json"])
    assert [item["content"][0]["text"] for item in items] == [f"turn {i}" for i in range(130)]
    assert json.loads(long["completion_json"])["object"] == "conversation"


def test_a_second_run_asks_for_no_known_id_and_writes_nothing(
    mixed_store: StoreProcess, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = by_id_env(mixed_store, tmp_path, [f"resp_ing_{i:04d}" for i in range(12)])
    run_ingest(env, data)
    before_requests, before_files = item_requests(mixed_store), lake_files(data)

    again = run_ingest(env, data)

    assert item_requests(mixed_store) == before_requests
    assert lake_files(data) == before_files
    assert again.total("new") == 0


def test_ids_added_to_the_file_are_the_only_ones_read(
    mixed_store: StoreProcess, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    run_ingest(by_id_env(mixed_store, tmp_path, [f"resp_ing_{i:04d}" for i in range(8)]), data)
    before = item_requests(mixed_store)

    run = run_ingest(
        by_id_env(mixed_store, tmp_path, [f"resp_ing_{i:04d}" for i in range(12)]), data
    )

    after = item_requests(mixed_store)
    assert after["response_retrieve"] - before["response_retrieve"] == 4
    assert after["input_items"] - before["input_items"] == 4
    assert run.by_reader()["responses_ids"].new == 4
    assert read_raw_completions(data).filter(api="responses").height == 12


def test_a_deleted_response_is_flagged_and_an_unknown_id_is_kept_as_missing(
    mixed_store: StoreProcess, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    ids = [f"resp_ing_{i:04d}" for i in range(12)] + ["resp_never_stored"]
    env = by_id_env(mixed_store, tmp_path, ids)
    first = run_ingest(env, data)
    client = openai.OpenAI(api_key=STORE_KEY, base_url=f"{mixed_store.url}/v1")
    client.responses.delete("resp_ing_0003")
    client.conversations.delete("conv_ing_short")

    again = run_ingest(env, data)  # incremental: the unknown id is not asked for again
    refreshed = run_ingest(env, data, full_refresh=True)

    assert first.by_reader()["responses_ids"].missing == 1
    assert again.by_reader()["responses_ids"].listed == 0
    assert refreshed.by_reader()["responses_ids"].deleted == 1
    assert refreshed.by_reader()["conversations_ids"].deleted == 1
    lake = read_raw_completions(data)
    deleted = set(lake.filter("deleted")["id"])
    assert deleted == {"resp_ing_0003", "conv_ing_short"}
    assert lake.filter(id="resp_ing_0003")["completion_json"].item()  # the row is kept
    # Kept with its reason by the first run, and again by the full refresh, which asked again.
    rejected = sorted(DataPaths(data).data_dir.glob("lake/rejected/items-*.jsonl"))
    lines = [json.loads(text) for path in rejected for text in path.read_text().splitlines()]
    assert [(line["id"], line["api"]) for line in lines] == [("resp_never_stored", "responses")] * 2
    assert all(line["reason"].startswith("not found at the source") for line in lines)


def test_a_conversation_that_went_on_is_stored_again_at_the_full_refresh(
    mixed_store: StoreProcess, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = by_id_env(mixed_store, tmp_path, ["resp_ing_0000"])
    run_ingest(env, data)
    mixed_store.import_records(
        [conversation_record("conv_ing_short", dialogue_items("short", 6), created_at=BASE + 5)]
    )

    run = run_ingest(env, data, full_refresh=True)

    assert run.by_reader()["conversations_ids"].updated == 1
    row = read_raw_completions(data).filter(id="conv_ing_short").row(0, named=True)
    assert len(json.loads(row["messages_json"])) == 6


@pytest.mark.parametrize("shape", ["openai", "azure"])
def test_the_responses_list_reads_every_response_and_only_new_ones_again(
    fresh_store: StoreProcess, tmp_path: Path, shape: str
) -> None:
    fresh_store.import_records(responses(150))
    env = {**source_env(fresh_store, shape), "DISTILLERY_RESPONSES_LIST": "on"}
    env["DISTILLERY_CHAT_COMPLETIONS"] = "off"

    first = run_ingest(env, tmp_path / "data")
    fresh_store.import_records(responses(3, start=150))
    before = item_requests(fresh_store)
    second = run_ingest(env, tmp_path / "data")

    lake = read_raw_completions(tmp_path / "data")
    assert set(lake["id"]) == {f"resp_ing_{i:04d}" for i in range(153)}
    assert set(lake["api"]) == {"responses"}
    assert first.by_reader()["responses_list"].new == 150
    assert second.by_reader()["responses_list"].new == 3
    assert item_requests(fresh_store)["input_items"] - before["input_items"] == 3


@pytest.mark.slow
def test_access_errors_stop_at_once_with_one_line(
    mixed_store: StoreProcess, tmp_path: Path
) -> None:
    ids = [f"resp_ing_{i:04d}" for i in range(12)]
    wrong_key = {**by_id_env(mixed_store, tmp_path, ids), "OPENAI_API_KEY": "sk-wrong"}
    wrong_key["DISTILLERY_CHAT_COMPLETIONS"] = "off"
    with pytest.raises(SourceAccessError) as refused:
        run_ingest(wrong_key, tmp_path / "a")
    mixed_store.set_faults(insufficient_quota=True)
    with pytest.raises(SourceAccessError) as no_quota:
        run_ingest({**wrong_key, "OPENAI_API_KEY": STORE_KEY}, tmp_path / "b")

    assert "HTTP 401" in str(refused.value) and "\n" not in str(refused.value)
    assert "sk-wrong" not in str(refused.value)
    assert "insufficient_quota" in str(no_quota.value) and "\n" not in str(no_quota.value)
    for data in (tmp_path / "a", tmp_path / "b"):
        assert not DataPaths(data).batch_files()


def test_ids_files_take_plain_ids_and_jsonl_and_refuse_the_rest(tmp_path: Path) -> None:
    mixed = tmp_path / "ids.txt"
    mixed.write_text('resp_a\n\n# a comment\n{"id": "resp_b", "metadata": {}}\nresp_a\n')
    bad = tmp_path / "bad.txt"
    bad.write_text("resp_a\nthis is a sentence\n")

    assert read_ids(mixed) == ("resp_a", "resp_b")
    with pytest.raises(IdsFileError, match=r"bad.txt:2: 'this is a sentence' is not an id"):
        read_ids(bad)
    with pytest.raises(IdsFileError, match="does not exist"):
        read_plan("openai", {"DISTILLERY_RESPONSE_IDS": str(tmp_path / "nowhere.txt")})


@pytest.mark.slow
@pytest.mark.usefixtures("no_credentials")
def test_the_bundled_sample_lands_whole_through_the_embedded_store(tmp_path: Path) -> None:
    sample = {
        api: {json.loads(line)["id"] for line in path.read_text().splitlines()}
        for api, path in (
            ("chat_completions", SAMPLE_PATH),
            ("responses", RESPONSES_SAMPLE_PATH),
            ("conversations", CONVERSATIONS_SAMPLE_PATH),
        )
    }

    run = run_ingest(dict(os.environ), tmp_path)

    lake = read_raw_completions(tmp_path)
    assert {api: set(lake.filter(api=api)["id"]) for api in sample} == sample
    assert list(run.by_reader()) == ["chat_completions_list", "responses_list", "conversations_ids"]
    assert run.total("new") == sum(len(ids) for ids in sample.values())


@pytest.mark.slow
def test_a_responses_list_never_flags_what_was_read_by_id(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    # A response the ids reader read from one endpoint is not in the list of another: the list
    # reader's full refresh must leave its deletion to the reader that stored it.
    fresh_store.import_records(responses(5))
    data = tmp_path / "data"
    with store_process(tmp_path / "other.db", api_key=STORE_KEY) as other:
        other.import_records([response_record("resp_by_id_only", created_at=BASE)])
        run_ingest(
            {
                **by_id_env(other, tmp_path, ["resp_by_id_only"]),
                "DISTILLERY_CHAT_COMPLETIONS": "off",
                "DISTILLERY_CONVERSATION_IDS": "",
            },
            data,
        )
    listed = {**source_env(fresh_store, "openai"), "DISTILLERY_RESPONSES_LIST": "on"}
    listed["DISTILLERY_CHAT_COMPLETIONS"] = "off"

    first = run_ingest(listed, data)
    again = run_ingest(listed, data, full_refresh=True)

    assert first.total("deleted") == again.total("deleted") == 0
    lake = read_raw_completions(data)
    assert lake.height == 6 and not lake["deleted"].any()


def test_a_responses_list_pointed_at_a_source_without_one_stops_in_one_line(
    tmp_path: Path,
) -> None:
    behaviour = Behaviour(no_responses_list=True)
    with hostile_server(behaviour) as url:
        env = {"DISTILLERY_SOURCE": "openai", "OPENAI_API_KEY": "sk-test-key-0000"}
        env |= {"OPENAI_BASE_URL": url, "DISTILLERY_RESPONSES_LIST": "on"}
        with pytest.raises(SourceUnavailableError) as refused:
            run_ingest({**env, "DISTILLERY_CHAT_COMPLETIONS": "off"}, tmp_path)

    message = str(refused.value)
    assert "the source has no list of stored responses (HTTP 404" in message
    assert "DISTILLERY_RESPONSE_IDS" in message and "\n" not in message
    assert not DataPaths(tmp_path).batch_files()
