"""The checker's fast first pass never vouches for a line the full checker would fault."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.finetune_check import check_example
from pipelines.finetune_format import is_well_formed
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


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
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
