"""The completions table and its quarantine: every malformed shape, fed through the local store and
the real ingest, lands in quarantine with its specific reason; every good record lands in
`completions`; the two add up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.completions.table import build_completions, read_completions, read_quarantine
from pipelines.ingest.lake import read_raw_completions
from pipelines.sample import SAMPLE_PATH
from schemas.completions import MAX_CONTENT_BYTES
from tests.records import completion_record
from tests.store_process import StoreProcess
from tests.test_ingest import ingest, source_env

CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}

# id → (record, the checks it must fail)
MALFORMED: dict[str, tuple[dict[str, Any], set[str]]] = {
    "no-choices": (completion_record("no-choices", choices=[]), {"has_choices"}),
    "number-content": (
        completion_record("number-content", input_messages=[{"role": "user", "content": 42}]),
        {"text_content"},
    ),
    "unknown-role": (
        completion_record("unknown-role", input_messages=[{"role": "narrator", "content": "x"}]),
        {"known_roles"},
    ),
    "empty-output": (
        completion_record(
            "empty-output",
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": None, "refusal": None},
                    "finish_reason": "stop",
                }
            ],
        ),
        {"output_present"},
    ),
    "no-created": (completion_record("no-created", created=None), {"has_created"}),
    "no-usage": (completion_record("no-usage", usage=None), {"has_usage"}),
    "tool-without-call-id": (
        completion_record(
            "tool-without-call-id",
            input_messages=[
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "tool", "content": "42"},
            ],
        ),
        {"tool_messages_have_call_id"},
    ),
    "orphan-call-id": (
        completion_record(
            "orphan-call-id",
            input_messages=[
                {"role": "user", "content": "q"},
                {"role": "tool", "tool_call_id": "call_1", "content": "answer before the call"},
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
            ],
        ),
        {"tool_call_ids_match"},
    ),
    "lone-surrogate": (
        completion_record(
            "lone-surrogate", input_messages=[{"role": "user", "content": "broken \ud800 text"}]
        ),
        {"valid_text"},
    ),
    "oversized": (
        completion_record(
            "oversized", input_messages=[{"role": "user", "content": "x" * (MAX_CONTENT_BYTES + 1)}]
        ),
        {"content_within_bound"},
    ),
    "many-faults": (
        completion_record(
            "many-faults",
            created=None,
            usage=None,
            choices=[],
            input_messages=[{"role": "narrator", "content": 7}],
        ),
        {"has_choices", "has_created", "has_usage", "known_roles", "text_content"},
    ),
}

GOOD = [
    completion_record("good-plain"),
    completion_record(
        "good-tools",
        input_messages=[
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        ],
    ),
    completion_record(
        "good-refusal",
        choices=[
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
                "finish_reason": "stop",
            }
        ],
    ),
]


@pytest.fixture
def lake(fresh_store: StoreProcess, tmp_path: Path) -> Path:
    fresh_store.import_records([record for record, _ in MALFORMED.values()] + GOOD)
    ingest(source_env(fresh_store, "openai"), tmp_path)
    return tmp_path


def reasons_by_id(quarantine: pl.DataFrame) -> dict[str, set[str]]:
    return {
        row["id"]: {reason["check"] for reason in row["reasons"]}
        for row in quarantine.iter_rows(named=True)
    }


def test_each_malformed_shape_is_quarantined_with_its_specific_reasons(lake: Path) -> None:
    validated = build_completions(lake)

    assert reasons_by_id(validated.quarantine) == {
        completion_id: checks for completion_id, (_, checks) in MALFORMED.items()
    }
    assert sorted(validated.completions["id"]) == sorted(r["id"] for r in GOOD)


def test_quarantine_keeps_the_raw_record_and_readable_messages(lake: Path) -> None:
    build_completions(lake)

    quarantine = read_quarantine(lake)
    raw = read_raw_completions(lake)
    row = quarantine.filter(pl.col("id") == "unknown-role").row(0, named=True)
    assert (
        row["completion_json"] == raw.filter(pl.col("id") == "unknown-role")["completion_json"][0]
    )
    assert json.loads(row["messages_json"])[0]["role"] == "narrator"
    (reason,) = row["reasons"]
    assert reason["check"] == "known_roles"
    assert "role outside system, developer, user, assistant, tool" in reason["message"]


def test_the_tables_add_up_to_the_lake(lake: Path) -> None:
    validated = build_completions(lake)

    raw_ids = set(read_raw_completions(lake)["id"])
    assert validated.completions.height + validated.quarantine.height == len(raw_ids)
    assert set(read_completions(lake)["id"]) | set(read_quarantine(lake)["id"]) == raw_ids
    assert not set(read_completions(lake)["id"]) & set(read_quarantine(lake)["id"])


@pytest.mark.slow
def test_the_bundled_sample_splits_into_its_marked_malformed_records(tmp_path: Path) -> None:
    ingest({}, tmp_path)  # no credentials: the embedded store serves the sample

    validated = build_completions(tmp_path)

    records = [json.loads(line) for line in SAMPLE_PATH.read_text().splitlines()]
    malformed = {
        r["id"]
        for r in records
        if r.get("metadata", {}).get("sample_case", "").startswith("malformed")
    }
    assert set(validated.quarantine["id"]) == malformed
    assert validated.completions.height == len(records) - len(malformed)
    unknown = validated.completions.filter(pl.col("completion_json").str.contains("x_custom_field"))
    assert unknown.height == 1  # a well-formed record with an unknown field is kept, field and all
    assert json.loads(unknown["completion_json"][0])["x_custom_field"] == {"nested": [1, 2]}


def test_typed_columns_carry_the_record(lake: Path) -> None:
    validated = build_completions(lake)

    row = validated.completions.filter(pl.col("id") == "good-tools").row(0, named=True)
    assert row["created"].tzname() == "UTC"
    assert [m["role"] for m in row["messages"]] == ["developer", "user", "assistant", "tool"]
    assert row["messages"][2]["tool_calls"] == [CALL]
    assert row["messages"][3]["tool_call_matched"] is True
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (12, 5, 17)
    assert row["metadata"] == []
    refusal = validated.completions.filter(pl.col("id") == "good-refusal").row(0, named=True)
    assert (refusal["output_content"], refusal["output_refusal"]) == (None, "I can't help.")
