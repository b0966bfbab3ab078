"""Eval answers that are JSON: what the evaluation targets compare as a value, not as text."""

from __future__ import annotations

import orjson
import polars as pl


def json_answers(part: pl.DataFrame) -> pl.Series:
    """Each row's output text where it is a JSON object or array (checked once per distinct
    text); null elsewhere."""
    text = pl.col("output_content")
    candidates = part.select(
        text.filter(text.str.strip_chars().str.contains(r"^[\[{][\s\S]*[\]}]$")).unique()
    )["output_content"].to_list()
    valid = [value for value in candidates if _is_json(value)]
    return part.select(pl.when(text.is_in(valid)).then(text).alias("json"))["json"]


def _is_json(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text), dict | list)
    except orjson.JSONDecodeError:
        return False
