"""One application instrumented by one real instrumentation package, run as its own process.

    python -m tests.traces_scenario KIND TAG BASE_URL (--otlp URL KEY | --file PATH)
        [--no-content] [--only-first]

KIND is `openai-v2` (the official instrumentation), `openllmetry` (whichever release is first on
the path: the dev extra's 0.62, or 0.54 from `.ci/otel-legacy`) or `openinference`. The real
openai SDK talks to BASE_URL (the capturing store, or the test upstream itself); the real
OpenTelemetry SDK exports the spans with its OTLP/HTTP exporter (protobuf, gzip) to the store, or
writes them as the Collector's file exporter does (one OTLP/JSON `ExportTraceServiceRequest` per
line, ids as hex). The exchanges: a single call, a streamed call, a tool-call round trip and a
three-turn chat, each text tagged with TAG so every process's exchanges are its own.

A process of its own because instrumentations patch the SDK for the whole process, and the two
OpenLLMetry releases cannot share one environment.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from collections.abc import Sequence
from typing import Any

WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def exchanges(client: Any, tag: str, *, only_first: bool = False) -> None:
    """The calls every instrumentation is driven through (`store: true`, so a capturing store
    keeps them too); `only_first`: the single call alone."""
    create = client.chat.completions.create
    create(
        model="gpt-4.1-mini",
        messages=[
            {"role": "system", "content": f"[{tag}] Answer in one sentence."},
            {"role": "user", "content": f"[{tag}] Why is the sea salty?"},
        ],
        temperature=0.2,
        store=True,
    )
    if only_first:
        return
    stream = create(
        model="gpt-4.1-mini",
        messages=[{"role": "user", "content": f"[{tag}] Stream a haiku about glaciers."}],
        stream=True,
        stream_options={"include_usage": True},
        store=True,
    )
    for _ in stream:
        pass
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": f"[{tag}] What is the weather in Paris and Zürich?"}
    ]
    first = create(model="gpt-4.1-mini", messages=messages, tools=WEATHER_TOOLS, store=True)
    called = first.choices[0].message
    messages.append(called.model_dump(exclude_none=True))
    for call in called.tool_calls or []:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": f"sunny in {tag}"})
    create(model="gpt-4.1-mini", messages=messages, tools=WEATHER_TOOLS, store=True)
    chat: list[dict[str, Any]] = [{"role": "system", "content": f"[{tag}] You teach baking."}]
    for question in ("What is a levain?", "How long does it rise?", "And at 18 °C?"):
        chat.append({"role": "user", "content": f"[{tag}] {question}"})
        answer = create(model="gpt-4.1-mini", messages=chat, store=True)
        chat.append({"role": "assistant", "content": answer.choices[0].message.content})


def _instrument(kind: str, provider: Any, content: bool) -> None:
    # Each reads its switch when instrumenting: set before.
    if kind == "openai-v2":
        if content:
            # `true` is refused by 2.4b0 (REFERENCE.md): span_only is the value that captures.
            os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_only"
            os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif kind == "openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true" if content else "false"
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as LLMetry

        LLMetry().instrument(tracer_provider=provider)
    else:
        from openinference.instrumentation import TraceConfig
        from openinference.instrumentation.openai import OpenAIInstrumentor as Phoenix

        hidden = not content
        config = TraceConfig(hide_inputs=hidden, hide_outputs=hidden)
        Phoenix().instrument(tracer_provider=provider, config=config)


class CollectorFileExporter:
    """The Collector's file exporter's format: one OTLP/JSON export per line, ids as hex."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[Any]) -> Any:
        from google.protobuf import json_format
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        from opentelemetry.sdk.trace.export import SpanExportResult

        request = json_format.MessageToDict(encode_spans(spans))
        for resource_spans in request.get("resourceSpans", []):
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if span.get(key):
                            span[key] = base64.b64decode(span[key]).hex()
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(request) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["openai-v2", "openllmetry", "openinference"])
    parser.add_argument("tag")
    parser.add_argument("base_url")
    parser.add_argument("--otlp", nargs=2, metavar=("URL", "KEY"))
    parser.add_argument("--file")
    parser.add_argument("--no-content", action="store_true")
    parser.add_argument("--only-first", action="store_true")
    args = parser.parse_args(argv)

    import openai
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"app-{args.tag}"}))
    if args.file:
        exporter: Any = CollectorFileExporter(args.file)
    else:
        url, key = args.otlp
        exporter = OTLPSpanExporter(
            endpoint=url, headers={"Authorization": f"Bearer {key}"}, compression=Compression.Gzip
        )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _instrument(args.kind, provider, content=not args.no_content)
    client = openai.OpenAI(base_url=args.base_url, api_key="sk-app", max_retries=0)
    exchanges(client, args.tag, only_first=args.only_first)
    provider.shutdown()


if __name__ == "__main__":
    main()
