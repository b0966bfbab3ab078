"""Splits: deterministic, group-aware, stratified or by time, and every split non-empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from pipelines.export.splits import assign_splits
from pipelines.recipes import Split


def rows(n: int, *, cluster_of=lambda i: f"c{i}", metadata_of=lambda i: []) -> pl.DataFrame:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "id": [f"id{i:04d}" for i in range(n)],
            "cluster_id": [cluster_of(i) for i in range(n)],
            "created": [start + timedelta(hours=i) for i in range(n)],
            "metadata": [metadata_of(i) for i in range(n)],
        },
        schema={
            "id": pl.String,
            "cluster_id": pl.String,
            "created": pl.Datetime("us", "UTC"),
            "metadata": pl.List(pl.Struct({"key": pl.String, "value": pl.String})),
        },
    )


def splits_of(frame: pl.DataFrame) -> dict[str, str]:
    return dict(frame.select("id", "split").iter_rows())


def test_fractions_are_met_and_the_result_is_deterministic() -> None:
    first = assign_splits(rows(1000), Split())
    again = assign_splits(rows(1000).sample(fraction=1.0, shuffle=True, seed=3), Split())

    counts = dict(first.group_by("split").len().iter_rows())
    # Hash bands: each share within a few percent of its fraction (binomial spread at n=1000).
    assert abs(counts["train"] - 800) <= 40
    assert abs(counts["validation"] - 100) <= 30 and abs(counts["eval"] - 100) <= 30
    assert splits_of(first) == splits_of(again)


def test_a_row_keeps_its_split_as_the_data_grows() -> None:
    before = splits_of(assign_splits(rows(300), Split()))
    after = splits_of(assign_splits(rows(900), Split()))

    assert {i: after[i] for i in before} == before


def test_the_seed_changes_the_assignment() -> None:
    a = splits_of(assign_splits(rows(200), Split(seed=1)))
    b = splits_of(assign_splits(rows(200), Split(seed=2)))

    assert a != b


def test_a_cluster_never_straddles_splits() -> None:
    frame = assign_splits(rows(500, cluster_of=lambda i: f"c{i // 7}"), Split())

    per_cluster = frame.group_by("cluster_id").agg(pl.col("split").n_unique())
    assert per_cluster["split"].max() == 1
    assert set(frame["split"]) == {"train", "validation", "eval"}


def test_grouping_by_a_metadata_key_keeps_a_user_together() -> None:
    user = lambda i: [{"key": "user_id", "value": f"u{i % 23}"}]  # noqa: E731
    frame = assign_splits(rows(460, metadata_of=user), Split(group_by="metadata.user_id"))

    users = frame.with_columns(pl.col("metadata").list.first().struct.field("value").alias("user"))
    assert users.group_by("user").agg(pl.col("split").n_unique())["split"].max() == 1


def test_rows_without_the_group_key_are_their_own_group() -> None:
    frame = assign_splits(rows(300), Split(group_by="metadata.user_id"))

    assert frame["split_group"].n_unique() == 300


def test_stratification_balances_each_category() -> None:
    category = lambda i: [{"key": "category", "value": "rare" if i % 10 == 0 else "common"}]  # noqa: E731
    frame = assign_splits(rows(1000, metadata_of=category), Split(stratify_by="metadata.category"))

    rare = frame.filter(pl.col("metadata").list.first().struct.field("value") == "rare")
    assert dict(rare.group_by("split").len().iter_rows()) == {
        "train": 80,
        "validation": 10,
        "eval": 10,
    }


def test_by_time_sends_the_newest_rows_to_eval() -> None:
    frame = assign_splits(rows(100), Split(by_time=True))

    newest_train = frame.filter(pl.col("split") == "train")["created"].max()
    oldest_eval = frame.filter(pl.col("split") == "eval")["created"].min()
    assert newest_train < oldest_eval
    assert frame.filter(pl.col("split") == "eval").height == 10


@pytest.mark.parametrize("n", [3, 4, 7])
def test_small_datasets_still_fill_every_split(n: int) -> None:
    frame = assign_splits(rows(n), Split())

    assert set(frame["split"]) == {"train", "validation", "eval"}


def test_a_zero_fraction_split_stays_empty() -> None:
    frame = assign_splits(rows(50), Split(train=0.9, validation=0.0, eval=0.1))

    assert set(frame["split"]) == {"train", "eval"}
