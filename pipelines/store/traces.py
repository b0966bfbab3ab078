"""Trace spans over HTTP: the OTLP/HTTP receiver and the list ingest reads.

    POST …/traces          an OTLP/HTTP trace export (`application/x-protobuf` or
                           `application/json`, optionally gzip), as every OpenTelemetry SDK's
                           exporter sends it to `<endpoint>/v1/traces`; each span kept as it came
    GET  …/traces/spans    the spans in the order they arrived (`after`, `limit`), for ingest

Mounted beside the other routes under `/v1`, `/openai/v1` and `/openai`, behind the same keys: in
a capturing store with tenants, each span is kept with the sender's tenant, a tenant's key lists
its own spans only, and the read key lists all and sends none (403), as for captures. The
answer is the OTLP one: an `ExportTraceServiceResponse` in the request's encoding, with
`partialSuccess` when spans without ids were rejected; a body that is not an export is a 400, which
exporters do not retry.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines import otlp
from pipelines.store.database import StoreDatabase
from pipelines.store.errors import APIError, bad_parameter
from pipelines.store.params import limit_param, list_response
from pipelines.store.scoping import caller_of, refuse_reader_writes
from pipelines.store.traces_db import spans_page, store_spans

_PROTOBUF = "application/x-protobuf"


def trace_routes() -> list[Route]:
    """The `/traces` routes, relative to an API root."""
    return [
        Route("/traces", _receive, methods=["POST"]),
        Route("/traces/spans", _list_spans, methods=["GET"]),
    ]


async def _receive(request: Request) -> Response:
    refuse_reader_writes(request)
    content_type = request.headers.get("content-type", "")
    try:
        export = otlp.request_from_body(
            await request.body(),
            content_type=content_type,
            content_encoding=request.headers.get("content-encoding", ""),
        )
    except otlp.OtlpDecodeError as err:
        raise APIError(400, f"Invalid OTLP trace export: {err}", code="invalid_otlp") from None
    records = list(otlp.span_records(export))
    with _db(request).transaction() as conn:
        stored, repeated = store_spans(
            conn, records, received_at=int(time.time()), tenant=caller_of(request).tenant
        )
    rejected = len(records) - stored - repeated
    return _export_response(rejected, protobuf=content_type.startswith(_PROTOBUF))


async def _list_spans(request: Request) -> Response:
    after = request.query_params.get("after")
    if after is not None and not after.isdigit():
        raise bad_parameter("after", "Invalid 'after': expected the id of a listed span.")
    limit = limit_param(request.query_params.get("limit"))
    with _db(request).reading() as conn:
        page = spans_page(
            conn,
            after=int(after) if after else None,
            limit=limit,
            tenant=caller_of(request).tenant,
        )
    return list_response(page)


def _export_response(rejected: int, *, protobuf: bool) -> Response:
    message = "spans without a trace id or span id" if rejected else ""
    if protobuf:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        answer = ExportTraceServiceResponse()
        if rejected:
            answer.partial_success.rejected_spans = rejected
            answer.partial_success.error_message = message
        return Response(answer.SerializeToString(), media_type=_PROTOBUF)
    partial = {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}}
    return JSONResponse(partial if rejected else {})


def _db(request: Request) -> StoreDatabase:
    return request.app.state.db
