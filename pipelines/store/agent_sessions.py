"""OpenAI's Agents API trace routes, served from the spans the store received.

    GET …/agents/sessions                       sessions, newest first unless `order=asc`
                                                (`after`, `limit`, `order`, `metadata[k]=v`)
    GET …/agents/sessions/{session_id}/traces   the session's traces, each an OTLP/JSON
                                                `ExportTraceServiceRequest` (`after`, `limit`,
                                                `order`)

The shapes the `openai` SDK reads through `client.beta.agents.sessions` (REFERENCE.md): so ingest
reads OpenAI's agent traces and the store's alike, and the tests read the store through the real
SDK. A session is the spans that name it (`traces_db.session_of`: `session.id`,
`gen_ai.conversation.id`), else one trace; a trace is listed with the spans received so far, as
OpenAI lists "currently published data". The store keeps no session metadata, so a metadata filter
matches no session. Tenants see their own spans' sessions only.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.store.database import StoreDatabase
from pipelines.store.errors import not_found
from pipelines.store.pages import Page
from pipelines.store.params import limit_param, list_response, metadata_filter, order_param
from pipelines.store.scoping import caller_of

_TENANT = "(? IS NULL OR tenant = ?)"


def agent_session_routes() -> list[Route]:
    """The `/agents/sessions` trace routes, relative to an API root."""
    return [
        Route("/agents/sessions", _sessions, methods=["GET"]),
        Route("/agents/sessions/{session_id}/traces", _traces, methods=["GET"]),
    ]


async def _sessions(request: Request) -> Response:
    query = request.query_params
    limit, order = limit_param(query.get("limit")), order_param(query.get("order"), default="desc")
    tenant = caller_of(request).tenant
    if metadata_filter(request):
        return list_response(Page([], None, None, False))
    with _db(request).reading() as conn:
        rows = _grouped(
            conn,
            "session_id",
            where=_TENANT,
            params=(tenant, tenant),
            after=query.get("after"),
            order=order,
            limit=limit,
        )
    items = [
        {
            "id": session_id,
            "object": "agent.session",
            "created_at": first,
            "last_active_at": last,
            "metadata": {},
            "status": "idle",
        }
        for session_id, first, last in rows
    ]
    return _page(items, limit)


async def _traces(request: Request) -> Response:
    query, session_id = request.query_params, request.path_params["session_id"]
    limit, order = limit_param(query.get("limit")), order_param(query.get("order"), default="desc")
    tenant = caller_of(request).tenant
    where, params = f"session_id = ? AND {_TENANT}", (session_id, tenant, tenant)
    with _db(request).reading() as conn:
        known = conn.execute(f"SELECT 1 FROM trace_spans WHERE {where} LIMIT 1", params)
        if known.fetchone() is None:
            raise not_found(f"No session found with id '{session_id}'.")
        rows = _grouped(
            conn,
            "trace_id",
            where=where,
            params=params,
            after=query.get("after"),
            order=order,
            limit=limit,
        )
        items = [
            {
                "id": trace_id,
                "object": "agent.session.trace",
                "created_at": first,
                "session_id": session_id,
                "otlp": _export(conn, trace_id, where, params),
            }
            for trace_id, first, _last in rows
        ]
    return _page(items, limit)


def _grouped(
    conn: sqlite3.Connection,
    key: str,
    *,
    where: str,
    params: tuple[Any, ...],
    after: str | None,
    order: str,
    limit: int,
) -> list[tuple[str, int, int]]:
    """(`key`, first received, last received) of each group of spans, in the order the groups'
    first spans arrived; `after` a group's key. `key` is a column name from code."""
    direction, beyond = ("ASC", ">") if order == "asc" else ("DESC", "<")
    having = ""
    cursor_params: tuple[Any, ...] = ()
    if after:
        having = (
            f" HAVING MIN(seq) {beyond} (SELECT MIN(seq) FROM trace_spans WHERE {key} = ?"
            f" AND {where})"
        )
        cursor_params = (after, *params)
    return conn.execute(
        f"SELECT {key}, MIN(received_at), MAX(received_at) FROM trace_spans WHERE {where}"
        f" GROUP BY {key}{having} ORDER BY MIN(seq) {direction} LIMIT ?",
        (*params, *cursor_params, limit + 1),
    ).fetchall()


def _export(
    conn: sqlite3.Connection, trace_id: str, where: str, params: tuple[Any, ...]
) -> dict[str, Any]:
    """The trace's spans (of the session) as one `ExportTraceServiceRequest`, as received."""
    bodies = conn.execute(
        f"SELECT body FROM trace_spans WHERE trace_id = ? AND {where} ORDER BY seq",
        (trace_id, *params),
    ).fetchall()
    records = [json.loads(body) for (body,) in bodies]
    return {
        "resourceSpans": [
            {
                "resource": record.get("resource", {}),
                "scopeSpans": [{"scope": record.get("scope", {}), "spans": [record["span"]]}],
            }
            for record in records
        ]
    }


def _page(items: list[dict[str, Any]], limit: int) -> Response:
    shown = items[:limit]
    return list_response(
        Page(
            items=[json.dumps(item) for item in shown],
            first_id=shown[0]["id"] if shown else None,
            last_id=shown[-1]["id"] if shown else None,
            has_more=len(items) > limit,
        )
    )


def _db(request: Request) -> StoreDatabase:
    return request.app.state.db
