"""Every row has a token count, `estimated_tokens`: the provider's usage when it gave one, else an
estimate from the text (a conversation has no usage). The token limit, the recipe's token range,
the manifest and the dataset card read it, so a conversation is neither waved through nor
dropped for lack of usage."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.completions.normalize import normalize_completions
from pipelines.curate.filters import select_completions
from pipelines.curate.table import curate_completions
from pipelines.export.splits import SPLITS
from pipelines.export.versions import build_dataset_version
from pipelines.recipes import Recipe, Selection
from pipelines.sample import SAMPLE_PATH
from tests.frames import raw_frame
from tests.response_rows import (
    assistant,
    call,
    call_output,
    chat_row,
    conversation_row,
    normalized,
    tool_call,
    user,
    validated,
)


def long_conversation(conversation_id: str, words: int) -> dict[str, Any]:
    question = " ".join(f"word{i % 97}" for i in range(words))
    return conversation_row(
        conversation_id,
        [user(f"{conversation_id}-q", question), assistant(f"{conversation_id}-a", "Ok.")],
    )


def test_chat_rows_estimate_is_their_usage() -> None:
    records = [json.loads(line) for line in SAMPLE_PATH.read_text().splitlines()]
    rows = normalize_completions(raw_frame(records))

    with_usage = rows.filter(rows["total_tokens"].is_not_null())
    assert with_usage.height > 250
    assert with_usage["estimated_tokens"].to_list() == with_usage["total_tokens"].to_list()
    assert rows["estimated_tokens"].null_count() == 0


def test_a_row_without_usage_is_estimated_from_its_text_and_keeps_null_usage() -> None:
    items = [
        user("msg_1", "Météo à Paris ?"),
        call("fc_1", "call_1", "Paris"),
        call_output("fco_1", "call_1", "18 °C"),
        assistant("msg_2", "Il fait 18 °C."),
    ]
    question = {"role": "user", "content": "Météo à Paris ?"}
    answer = {"role": "assistant", "content": None, "tool_calls": [tool_call("call_1", "Paris")]}
    no_usage = chat_row("chatcmpl-no-usage", [question], answer, "tool_calls")
    completion = json.loads(no_usage["completion_json"])
    no_usage["completion_json"] = json.dumps({**completion, "usage": None})

    rows = normalized(conversation_row("conv_1", items), no_usage)

    texts = ["Météo à Paris ?", '{"city": "Paris"}', "18 °C", "Il fait 18 °C."]
    conversation = rows["conv_1"]
    assert conversation["estimated_tokens"] == math.ceil(
        sum(len(t.encode("utf-8")) for t in texts) / 4
    )
    chat = rows["chatcmpl-no-usage"]
    assert chat["estimated_tokens"] == math.ceil(sum(len(t.encode("utf-8")) for t in texts[:2]) / 4)
    usage = ("prompt_tokens", "completion_tokens", "total_tokens")
    assert [row[column] for row in (conversation, chat) for column in usage] == [None] * 6


def test_token_range_keeps_or_drops_a_conversation_by_its_estimate() -> None:
    completions = validated(
        long_conversation("conv_short", 20), long_conversation("conv_long", 2_000)
    ).completions
    assert completions.height == 2

    kept, report = select_completions(completions, Selection(max_total_tokens=1_000))
    assert kept["id"].to_list() == ["conv_short"]
    assert report.dropped == {"token_range": 1}

    kept, report = select_completions(completions, Selection(min_total_tokens=1_000))
    assert kept["id"].to_list() == ["conv_long"]
    assert report.dropped == {"token_range": 1}


def test_the_token_limit_cuts_a_conversation_by_its_estimate(tmp_path: Path) -> None:
    # gpt-4.1-mini allows 65,536 tokens an example; the long conversation's text is ~90,000.
    questions = [
        chat_row(
            f"chatcmpl-{i}",
            [{"role": "user", "content": f"Question {i} about topic {i * 7}?"}],
            {"role": "assistant", "content": f"Answer {i}."},
            "stop",
        )
        for i in range(3)
    ]
    completions = validated(
        *questions, long_conversation("conv_short", 30), long_conversation("conv_long", 45_000)
    ).completions
    assert completions.height == 5
    recipe = Recipe.model_validate(
        {"name": "r", "export": {"min_train_examples": 1}, "dedup": {"near": {"keep": "all"}}}
    )
    curated = curate_completions(completions, recipe)

    version = build_dataset_version(tmp_path, curated.rows, recipe, curation_steps=curated.steps)

    manifest = version.manifest
    assert manifest.drops_by_reason["over_token_limit"] == 1
    assert sum(split.rows for split in manifest.splits.values()) == 4
    published = curated.rows.filter(curated.rows["id"] != "conv_long")
    assert sum(split.tokens for split in manifest.splits.values()) == (
        published["estimated_tokens"].sum()
    )
    card = (version.path / "README.md").read_text(encoding="utf-8")
    histogram = card.split("## Tokens per example", 1)[1].split("```")[1]
    counts = [int(line.rsplit(" ", 1)[1]) for line in histogram.strip().splitlines()]
    assert sum(counts) == 4, histogram
    ids = pl.concat(pl.read_parquet(version.path / f"{split}.parquet") for split in SPLITS)
    assert sorted(ids["completion_id"]) == sorted(published["id"])
    assert "conv_short" in set(ids["completion_id"])
