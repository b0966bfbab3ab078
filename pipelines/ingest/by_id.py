"""Ingest by id: stored responses and conversations, whose ids the user keeps.

OpenAI lists neither stored responses nor conversations, so their ids come from the user (an ids
file, `pipelines.ingest.ids`). Each id costs a retrieve and its items (paged, oldest first);
ids are read a chunk at a time on a thread pool, and each chunk is checkpointed as one lake batch
(never written over: `write_batch`), so a killed run loses at most the chunk in flight, and the
next run reads only what the lake lacks.

An incremental run asks only for ids the lake does not hold. A full refresh (asked for, or due
every `full_refresh_every_days`) asks for every id again: a 404 for an id the lake holds flags it
deleted at the source (the row stays; an object older than the source's retention expired, and is
only counted), and a changed object or item list (a conversation that
went on) is stored again. An id the source never had is recorded as missing, with the reason,
under `lake/rejected/`, and is not asked for again until the next full refresh. An object some of
whose items cannot be stored (not objects, or without an id) is kept there whole, counted as
rejected, and asked for again by the next run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import openai

from pipelines.ingest.apis import StoredApi
from pipelines.ingest.gone import GoneRule, flagged
from pipelines.ingest.lake import BY_ID_MARK, read_rows, utc_now
from pipelines.ingest.paging import Rejected, call_with_retry, read_object
from pipelines.ingest.reader import IngestReport, Reader, Reading
from pipelines.ingest.rows import item_sha256
from pipelines.privacy.scrub import scrub

NOT_FOUND = "not found at the source (never stored, expired, deleted, or another project's)"


def by_id_batch(run_id: str, api: StoredApi, number: int) -> str:
    return f"{run_id}{BY_ID_MARK}{api.api}-{number:06d}"


def state_name(api: StoredApi) -> str:
    """The sync-state name of reading `api` by id."""
    return f"{api.api}-ids"


@dataclass(frozen=True)
class _Fetched:
    """One id's outcome: stored (`item` and `items`), gone (404), or rejected with a reason."""

    object_id: str
    item: dict[str, Any] | None = None
    items: list[dict[str, Any]] | None = None
    rejected: Rejected | None = None
    invalid_utf8: bool = False

    @property
    def gone(self) -> bool:
        return self.item is None and self.rejected is None


def sync_by_id(reading: Reading, api: StoredApi, ids: Sequence[str]) -> IngestReport:
    """Read `ids` of `api` into the lake; the caller holds the writer lease.

    Raises:
        SourceAccessError: 401, 403 or no quota: nothing of the failing chunk was written.
        SourceUnavailableError: The source kept failing or stalled; run again to resume.
        SourceProtocolError: The source answered what the API never does.
    """
    wanted = list(dict.fromkeys(ids))
    return _ByIdReader(reading, api, state_name=state_name(api), ids=wanted).sync()


class _ByIdReader(Reader):
    """One run of reading ids; `sync_by_id` is its only caller."""

    reader = "ids"

    def __init__(
        self, reading: Reading, api: StoredApi, *, state_name: str, ids: list[str]
    ) -> None:
        super().__init__(reading, api, state_name=state_name)
        self.ids = ids
        self.gone_rule = GoneRule(self.source, self.state.legacy_store)
        # A full refresh asks for the missing ids again, so it starts its own record of them
        # (unless it is resuming, when the record so far is its own).
        fresh_full = self.full and not self.report.resumed
        self.missing = set() if fresh_full else set(self.state.missing)

    def _state_update(self) -> dict[str, Any]:
        return {"source": self.source, "missing": sorted(self.missing)}

    def _read(self) -> None:
        full = self.full
        if full:
            wanted = self.ids
        else:
            skip = set(self.index) | set(self.state.missing)
            wanted = [i for i in self.ids if i not in skip]
        size = self.settings.page_size
        chunks = [wanted[start : start + size] for start in range(0, len(wanted), size)]
        verb = "resuming" if self.report.resumed else "starting"
        self.log.info(
            f"{verb} {self.run_state.mode} read of {len(wanted):,} {self.api.noun} by id"
            f" from {self.source.describe()}"
        )
        # A resumed full refresh skips the chunks it checkpointed. A resumed incremental run has
        # nothing to skip (what it stored is in the lake, and not asked for again), so it numbers
        # its chunks on from its checkpoint: a batch name is never written twice.
        first = 1 if full else self.run_state.pages + 1
        with ThreadPoolExecutor(self.settings.concurrency, "distillery-by-id") as pool:
            for number, chunk in enumerate(chunks, start=first):
                if full and number <= self.run_state.pages:
                    continue
                try:
                    fetched = list(pool.map(self._fetch, chunk))
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
                self._finish_chunk(number, fetched)

    # -- one id ----------------------------------------------------------------------------------

    def _fetch(self, object_id: str) -> _Fetched:
        what = f"reading {self.api.noun} {object_id}"
        try:
            response = call_with_retry(
                lambda: self.api.retrieve(self.client, object_id),
                policy=self.settings.retry,
                retries=self.outer_retries,
                what=what,
                secrets=self.secrets,
            )
        except openai.NotFoundError:
            return _Fetched(object_id)
        parsed = read_object(response, object_id=object_id, what=what)
        if isinstance(parsed, Rejected):
            return _Fetched(object_id, rejected=parsed)
        items = self._read_items(parsed.item)
        if items is None:  # deleted between the retrieve and its items
            return _Fetched(object_id)
        if isinstance(items, Rejected):  # some items unusable: kept aside whole, asked again
            return _Fetched(object_id, rejected=items)
        return _Fetched(object_id, parsed.item, items, invalid_utf8=parsed.invalid_utf8)

    # -- one chunk -------------------------------------------------------------------------------

    def _finish_chunk(self, number: int, fetched: list[_Fetched]) -> None:
        now = utc_now()
        known = [f.object_id for f in fetched if f.object_id in self.index]
        previous = {
            row["id"]: row
            for row in read_rows(self.paths, self.api.api, known).iter_rows(named=True)
        }
        rows, rejected = [], []
        for outcome in fetched:
            before = previous.get(outcome.object_id)
            if outcome.rejected is not None:
                rejected.append((outcome.object_id, outcome.rejected))
            elif outcome.gone:
                verdict = self.gone_rule.verdict(before) if before is not None else None
                if verdict is None:
                    self.missing.add(outcome.object_id)
                    rejected.append((outcome.object_id, Rejected(NOT_FOUND, "null")))
                elif verdict == "expired":
                    self.report.expired += 1
                elif verdict == "deleted":
                    rows.append(flagged(before, now))  # type: ignore[arg-type]
                    self.report.deleted += 1
            else:
                row = self._lake_row(outcome.item, outcome.items, now)  # type: ignore[arg-type]
                if before is None or before["deleted"]:
                    self.report.new += 1
                elif _changed(before, row):
                    self.report.updated += 1
                else:
                    continue
                rows.append(row)
            if outcome.invalid_utf8:
                self.log.warning(
                    f"{outcome.object_id}: the source sent bytes that are not UTF-8; they are"
                    " kept as they came, and validation quarantines the record"
                )
        if rows:
            self._write_batch(by_id_batch(self.run_state.id, self.api, number), rows)
        if rejected:
            self._keep_rejected(number, rejected)
        self.run_state.pages = number
        self._checkpoint()
        self.report.pages += 1
        self.report.listed += len(fetched)

    def _keep_rejected(self, number: int, rejected: list[tuple[str, Rejected]]) -> None:
        target = self._append_rejected(
            [
                {"chunk": number, "api": self.api.api, "id": scrub(i), "reason": r.reason}
                | {"item": r.item_json}
                for i, r in rejected
            ]
        )
        not_found = sum(1 for _, r in rejected if r.reason == NOT_FOUND)
        self.report.missing += not_found
        self.report.rejected += len(rejected) - not_found
        self.log.warning(
            f"{len(rejected)} {self.api.noun} could not be stored ({rejected[0][1].reason},"
            f" e.g. {scrub(rejected[0][0])}); kept with the reason in {target}"
        )

    # -- finishing -------------------------------------------------------------------------------

    def _complete(self) -> None:
        changed = self.report.batch_files or self.report.missing or self.report.rejected
        self._record_finished(changed=bool(changed))


def _changed(before: dict[str, Any], row: dict[str, Any]) -> bool:
    """The object or its items differ from the lake's (a conversation that went on)."""
    if before["item_sha256"] != row["item_sha256"]:
        return True
    return _canonical(before["messages_json"]) != _canonical(row["messages_json"])


def _canonical(messages_json: str) -> str:
    return item_sha256({"items": json.loads(messages_json)})
