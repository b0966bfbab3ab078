"""What a captured generation becomes in the store, and whether it is kept at all.

A chat completion is stored in the import format (`distillery store import`): the completion
exactly as the upstream answered it (or as its chunks add up to), plus what OpenAI's stored
completions carry from the request — metadata, request settings, the end-user id, the upstream's
request id — and the input messages. The existing routes then serve it, and ingest reads it, like
any imported record. A response is stored as the upstream returned it, with the request's input as
input items.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pipelines.store.completions_db import is_number
from pipelines.store.errors import APIError, bad_parameter
from pipelines.store.items import input_items, new_id
from pipelines.store.params import check_metadata
from pipelines.store.tenants import TENANT_KEY

POLICIES = ("request", "always", "never")
# The request settings a retrieved stored completion carries (null when the request left them out).
CHAT_SETTINGS = (
    "seed",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "tools",
    "tool_choice",
    "response_format",
    "parallel_tool_calls",
)
# A response in one of these states is not a finished generation: nothing is stored.
UNSTORED_RESPONSE_STATUSES = frozenset({"failed", "cancelled", "queued", "in_progress"})


@dataclass(frozen=True)
class Capture:
    """One generation to store, as it left the upstream.

    Attributes:
        kind: `chat` or `response`.
        request: The client's request body (a JSON object).
        answer: The upstream's answer: the JSON object (a completion or a response) it returned,
            or its stream assembled into one.
        request_id: The upstream's `x-request-id` (or Azure's `apim-request-id`), if it sent one.
        tenant: Whose capture it is (see `tenants`), kept in its metadata as `TENANT_KEY`.
    """

    kind: str
    request: dict[str, Any]
    answer: dict[str, Any]
    request_id: str | None
    tenant: str | None = None


def wants_storing(policy: str, kind: str, request: dict[str, Any]) -> bool:
    """Whether a generation is stored: as the request asks (`store: true` for chat, Responses
    unless `store: false`, and never a background response, which is not finished when it
    answers), or always, or never."""
    if policy == "never":
        return False
    if kind == "response" and request.get("background") is True:
        return False
    if policy == "always":
        return True
    return request.get("store") is True if kind == "chat" else request.get("store") is not False


def metadata_refusal(request: dict[str, Any]) -> APIError | None:
    """The 400 OpenAI gives for metadata beyond its limits, which the store holds to as well, and
    for the key the store keeps the tenant under."""
    metadata = request.get("metadata")
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return bad_parameter("metadata", "Invalid 'metadata': expected an object.")
    if TENANT_KEY in metadata:
        return bad_parameter("metadata", f"Invalid 'metadata': '{TENANT_KEY}' is reserved.")
    try:
        check_metadata({}, metadata)
    except APIError as err:
        return err
    if any(value is None for value in metadata.values()):
        return bad_parameter("metadata", "Invalid 'metadata': values must be strings.")
    return None


def chat_record(capture: Capture) -> dict[str, Any]:
    """The import-format record of a captured chat completion (`input_messages` included)."""
    request, record = capture.request, dict(capture.answer)
    if not isinstance(record.get("id"), str) or not record["id"]:
        record["id"] = new_id("chat")
    if record.get("object") is None:
        record["object"] = "chat.completion"
    if not is_number(record.get("created")):
        record["created"] = int(time.time())
    if not isinstance(record.get("model"), str) or not record["model"]:
        record["model"] = request.get("model")
    record["metadata"] = _with_tenant(request.get("metadata"), capture.tenant)
    for name in CHAT_SETTINGS:
        record.setdefault(name, request.get(name))
    record.setdefault("input_user", request.get("user"))
    if capture.request_id or "request_id" not in record:
        record["request_id"] = capture.request_id
    messages = request.get("messages")
    record["input_messages"] = [m for m in messages if isinstance(m, dict)] if messages else []
    return record


def response_record(capture: Capture) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The response to store and its input items (each with an id), or None when the response
    did not finish (failed, cancelled, still queued)."""
    request, response = capture.request, dict(capture.answer)
    if response.get("status") in UNSTORED_RESPONSE_STATUSES:
        return None
    if not isinstance(response.get("id"), str) or not response["id"]:
        response["id"] = new_id("response")
    if not is_number(response.get("created_at")):
        response["created_at"] = int(time.time())
    if not isinstance(response.get("model"), str) or not response["model"]:
        response["model"] = request.get("model")
    metadata = response.get("metadata")
    if metadata is None:
        metadata = request.get("metadata")
    response["metadata"] = _with_tenant(metadata, capture.tenant)
    return response, input_items(request.get("input"))


def _with_tenant(metadata: Any, tenant: str | None) -> dict[str, Any]:
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    if tenant is not None:
        metadata[TENANT_KEY] = tenant
    return metadata
