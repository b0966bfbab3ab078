"""What every reader of an ingest shares: its settings, its report, the data directory's one
writer, the meter of its requests, and reading one object's inner items.

The readers are `pipelines.ingest.sync` (listed APIs) and `pipelines.ingest.by_id` (objects
whose ids the user keeps); `pipelines.ingest.run` runs them in turn.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import openai

from pipelines.datadir.lease import one_writer
from pipelines.datadir.lock import LockBusy
from pipelines.datadir.object_storage import storage_error_summary
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.apis import CHAT_COMPLETIONS, StoredApi
from pipelines.ingest.errors import CursorLost, IngestBusyError, LakeWriteError
from pipelines.ingest.paging import RetryCounter, RetryPolicy, iter_pages
from pipelines.ingest.sources import RequestCounter, SourceInfo

log = logging.getLogger("distillery.ingest")


@dataclass
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

    concurrency: int = 8
    page_size: int = 100
    overlap_seconds: int = 3600
    full_refresh: bool = False
    full_refresh_every_days: float = 7.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress_every_pages: int = 10
    lock_wait_s: float = 0.0


@dataclass
class IngestReport:
    """What one run of one reader did; every count lands in Dagster metadata."""

    run_id: str
    mode: str
    resumed: bool
    source: SourceInfo
    api: str = CHAT_COMPLETIONS.api
    """Which API was read (`schemas.APIS`)."""
    reader: str = "list"
    """`list` (paged the source's list) or `ids` (read ids the user keeps, one by one)."""
    pages: int = 0
    listed: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    vanished: int = 0
    """Listed, but gone before their messages could be read (expired or deleted meanwhile)."""
    rejected: int = 0
    """List items without a usable id, or objects the source answered for another id, kept with
    the reason under `lake/rejected/`."""
    expired: int = 0
    """Gone from the source after its retention (`SourceInfo.retention_days`): kept in the lake as
    they were, not flagged deleted (nobody deleted them: the archive is the point)."""
    missing: int = 0
    """Ids asked for by id that the source never had (or no longer had when first asked)."""
    listing_restarts: int = 0
    requests: int = 0
    retries: int = 0
    wall_seconds: float = 0.0
    high_water_mark: int | None = None
    lake_path: str = ""
    batch_files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        extra = "".join(
            f", {count} {name}"
            for name, count in (
                ("vanished", self.vanished),
                ("expired", self.expired),
                ("missing", self.missing),
                ("rejected", self.rejected),
                ("listing restarts", self.listing_restarts),
            )
            if count
        )
        by_id = self.reader == "ids"
        what, seen = (f"{self.api} by id", "asked") if by_id else (self.api, "listed")
        return (
            f"{self.mode} sync of {what} from {self.source.describe()}: {self.pages} pages,"
            f" {self.listed} {seen}, {self.new} new, {self.updated} updated,"
            f" {self.deleted} deleted{extra},"
            f" {self.requests} requests ({self.retries} retries) in {self.wall_seconds:.1f} s;"
            f" lake at {self.lake_path}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "source": self.source.model_dump()}


@contextlib.contextmanager
def the_one_writer(paths: DataPaths, settings: IngestSettings) -> Iterator[None]:
    """Hold the data directory's writer lease for an ingest; map what goes wrong to one line.

    Raises:
        IngestBusyError: Another ingest or build holds the data directory.
        LakeWriteError: The data directory cannot be written.
    """
    _check_writable(paths)
    try:
        with one_writer(paths, what="an ingest", wait_s=settings.lock_wait_s, local_lock="ingest"):
            yield
    except LockBusy as busy:
        raise IngestBusyError(str(busy)) from None
    except OSError as err:
        raise LakeWriteError(_describe_os_error(err, paths)) from None


class ReaderMeter:
    """One reader's requests, retries and wall time, out of the client's counter, which every
    reader of a run shares."""

    def __init__(self, requests: RequestCounter | None) -> None:
        self.requests = requests
        self.started = time.monotonic()
        self.before = (requests.requests, requests.retries) if requests is not None else (0, 0)

    def finish(self, report: IngestReport, outer_retries: RetryCounter) -> None:
        report.wall_seconds = round(time.monotonic() - self.started, 3)
        if self.requests is not None:
            report.requests = self.requests.requests - self.before[0]
            report.retries = self.requests.retries - self.before[1]
        report.retries += outer_retries.value


def read_items(
    client: openai.OpenAI,
    api: StoredApi,
    object_id: str,
    *,
    policy: RetryPolicy,
    retries: RetryCounter,
    secrets: tuple[str | None, ...],
) -> list[dict[str, Any]] | None:
    """Every inner item of one object, oldest first, or None when the object is gone (404)."""
    items: list[dict[str, Any]] = []
    try:
        for page in iter_pages(
            lambda after: api.items_page(client, object_id, after),
            after=None,
            policy=policy,
            retries=retries,
            what=f"reading the {api.items_noun} of {object_id}",
            secrets=secrets,
        ):
            items.extend(page.items)
    except (openai.NotFoundError, CursorLost):
        return None
    return items


def _check_writable(paths: DataPaths) -> None:
    """Fail in one line, before anything is fetched, if the lake cannot be written."""
    if paths.remote:  # no probe: a missing bucket or a refused key fails the first put
        return
    root = paths.data_dir
    if root.exists() and not root.is_dir():
        raise LakeWriteError(f"the data directory {root} is a file, not a directory")
    try:
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=paths.state_dir) as probe:
            probe.write(b"ok")
    except OSError as err:
        raise LakeWriteError(_describe_os_error(err, paths)) from None


def _describe_os_error(err: OSError, paths: DataPaths) -> str:
    where = err.filename or paths.data_dir
    reason = err.strerror or type(err).__name__
    if paths.remote:  # obstore's errors carry the whole HTTP exchange: keep the server's words
        reason = storage_error_summary(err)
    return (
        f"cannot write the lake under {paths.data_dir} ({reason}: {where}); free space or fix"
        " the permissions, then run again: it resumes from the last checkpoint"
    )
