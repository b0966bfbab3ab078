"""What the store serves on the bundled sample is what the installed `openai` SDK's own models
accept, on every route the app has (issue 21, item 6).

The routes come from the app itself: a route added without a check here fails the first test. Each
check fetches the JSON over HTTP and validates it strictly with the SDK's type, and makes the same
call through the real SDK client (with the SDK's own response validation on where its types allow).
The sample's deliberately malformed records must fail, each for its own reason, and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.pagination import SyncCursorPage
from openai.types import ErrorObject
from openai.types.beta.agents.sessions.session_trace import SessionTrace
from openai.types.chat import ChatCompletion, ChatCompletionDeleted
from openai.types.conversations import (
    Conversation,
    ConversationDeletedResource,
    ConversationItemList,
)
from openai.types.responses import Response, ResponseItemList

from pipelines.sample import SAMPLE_PATHS
from pipelines.store import StoreDatabase
from tests.conftest import STORE_KEY
from tests.sdk_models import UNDECLARED_CHAT_FIELDS, Findings
from tests.spans import export_request, span_record
from tests.store_process import StoreProcess, store_process
from tests.store_surfaces import Surface, served_routes

Record = dict[str, Any]
CALL = {"gen_ai.operation.name": "chat", "gen_ai.input.messages": "[]", "session.id": "sess_1"}

EXPECTED_FAILURES = {
    "malformed_missing_created": "created missing",
    "malformed_numeric_content": "GET …/messages: content string_type",
    "malformed_unknown_role": "role 'narrator' is none of the API's",
    "malformed_tool_missing_call_id": "as a tool message: tool_call_id missing",
    "unknown_field": "x_custom_field: a field the SDK's model does not declare",
}
"""The sample's records made to be odd, by `metadata.sample_case`, and what each must be caught
at. The other malformed cases are well-typed (an empty `choices`, an empty output, a tool reply
to an unknown call): the pipeline's validation catches them, not the SDK's types."""

UNDECLARED_RESPONSE_FIELDS = frozenset({"store", "billing"})
"""In every response OpenAI serves; the SDK's `Response` does not declare them."""

NOT_THE_STORES_ANSWER = {
    "/_admin/*": "test controls (faults, stats, import), not part of OpenAI's API",
    "POST /deployments/{deployment}/chat/completions": "capture: the upstream's answer",
    "/{path:path}": "capture: forwards what no route serves, answering the upstream's bytes",
    "/distillery/health": "capture: the store's own counters, not part of OpenAI's API",
    "POST /traces": "OTLP/HTTP: OpenTelemetry's protocol, not OpenAI's (test_traces_ingest.py)",
    "GET /traces/spans": "the store's list of received spans for ingest, not part of OpenAI's API",
    "GET /agents/sessions": "sessions with what the store knows of them (id, times, metadata):"
    " the SDK's AgentSession also requires an agent, environment and spend control the store"
    " does not have; tests/test_agent_sessions.py lists them through the SDK",
}
"""Routes whose answers are not the store's to shape, and why."""


def _sample() -> dict[str, list[Record]]:
    by_kind: dict[str, list[Record]] = {"chat.completion": [], "response": [], "conversation": []}
    for path in SAMPLE_PATHS:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            kind = record.get("object") if record.get("object") in by_kind else "chat.completion"
            by_kind[kind].append(record)
    return by_kind


SAMPLE = _sample()
WELL_FORMED_CHAT = next(
    r for r in SAMPLE["chat.completion"] if r["metadata"] and "sample_case" not in r["metadata"]
)


def _exempt(mount: str, method: str, path: str) -> bool:
    return not {f"{mount}/*", f"{method} {path}", path}.isdisjoint(NOT_THE_STORES_ANSWER)


# -- one check per route -----------------------------------------------------------------------


def _list_envelope(surface: Surface, page: Any, where: str) -> None:
    # The SDK's list type without its items, which are judged one by one under their own ids.
    surface.findings.model(ResponseItemList, {**page, "data": []}, owner="(lists)", where=where)


def _chat_items(surface: Surface, path: str, client: openai.OpenAI) -> None:
    served = []
    for page in surface.pages(path):
        _list_envelope(surface, page, f"GET {path}")
        for item in page["data"]:
            served.append(item["id"])
            surface.findings.model(
                ChatCompletion,
                item,
                owner=item["id"],
                where=f"GET {path}",
                undeclared=UNDECLARED_CHAT_FIELDS,
            )
    assert sorted(served) == sorted(r["id"] for r in SAMPLE["chat.completion"])
    # The SDK pages through the same list (its validation off: one malformed item would sink
    # the page, and each item was judged above).
    listed = [c.id for c in client.chat.completions.list(limit=100)]
    assert listed == served


def check_chat_list(surface: Surface) -> None:
    _chat_items(surface, "/chat/completions", surface.client(strict=False))


def check_deployment_list(surface: Surface) -> None:
    # Where AzureOpenAI(azure_deployment=…) sends `list`.
    client = surface.client(strict=False, azure_deployment="my-deployment")
    _chat_items(surface, "/deployments/my-deployment/chat/completions", client)


def check_chat_retrieve(surface: Surface) -> None:
    client = surface.client()
    for record in SAMPLE["chat.completion"]:
        where = "GET /chat/completions/{id}"
        served = surface.get(f"/chat/completions/{record['id']}")
        surface.findings.model(
            ChatCompletion,
            served,
            owner=record["id"],
            where=where,
            undeclared=UNDECLARED_CHAT_FIELDS,
        )
        got = surface.sdk(record["id"], where, client.chat.completions.retrieve, record["id"])
        assert got is None or got.model_dump(exclude_unset=True) == served


def check_chat_messages(surface: Surface) -> None:
    # The SDK types every stored message as an assistant message (REFERENCE): its own validation
    # stays off, and `Findings.stored_message` judges each message by role.
    client = surface.client(strict=False)
    for record in SAMPLE["chat.completion"]:
        path = f"/chat/completions/{record['id']}/messages"
        served = []
        for page in surface.pages(path):
            _list_envelope(surface, page, "GET …/messages")
            served += page["data"]
        for message in served:
            surface.findings.stored_message(message, owner=record["id"], where="GET …/messages")
        listed = client.chat.completions.messages.list(record["id"], limit=100)
        assert [(m.id, m.role) for m in listed] == [(m["id"], m["role"]) for m in served]


def check_chat_store(surface: Surface) -> None:
    # Importing one record answers it as stored; asking the store to generate is refused.
    status, stored = surface.http("POST", "/chat/completions", WELL_FORMED_CHAT)
    assert status == 200, stored
    surface.findings.model(
        ChatCompletion,
        stored,
        owner=WELL_FORMED_CHAT["id"],
        where="POST /chat/completions",
        undeclared=UNDECLARED_CHAT_FIELDS,
    )
    request: Record = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    _refused(surface, "/chat/completions", request, lambda c: c.chat.completions.create(**request))


def check_chat_update(surface: Surface) -> None:
    record = WELL_FORMED_CHAT
    where = "POST /chat/completions/{id}"
    updated = surface.sdk(
        record["id"],
        where,
        lambda: surface.client().chat.completions.update(record["id"], metadata=record["metadata"]),
    )
    status, served = surface.http(
        "POST", f"/chat/completions/{record['id']}", {"metadata": record["metadata"]}
    )
    assert status == 200 and updated is not None and updated.id == record["id"]
    surface.findings.model(
        ChatCompletion, served, owner=record["id"], where=where, undeclared=UNDECLARED_CHAT_FIELDS
    )


def check_chat_delete(surface: Surface) -> None:
    record = WELL_FORMED_CHAT
    deleted = surface.sdk(
        record["id"], "DELETE", lambda: surface.client().chat.completions.delete(record["id"])
    )
    assert deleted is not None and deleted.deleted
    surface.store.import_records([record])
    status, served = surface.http("DELETE", f"/chat/completions/{record['id']}")
    assert status == 200, served
    surface.store.import_records([record])
    surface.findings.model(ChatCompletionDeleted, served, owner=record["id"], where="DELETE")


def check_responses_list(surface: Surface) -> None:
    served = []
    for page in surface.pages("/responses"):
        _list_envelope(surface, page, "GET /responses")
        for item in page["data"]:
            served.append(item["id"])
            surface.findings.model(
                Response,
                item,
                owner=item["id"],
                where="GET /responses",
                undeclared=UNDECLARED_RESPONSE_FIELDS,
            )
    assert sorted(served) == sorted(r["id"] for r in SAMPLE["response"])
    # OpenAI has no list of responses (Azure Foundry has): the SDK's generic pager reads it.
    client = surface.client(strict=False)
    page = client.get_api_list(
        "/responses",
        page=SyncCursorPage[Response],
        model=Response,
        options={"params": {"limit": 100}},
    )
    assert [r.id for r in page] == served


def check_response_create(surface: Surface) -> None:
    request: Record = {"model": "m", "input": "hi"}
    _refused(surface, "/responses", request, lambda c: c.responses.create(**request))


def check_response_retrieve(surface: Surface) -> None:
    client = surface.client()
    for record in SAMPLE["response"]:
        served = surface.get(f"/responses/{record['id']}")
        surface.findings.model(
            Response,
            served,
            owner=record["id"],
            where="GET /responses/{id}",
            undeclared=UNDECLARED_RESPONSE_FIELDS,
        )
        got = surface.sdk(
            record["id"], "GET /responses/{id}", client.responses.retrieve, record["id"]
        )
        assert got is None or got.id == record["id"]


def check_response_delete(surface: Surface) -> None:
    record = SAMPLE["response"][0]
    # The SDK declares no type for this answer (`delete` returns None); OpenAI's shape is this.
    status, served = surface.http("DELETE", f"/responses/{record['id']}")
    assert (status, served) == (200, {"id": record["id"], "object": "response", "deleted": True})
    surface.store.import_records([record])
    assert surface.client().responses.delete(record["id"]) is None
    surface.store.import_records([record])


def check_response_input_items(surface: Surface) -> None:
    client = surface.client()
    for record in SAMPLE["response"]:
        path = f"/responses/{record['id']}/input_items"
        served = [item for page in surface.pages(path) for item in page["data"]]
        for page in surface.pages(path):
            surface.findings.model(ResponseItemList, page, owner=record["id"], where=path)
        listed = surface.sdk(
            record["id"],
            path,
            client.responses.input_items.list,
            record["id"],
            limit=100,
        )
        assert listed is None or [i.id for i in listed] == [i["id"] for i in served]


def check_conversation_retrieve(surface: Surface) -> None:
    client = surface.client()
    for record in SAMPLE["conversation"]:
        served = surface.get(f"/conversations/{record['id']}")
        surface.findings.model(Conversation, served, owner=record["id"], where="GET conversation")
        got = surface.sdk(
            record["id"], "GET conversation", client.conversations.retrieve, record["id"]
        )
        assert got is None or got.model_dump() == served


def check_conversation_delete(surface: Surface) -> None:
    record = SAMPLE["conversation"][0]
    deleted = surface.sdk(
        record["id"],
        "DELETE conversation",
        lambda: surface.client().conversations.delete(record["id"]),
    )
    assert deleted is not None and deleted.deleted
    surface.store.import_records([record])
    status, served = surface.http("DELETE", f"/conversations/{record['id']}")
    assert status == 200, served
    surface.store.import_records([record])
    surface.findings.model(
        ConversationDeletedResource, served, owner=record["id"], where="DELETE conversation"
    )


def check_conversation_items(surface: Surface) -> None:
    client = surface.client()
    for record in SAMPLE["conversation"]:
        path = f"/conversations/{record['id']}/items"
        served = []
        for page in surface.pages(path):
            surface.findings.model(ConversationItemList, page, owner=record["id"], where=path)
            served += [item["id"] for item in page["data"]]
        listed = surface.sdk(
            record["id"],
            path,
            client.conversations.items.list,
            record["id"],
            limit=100,
        )
        assert listed is None or [i.id for i in listed] == served
        assert len(served) == len(record["items"])


def _refused(
    surface: Surface, path: str, request: Record, call: Callable[[openai.OpenAI], Any]
) -> None:
    """Without an upstream the store generates nothing: a 400 in OpenAI's error shape, which
    the SDK raises as `BadRequestError`."""
    status, answer = surface.http("POST", path, request)
    assert status == 400, answer
    surface.findings.model(ErrorObject, answer["error"], owner="(errors)", where=f"POST {path}")
    if surface.mount != "/openai":  # AzureOpenAI sends generations to a deployment's path
        with pytest.raises(openai.BadRequestError) as refused:
            call(surface.client())
        assert refused.value.body == answer["error"]


def check_agent_session_traces(surface: Surface) -> None:
    """The sample holds no spans: one trace is sent as an exporter sends it (OTLP/JSON), then
    every session's traces are judged with the SDK's `SessionTrace` and read through
    `client.beta.agents.sessions.traces`."""
    status, answer = surface.http("POST", "/traces", export_request([span_record(CALL)]))
    assert status == 200, answer
    client = surface.client()
    sessions = surface.get("/agents/sessions")["data"]
    assert sessions
    for session in sessions:
        path = f"/agents/sessions/{session['id']}/traces"
        served = []
        for page in surface.pages(path):
            _list_envelope(surface, page, f"GET {path}")
            for item in page["data"]:
                served.append(item["id"])
                surface.findings.model(SessionTrace, item, owner=item["id"], where=f"GET {path}")
        listed = surface.sdk(
            session["id"], path, client.beta.agents.sessions.traces.list, session["id"], limit=100
        )
        assert served and (listed is None or [t.id for t in listed] == served)


ROUTE_CHECKS: dict[tuple[str, str], Callable[[Surface], None]] = {
    ("GET", "/chat/completions"): check_chat_list,
    ("POST", "/chat/completions"): check_chat_store,
    ("GET", "/chat/completions/{completion_id}"): check_chat_retrieve,
    ("POST", "/chat/completions/{completion_id}"): check_chat_update,
    ("DELETE", "/chat/completions/{completion_id}"): check_chat_delete,
    ("GET", "/chat/completions/{completion_id}/messages"): check_chat_messages,
    ("GET", "/deployments/{deployment}/chat/completions"): check_deployment_list,
    ("GET", "/responses"): check_responses_list,
    ("POST", "/responses"): check_response_create,
    ("GET", "/responses/{response_id}"): check_response_retrieve,
    ("DELETE", "/responses/{response_id}"): check_response_delete,
    ("GET", "/responses/{response_id}/input_items"): check_response_input_items,
    ("GET", "/conversations/{conversation_id}"): check_conversation_retrieve,
    ("DELETE", "/conversations/{conversation_id}"): check_conversation_delete,
    ("GET", "/conversations/{conversation_id}/items"): check_conversation_items,
    ("GET", "/agents/sessions/{session_id}/traces"): check_agent_session_traces,
}
"""How each API route's answers are judged, by method and path under an API root."""

# -- the tests ---------------------------------------------------------------------------------


def test_every_route_of_the_app_has_a_model_check(tmp_path: Path) -> None:
    routes = served_routes(tmp_path)
    unchecked = {
        (mount, method, path)
        for mount, method, path in routes
        if (method, path) not in ROUTE_CHECKS and not _exempt(mount, method, path)
    }

    assert not unchecked, f"routes without an SDK model check: {sorted(unchecked)}"
    assert {(method, path) for _, method, path in routes} >= set(ROUTE_CHECKS)


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreProcess]:
    """The bundled sample (all three files) in a store served as `distillery store serve` does."""
    db_path = tmp_path_factory.mktemp("sample-store") / "store.db"
    db = StoreDatabase(db_path)
    for path in SAMPLE_PATHS:
        assert not db.import_file(path).invalid
    db.close()
    with store_process(db_path, api_key=STORE_KEY) as process:
        yield process


@pytest.mark.slow
@pytest.mark.parametrize("mount", ["/v1", "/openai/v1", "/openai"])
def test_every_answer_validates_against_the_sdks_models(
    mount: str, sample_store: StoreProcess, tmp_path: Path
) -> None:
    findings = Findings()
    surface = Surface(store=sample_store, mount=mount, findings=findings)
    for route_mount, method, path in sorted(served_routes(tmp_path)):
        if route_mount == mount and (method, path) in ROUTE_CHECKS:
            ROUTE_CHECKS[method, path](surface)

    cases = {r["id"]: r["metadata"].get("sample_case") for r in SAMPLE["chat.completion"]}
    expected = {
        record_id: cases[record_id] for record_id in cases if cases[record_id] in EXPECTED_FAILURES
    }
    unexpected = {o: f for o, f in findings.by_owner.items() if o not in expected}
    assert not unexpected, findings.summary(unexpected)
    for record_id, case in expected.items():
        caught = findings.by_owner.get(record_id, [])
        assert any(EXPECTED_FAILURES[case] in failure for failure in caught), (case, caught)
    assert findings.validated > 1000
