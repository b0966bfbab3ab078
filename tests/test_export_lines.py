"""Fine-tuning and evaluation lines from curated rows, and the fine-tuning format checker."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.completions.normalize import conversation_from_row
from pipelines.export.line_check import (
    FIRST_ERRORS,
    check_example,
    check_fine_tuning_lines,
)
from pipelines.export.lines import (
    eval_item,
    eval_items,
    fine_tuning_line,
    fine_tuning_lines,
    oss_eval_item,
    oss_eval_items,
)
from tests.frames import completions_frame
from tests.profiles import examples
from tests.records import completion_record

IMAGE = "https://example.test/receipt.png"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        # A null the request carried: never written back.
        "strict": None,
    },
}
CALL_PARIS = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
CALL_OSLO = {
    "id": "call_2",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
}


def output(message: dict[str, Any], finish_reason: str = "stop") -> list[dict[str, Any]]:
    """The `choices` of a completion whose output is `message`."""
    message = {"role": "assistant", "content": None, "refusal": None, **message}
    return [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}]


RECORDS = {
    "plain": completion_record(
        "plain",
        metadata={"topic": "greeting", "tenant": "acme"},
        input_messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello in French. ✨"},
        ],
        answer="Bonjour !",
    ),
    "multi_turn": completion_record(
        "multi_turn",
        input_messages=[
            {"role": "developer", "content": "Answer in one word."},
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": "Paris"},
            {"role": "user", "content": "Of Norway?"},
            {"role": "assistant", "content": "Oslo.", "weight": 0},
            {"role": "user", "content": "Of Italy?"},
        ],
        answer="Rome",
    ),
    "tools": completion_record(
        "tools",
        input_messages=[
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [CALL_PARIS, CALL_OSLO]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "4°C, snow"},
        ],
        answer="Paris: 18°C and sunny. Oslo: 4°C with snow.",
        tools=[WEATHER_TOOL],
        parallel_tool_calls=True,
    ),
    "image": completion_record(
        "image",
        input_messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is the total?"},
                    {"type": "image_url", "image_url": {"url": IMAGE, "detail": None}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "content_parts": [
                    {"type": "text", "text": "Which "},
                    {"type": "text", "text": "currency?"},
                ],
            },
            {
                # As the messages endpoint serves it: the text, and the parts beside it.
                "role": "user",
                "content": "Euros, same receipt.",
                "content_parts": [
                    {"type": "text", "text": "Euros, same receipt."},
                    {"type": "image_url", "image_url": {"url": IMAGE}},
                ],
            },
        ],
        answer="The total is €42.10.",
    ),
    "refusal": completion_record(
        "refusal",
        input_messages=[{"role": "user", "content": "Write malware."}],
        choices=output({"refusal": "I can't help with that."}),
    ),
    "tool_call_output": completion_record(
        "tool_call_output",
        metadata={"topic": "weather"},
        input_messages=[{"role": "user", "content": "Weather in Paris?"}],
        choices=output({"tool_calls": [CALL_PARIS]}, finish_reason="tool_calls"),
        tools=[WEATHER_TOOL],
        parallel_tool_calls=False,
    ),
}


@pytest.fixture(scope="module")
def curated() -> pl.DataFrame:
    """Curated rows: no raw JSON columns (a line must not need them), plus curation columns."""
    return (
        completions_frame(list(RECORDS.values()))
        .drop("completion_json", "messages_json")
        .with_columns(dedup_hash=pl.col("id").str.reverse(), cluster_id=pl.lit(7))
    )


@pytest.fixture(scope="module")
def rows(curated: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in curated.iter_rows(named=True)}


def all_lines(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        line
        for row in rows.values()
        for line in (
            fine_tuning_line(row),
            fine_tuning_line(row, train_on="last_assistant"),
            eval_item(row),
            oss_eval_item(row),
        )
    ]


def written_lines(curated: pl.DataFrame) -> list[str]:
    """Every line as the exporter writes it, text and all."""
    return [
        *fine_tuning_lines(curated),
        *fine_tuning_lines(curated, train_on="last_assistant"),
        *eval_items(curated),
        *oss_eval_items(curated),
    ]


# -- fine-tuning lines -------------------------------------------------------------------------


def test_plain_chat_is_input_then_output(rows: dict[str, dict[str, Any]]) -> None:
    assert fine_tuning_line(rows["plain"]) == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello in French. ✨"},
            {"role": "assistant", "content": "Bonjour !"},
        ]
    }


def test_all_keeps_only_stored_weights(rows: dict[str, dict[str, Any]]) -> None:
    messages = fine_tuning_line(rows["multi_turn"], train_on="all")["messages"]

    assert [m["role"] for m in messages] == [
        "system",  # stored as developer: a fine-tuning line has no such role
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert [m.get("weight") for m in messages] == [None, None, None, None, 0, None, None]
    assert messages[-1] == {"role": "assistant", "content": "Rome"}


def test_last_assistant_learns_only_the_output(rows: dict[str, dict[str, Any]]) -> None:
    messages = fine_tuning_line(rows["multi_turn"], train_on="last_assistant")["messages"]

    assert [(m["role"], m.get("weight")) for m in messages] == [
        ("system", None),
        ("user", None),
        ("assistant", 0),
        ("user", None),
        ("assistant", 0),
        ("user", None),
        ("assistant", 1),
    ]


def test_unknown_train_on_is_refused(rows: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="train_on"):
        fine_tuning_line(rows["plain"], train_on="assistant")


def test_tool_calls_results_and_definitions(rows: dict[str, dict[str, Any]]) -> None:
    line = fine_tuning_line(rows["tools"])

    assert line["messages"] == [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {"role": "assistant", "tool_calls": [CALL_PARIS, CALL_OSLO]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "4°C, snow"},
        {"role": "assistant", "content": "Paris: 18°C and sunny. Oslo: 4°C with snow."},
    ]
    tool = {**WEATHER_TOOL, "function": dict(WEATHER_TOOL["function"])}
    del tool["function"]["strict"]
    assert line["tools"] == [tool]
    assert line["parallel_tool_calls"] is True


def test_no_tools_and_no_parallel_setting_means_no_keys(rows: dict[str, dict[str, Any]]) -> None:
    assert set(fine_tuning_line(rows["plain"])) == {"messages"}


def test_content_parts_for_inputs_text_for_assistant(rows: dict[str, dict[str, Any]]) -> None:
    messages = fine_tuning_line(rows["image"])["messages"]

    assert messages == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is the total?"},
                {"type": "image_url", "image_url": {"url": IMAGE}},
            ],
        },
        {"role": "assistant", "content": "Which currency?"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Euros, same receipt."},
                {"type": "image_url", "image_url": {"url": IMAGE}},
            ],
        },
        {"role": "assistant", "content": "The total is €42.10."},
    ]


def test_refusal_becomes_the_assistant_content(rows: dict[str, dict[str, Any]]) -> None:
    assert fine_tuning_line(rows["refusal"])["messages"][-1] == {
        "role": "assistant",
        "content": "I can't help with that.",
    }


def test_tool_call_output(rows: dict[str, dict[str, Any]]) -> None:
    line = fine_tuning_line(rows["tool_call_output"], train_on="last_assistant")

    assert line["messages"][-1] == {"role": "assistant", "tool_calls": [CALL_PARIS], "weight": 1}
    assert line["parallel_tool_calls"] is False


# -- evaluation lines --------------------------------------------------------------------------


def test_eval_item_carries_input_ideal_and_metadata(rows: dict[str, dict[str, Any]]) -> None:
    assert eval_item(rows["plain"]) == {
        "item": {
            "input": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say hello in French. ✨"},
            ],
            "ideal": "Bonjour !",
            "metadata": {
                "topic": "greeting",
                "tenant": "acme",
                "completion_id": "plain",
                "model": "gpt-4o-mini-2024-07-18",
            },
        }
    }


def test_eval_input_has_no_weights(rows: dict[str, dict[str, Any]]) -> None:
    inputs = eval_item(rows["multi_turn"])["item"]["input"]

    assert len(inputs) == 6
    assert all("weight" not in message for message in inputs)


def test_ideal_of_tool_call_output_is_the_calls_as_json(rows: dict[str, dict[str, Any]]) -> None:
    item = eval_item(rows["tool_call_output"])["item"]

    assert json.loads(item["ideal"]) == [CALL_PARIS]
    assert item["metadata"] == {
        "topic": "weather",
        "completion_id": "tool_call_output",
        "model": "gpt-4o-mini-2024-07-18",
    }


def test_ideal_of_refusal_is_the_refusal(rows: dict[str, dict[str, Any]]) -> None:
    assert eval_item(rows["refusal"])["item"]["ideal"] == "I can't help with that."


def test_oss_eval_item_is_input_and_ideal(rows: dict[str, dict[str, Any]]) -> None:
    for row in rows.values():
        item = eval_item(row)["item"]
        assert oss_eval_item(row) == {"input": item["input"], "ideal": item["ideal"]}


# -- every line --------------------------------------------------------------------------------


def null_paths(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in null_paths(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in null_paths(item, f"{path}[{index}]")]
    return []


def test_no_line_holds_a_null(curated: pl.DataFrame) -> None:
    lines = written_lines(curated)

    assert len(lines) == 4 * len(RECORDS)
    for line in lines:
        assert null_paths(json.loads(line)) == [], line
        assert "null" not in line  # no record here has the word in its text


def test_every_fine_tuning_line_passes_the_checker(curated: pl.DataFrame) -> None:
    lines = [
        *fine_tuning_lines(curated),
        *fine_tuning_lines(curated, train_on="last_assistant"),
    ]

    report = check_fine_tuning_lines(lines)

    assert report.ok, report.first_errors
    assert report.examples == 2 * len(RECORDS)


def test_a_batch_gives_each_row_its_own_line(curated: pl.DataFrame) -> None:
    """The exporter builds lines a frame at a time, parsing each distinct stored value once and
    looking rows up by it: in one batch of every shape (reversed, so no row sits where the
    one-row tests put it), each line holds its own row's conversation, tools and answer."""
    batch = curated.reverse()
    ids = batch["id"].to_list()
    rows = {row["id"]: row for row in batch.iter_rows(named=True)}
    lines = dict(zip(ids, map(json.loads, fine_tuning_lines(batch)), strict=True))
    items = dict(zip(ids, (json.loads(i)["item"] for i in eval_items(batch)), strict=True))
    oss = dict(zip(ids, map(json.loads, oss_eval_items(batch)), strict=True))

    for completion_id in ids:
        line, record = lines[completion_id], RECORDS[completion_id]
        assert without_weights(line["messages"]) == expected_messages(rows[completion_id])
        assert [t["function"]["name"] for t in line.get("tools", [])] == [
            t["function"]["name"] for t in record.get("tools") or []
        ]
        assert line.get("parallel_tool_calls") == record.get("parallel_tool_calls")
        expected_input = expected_messages(rows[completion_id], fine_tuning=False)[:-1]
        assert items[completion_id]["input"] == oss[completion_id]["input"] == expected_input
        assert items[completion_id]["metadata"]["completion_id"] == completion_id
    ideals = {i: items[i]["ideal"] for i in ids}
    assert json.loads(ideals.pop("tool_call_output")) == [CALL_PARIS]
    assert ideals == {
        "plain": "Bonjour !",
        "multi_turn": "Rome",
        "tools": "Paris: 18°C and sunny. Oslo: 4°C with snow.",
        "image": "The total is €42.10.",
        "refusal": "I can't help with that.",
    }
    assert {i: oss[i]["ideal"] for i in ids if i != "tool_call_output"} == ideals


def expected_messages(row: dict[str, Any], *, fine_tuning: bool = True) -> list[dict[str, Any]]:
    """The stored conversation mapped to the fine-tuning shape, weights left out; for fine-tuning
    lines `developer` becomes `system`, evaluation input keeps the stored role."""
    expected = []
    for stored in conversation_from_row(row):
        message = {k: v for k, v in stored.items() if k not in ("content_parts", "weight")}
        if fine_tuning and message["role"] == "developer":
            message["role"] = "system"
        content = stored.get("content")
        parts = content if isinstance(content, list) else stored.get("content_parts")
        if message["role"] == "assistant":
            if parts and content is None:
                message["content"] = "".join(p["text"] for p in parts)
            if "refusal" in message:
                refusal = message.pop("refusal")
                message.setdefault("content", refusal)
        elif parts:
            message["content"] = [
                {"type": "image_url", "image_url": {"url": p["image_url"]["url"]}}
                if p["type"] == "image_url"
                else p
                for p in parts
            ]
        expected.append(message)
    return expected


def without_weights(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k != "weight"} for m in messages]


def test_lines_are_the_stored_conversation(rows: dict[str, dict[str, Any]]) -> None:
    for row in rows.values():
        expected = expected_messages(row)
        for train_on in ("all", "last_assistant"):
            line = fine_tuning_line(row, train_on=train_on)
            assert without_weights(line["messages"]) == expected, row["id"]
        assert eval_item(row)["item"]["input"] == expected_messages(row, fine_tuning=False)[:-1]


def test_a_line_is_one_line_whatever_its_text_holds() -> None:
    text = 'é\n\u2028 \x85 "quoted" \\ tab\t'
    frame = completions_frame(
        [completion_record("c1", input_messages=[{"role": "user", "content": text}], answer=text)]
    )

    for line in [*fine_tuning_lines(frame), *eval_items(frame), *oss_eval_items(frame)]:
        assert len(line.splitlines()) == 1
        assert "\\u2028" in line and "\\u0085" in line
    line = json.loads(fine_tuning_lines(frame).item())
    assert [m["content"] for m in line["messages"]] == [text, text]


# -- the checker -------------------------------------------------------------------------------

GOOD = {
    "messages": [
        {"role": "system", "content": "Use the tools."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": IMAGE, "detail": "low"}},
            ],
            "name": "ana",
        },
        {"role": "assistant", "tool_calls": [CALL_PARIS], "weight": 0},
        {"role": "tool", "tool_call_id": "call_1", "content": "18°C"},
        {"role": "assistant", "content": "18°C in Paris.", "weight": 1},
    ],
    "tools": [WEATHER_TOOL | {"function": {"name": "get_weather"}}],
    "parallel_tool_calls": False,
}
USER = {"role": "user", "content": "Hi"}
ASSISTANT = {"role": "assistant", "content": "Hello"}


def chat(*messages: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"messages": list(messages), **top}


BAD = {
    "invalid_json": '{"messages": [',
    "data_type": ["not", "an", "object"],
    "unrecognized_key": chat(USER, ASSISTANT, temperature=0.2),
    "missing_messages_list": {"messages": []},
    "message_missing_key": chat({"role": "user"}, ASSISTANT),
    "message_unrecognized_key": chat({**USER, "refusal": "no"}, ASSISTANT),
    "unrecognized_role": chat({"role": "narrator", "content": "Once"}, USER, ASSISTANT),
    "missing_content": chat({"role": "user", "content": ""}, ASSISTANT),
    "example_missing_assistant_message": chat({"role": "system", "content": "Hi"}, USER),
    "invalid_weight": chat(USER, {**ASSISTANT, "weight": 2}),
    "invalid_content_part": chat(
        {"role": "user", "content": [{"type": "video", "video": "x"}]}, ASSISTANT
    ),
    "unsupported_content_part": chat(
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "…"}}]},
        ASSISTANT,
    ),
    "image_in_assistant_message": chat(
        USER,
        {
            "role": "assistant",
            "content": [{"type": "image_url", "image_url": {"url": IMAGE}}],
        },
    ),
    "invalid_tool_calls": chat(
        USER, {"role": "assistant", "tool_calls": [{**CALL_PARIS, "type": "custom"}]}
    ),
    "invalid_tool_arguments": chat(
        USER,
        {
            "role": "assistant",
            "tool_calls": [{**CALL_PARIS, "function": {"name": "f", "arguments": "{city"}}],
        },
    ),
    "unmatched_tool_call_id": chat(
        USER,
        {"role": "assistant", "tool_calls": [CALL_PARIS]},
        {"role": "tool", "tool_call_id": "call_9", "content": "18°C"},
        ASSISTANT,
    ),
    "null_value": chat(USER, {**ASSISTANT, "tool_calls": None}),
    "invalid_tools": chat(USER, ASSISTANT, tools=[{"type": "function"}]),
    "invalid_parallel_tool_calls": chat(USER, ASSISTANT, parallel_tool_calls="yes"),
}


def test_good_example_passes() -> None:
    assert check_example(GOOD) == []
    assert check_fine_tuning_lines([json.dumps(GOOD), GOOD]).ok


@pytest.mark.parametrize("kind", sorted(BAD))
def test_each_error_kind_is_detected(kind: str) -> None:
    bad = BAD[kind]
    line = bad if isinstance(bad, str) else json.dumps(bad)

    report = check_fine_tuning_lines([json.dumps(GOOD), line])

    assert report.errors == {kind: 1}
    assert [(number, found) for number, found, _ in report.first_errors] == [(2, kind)]
    assert not report.ok
    if not isinstance(bad, str):
        assert [found for found, _ in check_example(bad)] == [kind]


def test_report_counts_lines_and_keeps_the_first_errors() -> None:
    bad = json.dumps(BAD["invalid_weight"])
    lines = [json.dumps(GOOD) + "\n", "\n", *[bad] * (FIRST_ERRORS + 5)]

    report = check_fine_tuning_lines(lines)

    assert report.examples == FIRST_ERRORS + 6
    assert report.examples_with_errors == FIRST_ERRORS + 5
    assert report.errors == {"invalid_weight": FIRST_ERRORS + 5}
    assert len(report.first_errors) == FIRST_ERRORS
    assert report.first_errors[0][0] == 3
    assert report.meets_minimum
    assert not check_fine_tuning_lines(["", "\n"]).ok


TEXTS = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    turns=st.lists(
        st.tuples(st.sampled_from(["system", "developer", "user", "assistant"]), TEXTS),
        min_size=1,
        max_size=4,
    ),
    answer=TEXTS,
    metadata=st.dictionaries(TEXTS, TEXTS, max_size=3),
)
def test_any_text_round_trips_through_every_line(
    turns: list[tuple[str, str]], answer: str, metadata: dict[str, str]
) -> None:
    # Quotes, backslashes, control characters, U+2028 and friends, any script: the lines are
    # built by polars expressions, so their escaping is checked against what was stored.
    record = completion_record(
        "c1",
        metadata=metadata,
        input_messages=[{"role": role, "content": text} for role, text in turns],
        answer=answer,
    )
    frame = completions_frame([record]).drop("completion_json", "messages_json")
    row = frame.row(0, named=True)
    expected = expected_messages(row)

    line = fine_tuning_lines(frame).item()
    item = json.loads(eval_items(frame).item())["item"]

    assert len(line.splitlines()) == 1
    assert json.loads(line)["messages"] == expected
    assert item["input"] == expected_messages(row, fine_tuning=False)[:-1]
    assert item["ideal"] == answer
    assert item["metadata"] == {**metadata, "completion_id": "c1", "model": row["model"]}


def test_a_developer_message_is_written_as_system_in_fine_tuning_lines_only() -> None:
    # OpenAI's schema for a training line (FineTuneChatRequestInput) has no developer role.
    record = completion_record(
        "c1",
        input_messages=[
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Hello"},
        ],
        answer="Bonjour",
    )
    frame = completions_frame([record])

    line = json.loads(fine_tuning_lines(frame).item())
    item = json.loads(eval_items(frame).item())["item"]

    assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]
    assert line["messages"][0]["content"] == "Answer in French."
    assert [m["role"] for m in item["input"]] == ["developer", "user"]
    assert frame["messages"].list.first().struct.field("role").item() == "developer"


def test_the_checker_refuses_a_developer_message_in_a_training_line() -> None:
    line = json.dumps(chat({"role": "developer", "content": "Be brief."}, USER, ASSISTANT))

    report = check_fine_tuning_lines([line])

    assert report.errors == {"unrecognized_role": 1}
    assert report.first_errors[0][:2] == (1, "unrecognized_role")
    assert "role 'developer'" in report.first_errors[0][2]
