"""OpenTelemetry trace exports (OTLP) as plain JSON: decoded, split into spans, attributes read.

One form for every door a span comes in by: the OTLP/JSON encoding of an
`ExportTraceServiceRequest` (lowerCamelCase fields, trace and span ids as hex), which is what the
Collector's file exporter writes, what OTLP/HTTP JSON exporters post, and what OpenAI's Agents API
serves. A protobuf export is turned into the same JSON (`request_from_protobuf`), so the store
keeps and the lake reads one encoding.

A *span record* is one span with the resource and instrumentation scope that sent it:
`{"resource": {...}, "scope": {...}, "span": {...}}`, each as the export held it.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from typing import Any

from pipelines import jsontext

LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
"""`gen_ai.operation.name` values of a call that generates text (not embeddings, not tools)."""

MAX_EXPORT_BYTES = 64 * 1024 * 1024
"""Largest decompressed export accepted: eight times the store's largest body."""

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class OtlpDecodeError(ValueError):
    """The body is not an OTLP trace export in the encoding it claims."""


def request_from_body(
    body: bytes, *, content_type: str, content_encoding: str = "", max_bytes: int = MAX_EXPORT_BYTES
) -> dict:
    """An OTLP/HTTP trace export body as OTLP/JSON.

    Args:
        body: The request body as received.
        content_type: `application/x-protobuf` or `application/json` (parameters ignored).
        content_encoding: `gzip` or `deflate` when the exporter compressed the body.
        max_bytes: Largest body once decompressed (a few KiB of gzip can inflate to GiB).

    Raises:
        OtlpDecodeError: Not decompressible, larger than `max_bytes` decompressed, or not an
            export in that encoding.
    """
    encoding = content_encoding.strip().lower()
    if encoding in ("gzip", "deflate"):
        body = _decompressed(body, gzip=encoding == "gzip", max_bytes=max_bytes)
    elif encoding not in ("", "identity"):
        raise OtlpDecodeError(f"unsupported content-encoding {encoding!r}")
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-protobuf":
        return request_from_protobuf(body)
    if kind == "application/json":
        try:
            request = jsontext.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise OtlpDecodeError(f"the body is not JSON: {err}") from None
        if not isinstance(request, dict):
            raise OtlpDecodeError("the body is not a JSON object")
        return request
    raise OtlpDecodeError(f"unsupported content-type {kind!r} (protobuf or JSON)")


def request_from_protobuf(body: bytes) -> dict:
    """A protobuf `ExportTraceServiceRequest` in the OTLP/JSON encoding (ids as hex).

    Raises:
        OtlpDecodeError: The bytes are not such a message.
    """
    # Imported here: only the store's receiver decodes protobuf, the rest reads JSON.
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    message = ExportTraceServiceRequest()
    try:
        message.ParseFromString(body)
    except DecodeError as err:
        raise OtlpDecodeError(f"the body is not an OTLP protobuf export: {err}") from None
    request = json_format.MessageToDict(message)
    # The protobuf JSON mapping writes bytes as base64; OTLP/JSON writes trace and span ids as hex.
    for record in span_records(request):
        _ids_as_hex(record["span"])
        for link in record["span"].get("links") or []:
            _ids_as_hex(link)
    return request


def span_records(request: dict) -> Iterator[dict[str, Any]]:
    """Every span of an export, each with its resource and scope (see the module docstring)."""
    for resource_spans in _list(request.get("resourceSpans")):
        resource = _dict(_dict(resource_spans).get("resource"))
        for scope_spans in _list(_dict(resource_spans).get("scopeSpans")):
            scope = _dict(_dict(scope_spans).get("scope"))
            for span in _list(_dict(scope_spans).get("spans")):
                if isinstance(span, dict):
                    yield {"resource": resource, "scope": scope, "span": span}


def attributes(key_values: Any) -> dict[str, Any]:
    """OTLP `KeyValue`s as a dict of plain values (`intValue` as int, arrays as lists)."""
    return {
        item["key"]: any_value(item.get("value"))
        for item in _list(key_values)
        if isinstance(item, dict) and isinstance(item.get("key"), str)
    }


def any_value(value: Any) -> Any:
    """One OTLP `AnyValue` as a plain value; an empty or unknown one is None."""
    value = _dict(value)
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:  # int64: a string in the JSON encoding
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        number = value["doubleValue"]
        return float(number) if isinstance(number, int | float | str) else None
    if "arrayValue" in value:
        return [any_value(item) for item in _list(_dict(value["arrayValue"]).get("values"))]
    if "kvlistValue" in value:
        return attributes(_dict(value["kvlistValue"]).get("values"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def span_attributes(record: dict[str, Any]) -> dict[str, Any]:
    """The plain attributes of a span record's span."""
    return attributes(_dict(record.get("span")).get("attributes"))


def is_llm_call(record: dict[str, Any]) -> bool:
    """Whether the span is one call to a model that generates text, in any of the three shapes:
    GenAI semantic conventions (`gen_ai.operation.name`), OpenLLMetry up to 0.54
    (`llm.request.type`), OpenInference (`openinference.span.kind` = LLM)."""
    attrs = span_attributes(record)
    return (
        attrs.get("gen_ai.operation.name") in LLM_OPERATIONS
        or attrs.get("llm.request.type") in ("chat", "completion")
        or attrs.get("openinference.span.kind") == "LLM"
    )


def span_key(record: dict[str, Any]) -> tuple[str, str]:
    """(trace id, span id) of a span record; empty strings when missing."""
    span = _dict(record.get("span"))
    trace_id, span_id = span.get("traceId"), span.get("spanId")
    return (
        trace_id if isinstance(trace_id, str) else "",
        span_id if isinstance(span_id, str) else "",
    )


def _decompressed(body: bytes, *, gzip: bool, max_bytes: int) -> bytes:
    # wbits: 16 + MAX_WBITS reads a gzip header, MAX_WBITS a zlib one (HTTP's "deflate").
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as err:
        kind = "gzip" if gzip else "deflate"
        raise OtlpDecodeError(f"the body is not valid {kind}: {err}") from None
    if len(data) > max_bytes:
        raise OtlpDecodeError(f"the export is larger than {max_bytes:,} bytes decompressed")
    if not inflater.eof:
        raise OtlpDecodeError("the compressed body is truncated")
    return data


def _ids_as_hex(span: dict[str, Any]) -> None:
    for field in _ID_FIELDS:
        value = span.get(field)
        if isinstance(value, str) and value:
            span[field] = base64.b64decode(value).hex()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
