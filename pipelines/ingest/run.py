"""One ingest: every reader the plan names, in turn, under one hold of the data directory.

Chat completions first (they expire soonest: 30 days), then the responses list, then responses and
conversations by id, then trace spans (the store's, files, agent sessions). A reader that stops on
an error stops the run: what the earlier readers stored is checkpointed, and the next run goes on
from there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import openai

from pipelines.datadir.object_storage import AnyPath
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.agent_sessions import sync_agent_sessions
from pipelines.ingest.apis import CHAT_COMPLETIONS, CONVERSATIONS, RESPONSES
from pipelines.ingest.by_id import state_name, sync_by_id
from pipelines.ingest.errors import SampleMixError
from pipelines.ingest.plan import ReadPlan
from pipelines.ingest.reachable import check_reachable
from pipelines.ingest.reader import IngestReport, Reading, the_one_writer
from pipelines.ingest.settings import IngestSettings
from pipelines.ingest.sources import RequestCounter, SourceInfo
from pipelines.ingest.state import CHAT_STATE, read_state
from pipelines.ingest.sync import sync_listed
from pipelines.ingest.traces import sync_span_files, sync_store_spans
from pipelines.source_kind import BUNDLED_SAMPLE_KIND

log = logging.getLogger("distillery.ingest")

RESPONSES_LIST_STATE = "responses-list"


@dataclass
class IngestRun:
    """The reports of one ingest's readers, in the order they ran."""

    reports: list[IngestReport] = field(default_factory=list)

    def summary(self) -> str:
        return "\n".join(report.summary() for report in self.reports)

    def by_reader(self) -> dict[str, IngestReport]:
        """`chat_completions_list`, `responses_list`, `responses_ids`, `conversations_ids`,
        `traces_store`, `traces_files` → report."""
        return {f"{r.api}_{r.reader}": r for r in self.reports}

    def total(self, count: str) -> int:
        """One count (`new`, `updated`, `deleted`, …) summed over the readers."""
        return sum(getattr(report, count) for report in self.reports)


def ingest(
    client: openai.OpenAI,
    *,
    source: SourceInfo,
    data_dir: str | AnyPath,
    plan: ReadPlan,
    settings: IngestSettings | None = None,
    requests: RequestCounter | None = None,
    logger: logging.Logger | Any = log,
) -> IngestRun:
    """Read what `plan` names from `client` into the lake under `data_dir`.

    Raises:
        IngestError: As `sync_listed` and `sync_by_id` do (access refused, source unavailable or
            answering what the API never does, lake not writable, data directory busy); the first
            reader to fail stops the run.
    """
    settings = settings or IngestSettings()
    reading = Reading(client, source, DataPaths(data_dir), settings, requests, logger)
    run = IngestRun()
    logger.info(f"reading {plan.describe()} from {source.describe()}")
    if plan.reads_source:  # trace files alone need no source
        check_reachable(str(client.base_url))  # before the data directory is made
    with the_one_writer(reading.paths, settings):
        _refuse_mixing_the_sample(reading.paths, source)
        if plan.chat_completions:
            run.reports.append(sync_listed(reading, CHAT_COMPLETIONS))
        if plan.listing_responses(_store_heard(requests, plan, logger)):
            run.reports.append(sync_listed(reading, RESPONSES, state_name=RESPONSES_LIST_STATE))
        if plan.response_ids:
            run.reports.append(sync_by_id(reading, RESPONSES, plan.response_ids))
        if plan.conversation_ids:
            run.reports.append(sync_by_id(reading, CONVERSATIONS, plan.conversation_ids))
        if plan.traces:
            run.reports.append(sync_store_spans(reading))
        if plan.traces_path:
            run.reports.append(sync_span_files(reading, plan.traces_path))
        if plan.agent_sessions:
            run.reports.append(sync_agent_sessions(reading))
    return run


def _store_heard(
    requests: RequestCounter | None, plan: ReadPlan, logger: logging.Logger | Any
) -> str | None:
    """Which distillery store the source's answers said it is, logged when that decides that
    its responses are listed."""
    store = requests.store if requests is not None else None
    if plan.responses_list is None and plan.listing_responses(store):
        logger.info(
            "the source is a capturing store: listing its stored responses"
            " (DISTILLERY_RESPONSES_LIST=off not to)"
        )
    return store


def _refuse_mixing_the_sample(paths: DataPaths, source: SourceInfo) -> None:
    """Stop before a byte is written when the bundled sample's synthetic rows and a real
    source's would end up in one lake (a dataset of both would look real and be neither)."""
    names = [CHAT_STATE, RESPONSES_LIST_STATE, state_name(RESPONSES), state_name(CONVERSATIONS)]
    held = {state.source.kind for name in names if (state := read_state(paths, name)).source}
    sample = BUNDLED_SAMPLE_KIND
    if source.kind == sample and held - {sample}:
        raise SampleMixError(
            f"{paths.data_dir} holds rows read from {', '.join(sorted(held - {sample}))}; the"
            " bundled sample is not mixed into them: unset DISTILLERY_DATA_DIR (the sample then"
            " uses ./distillery-data/sample) or set a source (OPENAI_API_KEY, DISTILLERY_SOURCE)"
        )
    if source.kind != sample and sample in held:
        raise SampleMixError(
            f"{paths.data_dir} holds the bundled sample's synthetic rows; {source.kind} is not"
            " mixed into them: set DISTILLERY_DATA_DIR to another directory, or delete"
            f" {paths.data_dir} to start over"
        )
