"""Ingest a listed API: page every stored object, with its inner items, into the raw lake.

Listed APIs are stored chat completions (with their input messages) and, where the server offers
the list OpenAI lacks, stored responses (with their input items); `pipelines.ingest.apis` holds
the calls. What follows is said of chat completions and holds for both.

Incremental by default. The list API has no date filter, so a run pages newest-first and stops once
a page reaches below the saved high-water mark minus an overlap. A full refresh re-lists everything
to pick up metadata updates and records ids the source no longer has as deleted (or, gone after
the source's retention, as expired: counted, and kept as they were). Each page is
checkpointed (batch file, then state, both atomic), so a killed run resumes where it stopped and the
merged lake ends with the source's exact id set.

Only completions that are new (or back after a deletion) cost a `messages.list`; a completion whose
list item changed (metadata updated) keeps the messages already in the lake, which never change.

Stored completions expire while a sync runs, so a sync always finishes or says in one line why it
cannot: an empty page ends a listing; a completion whose messages are gone (404) is counted as
vanished and the sync goes on; one with messages that are not objects (or have no id) is kept
aside whole under `lake/rejected/`, counted as rejected, and looked for again by the next run; a
resume cursor the source no longer has restarts the listing from the top (bounded by the
high-water mark, and cheap: known items cost no messages call); a cursor that repeats or moves
backwards stops the run with an error instead of paging forever.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import openai
import polars as pl

from pipelines.datadir.object_storage import AnyPath
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.apis import CHAT_COMPLETIONS, StoredApi
from pipelines.ingest.errors import CursorLost, SourceProtocolError, SourceUnavailableError
from pipelines.ingest.gone import GoneRule, flagged
from pipelines.ingest.lake import BY_ID_MARK, append_seen_ids, read_rows, read_seen_ids, utc_now
from pipelines.ingest.paging import RawPage, Rejected, iter_pages
from pipelines.ingest.reader import IngestReport, Reader, Reading, the_one_writer
from pipelines.ingest.rows import created_of, item_sha256, messages_by_id
from pipelines.ingest.settings import IngestSettings
from pipelines.ingest.sources import RequestCounter, SourceInfo
from pipelines.ingest.state import CHAT_STATE, RunCheckpoint
from pipelines.wording import counted

log = logging.getLogger("distillery.ingest")

_NO_LIST_HINTS = {
    "responses": ": OpenAI lists no stored responses (Azure Foundry and a capturing store do);"
    " read them by id with DISTILLERY_RESPONSE_IDS instead of DISTILLERY_RESPONSES_LIST",
}

MAX_LISTING_RESTARTS = 3
"""Lost cursors one run recovers from by listing again from the top, before it gives up."""


def ingest_completions(
    client: openai.OpenAI,
    *,
    source: SourceInfo,
    data_dir: str | AnyPath,
    settings: IngestSettings | None = None,
    requests: RequestCounter | None = None,
    logger: logging.Logger | Any = log,
) -> IngestReport:
    """Sync the lake under `data_dir` with the stored completions `client` can list.

    Args:
        client: An SDK client for the source (see `pipelines.ingest.sources.open_source`).
        source: What the client reads, recorded on every row and in the report.
        data_dir: The data directory holding `lake/`.
        settings: How to run; defaults to `IngestSettings()`.
        requests: The client's request counter, for the report.
        logger: Where progress goes (a `logging.Logger` or Dagster's `context.log`).

    Returns:
        The report of the run.

    Raises:
        SourceAccessError: 401, 403 or no quota: nothing of the failing page was written.
        SourceUnavailableError: The source kept failing or stalled; resume by running again.
        SourceProtocolError: The source answered what the API never does.
        LakeWriteError: The data directory cannot be written.
        IngestBusyError: Another ingest holds this data directory.
    """
    settings = settings or IngestSettings()
    reading = Reading(client, source, DataPaths(data_dir), settings, requests, logger)
    with the_one_writer(reading.paths, settings):
        return sync_listed(reading, CHAT_COMPLETIONS)


def sync_listed(reading: Reading, api: StoredApi, *, state_name: str = CHAT_STATE) -> IngestReport:
    """One listed API's sync; the caller holds the writer lease (`the_one_writer`)."""
    return _Sync(reading, api, state_name=state_name).sync()


@dataclass
class _PendingPage:
    number: int
    page: RawPage
    new_ids: list[str]
    updated_ids: list[str]
    messages: dict[str, Future[list[dict[str, Any]] | Rejected | None]]
    ingested_at: datetime


class _Sync(Reader):
    """One run of paging a list; `sync_listed` is its only caller."""

    def __init__(self, reading: Reading, api: StoredApi, *, state_name: str) -> None:
        super().__init__(reading, api, state_name=state_name)
        self.seen = read_seen_ids(self.paths, self.run_state.id) if self.full else set()
        if self.full and self.run_state.pages and not self.seen:
            # A resumed full refresh whose record of listed ids is gone (deleted by hand, or a
            # lost disk) would take every completion it did not list again for deleted: it
            # lists again from the top instead.
            self.run_state = self.run_state.model_copy(update={"after": None})

    def _store_changed(self, previous: SourceInfo) -> None:
        self.log.warning(
            f"{self.api.noun}: reading {self.source.describe()} instead of {previous.describe()};"
            " listing everything it has"
        )

    def _must_be_full(self) -> bool:
        return self.state.high_water_mark is None  # nothing read yet to be incremental from

    def _new_run(self, run: RunCheckpoint) -> RunCheckpoint:
        high_water = self.state.high_water_mark
        incremental = run.mode == "incremental" and high_water is not None
        stop_below = high_water - self.settings.overlap_seconds if incremental else None
        return run.model_copy(update={"stop_below": stop_below, "max_created": high_water})

    # -- the run -------------------------------------------------------------------------------

    def _read(self) -> None:
        verb = "resuming" if self.report.resumed else "starting"
        self.log.info(
            f"{verb} {self.report.mode} sync of {self.api.noun} from {self.source.describe()}"
        )
        after = self.run_state.after
        while True:
            try:
                self._list_from(after)
                break
            except openai.NotFoundError:  # only the first page's: later ones are CursorLost
                hint = _NO_LIST_HINTS.get(self.api.api, "")
                raise SourceUnavailableError(
                    f"the source has no list of {self.api.noun} (HTTP 404 on the first list"
                    f" request to {self.source.endpoint_host}){hint}"
                ) from None
            except CursorLost as lost:
                self.report.listing_restarts += 1
                if self.report.listing_restarts > MAX_LISTING_RESTARTS:
                    raise SourceProtocolError(
                        f"the source lost the listing cursor {MAX_LISTING_RESTARTS + 1} times in"
                        " one run (each 404 on `after`); run again later"
                    ) from None
                self.log.warning(
                    f"the resume cursor {lost.after} is gone at the source (expired or"
                    f" deleted); listing {self.api.noun} again from the newest"
                )
                after = None

    def _list_from(self, after: str | None) -> None:
        stop_below = self.run_state.stop_below
        pages = iter_pages(
            self._fetch_list_page,
            after=after,
            policy=self.settings.retry,
            retries=self.outer_retries,
            what=f"listing {self.api.noun}",
            secrets=self.secrets,
        )
        pending: deque[_PendingPage] = deque()
        pool = ThreadPoolExecutor(self.settings.concurrency, "distillery-messages")
        try:
            for page in pages:
                # Keep one page in flight ahead of the one being finished, so the message pool
                # never drains at a page boundary.
                number = self.run_state.pages + len(pending) + 1
                pending.append(self._start_page(pool, number, page))
                if len(pending) > 1:
                    self._finish_page(pending.popleft())
                oldest = _oldest_created(page)
                if stop_below is not None and oldest is not None and oldest < stop_below:
                    break
            while pending:
                self._finish_page(pending.popleft())
        finally:
            # On failure, drop queued message fetches rather than finish pages nobody will write.
            pool.shutdown(wait=True, cancel_futures=True)

    def _fetch_list_page(self, after: str | None) -> Any:
        return self.api.list_page(self.client, after, self.settings.page_size)

    def _start_page(self, pool: ThreadPoolExecutor, number: int, page: RawPage) -> _PendingPage:
        new_ids, updated_ids = [], []
        for item in page.items:
            known = self.index.get(item["id"])
            if known is None or known[1]:  # never seen, or back after a deletion
                new_ids.append(item["id"])
            elif known[0] != item_sha256(item):
                updated_ids.append(item["id"])
        items = {item["id"]: item for item in page.items}
        futures = {i: pool.submit(self._read_items, items[i]) for i in new_ids}
        return _PendingPage(number, page, new_ids, updated_ids, futures, utc_now())

    def _finish_page(self, pending: _PendingPage) -> None:
        page, run = pending.page, self.run_state
        items = {item["id"]: item for item in page.items}
        fetched = {i: pending.messages[i].result() for i in pending.new_ids}
        vanished = sorted(i for i, messages in fetched.items() if messages is None)
        not_whole = {i: r for i, r in fetched.items() if isinstance(r, Rejected)}
        carried = messages_by_id(read_rows(self.paths, self.api.api, pending.updated_ids))
        rows = [
            self._lake_row(items[i], messages, pending.ingested_at)
            for i, messages in fetched.items()
            if isinstance(messages, list)
        ] + [self._lake_row(items[i], carried[i], pending.ingested_at) for i in pending.updated_ids]
        if rows:
            self._write_batch(f"{run.id}-{pending.number:06d}", rows)
        rejected = [*page.rejected, *not_whole.values()]
        if rejected:
            self._keep_rejected(pending.number, rejected)
        if vanished:
            self.log.warning(
                f"page {pending.number}: {counted(len(vanished), 'completion')}"
                f" {'was' if len(vanished) == 1 else 'were'} gone before their"
                f" messages could be read (expired or deleted meanwhile), e.g. {vanished[0]}"
            )
        if page.invalid_utf8:
            self.log.warning(
                f"page {pending.number}: the source sent bytes that are not UTF-8; they are kept"
                " as they came, and validation quarantines the records that hold them"
            )
        if self.full:
            append_seen_ids(self.paths, run.id, items)
            self.seen.update(items)
        if page.items:
            run.after = page.items[-1]["id"]
        run.pages = pending.number
        # Completions that vanished before their messages were read, or were not whole, do not
        # move the high-water mark: were one only briefly unreadable, the next run looks again.
        stored = (item for i, item in items.items() if i not in vanished and i not in not_whole)
        run.max_created = max([run.max_created or 0, *(created_of(i) or 0 for i in stored)])
        # A page that changed nothing needs no checkpoint: resuming re-lists it for one request,
        # and a run with nothing new writes nothing at all.
        if rows or rejected or self.full:
            self._checkpoint()
        self.report.pages += 1
        self.report.listed += len(items)
        self.report.new += len(pending.new_ids) - len(vanished) - len(not_whole)
        self.report.vanished += len(vanished)
        self.report.updated += len(pending.updated_ids)
        if pending.number % self.settings.progress_every_pages == 0:
            elapsed = time.monotonic() - self.meter.started
            self.log.info(
                f"page {pending.number}: {self.report.listed:,} listed, {self.report.new:,} new,"
                f" {self.report.updated:,} updated so far"
                f" ({self.report.listed / elapsed:,.0f} completions/s)"
            )

    def _keep_rejected(self, number: int, rejected: list[Rejected]) -> None:
        """Append the page's items that cannot be stored, with the reason, to this run's rejects
        file: list items without a usable id, and completions not whole."""
        target = self._append_rejected(
            [{"page": number, "reason": r.reason, "item": r.item_json} for r in rejected]
        )
        self.report.rejected += len(rejected)
        self.log.warning(
            f"page {number}: {len(rejected)} items could not be stored ({rejected[0].reason});"
            f" kept with the reason in {target}"
        )

    def _complete(self) -> None:
        if self.full:
            self._record_deletions()
            self.paths.seen_ids(self.run_state.id).unlink(missing_ok=True)
        previous = self.state.high_water_mark
        high_water = max(previous or 0, self.run_state.max_created or 0) or None
        self.report.high_water_mark = high_water
        moved = high_water != previous or bool(self.report.batch_files)
        self._record_finished(changed=moved, high_water_mark=high_water)

    def _record_deletions(self) -> None:
        gone = sorted(
            i for i, (_, deleted) in self.index.items() if not deleted and i not in self.seen
        )
        if not gone:
            return
        previous = read_rows(self.paths, self.api.api, gone)
        # What a by-id reader stored, it checks itself: a list need not hold it.
        previous = previous.filter(~pl.col("batch_id").str.contains(BY_ID_MARK, literal=True))
        rule, now = GoneRule(self.source, self.state.legacy_store), utc_now()
        verdicts = [(row, rule.verdict(row)) for row in previous.iter_rows(named=True)]
        self.report.expired = sum(verdict == "expired" for _, verdict in verdicts)
        rows = [flagged(row, now) for row, verdict in verdicts if verdict == "deleted"]
        if not rows:
            return
        self._write_batch(f"{self.run_state.id}-deleted", rows)
        self.report.deleted = len(rows)


def _oldest_created(page: RawPage) -> int | None:
    """The oldest `created` of a page; items without one say nothing about where it is."""
    return min((c for item in page.items if (c := created_of(item)) is not None), default=None)
