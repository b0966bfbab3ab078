"""Stored responses and conversations normalize into the columns chat completions fill: each
mapping on hand-written JSON (what goes to quarantine: `test_quarantine_responses`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pipelines.completions.normalize import conversation_from_row
from tests.response_rows import (
    CHAT_TOOLS,
    CREATED,
    RESPONSES_TOOLS,
    WEATHER_PARAMETERS,
    assistant,
    call,
    call_output,
    conversation_row,
    normalized,
    reasoning,
    reasons,
    response_row,
    tool_call,
    user,
    validated,
    web_search,
)

# -- instructions and input items ----------------------------------------------------------------


def test_instructions_lead_as_system_and_are_not_inherited() -> None:
    rows = normalized(
        response_row(
            "resp_1",
            [user("msg_1", "Hello")],
            [assistant("msg_2", "Hi!")],
            instructions="Answer in French.",
        ),
        response_row(
            "resp_2",
            [user("msg_3", "More")],
            [assistant("msg_4", "Encore.")],
            previous_response_id="resp_1",
        ),
    )

    assert conversation_from_row(rows["resp_1"]) == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
    ]
    assert conversation_from_row(rows["resp_2"]) == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "More"},
        {"role": "assistant", "content": "Encore."},
    ]


def test_message_parts_become_chat_parts() -> None:
    image = {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "high"}
    by_file = {"type": "input_image", "file_id": "file-img", "image_url": None, "detail": "auto"}
    document = {"type": "input_file", "file_id": "file-doc", "filename": "a.pdf", "file_data": None}
    items = [
        {"type": "message", "id": "msg_0", "role": "developer", "content": "Be terse."},
        user("msg_1", "Look at", image, by_file, document),
        user("msg_2", "first", "second"),
        {
            "type": "message",
            "id": "msg_3",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Partly", "annotations": []},
                {"type": "refusal", "refusal": "I can't say more."},
            ],
        },
        {"role": "user", "content": "an easy message"},
    ]

    row = normalized(response_row("resp_1", items, [assistant("msg_4", "Ok.")]))["resp_1"]

    assert conversation_from_row(row)[:-1] == [
        {"role": "developer", "content": "Be terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look at"},
                {"type": "image_url", "image_url": {"url": image["image_url"], "detail": "high"}},
                {"type": "image_url", "image_url": {"file_id": "file-img", "detail": "auto"}},
                {"type": "file", "file": {"file_id": "file-doc", "filename": "a.pdf"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Partly"},
                {"type": "refusal", "refusal": "I can't say more."},
            ],
        },
        {"role": "user", "content": "an easy message"},
    ]


def test_function_calls_join_the_assistant_message_before_them() -> None:
    items = [
        user("msg_1", "Paris and Rome?"),
        assistant("msg_2", "Checking both."),
        call("fc_1", "call_1", "Paris"),
        reasoning("rs_1"),
        call("fc_2", "call_2", "Rome"),
        call_output("fco_1", "call_1", "18 C"),
        call_output("fco_2", "call_2", [{"type": "input_text", "text": "21 C"}]),
        call("fc_3", "call_3", "Oslo"),
        call_output(
            "fco_3",
            "call_3",
            [{"type": "input_text", "text": "4 C"}, {"type": "input_text", "text": ", rain"}],
        ),
    ]

    row = normalized(response_row("resp_1", items, [assistant("msg_3", "Done.")]))["resp_1"]

    assert conversation_from_row(row)[:-1] == [
        {"role": "user", "content": "Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [tool_call("call_1", "Paris"), tool_call("call_2", "Rome")],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "21 C"},
        {"role": "assistant", "tool_calls": [tool_call("call_3", "Oslo")]},
        {
            "role": "tool",
            "tool_call_id": "call_3",
            "content": [{"type": "text", "text": "4 C"}, {"type": "text", "text": ", rain"}],
        },
    ]
    assert all(m["tool_call_matched"] for m in row["messages"] if m["role"] == "tool")


def test_reasoning_and_built_in_tool_calls_are_left_out() -> None:
    items = [user("msg_1", "Weather?"), reasoning("rs_0"), web_search("ws_0")]
    output = [reasoning("rs_1"), web_search("ws_1"), assistant("msg_2", "Sunny.")]

    row = normalized(response_row("resp_1", items, output))["resp_1"]

    assert conversation_from_row(row) == [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Sunny."},
    ]
    assert row["finish_reason"] == "stop"


# -- the output and the settings -----------------------------------------------------------------


def test_the_output_items_become_one_output_message() -> None:
    refusing = {
        "type": "message",
        "id": "msg_r",
        "role": "assistant",
        "content": [{"type": "refusal", "refusal": "I can't help with that."}],
    }
    rows = normalized(
        response_row(
            "resp_text", [user("msg_1", "Hi")], [assistant("m1", "Hel"), assistant("m2", "lo")]
        ),
        response_row("resp_refusal", [user("msg_2", "Hi")], [refusing]),
        response_row(
            "resp_calls",
            [user("msg_3", "Two cities")],
            [assistant("m3", "Both."), call("fc_1", "c1", "Paris"), call("fc_2", "c2", "Rome")],
        ),
    )

    assert rows["resp_text"]["output_content"] == "Hello"
    assert rows["resp_text"]["finish_reason"] == "stop"
    assert rows["resp_refusal"]["output_refusal"] == "I can't help with that."
    assert rows["resp_refusal"]["output_content"] is None
    assert rows["resp_calls"]["output_content"] == "Both."
    assert rows["resp_calls"]["output_tool_calls"] == [
        tool_call("c1", "Paris"),
        tool_call("c2", "Rome"),
    ]
    assert rows["resp_calls"]["finish_reason"] == "tool_calls"
    assert {row["choice_count"] for row in rows.values()} == {1}


def test_response_settings_fill_the_chat_columns() -> None:
    json_format = {
        "type": "json_schema",
        "name": "weather",
        "schema": WEATHER_PARAMETERS,
        "strict": True,
        "description": None,
    }
    web_search_tool = {"type": "web_search", "search_context_size": "medium"}
    row = normalized(
        response_row(
            "resp_1",
            [user("msg_1", "Weather?")],
            [assistant("msg_2", '{"city": "Paris"}')],
            created_at=1_761_000_000,
            metadata={"app": "weather", "tenant": "t1"},
            tools=[*RESPONSES_TOOLS, web_search_tool],
            tool_choice={"type": "function", "name": "get_weather"},
            parallel_tool_calls=False,
            temperature=0.2,
            top_p=0.9,
            text={"format": json_format, "verbosity": "medium"},
            service_tier="flex",
            user="user-42",
            usage={"input_tokens": 31, "output_tokens": 7, "total_tokens": 38},
        )
    )["resp_1"]

    assert row["created"] == datetime.fromtimestamp(1_761_000_000, tz=UTC)
    assert row["model"] == "gpt-4.1-mini-2025-04-14"
    assert row["metadata"] == [
        {"key": "app", "value": "weather"},
        {"key": "tenant", "value": "t1"},
    ]
    assert json.loads(row["tools"]) == [*CHAT_TOOLS, web_search_tool]
    assert json.loads(row["tool_choice"]) == {
        "type": "function",
        "function": {"name": "get_weather"},
    }
    assert json.loads(row["response_format"]) == {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": WEATHER_PARAMETERS, "strict": True},
    }
    assert row["parallel_tool_calls"] is False
    assert (row["temperature"], row["top_p"]) == (0.2, 0.9)
    assert row["service_tier"] == "flex"
    assert row["input_user"] == "user-42"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (31, 7, 38)


def test_plain_text_format_is_no_response_format_and_safety_identifier_is_the_user() -> None:
    row = normalized(
        response_row(
            "resp_1",
            [user("msg_1", "Hi")],
            [assistant("msg_2", "Hello")],
            safety_identifier="hashed-user",
            tool_choice="required",
        )
    )["resp_1"]

    assert row["response_format"] is None
    assert row["input_user"] == "hashed-user"
    assert json.loads(row["tool_choice"]) == "required"


# -- conversations -------------------------------------------------------------------------------


def test_a_conversation_is_its_items_with_the_trailing_answer_as_output() -> None:
    items = [
        user("msg_1", "Weather in Paris?"),
        reasoning("rs_1"),
        call("fc_1", "call_1", "Paris"),
        call_output("fco_1", "call_1", "18 C"),
        reasoning("rs_2"),
        assistant("msg_2", "It is 18 C."),
    ]
    result = validated(conversation_row("conv_1", items))

    assert result.quarantine.is_empty(), reasons(result)
    (row,) = result.completions.iter_rows(named=True)
    assert conversation_from_row(row) == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [tool_call("call_1", "Paris")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
        {"role": "assistant", "content": "It is 18 C."},
    ]
    assert row["api"] == "conversations"
    assert row["finish_reason"] == "stop"
    assert row["model"] is None
    assert row["total_tokens"] is None
    assert row["created"] == datetime.fromtimestamp(CREATED, tz=UTC)
    assert row["metadata"] == [{"key": "topic", "value": "weather"}]
    assert row["response_status"] is None


def test_a_conversation_ending_in_calls_or_in_a_question() -> None:
    calling = [
        user("msg_1", "Paris?"),
        assistant("msg_2", "Let me see."),
        call("fc_1", "c1", "Paris"),
    ]
    result = validated(
        conversation_row("conv_calls", calling),
        conversation_row("conv_asked", [*calling, call_output("fco_1", "c1", "18 C")]),
    )

    (row,) = result.completions.iter_rows(named=True)
    assert row["id"] == "conv_calls"
    assert row["output_content"] == "Let me see."
    assert row["output_tool_calls"] == [tool_call("c1", "Paris")]
    assert row["finish_reason"] == "tool_calls"
    assert [m["content"] for m in row["messages"]] == ["Paris?"]
    assert reasons(result) == {"conv_asked": ["output_present"]}
