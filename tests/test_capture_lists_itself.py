"""A capturing store says what it is, and ingest lists its stored responses by itself: README's
capture quick-start (no `DISTILLERY_RESPONSES_LIST`) reads captured responses, through the real
SDK against a `distillery store serve --upstream` subprocess; an explicit `off` still wins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from pipelines.ingest.lake import read_raw_completions
from pipelines.source_kind import STORE_HEADER
from tests.capture_support import READ_KEY, capturing_store, sdk, settled
from tests.fake_upstream import FakeUpstream, running_upstream
from tests.store_process import StoreProcess
from tests.test_ingest import source_env
from tests.test_ingest_responses import run_ingest


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_upstream(FakeUpstream(required_key="sk-upstream-fake-0123456789abcdef")) as up:
        yield up


@pytest.fixture(scope="module")
def captured(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[tuple[StoreProcess, set[str], set[str]]]:
    """A capturing store holding one chat completion and two responses an app made through it:
    the store, the chat completion's id, the responses' ids."""
    db_path = tmp_path_factory.mktemp("capture") / "store.db"
    with capturing_store(db_path, f"{upstream.url}/v1") as proxy:
        app = sdk(proxy)
        question = [{"role": "user", "content": "hello"}]
        chat = app.chat.completions.create(model="m", messages=question, store=True)
        responses = {app.responses.create(model="m", input=f"hi {i}").id for i in range(2)}
        settled(proxy)
        yield proxy, {chat.id}, responses


@pytest.mark.slow
def test_captured_responses_are_read_without_being_asked_for(
    captured: tuple[StoreProcess, set[str], set[str]], tmp_path: Path
) -> None:
    proxy, chats, responses = captured
    env = source_env(proxy, "openai", key=READ_KEY)  # README's quick-start: no switch
    assert "DISTILLERY_RESPONSES_LIST" not in env

    run = run_ingest(env, tmp_path / "data")

    assert list(run.by_reader()) == ["chat_completions_list", "responses_list"]
    assert run.by_reader()["responses_list"].new == len(responses) == 2
    lake = read_raw_completions(tmp_path / "data")
    assert set(lake.filter(api="responses")["id"]) == responses
    assert set(lake.filter(api="chat_completions")["id"]) == chats


@pytest.mark.slow
def test_an_explicit_off_still_reads_no_responses(
    captured: tuple[StoreProcess, set[str], set[str]], tmp_path: Path
) -> None:
    proxy, chats, _responses = captured
    env = {**source_env(proxy, "openai", key=READ_KEY), "DISTILLERY_RESPONSES_LIST": "off"}

    run = run_ingest(env, tmp_path / "data")

    assert list(run.by_reader()) == ["chat_completions_list"]
    assert set(read_raw_completions(tmp_path / "data")["id"]) == chats


@pytest.mark.slow
def test_every_answer_of_the_store_names_it_refusals_included(
    captured: tuple[StoreProcess, set[str], set[str]], fresh_store: StoreProcess
) -> None:
    proxy, _chats, _responses = captured
    read = {"Authorization": f"Bearer {READ_KEY}"}
    answers = [
        httpx2.get(f"{proxy.url}/v1/chat/completions", headers=read),
        httpx2.get(f"{proxy.url}/v1/responses", headers={**read, "Host": "elsewhere.example"}),
        httpx2.get(f"{proxy.url}/distillery/health", headers=read),
    ]
    assert [a.status_code >= 400 for a in answers] == [False, True, False]
    assert {a.headers[STORE_HEADER] for a in answers} == {"capture"}
    # A store serving imports is not a capturing one: ingest leaves its list alone unless asked.
    assert httpx2.get(f"{fresh_store.url}/v1/chat/completions").headers[STORE_HEADER] == "local"
