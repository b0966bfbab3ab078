"""Raw-lake rows: a stored object and its inner items exactly as the API returned them, or a trace's
LLM-call span exactly as it was exported."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pipelines import jsontext, otlp
from schemas import TRACES_API


def lake_row(
    item: dict[str, Any],
    messages: list[dict[str, Any]],
    *,
    api: str,
    source_kind: str,
    ingested_at: datetime,
    source_endpoint: str,
) -> dict[str, Any]:
    """One `raw_completions` row (every column but `batch_id`).

    Args:
        item: The chat completion, response or conversation object.
        messages: Its inner items, oldest first: input messages, input items or conversation
            items.
        api: Which API it came from (`schemas.APIS`).
        source_kind: Which provider (`schemas.SOURCE_KINDS`).
        ingested_at: When it was fetched.
        source_endpoint: Which store of it (`SourceInfo.endpoint`).
    """
    model = item.get("model")
    return {
        "api": api,
        "id": item["id"],
        "created": created_of(item),
        "model": model if isinstance(model, str) else None,
        "source": source_kind,
        "source_endpoint": source_endpoint,
        "ingested_at": ingested_at,
        "deleted": False,
        "item_sha256": item_sha256(item),
        "completion_json": jsontext.dumps(item),
        "messages_json": jsontext.dumps(messages),
    }


def item_sha256(item: dict[str, Any]) -> str:
    """sha256 of the item's canonical JSON (keys sorted, ASCII): the same item hashes alike
    whatever order a server writes its keys in, so a reordering never looks like an update."""
    canonical = json.dumps(item, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def created_of(item: dict[str, Any]) -> int | None:
    """`created` (chat completions) or `created_at` (responses, conversations) as unix seconds,
    or None when missing or not a number."""
    created = item.get("created", item.get("created_at"))
    if isinstance(created, bool) or not isinstance(created, int | float):
        return None
    return int(created)


def messages_by_id(rows: Any) -> dict[str, list[dict[str, Any]]]:
    """id → stored input messages, from lake rows (a polars frame)."""
    return {
        row["id"]: json.loads(row["messages_json"])
        for row in rows.select("id", "messages_json").iter_rows(named=True)
    }


def span_lake_row(
    record: dict[str, Any], *, source_kind: str, ingested_at: datetime, source_endpoint: str
) -> dict[str, Any]:
    """One `raw_completions` row (every column but `batch_id`) for an LLM-call span record
    (`pipelines.otlp.span_records`): api `traces`, id `span_<trace id>_<span id>` (unique in
    every trace store), the record kept whole as `completion_json`, no items (`[]`).

    `model` is the model that answered (`gen_ai.response.model`, OpenInference's
    `llm.model_name`), else the one asked for; `created` the span's start in unix seconds.
    """
    attrs = otlp.span_attributes(record)
    trace_id, span_id = otlp.span_key(record)
    model = next(
        (
            attrs[name]
            for name in ("gen_ai.response.model", "llm.model_name", "gen_ai.request.model")
            if isinstance(attrs.get(name), str)
        ),
        None,
    )
    start = record["span"].get("startTimeUnixNano")
    return {
        "api": TRACES_API,
        "id": f"span_{trace_id}_{span_id}",
        "created": int(start) // 1_000_000_000 if str(start or "").isdigit() else None,
        "model": model,
        "source": source_kind,
        "source_endpoint": source_endpoint,
        "ingested_at": ingested_at,
        "deleted": False,
        "item_sha256": item_sha256(record),
        "completion_json": jsontext.dumps(record),
        "messages_json": "[]",
    }
