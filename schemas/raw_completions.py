"""`raw_completions`: the lossless lake, one row per fetch of a stored completion."""

from typing import Annotated

import pandera.polars as pa
import polars as pl

from schemas.record import StoredRecord


class RawCompletions(StoredRecord):
    """Rows of `lake/raw_completions` batches; merged by (api, id), the newest `batch_id` wins."""

    source_endpoint: str = pa.Field(
        nullable=True,
        description="Which store of that provider (its endpoint host; `local` for the bundled"
        " sample): a full refresh flags deletions only among the rows of the store it read."
        " Null in batches written before the column existed.",
    )
    ingested_at: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        description="When the page holding this row was fetched (UTC)."
    )
    batch_id: str = pa.Field(description="Sortable batch name: <run id>-<page> or <run>-deleted.")
    deleted: bool = pa.Field(description="Gone from the source at the last full refresh.")
    item_sha256: str = pa.Field(
        str_length={"min_value": 64, "max_value": 64},
        description="sha256 of completion_json: tells an unchanged item from an updated one.",
    )
    completion_json: str = pa.Field(
        description="The object exactly as the API returned it: the chat completion (list item),"
        " the response (retrieve or list item) or the conversation (retrieve)."
    )
    messages_json: str = pa.Field(
        description="JSON array, every page, oldest first: the chat completion's input messages,"
        " the response's input items, or the conversation's items."
    )
