"""Exact dedup: the stable hash, folding options, scope, and the survivor rule."""

from __future__ import annotations

import polars as pl

from pipelines.curate.dedup import dedupe_exact
from pipelines.recipes import ExactDedup
from tests.frames import completions_frame, user
from tests.records import completion_record


def frame():
    return completions_frame(
        [
            completion_record("a-old", created=100, input_messages=user("What is  2+2?")),
            completion_record("a-new", created=300, input_messages=user("what is 2+2?")),
            completion_record("a-mid", created=200, input_messages=user("What is 2+2?")),
            completion_record(
                "a-other-answer", created=250, input_messages=user("What is 2+2?"), answer="Four."
            ),
            completion_record("b", created=150, input_messages=user("Capital of France?")),
        ]
    )


def test_newest_survives_and_counts_its_duplicates() -> None:
    survivors, report = dedupe_exact(frame(), ExactDedup())

    assert sorted(survivors["id"]) == ["a-new", "a-other-answer", "b"]
    counts = dict(survivors.select("id", "duplicate_count").iter_rows())
    assert counts == {"a-new": 3, "a-other-answer": 1, "b": 1}
    assert report.dropped == {"exact_duplicate": 2}


def test_oldest_survives_when_asked() -> None:
    survivors, _ = dedupe_exact(frame(), ExactDedup(keep="oldest"))

    assert "a-old" in survivors["id"].to_list() and "a-new" not in survivors["id"].to_list()


def test_without_folding_case_and_space_differences_are_distinct() -> None:
    survivors, _ = dedupe_exact(frame(), ExactDedup(fold_case=False, fold_whitespace=False))

    assert survivors.height == 5


def test_input_scope_ignores_the_answer() -> None:
    survivors, report = dedupe_exact(frame(), ExactDedup(scope="input"))

    assert sorted(survivors["id"]) == ["a-new", "b"]
    assert report.dropped == {"exact_duplicate": 3}


def test_the_hash_is_stable_sha256() -> None:
    first, _ = dedupe_exact(frame(), ExactDedup())
    # Another row order (sort, not reverse: polars 2.1 loses the struct type when reversing an
    # all-null list-of-struct column).
    second, _ = dedupe_exact(frame().sort("id", descending=True), ExactDedup())

    by_id = dict(first.select("id", "dedup_hash").iter_rows())
    assert by_id == dict(second.select("id", "dedup_hash").iter_rows())
    assert first["dedup_hash"].str.len_chars().unique().to_list() == [64]
    assert first.filter(pl.col("id") == "b")["dedup_hash"].item() != by_id["a-new"]


def test_chunked_input_keeps_the_same_survivors_in_input_order() -> None:
    rows = frame()
    chunked = pl.concat([rows[:2], rows[2:]], rechunk=False)

    survivors, _ = dedupe_exact(chunked, ExactDedup())

    assert survivors["id"].to_list() == ["a-new", "a-other-answer", "b"]
    assert survivors.equals(dedupe_exact(rows, ExactDedup())[0])
