"""The checker's fast first passes never vouch for a line the full checker would fault."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.export.line_check import FineTuneChecker, check_example, check_fine_tuning_lines
from pipelines.export.line_check_fast import is_well_formed, plain_chats
from tests.profiles import examples
from tests.test_export_lines import BAD, GOOD

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "x", "function", "assistant", "tool", "call_1", "{}", "{city", "text"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "text", "url", "role", "content", "name", "weight", "id"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=6,
)


def test_the_good_example_is_vouched_for() -> None:
    assert is_well_formed(json.dumps(GOOD).encode())
    assert is_well_formed(json.dumps(GOOD, separators=(",", ":")).encode())


def test_no_bad_example_is_vouched_for() -> None:
    for kind, bad in BAD.items():
        line = bad if isinstance(bad, str) else json.dumps(bad)
        assert not is_well_formed(line.encode()), kind
        compact = bad if isinstance(bad, str) else json.dumps(bad, separators=(",", ":"))
        assert not plain_chats(pl.Series([compact])).item(), kind


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@settings(max_examples=examples(1500), suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_a_vouched_line_always_passes_the_full_checker(data: st.DataObject) -> None:
    example = copy.deepcopy(GOOD)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(example)[1:]))
        *parent_path, last = path
        parent = example
        for step in parent_path:
            parent = parent[step]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[last] = data.draw(JSON_VALUES)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["refusal", "weight", "extra", "tool_calls"]))] = (
                data.draw(JSON_VALUES)
            )
        else:
            parent.insert(last, data.draw(JSON_VALUES))
    line = json.dumps(example, separators=data.draw(st.sampled_from([(",", ":"), (", ", ": ")])))

    if is_well_formed(line.encode()):
        assert check_example(json.loads(line)) == []


# Well-formed plain chats, each then bent in at most one way a plain chat can go wrong.
CHAT_TEXTS = st.text(
    st.sampled_from(["a", "é", '"', "\\", "/", "\n", "\x00", "\x7f", "\u2028", "😀"]),
    min_size=1,
    max_size=6,
)
PLAIN_TURNS = st.lists(
    st.tuples(
        st.sampled_from(["system", "developer", "user", "assistant"]),
        CHAT_TEXTS,
        st.sampled_from([None, 0, 1]),
    ),
    max_size=3,
)
BENDS = st.sampled_from(
    [
        None,
        ("content", "\ud800"),
        ("content", "x\udc00"),
        ("content", ""),
        ("content", None),
        ("content", 5),
        ("role", "tool"),
        ("role", "function"),
        ("role", "narrator"),
        ("role", "Assistant"),
        ("weight", 2),
        ("weight", True),
        ("weight", "1"),
        ("weight", None),
        ("name", "x"),
        ("tool_call_id", "call_1"),
        ("refusal", "no"),
        ("drop_last", None),
    ]
)


@settings(max_examples=examples(1500), suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    turns=PLAIN_TURNS,
    last=CHAT_TEXTS,
    bend=BENDS,
    where=st.integers(0, 3),
    ascii_only=st.booleans(),
)
def test_a_line_taken_for_a_plain_chat_always_passes_the_full_checker(
    turns: list[tuple[str, str, int | None]],
    last: str,
    bend: tuple[str, Any] | None,
    where: int,
    ascii_only: bool,
) -> None:
    messages: list[dict[str, Any]] = [
        {"role": role, "content": text}
        | ({"weight": weight} if role == "assistant" and weight is not None else {})
        for role, text, weight in turns
    ]
    messages.append({"role": "assistant", "content": last})
    if bend is not None:
        key, value = bend
        if key == "drop_last":
            messages.pop()
        elif messages:
            messages[where % len(messages)][key] = value
    surrogates = "ud800" in str(bend) or "udc00" in str(bend)
    example = {"messages": messages}
    line = json.dumps(example, separators=(",", ":"), ensure_ascii=ascii_only or surrogates)

    if plain_chats(pl.Series([line])).item():
        assert check_example(orjson.loads(line)) == []


def test_raw_control_characters_are_not_taken_for_a_plain_chat() -> None:
    # JSON writes them escaped; raw, they make the line invalid JSON.
    for char in ["\t", "\x00", "\x1f"]:
        line = '{"messages":[{"role":"user","content":"a%sb"},{"role":"assistant","content":"c"}]}'
        line = line % char
        assert not plain_chats(pl.Series([line])).item(), repr(char)
        assert check_fine_tuning_lines([line]).errors == {"invalid_json": 1}


def test_the_checker_fed_a_series_reports_what_it_does_fed_lines() -> None:
    plain = json.dumps(
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]},
        separators=(",", ":"),
    )
    bad = json.dumps(BAD["invalid_weight"], separators=(",", ":"))
    lines = [plain, json.dumps(GOOD), bad, plain, bad]
    by_line, by_series = FineTuneChecker(), FineTuneChecker()
    by_line.feed(lines[:2])
    by_line.feed(lines[2:])
    by_series.feed_series(pl.Series(lines[:2]))
    by_series.feed_series(pl.Series(lines[2:]))

    assert plain_chats(pl.Series(lines)).to_list() == [True, False, False, True, False]
    assert by_series.report() == by_line.report()
    assert by_series.report().examples == 5
    assert [number for number, _, _ in by_series.report().first_errors] == [3, 5]
