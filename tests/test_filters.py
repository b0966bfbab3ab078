"""Recipe selection on literal frames: each condition, and each drop counted under its reason."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipelines.curate.filters import select_completions
from pipelines.recipes import Selection
from tests.frames import completions_frame, user
from tests.records import completion_record

CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def choice(**message: object) -> list[dict]:
    finish = message.pop("finish_reason", "stop")
    body = {"role": "assistant", "content": None, "refusal": None, **message}
    return [{"index": 0, "message": body, "finish_reason": finish}]


@pytest.fixture(scope="module")
def frame():
    return completions_frame(
        [
            completion_record("mini", model="gpt-4o-mini-2024-07-18", metadata={"app": "support"}),
            completion_record(
                "big", model="gpt-4.1-2025-04-14", metadata={"app": "search", "env": "prod"}
            ),
            completion_record("old", created=1_700_000_000, model="gpt-4.1-mini-2025-04-14"),
            completion_record("cut", choices=choice(content="partial", finish_reason="length")),
            completion_record("refused", choices=choice(refusal="I can't help with that.")),
            completion_record(
                "blocked",
                choices=[
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": None},
                        "finish_reason": "content_filter",
                        "content_filter_results": {
                            "violence": {"filtered": True, "severity": "high"}
                        },
                    }
                ],
            ),
            completion_record(
                "flagged-prompt",
                prompt_filter_results=[
                    {
                        "prompt_index": 0,
                        "content_filter_results": {
                            "hate": {"filtered": True, "severity": "medium"}
                        },
                    }
                ],
            ),
            completion_record(
                "tooly", choices=choice(tool_calls=[CALL], finish_reason="tool_calls")
            ),
            completion_record(
                "long", usage={"prompt_tokens": 5000, "completion_tokens": 10, "total_tokens": 5010}
            ),
            completion_record("plain", input_messages=user("hello")),
        ]
    )


def kept(frame, **selection: object) -> tuple[list[str], dict[str, int]]:
    rows, report = select_completions(frame, Selection(**selection))
    assert report.rows_in - report.rows_out == sum(report.dropped.values())
    return sorted(rows["id"]), report.dropped


def test_defaults_drop_cut_off_refused_and_filtered_outputs(frame) -> None:
    ids, dropped = kept(frame)

    assert ids == ["big", "long", "mini", "old", "plain", "tooly"]
    # blocked fails finish_reason before content_filtered.
    assert dropped == {"finish_reason": 2, "refusal": 1, "content_filtered": 1}


def test_model_globs_and_exact_names(frame) -> None:
    assert kept(frame, models=["gpt-4.1*"])[0] == ["big", "old"]
    assert "cut" in kept(frame, models=["gpt-4o-mini-2024-07-18"], finish_reasons=[])[0]
    ids, dropped = kept(frame, models=["gpt-4o-mini-2024-07-18"])
    assert "big" not in ids and dropped["model"] == 2


def test_metadata_value_or_any_of_values(frame) -> None:
    assert kept(frame, metadata={"app": "support"})[0] == ["mini"]
    assert kept(frame, metadata={"app": ["support", "search"]})[0] == ["big", "mini"]
    assert kept(frame, metadata={"app": "search", "env": "prod"})[0] == ["big"]


def test_created_range(frame) -> None:
    ids, dropped = kept(frame, created_from=datetime(2024, 1, 1))

    assert "old" not in ids and dropped["created_range"] == 1


def test_refusals_only_and_include(frame) -> None:
    assert kept(frame, refusals="only")[0] == ["refused"]
    assert "refused" in kept(frame, refusals="include")[0]


def test_content_filtered_can_be_included_but_not_an_empty_output(frame) -> None:
    ids, dropped = kept(
        frame, content_filtered="include", finish_reasons=["stop", "content_filter"]
    )

    assert "flagged-prompt" in ids
    assert "blocked" not in ids and dropped["empty_message"] == 1


def test_tool_use_only_and_none(frame) -> None:
    assert kept(frame, tool_use="only")[0] == ["tooly"]
    assert "tooly" not in kept(frame, tool_use="none")[0]


def test_token_range(frame) -> None:
    ids, dropped = kept(frame, max_total_tokens=1000)

    assert "long" not in ids and dropped["token_range"] == 1
