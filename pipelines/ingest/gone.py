"""What an object gone from the source is, written once for both readers.

A full refresh finds objects the lake holds and the source no longer has (absent from a full
listing, or a 404 when read by id). Such an object is:

- *not this store's business* if another store gave it: a data directory may hold what several
  stores gave (OpenAI's, then the capturing store that replaces it);
- *expired* if it went after the source's retention (`SourceInfo.retention_days`): nobody deleted
  it, so it is counted and kept as it was; archiving beyond the provider's 30 days is the lake's
  point;
- *deleted* otherwise: flagged, the row kept, and recipes leave it out unless they ask for it (a
  user's deletion is honoured).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from pipelines.ingest.sources import SourceInfo

Verdict = Literal["deleted", "expired", "not_ours", "flagged_already"]


class GoneRule:
    """The verdicts of one run against `source`, whose state last read `last_source`."""

    def __init__(self, source: SourceInfo, last_source: SourceInfo | None) -> None:
        self.source, self.last_source = source, last_source
        self.cutoff = (
            None
            if source.retention_days is None
            else int(time.time() - source.retention_days * 86_400)
        )

    def verdict(self, row: dict[str, Any]) -> Verdict:
        """What the lake row of an object gone from the source is."""
        if row["deleted"]:
            return "flagged_already"
        if not read_from_store(row, self.source, self.last_source):
            return "not_ours"
        created = row["created"]
        if self.cutoff is not None and created is not None and created < self.cutoff:
            return "expired"
        return "deleted"


def flagged(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The row that records `row`'s object deleted at the source (every column but batch_id)."""
    return {
        **{key: value for key, value in row.items() if key != "batch_id"},
        "deleted": True,
        "ingested_at": now,
    }


def same_store(previous: SourceInfo | None, current: SourceInfo) -> bool:
    """Whether the state's last source is the one read now (no state yet counts as the same)."""
    return previous is None or (
        previous.kind == current.kind and previous.endpoint == current.endpoint
    )


def read_from_store(row: dict[str, Any], current: SourceInfo, previous: SourceInfo | None) -> bool:
    """Whether a lake row came from the store read now: it names it, or it predates the
    `source_endpoint` column and the store the state last read is this one."""
    endpoint = row.get("source_endpoint")
    if endpoint is None:
        return row["source"] == current.kind and same_store(previous, current)
    return endpoint == current.endpoint
