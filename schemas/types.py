"""Polars dtypes shared by the stored tables: tool calls, messages, metadata pairs.

Nested types are spelled out once here, never inferred from the first rows (inference drops struct
keys it has not seen yet).
"""

import polars as pl

TOOL_CALL = pl.Struct(
    {
        "id": pl.String,
        "type": pl.String,
        "function": pl.Struct({"name": pl.String, "arguments": pl.String}),
    }
)

MESSAGE = pl.Struct(
    {
        "role": pl.String,
        # The text when the API gave a string; null otherwise (see content_type).
        "content": pl.String,
        # JSON type of `content` as stored: string, null, array, number, boolean or object.
        "content_type": pl.String,
        # JSON text of the parts (text / image_url) when content was an array or parts were given.
        "content_parts": pl.String,
        "name": pl.String,
        "tool_calls": pl.List(TOOL_CALL),
        "tool_call_id": pl.String,
        # For tool messages: does tool_call_id answer a tool call made by an earlier message?
        "tool_call_matched": pl.Boolean,
        # Fine-tuning weight (0 or 1) when the source carried one.
        "weight": pl.Int64,
    }
)

METADATA_PAIR = pl.Struct({"key": pl.String, "value": pl.String})

UTC_TIMESTAMP = pl.Datetime("us", "UTC")
