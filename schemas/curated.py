"""`curated_<recipe>`: a recipe's selected, redacted and deduplicated completions.

The raw JSON columns are gone (they would carry text unredacted); what curation adds is described
here, so the export stage reads a table whose columns are written down once.
"""

import pandera.polars as pa
import polars as pl

from schemas.completions import Conversations


class Curated(Conversations):
    """Rows a recipe keeps, ready to split and export."""

    redactions: pl.Int64 = pa.Field(ge=0, description="Placeholders written into this row.")
    redacted_kinds: pl.List(pl.String) = pa.Field(  # type: ignore[valid-type]
        description="Kinds redacted in this row (secret, email, card, ip, phone)."
    )
    dedup_hash: str = pa.Field(description="sha256 hex of the normalized conversation.")
    duplicate_count: pl.UInt32 = pa.Field(
        ge=1, description="Rows that shared dedup_hash before exact dedup, this one included."
    )
    chain_id: str = pa.Field(
        description="The chat this row belongs to: the id of its first stored turn (own id if "
        "it is not part of a chat stored turn by turn)."
    )
    turn: pl.UInt32 = pa.Field(ge=1, description="Depth in its chat: 1 for the first turn.")
    cluster_id: str = pa.Field(
        description="Near-duplicate cluster: the smallest completion id in it (own id if alone)."
    )
    cluster_size: pl.UInt32 = pa.Field(ge=1, description="Rows in the near-duplicate cluster.")

    class Config:
        strict = True
        coerce = True
