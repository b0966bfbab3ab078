"""What every reader of an ingest shares: its report, the data directory's one writer, the meter
of its requests, reading one object's inner items whole (`pipelines.ingest.items`), and its
lifecycle (`Reader`): setup, resume-or-start, checkpoints, the full-refresh rule and completion.

The readers are `pipelines.ingest.sync` (listed APIs) and `pipelines.ingest.by_id` (objects
whose ids the user keeps); `pipelines.ingest.run` runs them in turn.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import openai

from pipelines import jsontext
from pipelines.datadir.credentials import missing_credentials
from pipelines.datadir.lease import one_writer
from pipelines.datadir.lock import LockBusy
from pipelines.datadir.object_storage import AnyPath, append_text, storage_error_summary
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.apis import CHAT_COMPLETIONS, StoredApi
from pipelines.ingest.errors import IngestBusyError, LakeWriteError
from pipelines.ingest.gone import for_store
from pipelines.ingest.items import read_items
from pipelines.ingest.lake import lake_index, utc_now, write_batch
from pipelines.ingest.paging import Rejected, RetryCounter
from pipelines.ingest.rows import lake_row
from pipelines.ingest.settings import IngestSettings
from pipelines.ingest.sources import RequestCounter, SourceInfo
from pipelines.ingest.state import IngestState, LastRun, RunCheckpoint, read_state, write_state
from pipelines.wording import counted

log = logging.getLogger("distillery.ingest")


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
    """`list` (paged the source's list), `ids` (read ids the user keeps, one by one), or for
    traces `store` (the spans a store received) or `files` (OTLP JSON-lines files)."""
    pages: int = 0
    listed: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    vanished: int = 0
    """Listed, but gone before their messages could be read (expired or deleted meanwhile)."""
    rejected: int = 0
    """List items without a usable id or not objects, objects the source answered for another id,
    and objects some of whose items are such (kept whole), kept with the reason under
    `lake/rejected/`."""
    expired: int = 0
    """Gone from the source after its retention (`SourceInfo.retention_days`): kept in the lake as
    they were, not flagged deleted (nobody deleted them: the archive is the point)."""
    skipped: int = 0
    """Trace spans that are not LLM calls (HTTP requests, tools, agent steps): not lake rows."""
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
                ("skipped", self.skipped),
                ("listing restarts", self.listing_restarts),
            )
            if count
        )
        by_id = self.reader == "ids"
        what, seen = (f"{self.api} by id", "asked") if by_id else (self.api, "listed")
        return (
            f"{self.mode} sync of {what} from {self.source.describe()}:"
            f" {counted(self.pages, 'page')},"
            f" {self.listed} {seen}, {self.new} new, {self.updated} updated,"
            f" {self.deleted} deleted{extra},"
            f" {counted(self.requests, 'request')}"
            f" ({counted(self.retries, 'retry', 'retries')}) in {self.wall_seconds:.1f} s;"
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


@dataclass(frozen=True)
class Reading:
    """What every reader of one ingest reads with.

    Attributes:
        client: An SDK client for the source (`pipelines.ingest.sources.open_source`).
        source: What the client reads, recorded on every row and in the report.
        paths: The data directory.
        settings: How to run.
        requests: The client's request counter, for the reports.
        logger: Where progress goes (a `logging.Logger` or Dagster's `context.log`).
    """

    client: openai.OpenAI
    source: SourceInfo
    paths: DataPaths
    settings: IngestSettings
    requests: RequestCounter | None
    logger: logging.Logger | Any


class Reader(ABC):
    """One run of one reader, from its sync state to its report.

    Setup reads the reader's sync state (started afresh when the store changed: `for_store`),
    resumes its unfinished run or starts one (`_resume_or_start`, where the full-refresh rule
    lives), indexes the lake and opens the report; `sync` reads (`_read`), completes the run
    (`_complete`) and measures it. A subclass keeps only what differs: how it reads, when a run
    must be full, what a new run starts with, and what it records when the run ends.
    """

    reader = "list"
    """`IngestReport.reader`: `list` (pages the source's list) or `ids` (ids the user keeps)."""

    def __init__(self, reading: Reading, api: StoredApi, *, state_name: str) -> None:
        self.meter = ReaderMeter(reading.requests)
        self.client, self.api, self.source = reading.client, api, reading.source
        self.paths, self.settings, self.log = reading.paths, reading.settings, reading.logger
        self.state_name = state_name
        self.secrets = (getattr(self.client, "api_key", None),)
        self.outer_retries = RetryCounter()
        last = read_state(self.paths, state_name)
        self.state, switched = for_store(last, self.source)
        if switched and last.source is not None:
            self._store_changed(last.source)
        self.run_state = self._resume_or_start()
        self.index = lake_index(self.paths, api.api)
        self.report = IngestReport(
            run_id=self.run_state.id,
            mode=self.run_state.mode,
            resumed=self.run_state.pages > 0,
            source=self.source,
            api=api.api,
            reader=self.reader,
            high_water_mark=self.state.high_water_mark,
            lake_path=str(self.paths.raw_completions.resolve()),
        )

    @property
    def full(self) -> bool:
        """Whether this run is a full refresh."""
        return self.run_state.mode == "full"

    def sync(self) -> IngestReport:
        """Read, complete the run, and report it (logged, and returned)."""
        self._read()
        self._complete()
        self.meter.finish(self.report, self.outer_retries)
        self.log.info(self.report.summary())
        return self.report

    # -- what a reader does ----------------------------------------------------------------------

    @abstractmethod
    def _read(self) -> None:
        """Read the source into the lake, checkpointing as it goes (`_checkpoint`)."""

    @abstractmethod
    def _complete(self) -> None:
        """Finish the run; ends with `_record_finished`."""

    def _store_changed(self, previous: SourceInfo) -> None:  # noqa: B027 (most readers say nothing)
        """Called when the state's store is not the one read now (its reading was dropped)."""

    def _must_be_full(self) -> bool:
        """Whether a new run must be full whatever the settings say."""
        return False

    def _new_run(self, run: RunCheckpoint) -> RunCheckpoint:
        """A new run as this reader starts it (the base sets its id, source and mode)."""
        return run

    def _state_update(self) -> dict[str, Any]:
        """What this reader writes into its state at every checkpoint and at the end."""
        return {}

    # -- the lifecycle ---------------------------------------------------------------------------

    def _resume_or_start(self) -> RunCheckpoint:
        unfinished = self.state.run  # none after a change of store (`for_store`)
        # A full refresh asked for is not traded for an unfinished incremental run.
        if unfinished is not None and not (
            self.settings.full_refresh and unfinished.mode != "full"
        ):
            return unfinished.model_copy()
        now = utc_now()
        last_full = self.state.last_full_refresh
        due = last_full is None or now - last_full > timedelta(
            days=self.settings.full_refresh_every_days
        )
        full = self.settings.full_refresh or due or self._must_be_full()
        return self._new_run(
            RunCheckpoint(
                id=now.strftime("%Y%m%dT%H%M%S%fZ"),
                source_kind=self.source.kind,
                mode="full" if full else "incremental",
            )
        )

    def _checkpoint(self) -> None:
        """Write the unfinished run's progress, so a killed run resumes from here."""
        write_state(self.paths, self._state(run=self.run_state), self.state_name)

    def _record_finished(self, *, changed: bool, **update: Any) -> None:
        """Clear the unfinished run and record this one as the last; a run that changed
        nothing (and resumed nothing, and was not full) writes nothing."""
        if not (changed or self.full) and self.state.run is None:
            return
        now = utc_now()
        update["source"] = self.source
        update["last_run"] = LastRun(
            id=self.run_state.id, mode=self.run_state.mode, finished_at=now
        )
        if self.full:
            update["last_full_refresh"] = now
        write_state(self.paths, self._state(run=None, **update), self.state_name)

    def _state(self, *, run: RunCheckpoint | None, **update: Any) -> IngestState:
        return self.state.model_copy(update={"run": run, **self._state_update(), **update})

    # -- what every reader writes ----------------------------------------------------------------

    def _read_items(self, item: dict[str, Any]) -> list[dict[str, Any]] | Rejected | None:
        """The inner items of `item` (an object), oldest first; None when it is gone (404)
        meanwhile; or, when some items cannot be stored, why the object is kept aside whole
        (`InnerItems.rejection`): it stays out of the lake and the next run asks for it again.
        """
        inner = read_items(
            self.client,
            self.api,
            item["id"],
            policy=self.settings.retry,
            retries=self.outer_retries,
            secrets=self.secrets,
        )
        if inner is None:
            return None
        return inner.rejection(item, self.api) or inner.items

    def _lake_row(
        self, item: dict[str, Any], items: list[dict[str, Any]], ingested_at: datetime
    ) -> dict[str, Any]:
        return lake_row(
            item,
            items,
            api=self.api.api,
            source_kind=self.source.kind,
            source_endpoint=self.source.endpoint,
            ingested_at=ingested_at,
        )

    def _write_batch(self, batch_id: str, rows: list[dict[str, Any]]) -> None:
        """Store `rows` as one lake batch, and know them from now on."""
        batch = write_batch(self.paths, batch_id, rows)
        self.report.batch_files.append(batch.name)
        for row in rows:
            self.index[row["id"]] = (row["item_sha256"], row["deleted"])

    def _append_rejected(self, records: list[dict[str, Any]]) -> AnyPath:
        """Append what could not be stored, with the reason, to this run's rejects file."""
        target = self.paths.rejected_items(self.run_state.id)
        append_text(target, "".join(jsontext.dumps(record) + "\n" for record in records))
        return target


def _check_writable(paths: DataPaths) -> None:
    """Fail in one line, before anything is fetched, if the lake cannot be written."""
    if paths.remote:  # no write probe: a missing bucket or a refused key fails the first put
        missing = missing_credentials(paths.data_dir)
        if missing:
            raise LakeWriteError(missing)
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
