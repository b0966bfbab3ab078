"""One ingest: every reader the plan names, in turn, under one hold of the data directory.

Chat completions first (they expire soonest: 30 days), then the responses list, then responses and
conversations by id. A reader that stops on an error stops the run: what the earlier readers
stored is checkpointed, and the next run goes on from there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import openai

from pipelines.datadir.object_storage import AnyPath
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.apis import CHAT_COMPLETIONS, CONVERSATIONS, RESPONSES
from pipelines.ingest.by_id import sync_by_id
from pipelines.ingest.plan import ReadPlan
from pipelines.ingest.reader import IngestReport, Reading, the_one_writer
from pipelines.ingest.settings import IngestSettings
from pipelines.ingest.sources import RequestCounter, SourceInfo
from pipelines.ingest.sync import sync_listed

log = logging.getLogger("distillery.ingest")

RESPONSES_LIST_STATE = "responses-list"


@dataclass
class IngestRun:
    """The reports of one ingest's readers, in the order they ran."""

    reports: list[IngestReport] = field(default_factory=list)

    def summary(self) -> str:
        return "\n".join(report.summary() for report in self.reports)

    def by_reader(self) -> dict[str, IngestReport]:
        """`chat_completions`, `responses_list`, `responses_ids`, `conversations_ids` → report."""
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
    with the_one_writer(reading.paths, settings):
        if plan.chat_completions:
            run.reports.append(sync_listed(reading, CHAT_COMPLETIONS))
        if plan.responses_list:
            run.reports.append(sync_listed(reading, RESPONSES, state_name=RESPONSES_LIST_STATE))
        if plan.response_ids:
            run.reports.append(sync_by_id(reading, RESPONSES, plan.response_ids))
        if plan.conversation_ids:
            run.reports.append(sync_by_id(reading, CONVERSATIONS, plan.conversation_ids))
    return run
