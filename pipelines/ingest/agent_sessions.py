"""Ingest OpenAI's agent traces: every session's traces through the SDK's `beta.agents.sessions`.

OpenAI's Agents API (beta) keeps the traces of its managed agent sessions and serves each as an
OTLP/JSON `ExportTraceServiceRequest` (`GET /agents/sessions/{id}/traces`): the one listable store
OpenAI has for agent traffic. distillery's store serves the same routes from the spans it
received (`pipelines.store.agent_sessions`). `DISTILLERY_AGENT_SESSIONS=on` reads them.

Sessions are listed oldest first; each session's traces are paged oldest first from the last
trace read in it (its cursor, kept in the state), so a session that goes on gives only its new
traces. Each page of traces is one lake batch, then the cursor is checkpointed: a killed run
resumes after its last written page. A trace's LLM-call spans become lake rows as any span does
(`pipelines.ingest.traces`); a span read again is the same row.
"""

from __future__ import annotations

from typing import Any

import openai

from pipelines import otlp
from pipelines.ingest.apis import TRACES
from pipelines.ingest.errors import SourceUnavailableError
from pipelines.ingest.paging import iter_pages
from pipelines.ingest.reader import IngestReport, Reading
from pipelines.ingest.traces import SpanRows

SESSIONS_STATE = "traces-agent-sessions"


def sync_agent_sessions(reading: Reading) -> IngestReport:
    """Read every agent session's new traces; the caller holds the writer lease."""
    return _AgentSessions(reading, TRACES, state_name=SESSIONS_STATE).sync()


class _AgentSessions(SpanRows):
    reader = "agent_sessions"

    def __init__(self, reading: Reading, api: Any, *, state_name: str) -> None:
        super().__init__(reading, api, state_name=state_name)
        extra = self.state.model_extra or {}
        self.cursors: dict[str, str] = dict(extra.get("session_cursors") or {})

    def _state_update(self) -> dict[str, Any]:
        return {"session_cursors": dict(self.cursors)}

    def _read(self) -> None:
        sessions = self.client.beta.agents.sessions
        listing = iter_pages(
            lambda after: sessions.with_raw_response.list(
                order="asc", limit=self.settings.page_size, **_after(after)
            ),
            after=None,
            policy=self.settings.retry,
            retries=self.outer_retries,
            what="listing agent sessions",
            secrets=self.secrets,
        )
        try:
            for page in listing:
                for session in page.items:
                    self._read_session(session["id"])
        except openai.NotFoundError:
            raise SourceUnavailableError(
                f"{self.source.endpoint_host} has no Agents API sessions (HTTP 404 on"
                " GET /agents/sessions)"
            ) from None

    def _read_session(self, session_id: str) -> None:
        traces = self.client.beta.agents.sessions.traces
        pages = iter_pages(
            lambda after: traces.with_raw_response.list(
                session_id, order="asc", limit=self.settings.page_size, **_after(after)
            ),
            after=self.cursors.get(session_id),
            policy=self.settings.retry,
            retries=self.outer_retries,
            what=f"reading the traces of agent session {session_id}",
            secrets=self.secrets,
        )
        for page in pages:
            records = [
                record
                for item in page.items
                for record in otlp.span_records(item.get("otlp") or {})
            ]
            self._write_page(self._rows(records))
            self.cursors[session_id] = page.items[-1]["id"]
            self._checkpoint()

    def _complete(self) -> None:
        self._record_finished(changed=bool(self.report.pages))


def _after(cursor: str | None) -> dict[str, str]:
    return {"after": cursor} if cursor else {}
