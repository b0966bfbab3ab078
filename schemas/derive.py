"""Polars schemas derived from the pandera models, so each table's columns are written once."""

import polars as pl


def polars_schema(model: type) -> pl.Schema:
    """The polars schema a pandera model describes, in its column order."""
    columns = model.to_schema().columns  # type: ignore[attr-defined]
    return pl.Schema({name: column.dtype.type for name, column in columns.items()})
