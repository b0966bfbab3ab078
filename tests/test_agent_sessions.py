"""OpenAI's Agents API traces (`beta.agents.sessions`), served by the store from the spans it
received and read by ingest through the real SDK, incrementally per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from pipelines.ingest import read_raw_completions
from tests.conftest import STORE_KEY
from tests.store_process import StoreProcess
from tests.test_ingest import source_env
from tests.test_ingest_responses import run_ingest
from tests.test_normalize_traces import SEMCONV_ROUND_TRIP

pytestmark = pytest.mark.slow

# A call that names no conversation of its own (`gen_ai.conversation.id` would name a session).
CALL = {k: v for k, v in SEMCONV_ROUND_TRIP.items() if k != "gen_ai.conversation.id"}


def _agent_turn(store: StoreProcess, session: str | None, calls: int) -> tuple[str, list[str]]:
    """One agent turn (a trace: an agent span, `calls` LLM-call spans), every span naming
    `session` as OpenInference's `using_session` does. Returns the trace id and the calls'
    lake ids."""
    exporter = OTLPSpanExporter(
        endpoint=f"{store.url}/v1/traces", headers={"Authorization": f"Bearer {STORE_KEY}"}
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent")
    named: dict[str, Any] = {"session.id": session} if session else {}
    ids = []
    with tracer.start_as_current_span("invoke_agent", attributes=named) as root:
        trace_id = f"{root.get_span_context().trace_id:032x}"
        for _ in range(calls):
            attributes = {**CALL, **named}
            with tracer.start_as_current_span("chat", attributes=attributes) as span:
                ids.append(f"span_{trace_id}_{span.get_span_context().span_id:016x}")
    provider.shutdown()
    return trace_id, ids


def test_sessions_and_their_traces_through_the_sdk_and_into_the_lake(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    first_trace, first_ids = _agent_turn(fresh_store, "sess_support_1", calls=2)
    lone_trace, lone_ids = _agent_turn(fresh_store, None, calls=1)

    sessions = openai.OpenAI(base_url=f"{fresh_store.url}/v1", api_key=STORE_KEY).beta.agents
    listed = sessions.sessions.list(order="asc")
    assert [s.id for s in listed.data] == ["sess_support_1", lone_trace]
    traces = sessions.sessions.traces.list("sess_support_1", order="asc").data
    assert [t.id for t in traces] == [first_trace]
    exported = traces[0].otlp["resourceSpans"]
    assert len(exported) == 3  # the agent span and both calls, as an ExportTraceServiceRequest
    with pytest.raises(openai.NotFoundError):
        sessions.sessions.traces.list("sess_unknown")
    assert sessions.sessions.list(metadata={"team": "x"}).data == []

    env = {
        **source_env(fresh_store, "openai"),
        "DISTILLERY_CHAT_COMPLETIONS": "off",
        "DISTILLERY_AGENT_SESSIONS": "on",
    }
    data_dir = tmp_path / "data"
    report = run_ingest(env, data_dir).by_reader()["traces_agent_sessions"]
    assert (report.new, report.skipped) == (3, 2)
    assert sorted(read_raw_completions(data_dir)["id"]) == sorted([*first_ids, *lone_ids])

    # The session goes on: only its new turn is read.
    _, later_ids = _agent_turn(fresh_store, "sess_support_1", calls=1)
    again = run_ingest(env, data_dir).by_reader()["traces_agent_sessions"]
    assert (again.listed, again.new) == (2, 1)
    assert sorted(read_raw_completions(data_dir)["id"]) == sorted(
        [*first_ids, *lone_ids, *later_ids]
    )
