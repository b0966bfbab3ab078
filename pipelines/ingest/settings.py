"""How an ingest runs: one settings object, whose defaults the pipeline, the Dagster resource and
the command line all read (`IngestSettings.DEFAULTS`), so a default is written once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pipelines.ingest.paging import RetryPolicy


@dataclass(frozen=True)
class IngestSettings:
    """How a sync runs (every reader of it).

    Attributes:
        concurrency: Objects whose items are read at once (listed: their items; by id: the
            retrieve and its items).
        page_size: Objects per list request (the API's maximum is assumed to be 100), and ids per
            checkpointed chunk of a by-id reader.
        overlap_seconds: How far below the high-water mark an incremental run still looks, for
            completions stored after newer ones (a long request finishes late).
        full_refresh: Re-read everything this run.
        full_refresh_every_days: Make a run full when the last full refresh is older than this.
        retry: The outer retry for what the SDK gives up on.
        progress_every_pages: Log progress every N pages.
        lock_wait_s: How long to wait for another ingest of the same data directory to finish.
    """

    DEFAULTS: ClassVar[IngestSettings]
    """The settings of a run nobody configured: every default, readable without an instance."""

    concurrency: int = 8
    page_size: int = 100
    overlap_seconds: int = 3600
    full_refresh: bool = False
    full_refresh_every_days: float = 7.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress_every_pages: int = 10
    lock_wait_s: float = 0.0


IngestSettings.DEFAULTS = IngestSettings()
