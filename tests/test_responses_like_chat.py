"""One conversation model: an exchange made through Responses gives the rows, fine-tuning lines,
HF messages and curated examples the same exchange gives through Chat Completions."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest

from pipelines.curate.table import curate_completions
from pipelines.export.lines import fine_tuning_line
from pipelines.export.targets.messages import MessageStyle, conversations
from pipelines.recipes import Recipe
from schemas import Curated
from tests.response_rows import (
    CHAT_TOOLS,
    reasons,
    tool_call,
    validated,
    weather_exchange_rows,
)


def weather_exchange_both_ways() -> pl.DataFrame:
    """`weather_exchange_rows`, validated."""
    rows = weather_exchange_rows()
    result = validated(*rows)
    assert result.quarantine.is_empty(), reasons(result)
    return result.completions


def by_id(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in frame.iter_rows(named=True)}


@pytest.mark.parametrize("train_on", ["all", "last_assistant"])
def test_a_tool_exchange_gives_the_same_fine_tuning_lines_through_both_apis(train_on: str) -> None:
    rows = by_id(weather_exchange_both_ways())

    chat_answer = fine_tuning_line(rows["chatcmpl-2"], train_on=train_on)
    response_answer = fine_tuning_line(rows["resp_2"], train_on=train_on)
    chat_call = fine_tuning_line(rows["chatcmpl-1"], train_on=train_on)
    response_call = fine_tuning_line(rows["resp_1"], train_on=train_on)

    assert response_answer == chat_answer
    assert response_call == chat_call
    assert [m["role"] for m in response_answer["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert response_answer["tools"] == CHAT_TOOLS
    assert response_call["messages"][-1]["tool_calls"] == [tool_call("call_1", "Paris")]


def test_a_tool_exchange_gives_the_same_hf_messages_through_both_apis() -> None:
    frame = weather_exchange_both_ways()

    written = conversations(frame, MessageStyle())

    pairs = zip(written.prompt, written.completion, strict=True)
    messages = {
        i: [json.loads(m) for m in (*p, *c)] for i, (p, c) in zip(frame["id"], pairs, strict=True)
    }
    assert messages["resp_2"] == messages["chatcmpl-2"]
    assert messages["resp_1"] == messages["chatcmpl-1"]
    assert messages["resp_2"][2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}


def test_curation_chains_responses_and_folds_the_same_exchange_made_both_ways() -> None:
    frame = weather_exchange_both_ways()

    responses = curate_completions(frame.filter(pl.col("api") == "responses"), Recipe(name="r"))
    both = curate_completions(frame, Recipe(name="both"))

    Curated.validate(responses.rows)
    (row,) = responses.rows.iter_rows(named=True)
    assert (row["api"], row["id"], row["chain_id"], row["turn"]) == (
        "responses",
        "resp_2",
        "resp_1",
        2,
    )
    # One conversation model: the exchange made through either API is the same example.
    (row,) = both.rows.iter_rows(named=True)
    assert row["duplicate_count"] == 2
    assert both.drops_by_reason() == {"exact_duplicate": 2, "earlier_turn_of_a_chat": 1}


def test_the_exchange_carries_its_api_and_the_settings_of_each() -> None:
    rows = by_id(weather_exchange_both_ways())

    assert {i: rows[i]["api"] for i in rows} == {
        "chatcmpl-1": "chat_completions",
        "chatcmpl-2": "chat_completions",
        "resp_1": "responses",
        "resp_2": "responses",
    }
    for response_id in ("resp_1", "resp_2"):
        assert rows[response_id]["response_status"] == "completed"
        assert rows[response_id]["context_missing"] is False
    assert rows["chatcmpl-2"]["response_status"] is None
    assert rows["chatcmpl-2"]["context_missing"] is False
    assert rows["resp_1"]["finish_reason"] == "tool_calls"
    assert rows["resp_2"]["finish_reason"] == "stop"
    assert rows["resp_2"]["choice_count"] == 1
