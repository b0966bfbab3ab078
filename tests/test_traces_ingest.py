"""Trace spans reach the lake: through the store's OTLP/HTTP receiver (the real OpenTelemetry SDK
and its exporter, protobuf and gzip; OTLP/JSON too), and from OTLP JSON-lines files; both
incrementally, one row per LLM-call span."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from pipelines.completions.normalize import normalize_completions
from pipelines.ingest import IngestRun, ReadPlan, ingest, read_raw_completions
from pipelines.ingest.paging import RetryPolicy
from pipelines.ingest.settings import IngestSettings
from pipelines.ingest.sources import SourceInfo
from tests.capture_support import capturing_store
from tests.conftest import STORE_KEY
from tests.fake_upstream import running_upstream
from tests.spans import export_request, span_record
from tests.store_process import StoreProcess
from tests.test_ingest import source_env
from tests.test_ingest_responses import run_ingest
from tests.test_normalize_traces import OPENINFERENCE_FLAT, SEMCONV_ROUND_TRIP

pytestmark = pytest.mark.slow


def _export_spans(
    store: StoreProcess, calls: list[dict[str, Any]], key: str = STORE_KEY
) -> list[tuple[str, str]]:
    """Send one trace through the real SDK and OTLP/HTTP exporter (protobuf, gzip): an agent
    span (no LLM call) holding one span per call. Returns the calls' (trace id, span id)."""
    exporter = OTLPSpanExporter(
        endpoint=f"{store.url}/v1/traces",
        headers={"Authorization": f"Bearer {key}"},
        compression=Compression.Gzip,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    keys = []
    with tracer.start_as_current_span("invoke_agent weather"):
        for attributes in calls:
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=attributes) as span:
                context = span.get_span_context()
                keys.append((f"{context.trace_id:032x}", f"{context.span_id:016x}"))
    provider.shutdown()
    return keys


def _traces_env(store: StoreProcess) -> dict[str, str]:
    return {
        **source_env(store, "openai"),
        "DISTILLERY_CHAT_COMPLETIONS": "off",
        "DISTILLERY_TRACES": "on",
    }


def test_the_store_receives_exports_and_ingest_reads_each_llm_span_once(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = _export_spans(fresh_store, [SEMCONV_ROUND_TRIP, OPENINFERENCE_FLAT])
    run = run_ingest(_traces_env(fresh_store), data_dir)
    report = run.by_reader()["traces_store"]
    assert (report.listed, report.new, report.skipped) == (3, 2, 1)

    lake = read_raw_completions(data_dir)
    assert lake["api"].unique().to_list() == ["traces"]
    assert sorted(lake["id"]) == sorted(f"span_{t}_{s}" for t, s in first)
    record = json.loads(lake["completion_json"][0])
    assert {"key": "service.name", "value": {"stringValue": "weather-agent"}} in record["resource"][
        "attributes"
    ]
    assert record["span"]["parentSpanId"]  # the agent span: the call's place in the trace kept
    assert record["span"]["traceId"] == first[0][0]

    # Nothing new: nothing read again, nothing written.
    again = run_ingest(_traces_env(fresh_store), data_dir).by_reader()["traces_store"]
    assert (again.listed, again.new, again.batch_files) == (0, 0, [])

    later = _export_spans(fresh_store, [SEMCONV_ROUND_TRIP])
    third = run_ingest(_traces_env(fresh_store), data_dir).by_reader()["traces_store"]
    assert (third.listed, third.new, third.skipped) == (2, 1, 1)
    assert set(read_raw_completions(data_dir)["id"]) == {
        f"span_{t}_{s}" for t, s in [*first, *later]
    }


def test_otlp_json_exports_gzip_and_an_exporters_retry(fresh_store: StoreProcess) -> None:
    record = span_record(SEMCONV_ROUND_TRIP)
    body = gzip.compress(json.dumps(export_request([record])).encode())
    headers = {
        "Authorization": f"Bearer {STORE_KEY}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    url = f"{fresh_store.url}/v1/traces"
    for _ in range(2):  # the same batch sent twice, as an exporter retries after a timeout
        answer = httpx2.post(url, content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {}
    refused = httpx2.post(url, content=b"not gzip", headers=headers)
    assert refused.status_code == 400
    assert "gzip" in refused.json()["error"]["message"]
    unauthorized = httpx2.post(url, content=body, headers={**headers, "Authorization": ""})
    assert unauthorized.status_code == 401

    listed = openai.OpenAI(base_url=f"{fresh_store.url}/v1", api_key=STORE_KEY).get(
        "/traces/spans", cast_to=httpx2.Response
    )
    spans = listed.json()["data"]
    assert len(spans) == 1
    assert spans[0]["record"] == record  # kept as it came


def validated_spans_of(data_dir: Path) -> Any:
    """The normalized rows of the lake under `data_dir`."""
    return normalize_completions(read_raw_completions(data_dir))


def _files_run(path: Path, data_dir: Path) -> IngestRun:
    unused = openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
    return ingest(
        unused,
        source=SourceInfo(kind="local", endpoint_host="none"),
        data_dir=data_dir,
        plan=ReadPlan(chat_completions=False, traces_path=str(path)),
        settings=IngestSettings(retry=RetryPolicy(attempts=1)),
    )


def test_otlp_json_lines_files_are_read_once_and_followed_as_they_grow(tmp_path: Path) -> None:
    traces, data_dir = tmp_path / "otel", tmp_path / "data"
    traces.mkdir()
    spans = [span_record(SEMCONV_ROUND_TRIP, span_id=f"{n:016x}") for n in range(1, 5)]
    agent_step = span_record({"gen_ai.operation.name": "invoke_agent"}, span_id="f" * 16)
    file = traces / "traces.jsonl"
    lines = [json.dumps(export_request([spans[0], agent_step])), "{not json"]
    # The collector is writing the third line: it waits for its newline.
    partial = json.dumps(export_request([spans[1]]))
    file.write_text("\n".join(lines) + "\n" + partial[:40], encoding="utf-8")

    first = _files_run(traces, data_dir).by_reader()["traces_files"]
    assert (first.new, first.skipped, first.rejected) == (1, 1, 1)
    rejects = list((data_dir / "lake" / "rejected").glob("*.jsonl"))
    assert "not JSON" in rejects[0].read_text(encoding="utf-8")

    with file.open("a", encoding="utf-8") as out:
        out.write(partial[40:] + "\n" + json.dumps(export_request(spans[2:])) + "\n")
    second = _files_run(traces, data_dir).by_reader()["traces_files"]
    assert (second.listed, second.new, second.rejected) == (3, 3, 0)

    third = _files_run(traces, data_dir).by_reader()["traces_files"]
    assert (third.listed, third.new, third.batch_files) == (0, 0, [])
    assert sorted(read_raw_completions(data_dir)["id"]) == [
        f"span_5b8aa5a2d2c872e8321cf37308d69df2_{n:016x}" for n in range(1, 5)
    ]


def test_a_capturing_stores_tenants_see_their_own_spans_and_the_read_key_all(
    tmp_path: Path,
) -> None:
    read_key, app_a, app_b = "sk-ingest-read-0123456789", "sk-app-a-0123456789", "sk-app-b-012345"
    with (
        running_upstream() as upstream,
        capturing_store(
            tmp_path / "capture.db", f"{upstream.url}/v1", extra_args=["--read-key", read_key]
        ) as proxy,
    ):
        (a,) = _export_spans(proxy, [SEMCONV_ROUND_TRIP], key=app_a)
        (b,) = _export_spans(proxy, [SEMCONV_ROUND_TRIP], key=app_b)

        def listed(key: str) -> list[str]:
            client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=key)
            page = client.get("/traces/spans", cast_to=httpx2.Response).json()["data"]
            return [item["span_id"] for item in page]

        # Each app lists its own two spans (the agent's and the call's), never the other's.
        assert len(listed(app_a)) == 2 and a[1] in listed(app_a) and b[1] not in listed(app_a)
        assert a[1] not in listed(app_b)
        assert {a[1], b[1]} <= set(listed(read_key))
        refused = httpx2.post(
            f"{proxy.url}/v1/traces",
            content=json.dumps(export_request([span_record(SEMCONV_ROUND_TRIP)])),
            headers={"Authorization": f"Bearer {read_key}", "Content-Type": "application/json"},
        )
        assert refused.status_code == 403

        env = {**_traces_env(proxy), "OPENAI_API_KEY": read_key}
        run_ingest(env, tmp_path / "data")
    rows = validated_spans_of(tmp_path / "data")
    tenants = {
        pair["value"]
        for metadata in rows["metadata"]
        for pair in metadata
        if pair["key"] == "distillery_tenant"
    }
    assert len(tenants) == 2  # each app's spans carry its tenant, as its captures do
