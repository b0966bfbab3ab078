"""The sync state (`lake/state/ingest.json`): typed, read and written in one place.

The state is what lets the next run be incremental (the high-water mark), resume a killed run
(the unfinished run's checkpoint) and know when a full refresh is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pipelines.atomic import atomic_path
from pipelines.ingest.sources import SourceInfo
from pipelines.paths import DataPaths

SyncMode = Literal["full", "incremental"]


class _StateModel(BaseModel):
    # Fields a later version adds are kept on read and written back, so an older distillery
    # never loses them.
    model_config = ConfigDict(extra="allow")


class RunCheckpoint(_StateModel):
    """An unfinished run: where it stopped, so the next run resumes it."""

    id: str
    source_kind: str
    mode: SyncMode
    after: str | None = None
    """Id of the last completion of the last checkpointed page: the list cursor to resume at."""
    pages: int = 0
    """Pages checkpointed so far."""
    stop_below: int | None = None
    """Incremental runs stop once a page reaches below this `created` (unix seconds)."""
    max_created: int | None = None
    """Newest `created` seen by this run (it becomes the high-water mark when the run ends)."""


class LastRun(_StateModel):
    id: str
    mode: SyncMode
    finished_at: datetime


class IngestState(_StateModel):
    """Everything a sync remembers between runs."""

    high_water_mark: int | None = None
    """Newest `created` (unix seconds) ever ingested; incremental runs look back from it."""
    last_full_refresh: datetime | None = None
    source: SourceInfo | None = None
    last_run: LastRun | None = None
    run: RunCheckpoint | None = None
    """The unfinished run, if one was killed or failed."""


def read_state(paths: DataPaths) -> IngestState:
    if not paths.ingest_state.exists():
        return IngestState()
    return IngestState.model_validate_json(paths.ingest_state.read_bytes())


def write_state(paths: DataPaths, state: IngestState) -> None:
    """Replace the sync state atomically (a reader sees the old or the new file, never half)."""
    with atomic_path(paths.ingest_state) as temporary:
        temporary.write_text(
            state.model_dump_json(indent=2, exclude_none=True) + "\n", encoding="utf-8"
        )
