"""The sync state (`lake/state/ingest.json`): typed, read and written in one place.

The state is what lets the next run be incremental (the high-water mark), resume a killed run
(the unfinished run's checkpoint) and know when a full refresh is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pipelines.datadir.atomic import atomic_path
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.sources import SourceInfo

SyncMode = Literal["full", "incremental"]
CHAT_STATE = "ingest"
"""The chat-completions sync's state name (`lake/state/ingest.json`, as it always was)."""


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
    legacy_store: SourceInfo | None = None
    """The store the lake rows written before `source_endpoint` existed came from: the state's
    source when this version first ran, kept thereafter (`pipelines.ingest.gone.for_store`)."""
    missing: list[str] = []
    """Ids read by id that the source did not have (404) when first asked for: not asked again
    until the next full refresh."""


def read_state(paths: DataPaths, name: str = CHAT_STATE) -> IngestState:
    """The state of the reader `name` (default: the chat-completions sync)."""
    path = paths.sync_state(name)
    if not path.exists():
        return IngestState()
    return IngestState.model_validate_json(path.read_bytes())


def write_state(paths: DataPaths, state: IngestState, name: str = CHAT_STATE) -> None:
    """Replace a sync state atomically (a reader sees the old or the new file, never half)."""
    with atomic_path(paths.sync_state(name)) as temporary:
        temporary.write_text(
            state.model_dump_json(indent=2, exclude_none=True) + "\n", encoding="utf-8"
        )
