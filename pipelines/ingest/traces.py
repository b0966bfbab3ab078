"""Ingest trace spans: the spans a store received, and OTLP JSON-lines files.

Two readers, one lake row per LLM-call span (`pipelines.ingest.rows.span_lake_row`); spans that
are not LLM calls (HTTP requests, tools, agent steps) are counted as skipped and stay where they
are. Both are incremental and checkpointed like every reader (`pipelines.ingest.reader.Reader`):

- **the store's receiver** (`DISTILLERY_TRACES=on`): pages `GET /traces/spans` of the source, in
  the order the spans arrived, from the last span read (kept as the high-water mark). A page is
  written as one lake batch, then the cursor checkpointed: a killed run resumes after its last
  written page, and a span read twice is the same row (same id, same hash), so the merged lake
  ends with the exact span set.
- **files** (`DISTILLERY_TRACES_PATH`, a file or a directory of `*.json` / `*.jsonl` files, or
  an object or prefix on object storage: `s3://`, `az://`, `gs://`): one
  `ExportTraceServiceRequest` in OTLP/JSON per line, what the OpenTelemetry Collector's file
  exporter writes. Each file is read from where the last run stopped (its byte offset after the
  last whole line, kept in the state), so a file is read once and one still being appended to
  gives only its new lines; a trailing line without its newline (being written) waits for the
  next run. An object is put whole, so its last line is whole with or without a newline; an
  object replaced by a longer one (an upload of a file that grew) is read from its offset. A file
  shorter than its offset was replaced, and is read from the start. A line that is not an export
  is kept with the reason under `lake/rejected/`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai

from pipelines import otlp
from pipelines.datadir import AnyPath, ObjectPath, as_path
from pipelines.datadir.object_storage import StorageError, storage_error_summary
from pipelines.ingest.apis import TRACES
from pipelines.ingest.errors import SourceUnavailableError
from pipelines.ingest.lake import utc_now
from pipelines.ingest.paging import iter_pages
from pipelines.ingest.reader import IngestReport, Reader, Reading
from pipelines.ingest.rows import span_lake_row
from pipelines.ingest.sources import SourceInfo

STORE_STATE = "traces-store"
FILES_STATE = "traces-files"
FILE_SUFFIXES = (".json", ".jsonl", ".ndjson")
LINES_PER_BATCH = 2_000
"""Export lines per lake batch (and checkpoint) when reading files."""


def sync_store_spans(reading: Reading) -> IngestReport:
    """Read the spans the source's store received; the caller holds the writer lease."""
    return _StoreSpans(reading, TRACES, state_name=STORE_STATE).sync()


def sync_span_files(reading: Reading, path: str) -> IngestReport:
    """Read OTLP JSON-lines files under `path` (local, or an object storage URL); the caller
    holds the writer lease."""
    # The rows name the run's source kind (the vocabulary has none for files); which files is
    # in the report and the state.
    location = as_path(path)
    where = str(location.resolve())
    files = SourceInfo(kind=reading.source.kind, endpoint_host=where, detail="OTLP files")
    return _SpanFiles(
        Reading(reading.client, files, reading.paths, reading.settings, None, reading.logger),
        TRACES,
        state_name=FILES_STATE,
        path=location,
    ).sync()


class SpanRows(Reader):
    """What every span reader shares (these two, `pipelines.ingest.agent_sessions`): LLM-call
    spans to lake rows, counted, and a page written as one batch."""

    def _rows(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The lake rows of the LLM-call spans not in the lake as they are."""
        now, rows = utc_now(), []
        for record in records:
            if not otlp.is_llm_call(record):
                self.report.skipped += 1
                continue
            row = span_lake_row(
                record,
                source_kind=self.source.kind,
                source_endpoint=self.source.endpoint,
                ingested_at=now,
            )
            known = self.index.get(row["id"])
            if known is None:
                self.report.new += 1
            elif known[0] == row["item_sha256"]:
                continue  # read before (a resumed page, an exporter's retry)
            else:
                self.report.updated += 1
            rows.append(row)
        self.report.listed += len(records)
        return rows

    def _write_page(self, rows: list[dict[str, Any]]) -> None:
        self.run_state.pages += 1
        if rows:
            self._write_batch(f"{self.run_state.id}-{self.run_state.pages:06d}", rows)
        self.report.pages += 1


class _StoreSpans(SpanRows):
    reader = "store"

    def _read(self) -> None:
        run = self.run_state
        after = run.after
        # Only a full refresh asked for reads every span again: one due by the calendar would
        # page the whole store for nothing, as spans never change.
        if after is None and not self.settings.full_refresh and self.state.high_water_mark:
            after = str(self.state.high_water_mark)
        pages = iter_pages(
            lambda cursor: self.client.get(
                "/traces/spans",
                cast_to=httpx2.Response,
                options={"params": {"limit": self.settings.page_size, **_after(cursor)}},
            ),
            after=after,
            policy=self.settings.retry,
            retries=self.outer_retries,
            what="listing received trace spans",
            secrets=self.secrets,
        )
        try:
            for page in pages:
                records = [_with_tenant(i) for i in page.items if isinstance(i.get("record"), dict)]
                self._write_page(self._rows(records))
                run.after = page.items[-1]["id"] if page.items else run.after
                self._checkpoint()
        except openai.NotFoundError:
            raise SourceUnavailableError(
                f"{self.source.endpoint_host} serves no received trace spans (HTTP 404 on"
                " GET /traces/spans): only distillery's store receives OTLP exports; read"
                " exported files with DISTILLERY_TRACES_PATH instead"
            ) from None

    def _complete(self) -> None:
        previous = self.state.high_water_mark
        last = int(self.run_state.after) if self.run_state.after else previous
        self.report.high_water_mark = last
        self._record_finished(
            changed=last != previous or bool(self.report.batch_files), high_water_mark=last
        )


class _SpanFiles(SpanRows):
    reader = "files"

    def __init__(self, reading: Reading, api: Any, *, state_name: str, path: AnyPath) -> None:
        self.path = path
        super().__init__(reading, api, state_name=state_name)
        extra = self.state.model_extra or {}
        self.offsets: dict[str, int] = dict(extra.get("file_offsets") or {})

    def _state_update(self) -> dict[str, Any]:
        return {"file_offsets": dict(self.offsets)}

    def _read(self) -> None:
        try:
            if not self.path.exists():
                raise SourceUnavailableError(f"DISTILLERY_TRACES_PATH {self.path} does not exist")
            files = _span_files(self.path)
        except StorageError as err:  # obstore's error holds the whole HTTP exchange: one line
            raise SourceUnavailableError(
                f"DISTILLERY_TRACES_PATH {self.path}: {storage_error_summary(err)}"
            ) from None
        for file, size in files:
            key = str(file.resolve())
            offset = self.offsets.get(key, 0)
            if size < offset:
                self.log.warning(f"{file} is shorter than what was read of it: reading it anew")
                offset = 0
            if size == offset:
                continue
            for chunk, end in _line_chunks(file, offset):
                records, rejected = _records_of(chunk, file)
                if rejected:
                    self._append_rejected(rejected)
                    self.report.rejected += len(rejected)
                self._write_page(self._rows(records))
                self.offsets[key] = end
                self._checkpoint()

    def _complete(self) -> None:
        self._record_finished(changed=bool(self.report.pages))


def _span_files(path: AnyPath) -> list[tuple[AnyPath, int]]:
    """The files (objects) to read under `path`, each with its size, in name order."""
    if isinstance(path, ObjectPath):
        if path.is_file():
            return [(path, path.size())]
        listed = path.walk_sizes()
        return [(item, size) for item, size in listed if Path(item.name).suffix in FILE_SUFFIXES]
    if path.is_file():
        return [(path, path.stat().st_size)]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in FILE_SUFFIXES)
    return [(file, file.stat().st_size) for file in files]


def _line_chunks(file: AnyPath, offset: int) -> Iterator[tuple[list[bytes], int]]:
    """Whole lines from `offset`, `LINES_PER_BATCH` at a time, each chunk with the offset after
    it; a last line without its newline is left for the next run (in a local file, which may be
    being written; an object is put whole, so its last line is whole)."""
    whole = isinstance(file, ObjectPath)
    with io.BytesIO(file.read_bytes()) if whole else open(file, "rb") as stream:
        stream.seek(offset)
        chunk: list[bytes] = []
        position = offset
        for line in stream:
            if not line.endswith(b"\n") and not whole:
                break
            chunk.append(line)
            position += len(line)
            if len(chunk) == LINES_PER_BATCH:
                yield chunk, position
                chunk = []
        if chunk:
            yield chunk, position


def _records_of(lines: list[bytes], file: AnyPath) -> tuple[list[dict[str, Any]], list[dict]]:
    records, rejected = [], []
    for line in lines:
        if not line.strip():
            continue
        try:
            export = json.loads(line)
        except (ValueError, UnicodeDecodeError) as err:
            reason = f"not JSON: {err}"
        else:
            if isinstance(export, dict):
                records.extend(otlp.span_records(export))
                continue
            reason = "not an ExportTraceServiceRequest object"
        text = line.decode("utf-8", "replace")[:10_000]
        rejected.append({"file": str(file), "reason": reason, "line": text})
    return records, rejected


def _with_tenant(item: dict[str, Any]) -> dict[str, Any]:
    """The span record, with the tenant a capturing store received it from (which
    normalize makes the `distillery_tenant` metadata pair, as captures have it)."""
    tenant = item.get("tenant")
    return {**item["record"], "tenant": tenant} if isinstance(tenant, str) else item["record"]


def _after(cursor: str | None) -> dict[str, str]:
    return {"after": cursor} if cursor else {}
