"""What a caller may see and change: the routes' side of `tenants`.

The access guard puts the `Caller` in the request's scope; each route asks here whether a stored
record is the caller's (a record of another tenant is answered exactly as an unknown id is) and
which metadata filter a list adds.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from pipelines.store.errors import APIError
from pipelines.store.tenants import READER, TENANT_KEY, Caller

CALLER_SCOPE_KEY = "distillery.caller"


def caller_of(request: Request) -> Caller:
    """The caller the access guard found."""
    return request.scope.get(CALLER_SCOPE_KEY, READER)


def visible(request: Request, body: str | None) -> str | None:
    """`body` (a stored record's JSON) when the caller may see it, else None."""
    caller = caller_of(request)
    if body is None or caller.reads_all:
        return body
    return body if _tenant_of(body) == caller.tenant else None


def scoped_filter(request: Request, metadata: dict[str, str]) -> dict[str, str]:
    """A list's `metadata[k]=v` filters, narrowed to the caller's tenant."""
    caller = caller_of(request)
    return metadata if caller.reads_all else {**metadata, TENANT_KEY: caller.tenant or ""}


def refuse_reader_writes(request: Request) -> None:
    """A reader reads; updating or deleting is for the tenant that owns the record.

    Raises:
        APIError: 403 for a reader.
    """
    if not caller_of(request).writes:
        raise reader_refusal()


def reader_refusal() -> APIError:
    return APIError(
        403,
        "This key reads every tenant's captures and can do nothing else; generate, update and"
        " delete with a tenant's key.",
        code="read_only_key",
    )


def _tenant_of(body: str) -> Any:
    try:
        metadata = json.loads(body).get("metadata")
    except (ValueError, AttributeError):
        return None
    return metadata.get(TENANT_KEY) if isinstance(metadata, dict) else None
