"""Delete at the source, through the openai SDK: stored chat completions, responses,
conversations.

An id the lake knows is deleted under its API; an id named but never ingested is tried under
each API in turn until one has it. "Not found" counts as already gone, anything else the source
answers with an error as a refusal (a provider may refuse to delete, or have no such route).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import openai

from schemas import CHAT_COMPLETIONS_API, CONVERSATIONS_API, RESPONSES_API

DELETABLE_APIS = (CHAT_COMPLETIONS_API, RESPONSES_API, CONVERSATIONS_API)
"""The APIs whose objects a source deletes on request (a trace has no delete route)."""


@dataclass
class SourceDeletion:
    """What the source did with each deletion asked: per API, deleted, gone already, refused
    (with the status codes, never the message: it may quote the record)."""

    deleted: dict[str, int] = field(default_factory=dict)
    not_found: int = 0
    not_deletable: int = 0
    """Objects of an API with no delete route (traces: the source keeps them)."""
    refused: int = 0
    refused_statuses: dict[str, int] = field(default_factory=dict)


def delete_at_source(
    client: openai.OpenAI, ids_by_api: dict[str, set[str]], named: set[str]
) -> SourceDeletion:
    """Ask the source to delete every id: under its known API, else under each in turn."""
    result = SourceDeletion()
    known = set().union(*ids_by_api.values()) if ids_by_api else set()
    asks = [(api, i) for api, ids in sorted(ids_by_api.items()) for i in sorted(ids)]
    for object_id in sorted(named - known):
        asks.append(("", object_id))
    for api, object_id in asks:
        if api and api not in DELETABLE_APIS:
            result.not_deletable += 1
            continue
        for candidate in [api] if api else list(DELETABLE_APIS):
            outcome = _delete_one(client, candidate, object_id)
            if outcome == "deleted":
                result.deleted[candidate] = result.deleted.get(candidate, 0) + 1
                break
            if outcome != "not_found":
                result.refused += 1
                result.refused_statuses[outcome] = result.refused_statuses.get(outcome, 0) + 1
                break
        else:
            result.not_found += 1
    return result


def _deleter(client: openai.OpenAI, api: str) -> Callable[[str], object]:
    return {
        CHAT_COMPLETIONS_API: client.chat.completions.delete,
        RESPONSES_API: client.responses.delete,
        CONVERSATIONS_API: client.conversations.delete,
    }[api]


def _delete_one(client: openai.OpenAI, api: str, object_id: str) -> str:
    """`deleted`, `not_found`, or the refusal's HTTP status (or error class) as text."""
    try:
        _deleter(client, api)(object_id)
    except openai.NotFoundError:
        return "not_found"
    except openai.APIStatusError as error:
        return str(error.status_code)
    except openai.APIError as error:
        return type(error).__name__
    return "deleted"
