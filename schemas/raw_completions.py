"""`raw_completions`: the lossless lake, one row per fetch of a stored completion."""

from typing import Annotated

import pandera.polars as pa
import polars as pl

from schemas.vocabularies import SOURCE_KINDS


class RawCompletions(pa.DataFrameModel):
    """Rows of `lake/raw_completions` batches; merged by id, the newest `batch_id` wins."""

    id: str = pa.Field(description="Stored completion id, e.g. chatcmpl-…")
    created: pl.Int64 = pa.Field(
        nullable=True, description="Unix seconds as the API gave them; null when missing."
    )
    model: str = pa.Field(nullable=True, description="Model that produced the completion.")
    source: str = pa.Field(isin=list(SOURCE_KINDS), description="Which API the row was read from.")
    ingested_at: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        description="When the page holding this row was fetched (UTC)."
    )
    batch_id: str = pa.Field(description="Sortable batch name: <run id>-<page> or <run>-deleted.")
    deleted: bool = pa.Field(description="Gone from the source at the last full refresh.")
    item_sha256: str = pa.Field(
        str_length={"min_value": 64, "max_value": 64},
        description="sha256 of completion_json: tells an unchanged item from an updated one.",
    )
    completion_json: str = pa.Field(description="The list item exactly as the API returned it.")
    messages_json: str = pa.Field(
        description="JSON array of the stored input messages, every page, in index order."
    )

    class Config:
        strict = True
        coerce = True
