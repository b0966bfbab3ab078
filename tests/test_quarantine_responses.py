"""Unusable stored responses go to quarantine with their reasons, and chat completions read as
they did before responses existed."""

from __future__ import annotations

import polars as pl

from pipelines.completions.normalize import normalize_completions
from pipelines.completions.validate import validate_completions
from tests.frames import raw_frame
from tests.records import completion_record
from tests.response_rows import (
    assistant,
    call_output,
    chat_row,
    normalized,
    reasoning,
    reasons,
    response_row,
    user,
    validated,
)

ID_SHARED = (
    "another stored object (of this or another API) has the same id: ids must tell examples apart"
    " downstream"
)

# -- what goes to quarantine, and why -------------------------------------------------------------


def test_unusable_responses_are_quarantined_with_their_reasons() -> None:
    question = [user("msg_q", "Weather?")]
    partial = [assistant("msg_p", "It is")]
    result = validated(
        response_row("resp_failed", question, [], status="failed", error={"code": "server_error"}),
        response_row("resp_cancelled", question, [], status="cancelled"),
        response_row("resp_queued", question, [], status="queued", usage=None),
        response_row("resp_in_progress", question, [], status="in_progress"),
        response_row(
            "resp_length",
            question,
            partial,
            status="incomplete",
            incomplete_details={"reason": "max_output_tokens"},
        ),
        response_row(
            "resp_filtered",
            question,
            [],
            status="incomplete",
            incomplete_details={"reason": "content_filter"},
        ),
        # incomplete_details set makes a response incomplete whatever its status says.
        response_row(
            "resp_says_completed",
            question,
            partial,
            incomplete_details={"reason": "max_output_tokens"},
        ),
        response_row("resp_empty", question, []),
        response_row("resp_reasoning_only", question, [reasoning("rs_1")]),
        response_row("resp_no_output", question, None),
        response_row("resp_orphan", question, partial, previous_response_id="resp_gone"),
        response_row(
            "resp_dangling",
            [{"type": "item_reference", "id": "msg_gone"}, *question],
            partial,
        ),
        response_row(
            "resp_unpaired",
            [user("msg_1", "Hi"), call_output("fco_1", "call_nobody_made", "18 C")],
            partial,
        ),
    )

    assert reasons(result) == {
        "resp_failed": ["response_completed"],
        "resp_cancelled": ["response_completed"],
        "resp_queued": ["has_usage", "response_completed"],
        "resp_in_progress": ["response_completed"],
        "resp_length": ["response_completed"],
        "resp_filtered": ["response_completed"],
        "resp_says_completed": ["response_completed"],
        "resp_empty": ["output_present"],
        "resp_reasoning_only": ["output_present"],
        "resp_no_output": ["has_choices"],
        "resp_orphan": ["context_present"],
        "resp_dangling": ["context_present"],
        "resp_unpaired": ["tool_call_ids_match"],
    }
    assert set(result.quarantine["api"]) == {"responses"}
    messages = {
        reason["check"]: reason["message"]
        for row in result.quarantine.iter_rows(named=True)
        for reason in row["reasons"]
    }
    assert messages["response_completed"] == (
        "the response did not complete (status failed, incomplete, cancelled, queued or in"
        " progress)"
    )
    assert messages["context_present"].startswith(
        "previous_response_id or conversation names what the lake does not hold"
    )


def test_incomplete_responses_say_why_they_stopped() -> None:
    question = [user("msg_q", "Weather?")]
    rows = normalized(
        response_row(
            "resp_length",
            question,
            [assistant("msg_p", "It is")],
            status="incomplete",
            incomplete_details={"reason": "max_output_tokens"},
        ),
        response_row(
            "resp_filtered",
            question,
            [],
            status="incomplete",
            incomplete_details={"reason": "content_filter"},
        ),
        response_row("resp_failed", question, [], status="failed"),
    )

    assert rows["resp_length"]["finish_reason"] == "length"
    assert rows["resp_length"]["output_content"] == "It is"
    assert rows["resp_filtered"]["finish_reason"] == "content_filter"
    assert rows["resp_failed"]["finish_reason"] is None
    assert {row["response_status"] for row in rows.values()} == {"incomplete", "failed"}


def test_an_id_two_apis_share_sends_both_records_to_quarantine() -> None:
    question, answer = {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}
    result = validated(
        chat_row("shared-1", [question], answer, "stop"),
        response_row("shared-1", [user("msg_1", "Hi")], [assistant("msg_2", "Hello")]),
        chat_row("chatcmpl-1", [question], answer, "stop"),
        response_row("resp_1", [user("msg_3", "Hi")], [assistant("msg_4", "Hello")]),
    )

    assert sorted(zip(result.completions["api"], result.completions["id"], strict=True)) == [
        ("chat_completions", "chatcmpl-1"),
        ("responses", "resp_1"),
    ]
    assert sorted(
        (row["api"], row["id"], [(r["check"], r["message"]) for r in row["reasons"]])
        for row in result.quarantine.iter_rows(named=True)
    ) == [
        (api, "shared-1", [("id_unique", ID_SHARED)]) for api in ("chat_completions", "responses")
    ]


# -- chat completions as before ------------------------------------------------------------------


def test_chat_completions_normalize_as_before_with_neutral_response_facts() -> None:
    records = [
        completion_record("chatcmpl-a"),
        completion_record("chatcmpl-b", usage=None, answer="No usage here."),
    ]
    legacy = raw_frame(records)  # no api: read as chat completions, as the lake reads old batches
    explicit = legacy.with_columns(pl.lit("chat_completions").alias("api"))

    before, after = normalize_completions(legacy), normalize_completions(explicit)

    assert before.equals(after)
    assert set(after["api"]) == {"chat_completions"}
    assert after["response_status"].is_null().all()
    assert not after["context_missing"].any()
    assert reasons(validate_completions(after)) == {"chatcmpl-b": ["has_usage"]}
