"""Chats stored turn by turn in the bundled sample, through the real curated and dataset assets."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from assets.curation import curated_asset
from assets.export import dataset_asset
from assets.resources import DataDirectory
from pipelines.completions import build_completions
from pipelines.curate import read_curated
from pipelines.export import latest_version
from pipelines.recipes import Recipe
from pipelines.sample import SAMPLE_PATH
from tests.test_ingest import ingest

RECIPES = [
    Recipe(name="longest"),
    Recipe.model_validate({"name": "turns", "chains": {"keep": "every_turn"}}),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as env:
        for name in ("DISTILLERY_SOURCE", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
            env.delenv(name, raising=False)
        ingest({}, data_dir)
    build_completions(data_dir)
    result = dg.materialize(
        [asset for recipe in RECIPES for asset in (curated_asset(recipe), dataset_asset(recipe))],
        resources={"data_dir": DataDirectory(path=str(data_dir))},
    )
    return {"data_dir": data_dir, "result": result}


def planned_chats() -> dict[str, list[dict[str, Any]]]:
    """The sample's chats stored turn by turn: records sharing a conversation id, by id."""
    chats: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in SAMPLE_PATH.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        conversation = (record.get("metadata") or {}).get("conversation_id")
        if conversation:
            chats[conversation].append(record)
    return {c: records for c, records in chats.items() if len(records) > 1}


def published(data_dir: Path, recipe: str) -> pl.DataFrame:
    version = data_dir / "artifacts" / recipe / str(latest_version(data_dir, recipe))
    return pl.concat(
        pl.read_parquet(version / f"{split}.parquet", columns=["completion_id", "split", "line"])
        for split in ("train", "validation", "eval")
    )


def same_text_but_redactions(written: str | None, stored: str | None) -> bool:
    """`written` is `stored`, but for placeholders (`<PHONE>`, …) standing for redacted text."""
    if written is None or stored is None:
        return written == stored
    pattern = re.sub(
        r"<(?:SECRET|EMAIL|CARD|IP|PHONE)>",
        ".+?",
        re.escape(written).replace(r"\<", "<").replace(r"\>", ">"),
    )
    return re.fullmatch(pattern, stored, flags=re.DOTALL) is not None


def test_the_sample_has_chats_with_a_branch_and_turns_days_apart() -> None:
    chats = planned_chats()
    spans = {
        c: max(r["created"] for r in rs) - min(r["created"] for r in rs) for c, rs in chats.items()
    }
    inputs = [len(r["input_messages"]) for rs in chats.values() for r in rs]

    assert len(chats) >= 12
    assert max(len(records) for records in chats.values()) == 5
    assert max(spans.values()) > 2 * 24 * 3600
    assert any(
        len({json.dumps(r["input_messages"]) for r in records}) < len(records)
        for records in chats.values()
    ), "a turn regenerated: two records with the same input"
    assert max(inputs) >= 10


@pytest.mark.slow
def test_longest_publishes_each_chat_once_as_its_whole_conversation(built: dict) -> None:
    lines = published(built["data_dir"], "longest")
    by_id = dict(zip(lines["completion_id"], lines["line"], strict=True))
    curated = read_curated(built["data_dir"], "longest")
    kept = set(curated["id"])

    for records in planned_chats().values():
        deepest = max(records, key=lambda r: (len(r["input_messages"]), r["created"]))
        published_turns = [r["id"] for r in records if r["id"] in by_id]
        if deepest["id"] not in kept:  # dropped by a filter (e.g. its finish reason)
            continue
        assert published_turns == [deepest["id"]]
        messages = json.loads(by_id[deepest["id"]])["messages"]
        stored = [*deepest["input_messages"], deepest["choices"][0]["message"]]
        assert len(messages) == len(stored)
        for written, original in zip(messages, stored, strict=True):
            assert same_text_but_redactions(written.get("content"), original.get("content"))


@pytest.mark.slow
def test_the_card_says_how_chats_were_kept(built: dict) -> None:
    cards = {}
    for recipe in ("longest", "turns"):
        version = (
            built["data_dir"]
            / "artifacts"
            / recipe
            / str(latest_version(built["data_dir"], recipe))
        )
        manifest = json.loads((version / "manifest.json").read_text())
        (step,) = [s for s in manifest["steps"] if s["step"] == "chains"]
        cards[recipe] = ((version / "README.md").read_text(), step["dropped"])

    longest, folded = cards["longest"]
    assert "## Chats stored turn by turn" in longest and "`chains.keep: longest`" in longest
    assert folded["earlier_turn_of_a_chat"] >= 12  # at least a turn of each planned chat
    assert f"{folded['earlier_turn_of_a_chat']:,} earlier turns were folded" in longest
    turns, none_folded = cards["turns"]
    assert "every stored turn, each an example" in turns and none_folded == {}


@pytest.mark.slow
def test_every_turn_keeps_each_chat_inside_one_split(built: dict) -> None:
    lines = published(built["data_dir"], "turns")
    curated = read_curated(built["data_dir"], "turns").select("id", "chain_id", "turn")
    placed = lines.join(curated, left_on="completion_id", right_on="id")

    per_chat = placed.group_by("chain_id").agg(pl.len(), pl.col("split").n_unique())
    assert per_chat["split"].max() == 1
    assert per_chat["len"].max() >= 5  # the five-turn chat, every turn published
    checks = {
        (c.asset_key.to_user_string(), c.check_name): c.passed
        for c in built["result"].get_asset_check_evaluations()
    }
    assert checks[("dataset_turns", "split_overlap")] is True


@pytest.mark.slow
def test_the_curated_asset_reports_the_chains(built: dict) -> None:
    events = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in built["result"].get_asset_materialization_events()
    }
    metadata = events["curated_longest"]

    assert metadata["chains"].value >= 12
    assert metadata["longest_chain_turns"].value == 5
    assert metadata["chain_branches"].value >= 1
    assert metadata["rows_folded_into_chains"].value > 0
    assert metadata["average_chain_turns"].value > 2
