"""Small `completions` frames built from literal records through the real normalizer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl

from pipelines.completions.normalize import normalize_completions
from pipelines.completions.validate import validate_completions
from schemas import RAW_COMPLETIONS_SCHEMA


def raw_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Raw-lake rows as ingest writes them, from `tests.records.completion_record` dicts."""
    rows = []
    for record in records:
        completion = {k: v for k, v in record.items() if k != "input_messages"}
        messages = [
            {"id": f"{record['id']}-{i}", **m} for i, m in enumerate(record["input_messages"])
        ]
        rows.append(
            {
                "id": record["id"],
                "created": record.get("created"),
                "model": record.get("model"),
                "source": "local",
                "ingested_at": datetime(2026, 11, 1, tzinfo=UTC),
                "batch_id": "b",
                "deleted": False,
                "item_sha256": "0" * 64,
                "completion_json": json.dumps(completion, ensure_ascii=False),
                "messages_json": json.dumps(messages, ensure_ascii=False),
            }
        )
    return pl.DataFrame(rows, schema=RAW_COMPLETIONS_SCHEMA)


def completions_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Validated `completions` rows; fails loudly if any literal record is malformed."""
    validated = validate_completions(normalize_completions(raw_frame(records)))
    assert validated.quarantine.is_empty(), validated.quarantine["reasons"].to_list()
    return validated.completions


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
