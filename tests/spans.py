"""Literal OTLP/JSON spans for the traces tests, and the raw-lake rows ingest makes of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from pipelines.completions.normalize import normalize_completions
from pipelines.completions.validate import ValidatedCompletions, validate_completions
from pipelines.ingest.rows import span_lake_row
from schemas import RAW_COMPLETIONS_SCHEMA

START_NS = 1_770_000_000_123_456_789


def any_value(value: Any) -> dict[str, Any]:
    """A plain value as an OTLP/JSON `AnyValue` (int64 as a string, as the JSON encoding has it)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    return {"stringValue": value}


def span_record(
    attributes: dict[str, Any],
    *,
    trace_id: str = "5b8aa5a2d2c872e8321cf37308d69df2",
    span_id: str = "051581bf3cb55c13",
    parent_span_id: str | None = None,
    name: str = "chat gpt-4o-mini",
) -> dict[str, Any]:
    """One span record (`pipelines.otlp.span_records`) with these plain attributes."""
    span: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(START_NS),
        "endTimeUnixNano": str(START_NS + 250_000_000),
        "attributes": [{"key": k, "value": any_value(v)} for k, v in attributes.items()],
        "status": {},
    }
    if parent_span_id:
        span["parentSpanId"] = parent_span_id
    return {
        "resource": {"attributes": [{"key": "service.name", "value": any_value("agent")}]},
        "scope": {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.4b0"},
        "span": span,
    }


def export_request(records: list[dict[str, Any]]) -> dict[str, Any]:
    """An `ExportTraceServiceRequest` (OTLP/JSON) holding these span records, one scope each."""
    return {
        "resourceSpans": [
            {
                "resource": record["resource"],
                "scopeSpans": [{"scope": record["scope"], "spans": [record["span"]]}],
            }
            for record in records
        ]
    }


def raw_spans_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Raw-lake rows as ingest writes them for these span records."""
    rows = [
        {
            **span_lake_row(
                record,
                source_kind="local",
                ingested_at=datetime(2026, 12, 1, tzinfo=UTC),
                source_endpoint="local",
            ),
            "batch_id": "b",
        }
        for record in records
    ]
    return pl.DataFrame(rows, schema=RAW_COMPLETIONS_SCHEMA)


def validated_spans(records: list[dict[str, Any]]) -> ValidatedCompletions:
    """Span records through the real normalizer and validation."""
    return validate_completions(normalize_completions(raw_spans_frame(records)))
