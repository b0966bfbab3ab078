"""Round trip: a conversation rebuilt from a `completions` row equals the stored input messages
plus the output message, field for field (property test over generated records)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.completions.normalize import conversation_from_row, normalize_completions
from pipelines.completions.validate import validate_completions
from tests.frames import raw_frame
from tests.profiles import examples
from tests.records import completion_record

# Any text the API can carry: no lone surrogates (those are quarantined, tested elsewhere).
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
names = st.none() | st.from_regex(r"[a-z_]{1,8}", fullmatch=True)
parts = st.lists(
    st.one_of(
        st.builds(lambda t: {"type": "text", "text": t}, texts),
        st.builds(
            lambda u: {"type": "image_url", "image_url": {"url": f"https://x.test/{u}.png"}},
            st.integers(0, 99),
        ),
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def tool_call(draw: st.DrawFn, index: int) -> dict[str, Any]:
    arguments = draw(
        st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), texts, max_size=2)
    )
    return {
        "id": f"call_{index}",
        "type": "function",
        "function": {
            "name": draw(st.from_regex(r"[a-z_]{1,10}", fullmatch=True)),
            "arguments": json.dumps(arguments),
        },
    }


@st.composite
def stored_messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    open_calls: list[str] = []
    for turn in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["system", "developer", "user", "assistant", "tools"]))
        if kind == "tools":
            calls = [draw(tool_call(turn * 10 + i)) for i in range(draw(st.integers(1, 2)))]
            messages.append(
                {"role": "assistant", "content": None, "tool_calls": calls, "name": None}
            )
            for call in calls:
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": draw(texts)}
                )
            open_calls += [c["id"] for c in calls]
        else:
            message = {"role": kind, "content": draw(texts), "name": draw(names)}
            if kind == "user":
                message["content_parts"] = draw(st.none() | parts)
            if kind == "assistant" and draw(st.booleans()):
                message["weight"] = draw(st.sampled_from([0, 1]))
            messages.append(message)
    return messages


@st.composite
def outputs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["content", "refusal", "tool_calls"]))
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if kind == "tool_calls":
        message["tool_calls"] = [draw(tool_call(900))]
    else:
        message[kind] = draw(texts)
    return message


def stored_record(
    completion_id: str, messages: list[dict[str, Any]], output: dict[str, Any]
) -> dict[str, Any]:
    """A stored completion whose output is `output`, in the import format."""
    choice = {"index": 0, "message": output, "finish_reason": "stop", "logprobs": None}
    return completion_record(completion_id, input_messages=messages, choices=[choice])


def without_nulls(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not None and k != "id"}


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(stored_messages(), outputs()), min_size=1, max_size=5))
def test_conversation_round_trips_field_for_field(records: list[tuple[list, dict]]) -> None:
    raw = raw_frame(
        [stored_record(f"c{i}", messages, output) for i, (messages, output) in enumerate(records)]
    )

    validated = validate_completions(normalize_completions(raw))

    assert validated.quarantine.is_empty(), validated.quarantine["reasons"].to_list()
    rows = {row["id"]: row for row in validated.completions.iter_rows(named=True)}
    for i, (messages, output) in enumerate(records):
        expected = [without_nulls(m) for m in messages] + [without_nulls(output)]
        assert conversation_from_row(rows[f"c{i}"]) == expected
