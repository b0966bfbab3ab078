"""Chats stored turn by turn: chain detection on literal frames, and what each keep policy keeps."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from pipelines.curate.chains import chain_completions, chain_figures, find_chains
from pipelines.export.splits import assign_splits
from pipelines.recipes import Chains, ExactDedup, Split
from tests.frames import completions_frame
from tests.records import completion_record

SYSTEM = {"role": "system", "content": "You are a helpful travel agent."}
QUESTIONS = ["Flights to Oslo?", "And hotels?", "Any museums?", "Best time to go?", "Budget?"]
ANSWERS = ["Daily from LHR.", "Try the harbour.", "The Munch.", "June.", "About 150 a day."]


def chat_turns(
    questions: list[str], answers: list[str], *, prefix: str, start: int = 1_760_000_000
) -> list[dict[str, Any]]:
    """A chat stored once per request: turn k's input is turn k-1's input, answer, question."""
    records, history = [], [SYSTEM]
    for turn, (question, answer) in enumerate(zip(questions, answers, strict=True), start=1):
        history = [*history, {"role": "user", "content": question}]
        records.append(
            completion_record(
                f"{prefix}-{turn}", created=start + 60 * turn, input_messages=history, answer=answer
            )
        )
        history = [*history, {"role": "assistant", "content": answer}]
    return records


def chains_of(records: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    found = find_chains(completions_frame(records), ExactDedup())
    return {row["id"]: (row["chain_id"], row["turn"]) for row in found.iter_rows(named=True)}


def test_a_five_turn_chat_stored_as_five_completions_is_one_chain() -> None:
    chains = chains_of(chat_turns(QUESTIONS, ANSWERS, prefix="c"))

    assert chains == {f"c-{turn}": ("c-1", turn) for turn in range(1, 6)}


def test_a_chat_whose_middle_turn_was_not_stored_still_joins_its_earlier_turns() -> None:
    records = chat_turns(QUESTIONS, ANSWERS, prefix="c")
    del records[2]  # turn 3 was sent with store=false

    chains = chains_of(records)

    assert {i: c for i, (c, _) in chains.items()} == dict.fromkeys(
        ["c-1", "c-2", "c-4", "c-5"], "c-1"
    )
    assert chains["c-4"][1] == 3  # its parent is turn 2, the longest stored prefix


def test_case_and_whitespace_are_folded_as_exact_dedup_folds_them() -> None:
    records = chat_turns(QUESTIONS[:2], ANSWERS[:2], prefix="c")
    records[1]["input_messages"][2]["content"] = "Daily   FROM\tlhr."

    assert chains_of(records)["c-2"] == ("c-1", 2)


def test_a_regenerated_answer_is_a_branch_and_longest_keeps_the_deepest_leaf() -> None:
    records = chat_turns(QUESTIONS[:3], ANSWERS[:3], prefix="c")
    regenerated = completion_record(
        "c-2b",
        created=records[1]["created"] + 30,
        input_messages=records[1]["input_messages"],
        answer="Hotels near the harbour are best.",
    )
    frame = completions_frame([*records, regenerated])

    chains = find_chains(frame, ExactDedup())
    kept, report = chain_completions(frame, Chains(keep="longest"), ExactDedup())

    assert chain_figures(chains).branches == 1
    assert dict(zip(chains["id"], chains["turn"], strict=True)) == {
        "c-1": 1,
        "c-2": 2,
        "c-2b": 2,
        "c-3": 3,
    }
    # Two leaves (c-2b at turn 2, c-3 at turn 3): the deepest is kept, the whole conversation.
    assert kept["id"].to_list() == ["c-3"]
    assert report.dropped == {"earlier_turn_of_a_chat": 3}
    assert report.counts["branches"] == 1 and report.counts["longest_chain_turns"] == 3


def test_equally_deep_leaves_keep_the_newest() -> None:
    records = chat_turns(QUESTIONS[:2], ANSWERS[:2], prefix="c")
    regenerated = completion_record(
        "c-2b",
        created=records[1]["created"] + 30,
        input_messages=records[1]["input_messages"],
        answer="Hotels near the harbour are best.",
    )

    kept, _ = chain_completions(
        completions_frame([*records, regenerated]), Chains(keep="longest"), ExactDedup()
    )

    assert kept["id"].to_list() == ["c-2b"]


def test_tool_call_turns_chain_through_the_call_and_its_result() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "order_status", "arguments": '{"order": "A-17"}'},
    }
    ask = [SYSTEM, {"role": "user", "content": "Where is order A-17?"}]
    calling = completion_record(
        "t-1",
        input_messages=ask,
        choices=[
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
    )
    answered = completion_record(
        "t-2",
        created=1_760_000_100,
        input_messages=[
            *ask,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
        ],
        answer="It shipped yesterday.",
    )

    assert chains_of([calling, answered]) == {"t-1": ("t-1", 1), "t-2": ("t-1", 2)}


def test_a_chat_that_only_shares_the_system_prompt_does_not_join() -> None:
    first = chat_turns(QUESTIONS[:2], ANSWERS[:2], prefix="a")
    other = chat_turns(["Trains to Bergen?", "And back?"], ["Hourly.", "Same."], prefix="b")

    chains = chains_of([*first, *other])

    assert chains == {"a-1": ("a-1", 1), "a-2": ("a-1", 2), "b-1": ("b-1", 1), "b-2": ("b-1", 2)}


def test_a_later_turn_whose_answer_differs_from_the_stored_one_is_another_chat() -> None:
    records = chat_turns(QUESTIONS[:2], ANSWERS[:2], prefix="c")
    records[1]["input_messages"][2]["content"] = "An answer the store never gave."

    assert chains_of(records) == {"c-1": ("c-1", 1), "c-2": ("c-2", 1)}


@pytest.mark.parametrize(
    ("keep", "kept_ids"),
    [
        ("longest", ["c-5"]),
        ("last_turn_only", ["c-5"]),
        ("every_turn", [f"c-{t}" for t in range(1, 6)]),
    ],
)
def test_what_each_keep_policy_keeps(keep: str, kept_ids: list[str]) -> None:
    frame = completions_frame(chat_turns(QUESTIONS, ANSWERS, prefix="c"))

    kept, report = chain_completions(frame, Chains(keep=keep), ExactDedup())

    assert kept["id"].to_list() == kept_ids
    assert set(kept["chain_id"]) == {"c-1"}
    assert report.counts["chains"] == 1 and report.counts["rows_in_chains"] == 5


def test_every_turn_keeps_a_chat_in_one_split() -> None:
    chats = [
        record
        for n in range(40)
        for record in chat_turns(QUESTIONS[:3], [f"{a} ({n})" for a in ANSWERS[:3]], prefix=f"c{n}")
    ]
    frame = completions_frame(chats)
    kept, _ = chain_completions(frame, Chains(keep="every_turn"), ExactDedup())
    # Every row its own near-duplicate cluster: only the chats hold turns together.
    kept = kept.with_columns(
        pl.col("id").alias("cluster_id"), pl.lit(1, pl.UInt32).alias("cluster_size")
    )

    split = assign_splits(kept, Split(train=0.5, validation=0.25, eval=0.25))

    per_chat = split.group_by("chain_id").agg(pl.col("split").n_unique())
    assert per_chat["split"].max() == 1
    assert set(split["split"]) == {"train", "validation", "eval"}


def test_a_chat_and_a_near_duplicate_cluster_that_overlap_are_one_group() -> None:
    rows = pl.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "chain_id": ["a", "a", "c", "d"],
            "cluster_id": ["a", "b", "b", "d"],
            "created": [1, 2, 3, 4],
        }
    )

    split = assign_splits(rows, Split(seed=3))

    groups = dict(zip(split["id"], split["split_group"], strict=True))
    assert groups["a"] == groups["b"] == groups["c"] != groups["d"]
