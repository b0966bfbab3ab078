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
from pipelines.ingest.state import IngestState

EXPIRY_MARGIN_S = 86_400
"""An object gone within a day of its retention's end counts as expired: a provider may expire a
little early, and a long full refresh passes the line while it runs."""

Verdict = Literal["deleted", "expired", "not_ours", "flagged_already"]


class GoneRule:
    """The verdicts of one run against `source`; rows from before `source_endpoint` existed
    belong to `legacy_store`."""

    def __init__(self, source: SourceInfo, legacy_store: SourceInfo | None) -> None:
        self.source, self.legacy_store = source, legacy_store

    def verdict(self, row: dict[str, Any]) -> Verdict:
        """What the lake row of an object gone from the source is. A row without `created`
        cannot be placed in time, so it counts as deleted (flagged, kept)."""
        if row["deleted"]:
            return "flagged_already"
        if not read_from_store(row, self.source, self.legacy_store):
            return "not_ours"
        created, retention = row["created"], self.source.retention_days
        if retention is None or created is None:
            return "deleted"
        # The line is taken at each verdict: a full refresh can run for hours.
        line = time.time() - retention * 86_400 + EXPIRY_MARGIN_S
        return "expired" if created < line else "deleted"


def for_store(state: IngestState, source: SourceInfo) -> tuple[IngestState, bool]:
    """The state a run against `source` starts from, and whether the store changed.

    Against another store than the last run's, nothing of that store's reading carries over (its
    high-water mark says nothing of this store's, its unfinished run and its missing ids are its
    own), and the state names the new store at once, so that a killed first run resumes against
    it. The store that wrote the rows from before `source_endpoint` is kept in `legacy_store`.
    """
    legacy = state.legacy_store or state.source
    if same_store(state.source, source):
        return state.model_copy(update={"legacy_store": legacy}), False
    fresh = {"high_water_mark": None, "last_full_refresh": None, "run": None, "missing": []}
    return state.model_copy(update={"legacy_store": legacy, "source": source, **fresh}), True


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


def read_from_store(
    row: dict[str, Any], current: SourceInfo, legacy_store: SourceInfo | None
) -> bool:
    """Whether a lake row came from the store read now: it names it, or it predates the
    `source_endpoint` column and the store that wrote such rows is this one."""
    endpoint = row.get("source_endpoint")
    if endpoint is None:
        return row["source"] == current.kind and same_store(legacy_store, current)
    return endpoint == current.endpoint
