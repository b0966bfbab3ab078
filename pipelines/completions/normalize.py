"""Normalize the raw lake into typed `completions` columns.

Lenient by design: whatever a record holds, it becomes one typed row, with what cannot be typed
recorded as facts (`content_type`, `tool_call_matched`, `text_repaired`, `response_status`,
`context_missing`) for the pandera checks in `schemas.completions` to judge. Nothing here drops
or rejects a record; `pipelines.completions.validate` does that, with reasons. Unknown fields stay
in the raw JSON columns.

Usage is what the provider said, null when it said nothing (a conversation has none); every row
also gets `estimated_tokens`: `total_tokens`, else an estimate from the text (`estimate_tokens`).

One code path types every API: a stored response or conversation is first put in the shapes of a
stored chat completion (`pipelines.completions.responses`), its earlier turns resolved among the
same raw rows (`pipelines.completions.contexts`); so is an LLM-call span of a trace
(`pipelines.completions.traces`), from its own row alone.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
import pyarrow as pa

from pipelines.completions.contexts import ResponseContexts
from pipelines.completions.responses import ChatShapes, conversation_as_chat, response_as_chat
from pipelines.completions.tokens import estimate_tokens
from pipelines.completions.traces import span_as_chat
from pipelines.jsontext import dumps as _json
from pipelines.jsontext import loads as _loads
from schemas import COMPLETIONS_SCHEMA, CONVERSATIONS_API, LEGACY_API, RESPONSES_API, TRACES_API

# Columns computed from the JSON, in the order `_normalize_record` returns them.
_PARSED_COLUMNS = [
    "created",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "response_format",
    "tool_choice",
    "tools",
    "parallel_tool_calls",
    "service_tier",
    "system_fingerprint",
    "request_id",
    "input_user",
    "metadata",
    "messages",
    "choice_count",
    "output_content",
    "output_refusal",
    "output_tool_calls",
    "finish_reason",
    "content_filtered",
    "content_filter_categories",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "estimated_tokens",
    "text_repaired",
    "response_status",
    "context_missing",
]
_PARSED_SCHEMA = pl.Schema(
    {name: pl.Int64 if name == "created" else COMPLETIONS_SCHEMA[name] for name in _PARSED_COLUMNS}
)
_ARROW_SCHEMA = _PARSED_SCHEMA.to_frame().to_arrow().schema
# Rows normalized at a time: bounds the transient memory of the Python objects and their Arrow
# copies, whatever the size of the lake.
_CHUNK_ROWS = 20_000
_JSON_TYPES = {str: "string", type(None): "null", list: "array", dict: "object", bool: "boolean"}


def normalize_completions(raw: pl.DataFrame) -> pl.DataFrame:
    """Turn merged raw-lake rows (see `pipelines.ingest.lake.read_raw_completions`) into typed rows.

    Args:
        raw: Rows with `api, id, model, source, ingested_at, deleted, completion_json,
            messages_json` (`schemas.RawCompletions`). A null `api` is read as `chat_completions`,
            as the lake reads batches written before the column existed. A response's earlier
            turns are looked up among these rows only: pass the whole merged lake.

    Returns:
        One row per input row, in the same order, with the columns of `schemas.Completions`
        (not yet validated).
    """
    raw = raw.with_columns(pl.col("api").fill_null(LEGACY_API))
    contexts = ResponseContexts(raw)
    computed = pl.concat(
        [
            _typed_columns(raw.slice(offset, _CHUNK_ROWS), contexts)
            for offset in range(0, raw.height, _CHUNK_ROWS)
        ]
        or [_PARSED_SCHEMA.to_frame()],
        rechunk=False,
    )
    return (
        pl.concat(
            [
                raw.select(
                    "api",
                    "id",
                    "model",
                    "source",
                    "ingested_at",
                    "completion_json",
                    "messages_json",
                    pl.col("deleted").alias("deleted_at_source"),
                ),
                computed.with_columns(
                    pl.from_epoch("created", time_unit="s").dt.replace_time_zone("UTC")
                ),
            ],
            how="horizontal",
        )
        .select(COMPLETIONS_SCHEMA.names())
        .cast(COMPLETIONS_SCHEMA)
    )  # type: ignore[arg-type]


def _typed_columns(raw: pl.DataFrame, contexts: ResponseContexts) -> pl.DataFrame:
    """The parsed columns of one chunk of raw rows."""
    # Python walks each record once; pyarrow builds the typed (nested) columns from the values in
    # C++, column by column: twice as fast as writing each record as JSON for polars to decode.
    with _collector_paused():
        records = [
            _normalize_record(c, m)
            if api == LEGACY_API
            else _normalize_shapes(_chat_shapes(api, i, c, m, contexts))
            for api, i, c, m in zip(
                raw["api"], raw["id"], raw["completion_json"], raw["messages_json"], strict=True
            )
        ]
        columns = zip(*records, strict=True) if records else ([] for _ in _ARROW_SCHEMA)
        # The system allocator, not pyarrow's pool: the arrays live only until polars has them,
        # and the pool would keep their memory (some 300 MiB more at a million rows).
        arrays = [
            pa.array(values, type=field.type, memory_pool=pa.system_memory_pool())
            for values, field in zip(columns, _ARROW_SCHEMA, strict=True)
        ]
        del records
    table = pa.Table.from_arrays(arrays, schema=_ARROW_SCHEMA)
    return pl.DataFrame(pl.from_arrow(table))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while records are built.

    A chunk's records are some half a million dicts and lists kept alive together, and the
    collector would scan them again and again as they grow (it took 40% of the time). They hold
    no reference cycles: reference counting frees them either way.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def conversation_from_row(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Rebuild the conversation of a `completions` row: input messages, then the output message.

    Keys whose value is null are left out, as an exporter would write them.
    """
    conversation = [_message_from_struct(message) for message in row["messages"]]
    output: dict[str, Any] = {"role": "assistant"}
    if row["output_content"] is not None:
        output["content"] = row["output_content"]
    if row["output_refusal"] is not None:
        output["refusal"] = row["output_refusal"]
    if row["output_tool_calls"]:
        output["tool_calls"] = row["output_tool_calls"]
    return [*conversation, output]


# -- one record --------------------------------------------------------------------------------


def _chat_shapes(
    api: str, record_id: str, completion_json: str, messages_json: str, contexts: ResponseContexts
) -> ChatShapes:
    """A response or conversation (or a record of an unknown API, read as a chat completion) in
    the shapes of a stored chat completion."""
    stored, items = _as_dict(_loads(completion_json)), _loads(messages_json)
    if api == RESPONSES_API:
        context = contexts.response_input(record_id, stored, items)
        return response_as_chat(stored, context.items, context_missing=context.missing)
    if api == CONVERSATIONS_API:
        context = contexts.resolve_references(items)
        return conversation_as_chat(stored, context.items, context_missing=context.missing)
    if api == TRACES_API:
        return span_as_chat(stored)
    return ChatShapes(stored, items if isinstance(items, list) else [])


def _normalize_shapes(shapes: ChatShapes) -> tuple[Any, ...]:
    return _normalize_parsed(
        shapes.completion,
        shapes.messages,
        response_status=shapes.response_status,
        context_missing=shapes.context_missing,
    )


def _normalize_record(completion_json: str, messages_json: str) -> tuple[Any, ...]:
    """A stored chat completion's typed values, in `_PARSED_COLUMNS` order."""
    return _normalize_parsed(_as_dict(_loads(completion_json)), _loads(messages_json))


def _normalize_parsed(
    completion: dict[str, Any],
    raw_messages: Any,
    *,
    response_status: str | None = None,
    context_missing: bool = False,
) -> tuple[Any, ...]:
    repaired = [False]

    def text(value: Any) -> str | None:
        return _clean_text(value, repaired) if isinstance(value, str) else None

    messages = _normalize_messages(raw_messages if isinstance(raw_messages, list) else [], text)
    choices = completion.get("choices")
    choices = choices if isinstance(choices, list) else []
    first = _as_dict(choices[0]) if choices else {}
    output = _as_dict(first.get("message"))
    usage = _as_dict(completion.get("usage"))
    total_tokens = _integer(usage.get("total_tokens"))
    output_content, output_refusal = text(output.get("content")), text(output.get("refusal"))
    output_tool_calls = _tool_calls(output.get("tool_calls"), text)
    filtered = sorted(_filtered_categories(completion, first))
    return (
        _integer(completion.get("created")),
        _number(completion.get("temperature")),
        _number(completion.get("top_p")),
        _number(completion.get("presence_penalty")),
        _number(completion.get("frequency_penalty")),
        _integer(completion.get("seed")),
        _json_or_none(completion.get("response_format")),
        _json_or_none(completion.get("tool_choice")),
        _json_or_none(completion.get("tools")),
        completion.get("parallel_tool_calls")
        if isinstance(completion.get("parallel_tool_calls"), bool)
        else None,
        text(completion.get("service_tier")),
        text(completion.get("system_fingerprint")),
        text(completion.get("request_id")),
        text(completion.get("input_user")),
        [
            {"key": text(key), "value": text(value) if isinstance(value, str) else _json(value)}
            for key, value in _as_dict(completion.get("metadata")).items()
        ],
        messages,
        len(choices),
        output_content,
        output_refusal,
        output_tool_calls,
        text(first.get("finish_reason")),
        bool(filtered),
        filtered,
        _integer(usage.get("prompt_tokens")),
        _integer(usage.get("completion_tokens")),
        total_tokens,
        total_tokens
        if total_tokens is not None
        else estimate_tokens(
            raw_messages if isinstance(raw_messages, list) else [],
            [output_content, output_refusal],
            output_tool_calls or [],
        ),
        repaired[0],
        text(response_status),
        context_missing,
    )


def _normalize_messages(raw_messages: list[Any], text: Any) -> list[dict[str, Any]]:
    called: set[str] = set()
    messages = []
    for raw in raw_messages:
        message = _as_dict(raw)
        content = message.get("content")
        parts = message.get("content_parts")
        if isinstance(content, list) and parts is None:
            parts = content
        tool_calls = _tool_calls(message.get("tool_calls"), text)
        tool_call_id = text(message.get("tool_call_id"))
        role = text(message.get("role"))
        answers_call = tool_call_id in called if role == "tool" and tool_call_id else None
        messages.append(
            {
                "role": role,
                "content": text(content),
                "content_type": _JSON_TYPES.get(type(content), "number"),
                "content_parts": _json_or_none(parts),
                "name": text(message.get("name")),
                "tool_calls": tool_calls,
                "tool_call_id": tool_call_id,
                "tool_call_matched": answers_call,
                "weight": _integer(message.get("weight")),
            }
        )
        called.update(call["id"] for call in tool_calls or [] if call["id"])
    return messages


def _tool_calls(value: Any, text: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    calls = []
    for raw in value:
        call = _as_dict(raw)
        function = _as_dict(call.get("function"))
        calls.append(
            {
                "id": text(call.get("id")),
                "type": text(call.get("type")),
                "function": {
                    "name": text(function.get("name")),
                    "arguments": text(function.get("arguments")),
                },
            }
        )
    return calls


def _filtered_categories(completion: dict[str, Any], choice: dict[str, Any]) -> set[str]:
    """Azure content-filter categories with `filtered: true`, prompt or output side."""
    results = [_as_dict(choice.get("content_filter_results"))]
    prompt_results = completion.get("prompt_filter_results")
    for entry in prompt_results if isinstance(prompt_results, list) else []:
        results.append(_as_dict(_as_dict(entry).get("content_filter_results")))
    return {
        category
        for result in results
        for category, verdict in result.items()
        if isinstance(verdict, dict) and verdict.get("filtered") is True
    }


def _message_from_struct(message: dict[str, Any]) -> dict[str, Any]:
    rebuilt: dict[str, Any] = {"role": message["role"]}
    if message["content_type"] == "array":
        rebuilt["content"] = json.loads(message["content_parts"])
    elif message["content"] is not None:
        rebuilt["content"] = message["content"]
    if message["content_parts"] is not None and message["content_type"] != "array":
        rebuilt["content_parts"] = json.loads(message["content_parts"])
    for key in ("name", "tool_calls", "tool_call_id", "weight"):
        if message[key] is not None:
            rebuilt[key] = message[key]
    return rebuilt


# -- values ------------------------------------------------------------------------------------


def _clean_text(value: str, repaired: list[bool]) -> str:
    """`value`, with lone surrogates (text that is not valid UTF-8) replaced by U+FFFD."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        repaired[0] = True
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in value)
    return value


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value == value and abs(value) < 2**63 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _json(value)
