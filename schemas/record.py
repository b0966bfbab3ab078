"""The columns every table of stored records begins with: which object a row is, and where it was
read. One model, so the raw lake, the validated completions and the quarantine cannot drift."""

import pandera.polars as pa
import polars as pl

from schemas.vocabularies import APIS, SOURCE_KINDS


class StoredRecord(pa.DataFrameModel):
    """Which stored object a row is (`api`, `id`) and where it was read (`source`): the first
    columns of `RawCompletions`, `Conversations` (so `Completions` and `Curated`) and
    `CompletionsQuarantine`, in this order; strict and coerced, as every table is."""

    api: str = pa.Field(
        isin=list(APIS),
        description="The API the record came from: chat_completions, responses, conversations or"
        " traces.",
    )
    id: str = pa.Field(
        description="The record's id at the source: chatcmpl-…, resp_…, conv_… or span_… (trace"
        " id and span id)."
    )
    created: pl.Int64 = pa.Field(
        nullable=True, description="Unix seconds as the API gave them; null when missing."
    )
    model: str = pa.Field(
        nullable=True, description="Model that produced the output; null for a conversation."
    )
    source: str = pa.Field(isin=list(SOURCE_KINDS), description="The provider it was read from.")

    class Config:
        strict = True
        coerce = True
