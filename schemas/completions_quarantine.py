"""`completions_quarantine`: every raw record that failed validation, with all of its reasons."""

from typing import Annotated, ClassVar

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from schemas.record import StoredRecord

REASON = pl.Struct({"check": pl.String, "message": pl.String})


class CompletionsQuarantine(StoredRecord):
    """Records kept out of `completions`, whole, with every check they failed. Together the two
    tables account for every record of the raw lake."""

    ingested_at: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        description="When distillery fetched this version of the record (UTC)."
    )
    reasons: pl.List(REASON) = pa.Field(  # type: ignore[valid-type]
        description="Each failed check: its name and a human-readable message."
    )
    completion_json: str = pa.Field(
        description="The completion, response or conversation as the API returned it."
    )
    messages_json: str = pa.Field(
        description="The input messages, input items or conversation items as the API returned"
        " them."
    )

    class Config:
        # Two APIs may share an id (both records are quarantined then); the lake key may not repeat.
        unique: ClassVar[list[str]] = ["api", "id"]

    @pa.dataframe_check(error="a quarantined record must carry at least one reason")
    def has_reasons(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("reasons").list.len() > 0)
