"""Compact JSON text that is always valid UTF-8.

Non-ASCII text is written as itself. A string holding lone surrogates (possible in JSON, never valid
UTF-8) would fail to encode anywhere downstream (SQLite, Parquet), so such an object is written with
ASCII escapes instead: the same JSON value, losslessly.
"""

from __future__ import annotations

import json
from typing import Any


def dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    return text
