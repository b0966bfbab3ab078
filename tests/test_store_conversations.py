"""Stored responses and conversations imported from the bundled samples, then read back with the
real `openai` SDK over real HTTP: retrieve, input items and conversation items page by page in
both orders, unknown ids and cursors, delete, and the store's guards in front of them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from pipelines.sample import CONVERSATIONS_SAMPLE_PATH, RESPONSES_SAMPLE_PATH, SAMPLE_PATHS
from tests.capture_support import READ_KEY, capturing_store
from tests.capture_support import sdk as capture_sdk
from tests.conftest import AZURE_API_VERSION
from tests.fake_upstream import running_upstream
from tests.records import conversation_record, dialogue_items, response_record
from tests.store_process import StoreProcess, distillery_command, store_process


def sample_lines(path: Path) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for record in map(json.loads, path.read_text().splitlines())}


RESPONSES = sample_lines(RESPONSES_SAMPLE_PATH)
CONVERSATIONS = sample_lines(CONVERSATIONS_SAMPLE_PATH)


def run_import(source: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*distillery_command(), "store", "import", str(source), "--db", str(db), *args]
    return subprocess.run(command, capture_output=True, text=True)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The three samples in one mixed file, imported twice by the CLI: (db, both reports)."""
    directory = tmp_path_factory.mktemp("samples")
    mixed = directory / "mixed.jsonl"
    mixed.write_text("".join(path.read_text(encoding="utf-8") for path in SAMPLE_PATHS), "utf-8")
    db = directory / "store.db"
    runs = [run_import(mixed, db), run_import(mixed, db)]
    assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
    return db, [run.stdout for run in runs]


@pytest.fixture(scope="module")
def store(imported: tuple[Path, list[str]]) -> Iterator[StoreProcess]:
    with store_process(imported[0]) as process:
        yield process


@pytest.fixture(params=["openai", "azure-v1", "azure"])
def client(request: pytest.FixtureRequest, store: StoreProcess) -> openai.OpenAI:
    """The SDK on each root the routes are mounted under: `/v1`, `/openai/v1`, `/openai`."""
    if request.param == "azure":
        return openai.AzureOpenAI(
            azure_endpoint=store.url, api_key="k", api_version=AZURE_API_VERSION, max_retries=0
        )
    root = "/v1" if request.param == "openai" else "/openai/v1"
    return openai.OpenAI(base_url=store.url + root, api_key="k", max_retries=0)


def sdk(store: StoreProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{store.url}/v1", api_key="k", max_retries=0)


def without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


# -- import ------------------------------------------------------------------------------------


def test_the_cli_imports_a_mixed_file_and_counts_each_kind(
    imported: tuple[Path, list[str]],
) -> None:
    first, again = imported[1]

    assert (
        "imported 335 records" in first and "(335 new, 0 replaced, 0 skipped; 335 stored)" in first
    )
    assert "  chat completions: 315 new, 0 replaced; 315 stored\n" in first
    assert "  responses: 18 new, 0 replaced; 18 stored\n" in first
    assert "  conversations: 2 new, 0 replaced; 2 stored\n" in first
    assert "(0 new, 335 replaced, 0 skipped; 335 stored)" in again
    assert "  responses: 0 new, 18 replaced; 18 stored\n" in again
    assert "  conversations: 0 new, 2 replaced; 2 stored\n" in again


def test_the_admin_import_refuses_an_invalid_conversation_and_keeps_nothing(
    store: StoreProcess,
) -> None:
    good = conversation_record("conv_never", dialogue_items("never", 2))
    bad = {**conversation_record("conv_bad", []), "items": {"id": "msg_1"}}
    body = json.dumps(good) + "\n" + json.dumps(bad)

    answer = httpx2.post(
        f"{store.url}/_admin/import",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )

    assert answer.status_code == 400
    assert "line 2: `items` must be a list of JSON objects" in answer.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError):
        sdk(store).conversations.retrieve("conv_never")


def test_items_without_ids_get_the_same_ids_on_every_import(store: StoreProcess) -> None:
    easy = [
        {"role": "user", "content": "Hi there"},
        {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
    ]
    record = response_record("resp_easy_items", input_items=easy)
    client = sdk(store)

    store.import_records([record])
    first = [
        item.model_dump(exclude_unset=True)
        for item in client.responses.input_items.list(record["id"])
    ]
    report = store.import_records([record])
    second = [
        item.model_dump(exclude_unset=True)
        for item in client.responses.input_items.list(record["id"])
    ]

    assert report["kinds"]["responses"] == {"inserted": 0, "replaced": 1}
    assert first == second
    output, message = first  # newest first
    assert message["id"].startswith("msg_") and output["id"].startswith("item_")
    assert message["type"] == "message"
    assert message["content"] == [{"type": "input_text", "text": "Hi there"}]


def test_the_chat_route_refuses_to_store_a_response(store: StoreProcess) -> None:
    posted = httpx2.post(f"{store.url}/v1/chat/completions", json=response_record("resp_posted"))

    assert posted.status_code == 400
    assert posted.json()["error"]["code"] == "invalid_record"
    with pytest.raises(openai.NotFoundError):
        sdk(store).responses.retrieve("resp_posted")


# -- responses ---------------------------------------------------------------------------------


def test_each_sample_response_is_served_as_imported(store: StoreProcess) -> None:
    client = sdk(store)
    for response_id, line in RESPONSES.items():
        served = client.responses.with_raw_response.retrieve(response_id).http_response.json()
        assert served == without(line, "input_items"), response_id


def test_the_sdk_reads_the_sample_responses_fields(client: openai.OpenAI) -> None:
    chain = [client.responses.retrieve(f"resp_sample_{n:04d}") for n in (9, 10, 11)]
    call = client.responses.retrieve("resp_sample_0005")
    answer = client.responses.retrieve("resp_sample_0006")
    reasoning = client.responses.retrieve("resp_sample_0012")

    assert [r.previous_response_id for r in chain] == [None, "resp_sample_0009", "resp_sample_0010"]
    assert chain[2].output_text == RESPONSES["resp_sample_0011"]["output"][0]["content"][0]["text"]
    assert [(item.type, item.name) for item in call.output] == [("function_call", "get_weather")]
    assert json.loads(call.output[0].arguments) == {"city": "Paris", "unit": "celsius"}
    assert answer.previous_response_id == call.id
    assert "13 °C" in answer.output_text
    assert [item.type for item in reasoning.output] == ["reasoning", "message"]
    assert reasoning.usage.output_tokens_details.reasoning_tokens == 384


def test_input_items_page_in_input_order(client: openai.OpenAI) -> None:
    history = "resp_sample_0014"
    first = client.responses.input_items.list(history, order="asc", limit=3)
    second = first.get_next_page()
    newest_first = client.responses.input_items.list(history)

    assert [item.id for item in first.data] == [f"msg_sample_0014_0{n}" for n in (1, 2, 3)]
    assert first.has_more is True
    assert [item.id for item in second.data] == ["msg_sample_0014_04"]
    assert second.has_more is False
    assert [item.role for item in [*first.data, *second.data]] == [
        "developer",
        "user",
        "assistant",
        "user",
    ]
    assert second.data[0].content[0].text == "Make it less formal and add one emoji."
    assert [item.id for item in newest_first] == [f"msg_sample_0014_0{n}" for n in (4, 3, 2, 1)]


def test_a_continuing_response_lists_only_its_own_input(client: openai.OpenAI) -> None:
    (output,) = client.responses.input_items.list("resp_sample_0006")
    (call,) = client.responses.retrieve("resp_sample_0005").output

    assert output.type == "function_call_output" and output.id == "fco_sample_0006_01"
    assert output.call_id == call.call_id
    assert json.loads(output.output)["conditions"] == "light rain"


def test_an_image_input_keeps_both_parts(client: openai.OpenAI) -> None:
    (item,) = client.responses.input_items.list("resp_sample_0013")

    assert [part.type for part in item.content] == ["input_text", "input_image"]
    assert item.content[1].image_url.startswith("https://images.example.com/")


# -- conversations -----------------------------------------------------------------------------


def test_a_conversation_is_served_without_its_items(client: openai.OpenAI) -> None:
    conversation = client.conversations.retrieve("conv_sample_0002")

    assert conversation.id == "conv_sample_0002"
    assert conversation.object == "conversation"
    assert conversation.created_at == CONVERSATIONS["conv_sample_0002"]["created_at"]
    assert conversation.metadata == {"app": "shop-assistant", "env": "prod", "channel": "web_chat"}
    raw = client.conversations.with_raw_response.retrieve("conv_sample_0002").http_response.json()
    assert raw == without(CONVERSATIONS["conv_sample_0002"], "items")


def test_conversation_items_in_both_orders_page_by_after(client: openai.OpenAI) -> None:
    tool_round = "conv_sample_0002"
    newest = client.conversations.items.list(tool_round, limit=2)
    older = client.conversations.items.list(tool_round, limit=2, after=newest.last_id)
    oldest_first = list(client.conversations.items.list(tool_round, order="asc", limit=1))

    assert [item.id for item in newest.data] == ["msg_conv_0002_04", "fco_conv_0002_03"]
    assert (newest.first_id, newest.last_id, newest.has_more) == (
        "msg_conv_0002_04",
        "fco_conv_0002_03",
        True,
    )
    assert [item.id for item in older.data] == ["fc_conv_0002_02", "msg_conv_0002_01"]
    assert older.has_more is False
    assert [item.type for item in oldest_first] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    question, call, output, answer = oldest_first
    assert "77120-DE" in question.content[0].text and question.role == "user"
    assert call.name == "get_order_status"
    assert json.loads(call.arguments) == {"order_id": "77120-DE"}
    assert output.call_id == call.call_id
    assert json.loads(output.output)["carrier"] == "DHL"
    assert answer.role == "assistant" and "DHL" in answer.content[0].text


def test_a_plain_conversation_alternates_user_and_assistant(client: openai.OpenAI) -> None:
    items = list(client.conversations.items.list("conv_sample_0001", order="asc"))

    assert [item.id for item in items] == [f"msg_conv_0001_0{n}" for n in (1, 2, 3, 4)]
    assert [item.role for item in items] == ["user", "assistant", "user", "assistant"]
    assert [item.content[0].type for item in items] == ["input_text", "output_text"] * 2
    assert "A conta, por favor" in items[3].content[0].text


def test_unknown_conversations_and_cursors_are_404(client: openai.OpenAI) -> None:
    calls = [
        lambda: client.conversations.retrieve("conv_nowhere"),
        lambda: client.conversations.items.list("conv_nowhere"),
        lambda: client.conversations.delete("conv_nowhere"),
        lambda: client.conversations.items.list("conv_sample_0001", after="msg_nowhere"),
        lambda: client.responses.input_items.list("resp_sample_0014", after="msg_nowhere"),
    ]
    errors = []
    for call in calls:
        with pytest.raises(openai.NotFoundError) as caught:
            call()
        errors.append(caught.value)

    assert all(error.code == "not_found" for error in errors)
    assert "conv_nowhere" in errors[0].message
    assert [error.param for error in errors[3:]] == ["after", "after"]


def test_limit_and_order_are_checked(store: StoreProcess) -> None:
    url = f"{store.url}/v1/conversations/conv_sample_0001/items"

    assert httpx2.get(url, params={"limit": 0}).status_code == 400
    assert httpx2.get(url, params={"limit": 101}).status_code == 400
    assert httpx2.get(url, params={"order": "newest"}).json()["error"]["param"] == "order"
    assert len(httpx2.get(url, params={"limit": 100, "include[]": "x"}).json()["data"]) == 4


def test_delete_removes_a_conversation_and_its_items(store: StoreProcess) -> None:
    store.import_records([conversation_record("conv_doomed", dialogue_items("doomed", 3))])
    client = sdk(store)

    deleted = client.conversations.delete("conv_doomed")

    assert (deleted.id, deleted.object, deleted.deleted) == (
        "conv_doomed",
        "conversation.deleted",
        True,
    )
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve("conv_doomed")
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list("conv_doomed")
    assert client.conversations.retrieve("conv_sample_0001").id == "conv_sample_0001"


# -- guards ------------------------------------------------------------------------------------


def test_a_web_page_can_neither_delete_nor_read_a_conversation(store: StoreProcess) -> None:
    url = f"{store.url}/v1/conversations/conv_sample_0001"
    foreign = {"Origin": "https://evil.example"}

    delete = httpx2.delete(url, headers=foreign)
    delete_with_a_body = httpx2.request(
        "DELETE", url, content=b"x", headers={"Content-Type": "text/plain"}
    )
    read = httpx2.get(f"{url}/items", headers={"Sec-Fetch-Site": "cross-site"})
    rebound = httpx2.get(url, headers={"Host": "evil.example"})

    assert [r.status_code for r in (delete, delete_with_a_body, read, rebound)] == [
        403,
        403,
        403,
        421,
    ]
    assert sdk(store).conversations.retrieve("conv_sample_0001").id == "conv_sample_0001"


# -- capture -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_capturing_store_serves_its_conversations_and_forwards_the_rest(tmp_path: Path) -> None:
    forward = ["--forward", "conversations"]
    with (
        running_upstream() as upstream,
        capturing_store(tmp_path / "store.db", f"{upstream.url}/v1", extra_args=forward) as proxy,
    ):
        proxy.import_records([conversation_record("conv_held", dialogue_items("held", 2))])
        client = capture_sdk(proxy)
        # Imported, so no app's: the read key reads it.
        reader = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=READ_KEY, max_retries=0)

        held = [item.id for item in reader.conversations.items.list("conv_held", order="asc")]
        with pytest.raises(openai.NotFoundError):
            client.conversations.retrieve("conv_elsewhere")
        with pytest.raises(openai.NotFoundError):
            client.conversations.create(metadata={"topic": "x"})

    assert held == ["msg_held_0000", "msg_held_0001"]
    assert [(r.method, r.path) for r in upstream.seen("/conversations")] == [
        ("GET", "/v1/conversations/conv_elsewhere"),
        ("POST", "/v1/conversations"),
    ]
