"""The bundled samples of stored responses and conversations: every shape they promise, linked the
way OpenAI links them, with the planted personal data where the redaction tests expect it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pipelines.sample import CONVERSATIONS_SAMPLE_PATH, RESPONSES_SAMPLE_PATH, SAMPLE_PATH
from tests.sample_generator.planted import planted_values
from tests.sample_generator.responses import UNUSABLE_CASES

Record = dict[str, Any]


def read(path: Any) -> list[Record]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


RESPONSES = read(RESPONSES_SAMPLE_PATH)
CONVERSATIONS = read(CONVERSATIONS_SAMPLE_PATH)
BY_ID = {r["id"]: r for r in RESPONSES}


def _case(record: Record) -> str:
    return record["metadata"].get("sample_case", "")


def _texts(items: list[Record]) -> str:
    return "\n".join(
        part.get("text", "")
        for item in items
        if item["type"] == "message"
        for part in item["content"]
    )


def test_ids_are_numbered_in_creation_order_within_the_chat_samples_span() -> None:
    chat_created = [r["created"] for r in read(SAMPLE_PATH) if "created" in r]

    assert [r["id"] for r in RESPONSES] == [f"resp_sample_{n:04d}" for n in range(1, 19)]
    assert [r["id"] for r in CONVERSATIONS] == ["conv_sample_0001", "conv_sample_0002"]
    for records in (RESPONSES, CONVERSATIONS):
        created = [r["created_at"] for r in records]
        assert created == sorted(created)
        assert min(chat_created) <= min(created) and max(created) <= max(chat_created)


def test_lines_are_a_few_hundred_bytes_to_a_few_kilobytes() -> None:
    for path in (RESPONSES_SAMPLE_PATH, CONVERSATIONS_SAMPLE_PATH):
        sizes = [len(line.encode()) for line in path.read_text(encoding="utf-8").splitlines()]
        assert all(300 <= size <= 4000 for size in sizes), (path.name, sizes)


def test_every_item_has_a_unique_id_in_openai_style() -> None:
    items = [i for r in RESPONSES for i in [*r["input_items"], *r["output"]]]
    items += [i for c in CONVERSATIONS for i in c["items"]]
    prefixes = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_"}

    assert len({i["id"] for i in items}) == len(items)
    for item in items:
        assert item["id"].startswith(prefixes.get(item["type"], "rs_")), item["id"]


def test_completed_responses_follow_the_retrieve_shape() -> None:
    for record in RESPONSES:
        assert record["object"] == "response" and record["store"] is True
        assert record["text"] == {"format": {"type": "text"}}
        assert set(record["metadata"]) >= {"app", "env"}
        if record["status"] != "completed":
            continue
        usage = record["usage"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert record["error"] is None and record["incomplete_details"] is None


def test_function_call_pairs_continue_by_previous_response_id() -> None:
    pairs = [(BY_ID["resp_sample_0005"], BY_ID["resp_sample_0006"])]
    pairs.append((BY_ID["resp_sample_0007"], BY_ID["resp_sample_0008"]))

    for calling, answering in pairs:
        (call,) = calling["output"]
        (output,) = answering["input_items"]
        assert call["type"] == "function_call" and call["call_id"].startswith("call_")
        assert call["name"] in {tool["name"] for tool in calling["tools"]}
        assert all(tool["strict"] is True for tool in calling["tools"])
        assert isinstance(json.loads(call["arguments"]), dict)
        assert answering["previous_response_id"] == calling["id"]
        assert (output["type"], output["call_id"]) == ("function_call_output", call["call_id"])
        assert [item["type"] for item in answering["output"]] == ["message"]
        # Continuing a response is billed for its whole context.
        assert answering["usage"]["input_tokens"] > calling["usage"]["total_tokens"]
    assert pairs[0][0]["tools"] != pairs[1][0]["tools"]


def test_a_chain_of_three_sends_only_each_new_user_message() -> None:
    chain = [BY_ID[f"resp_sample_{n:04d}"] for n in (9, 10, 11)]

    assert [r["previous_response_id"] for r in chain] == [
        None,
        "resp_sample_0009",
        "resp_sample_0010",
    ]
    for record in chain:
        (item,) = record["input_items"]
        assert (item["type"], item["role"]) == ("message", "user")
        assert [item["type"] for item in record["output"]] == ["message"]


def test_reasoning_image_and_client_managed_history() -> None:
    reasoning, image, history = (BY_ID[f"resp_sample_{n:04d}"] for n in (12, 13, 14))

    assert [item["type"] for item in reasoning["output"]] == ["reasoning", "message"]
    assert reasoning["output"][0]["summary"][0]["type"] == "summary_text"
    assert reasoning["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
    assert [part["type"] for part in image["input_items"][0]["content"]] == [
        "input_text",
        "input_image",
    ]
    assert [item["role"] for item in history["input_items"]] == [
        "developer",
        "user",
        "assistant",
        "user",
    ]
    assert history["input_items"][2]["content"][0]["type"] == "output_text"


def test_each_unusable_shape_is_present_once_and_broken_as_marked() -> None:
    cases = {_case(r): r for r in RESPONSES if _case(r)}

    assert Counter(_case(r) for r in RESPONSES if _case(r)) == Counter(
        f"unusable_{case}" for case in UNUSABLE_CASES
    )
    incomplete = cases["unusable_incomplete"]
    assert incomplete["status"] == "incomplete"
    assert incomplete["incomplete_details"] == {"reason": "max_output_tokens"}
    assert incomplete["usage"]["output_tokens"] == incomplete["max_output_tokens"]
    failed = cases["unusable_failed"]
    assert (failed["status"], failed["output"], failed["error"]["code"]) == (
        "failed",
        [],
        "server_error",
    )
    only_reasoning = cases["unusable_reasoning_only"]
    assert only_reasoning["status"] == "completed"
    assert [item["type"] for item in only_reasoning["output"]] == ["reasoning"]
    orphan = cases["unusable_orphan_call_output"]
    assert orphan["previous_response_id"] is None
    assert [item["type"] for item in orphan["input_items"]] == ["function_call_output"]
    called = {i.get("call_id") for r in RESPONSES for i in r["output"]}
    assert orphan["input_items"][0]["call_id"] not in called


def test_conversations_hold_a_plain_dialogue_and_a_tool_round_trip() -> None:
    plain, tools = CONVERSATIONS

    assert [(i["type"], i.get("role")) for i in plain["items"]] == [
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
    ]
    assert [i["type"] for i in tools["items"]] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert tools["items"][1]["call_id"] == tools["items"][2]["call_id"]
    assert all(c["metadata"] and c["object"] == "conversation" for c in CONVERSATIONS)
    assert all(item["status"] == "completed" for c in CONVERSATIONS for item in c["items"])


def test_planted_values_are_in_the_new_samples_user_texts() -> None:
    planted = planted_values()
    responses_text = _texts([i for r in RESPONSES for i in r["input_items"]])
    conversations_text = _texts([i for c in CONVERSATIONS for i in c["items"]])

    assert [e for e in planted["email"] if e in responses_text]
    assert [k for k in planted["secret"] if k.startswith("sk-proj-") and k in responses_text]
    assert [p for p in planted["phone"] if p in conversations_text]
