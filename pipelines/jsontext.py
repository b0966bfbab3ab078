"""Compact JSON text that is always valid UTF-8, and JSON text read back whatever it holds.

Non-ASCII text is written as itself. A string holding lone surrogates (possible in JSON, never valid
UTF-8) would fail to encode anywhere downstream (SQLite, Parquet), so such an object is written with
ASCII escapes instead: the same JSON value, losslessly.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    return text


def loads(text: str) -> Any:
    """The value of JSON `text`, lone surrogates included."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson refuses lone surrogates, which JSON allows; the standard library keeps them so
        # a reader can flag the text instead of failing.
        return json.loads(text)
