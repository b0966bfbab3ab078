"""Tenants on a capturing store, through the real SDK against a `distillery store serve
--upstream` subprocess: each app sees only what it captured, the read key sees every app, no
client can forge or replace a capture, and the upstream's key is spent only on the routes the
operator allows, under the API root."""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import openai
import pytest

from pipelines.store.tenants import TENANT_KEY
from tests.capture_support import READ_KEY, UPSTREAM_KEY, capturing_store, settled, stored_ids
from tests.fake_upstream import FakeUpstream, running_upstream
from tests.store_process import StoreProcess

KEY_A = "sk-app-a-0123456789abcdef"
KEY_B = "sk-app-b-0123456789abcdef"
INGEST_KEY = "sk-ingest-0123456789abcdef"
QUESTION = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_upstream(FakeUpstream(required_key=UPSTREAM_KEY)) as up:
        yield up


@pytest.fixture(scope="module")
def keyed_proxy(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[StoreProcess]:
    """A store with a keys file: app_a by its key, app_b and the reader by their SHA-256."""
    folder = tmp_path_factory.mktemp("tenants")
    keys = folder / "keys.yaml"
    keys.write_text(
        "tenants:\n"
        f"  app_a: {{key: {KEY_A}}}\n"
        f"  app_b: {{key_sha256: {hashlib.sha256(KEY_B.encode()).hexdigest()}}}\n"
        f"  ingest: {{key_sha256: {hashlib.sha256(INGEST_KEY.encode()).hexdigest()}, role: read}}\n"
    )
    args = ["--keys", str(keys)]
    url = f"{upstream.url}/v1"
    with capturing_store(folder / "s.db", url, read_key=None, extra_args=args) as process:
        yield process


def client(proxy: StoreProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=key, max_retries=0)


def capture_both(proxy: StoreProcess, key: str) -> tuple[str, str]:
    """One stored chat completion and one stored response made with `key`: their ids."""
    chat = client(proxy, key).chat.completions.create(model="m", messages=QUESTION, store=True)
    response = client(proxy, key).responses.create(model="m", input="hello")
    settled(proxy, key=key)
    return chat.id, response.id


@pytest.mark.slow
def test_each_app_sees_only_its_own_captures_and_the_read_key_sees_all(
    keyed_proxy: StoreProcess, upstream: FakeUpstream
) -> None:
    proxy = keyed_proxy
    chat_a, response_a = capture_both(proxy, KEY_A)
    chat_b, response_b = capture_both(proxy, KEY_B)
    a, b, reader = client(proxy, KEY_A), client(proxy, KEY_B), client(proxy, INGEST_KEY)

    assert stored_ids(proxy, key=KEY_A) == [chat_a]
    assert stored_ids(proxy, key=KEY_B) == [chat_b]
    assert stored_ids(proxy, "responses", key=KEY_A) == [response_a]
    assert set(stored_ids(proxy, key=INGEST_KEY)) >= {chat_a, chat_b}
    assert set(stored_ids(proxy, "responses", key=INGEST_KEY)) >= {response_a, response_b}
    # B's records answer A exactly as ids the store does not hold, for every verb.
    for attempt in (
        lambda: a.chat.completions.retrieve(chat_b),
        lambda: a.chat.completions.messages.list(chat_b),
        lambda: a.chat.completions.update(chat_b, metadata={"x": "y"}),
        lambda: a.chat.completions.delete(chat_b),
        lambda: a.responses.retrieve(response_b),
        lambda: a.responses.input_items.list(response_b),
        lambda: a.responses.delete(response_b),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    # The tenant is a metadata field of what ingest reads, so a recipe can select an app by it.
    assert reader.chat.completions.retrieve(chat_b).metadata == {TENANT_KEY: "app_b"}
    assert reader.responses.retrieve(response_a).metadata == {TENANT_KEY: "app_a"}
    assert [c.id for c in reader.chat.completions.list(metadata={TENANT_KEY: "app_a"})] == [chat_a]
    # An app's metadata update keeps its tenant, and cannot take another's name.
    b.chat.completions.update(chat_b, metadata=None)
    assert b.chat.completions.retrieve(chat_b).metadata == {TENANT_KEY: "app_b"}
    with pytest.raises(openai.BadRequestError):
        b.chat.completions.update(chat_b, metadata={TENANT_KEY: "app_a"})
    with pytest.raises(openai.BadRequestError):
        b.chat.completions.create(
            model="m", messages=QUESTION, store=True, metadata={TENANT_KEY: "app_a"}
        )
    # The read key reads, and does nothing else.
    with pytest.raises(openai.PermissionDeniedError):
        reader.chat.completions.create(model="m", messages=QUESTION, store=True)
    with pytest.raises(openai.PermissionDeniedError):
        reader.chat.completions.delete(chat_a)
    with pytest.raises(openai.AuthenticationError):
        client(proxy, "sk-nobody-0123456789abcdef").chat.completions.list()
    assert a.chat.completions.retrieve(chat_a).id == chat_a
    # The upstream saw the proxy's key only.
    assert {r.headers["authorization"] for r in upstream.requests} == {f"Bearer {UPSTREAM_KEY}"}


@pytest.mark.slow
def test_pass_through_tenants_are_key_fingerprints_that_survive_a_restart(tmp_path: Path) -> None:
    db_path = tmp_path / "s.db"
    with running_upstream() as upstream:  # no key of its own: each app's key goes through
        with capturing_store(db_path, f"{upstream.url}/v1", upstream_key=None) as proxy:
            chat_a, _ = capture_both(proxy, KEY_A)
            chat_b, _ = capture_both(proxy, KEY_B)
            assert stored_ids(proxy, key=KEY_A) == [chat_a]
            assert stored_ids(proxy, key="sk-garbage-0123456789") == []
            with pytest.raises(openai.NotFoundError):
                client(proxy, KEY_B).chat.completions.delete(chat_a)
            tenant_a = client(proxy, READ_KEY).chat.completions.retrieve(chat_a).metadata
        with capturing_store(db_path, f"{upstream.url}/v1", upstream_key=None) as proxy:
            assert stored_ids(proxy, key=KEY_A) == [chat_a]
            assert set(stored_ids(proxy, key=READ_KEY)) == {chat_a, chat_b}
        assert [r.headers["authorization"] for r in upstream.seen("/chat/completions")] == [
            f"Bearer {KEY_A}",
            f"Bearer {KEY_B}",
        ]
    assert tenant_a[TENANT_KEY].startswith("key_")
    assert KEY_A[3:] not in tenant_a[TENANT_KEY] and KEY_A not in db_path.read_bytes().decode(
        "utf-8", "replace"
    )


@pytest.mark.slow
def test_a_body_with_an_id_is_refused_and_no_capture_is_replaced(
    keyed_proxy: StoreProcess, upstream: FakeUpstream
) -> None:
    proxy = keyed_proxy
    chat_a, _ = capture_both(proxy, KEY_A)
    original = client(proxy, KEY_A).chat.completions.retrieve(chat_a)
    asked = len(upstream.requests)
    forged = {
        "id": chat_a,
        "object": "chat.completion",
        "created": 1,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "forged"}}],
        "input_messages": QUESTION,
    }

    for key in (KEY_A, KEY_B):
        with pytest.raises(openai.BadRequestError) as refused:
            client(proxy, key).chat.completions.create(
                model="m", messages=QUESTION, extra_body=forged
            )
        assert refused.value.body["code"] == "unsupported_operation"

    assert len(upstream.requests) == asked
    assert client(proxy, KEY_A).chat.completions.retrieve(chat_a) == original
    assert settled(proxy, key=KEY_A)["lost"] == 0


def raw_request(proxy: StoreProcess, method: str, path: str) -> tuple[int, dict]:
    """`method path` sent as written (no client-side normalisation of `..`)."""
    parts = urlsplit(proxy.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {KEY_A}", "Content-Type": "application/json"}
    conn.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
    response = conn.getresponse()
    body = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, body


@pytest.mark.slow
def test_a_route_not_forwarded_never_reaches_the_upstream(
    keyed_proxy: StoreProcess, upstream: FakeUpstream, tmp_path: Path
) -> None:
    proxy = keyed_proxy
    a = client(proxy, KEY_A)
    upload = tmp_path / "train.jsonl"
    upload.write_text('{"messages": []}\n')
    asked = len(upstream.requests)

    assert [m.id for m in a.models.list()] == ["fake-model"]  # allowed by default
    assert a.embeddings.create(model="e", input="x").data[0].embedding == [0.25, -0.5, 1.0]
    allowed = len(upstream.requests)
    with pytest.raises(openai.NotFoundError):
        a.files.create(file=upload.open("rb"), purpose="fine-tune")
    with pytest.raises(openai.NotFoundError):
        a.files.list()
    with pytest.raises(openai.NotFoundError):
        a.chat.completions.delete("chatcmpl-the-upstreams-own")
    with pytest.raises(openai.NotFoundError):
        a.responses.retrieve("resp_the-upstreams-own")
    with pytest.raises(openai.PermissionDeniedError):
        client(proxy, INGEST_KEY).models.list()  # a reader never spends the upstream's key
    outside = [
        ("GET", "/v1/organization/admin_api_keys"),
        ("DELETE", "/v1/files/file-abc"),
        ("GET", "/metrics"),
        ("POST", "/tenantB/v1/chat/completions"),
        ("GET", "/v1/../../x"),
        ("GET", "/v1/models/../../admin"),
        ("GET", "/v1/%2e%2e/%2e%2e/x"),
        ("GET", "/v1/models%2f..%2fadmin"),
    ]
    answers = [raw_request(proxy, method, path) for method, path in outside]

    assert [status for status, _ in answers] == [404, 404, 404, 404, 400, 400, 400, 400]
    assert all(set(body) == {"error"} and body["error"]["message"] for _, body in answers)
    assert allowed == asked + 2
    assert len(upstream.requests) == allowed


@pytest.mark.slow
def test_an_upload_streams_through_beyond_the_body_limit_when_files_are_forwarded(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    upload = tmp_path / "big.jsonl"
    upload.write_bytes(b'{"messages": []}\n' * 200_000)  # 3.4 MB
    args = ["--forward", "files", "--max-body-bytes", "1000000"]
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1", extra_args=args) as proxy:
        uploaded = client(proxy, "x").files.create(file=upload.open("rb"), purpose="fine-tune")
        too_big = httpx2.post(
            f"{proxy.url}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x" * 1_100_000}]},
        )

    assert uploaded.bytes > upload.stat().st_size
    assert too_big.status_code == 413


@pytest.mark.slow
def test_another_tenants_capture_is_never_asked_of_the_upstream_when_chat_is_forwarded(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    # With `--forward chat`, an id the store does not hold goes to the upstream (it may be the
    # upstream's own). An id the store holds for another tenant must not: the upstream stored
    # that tenant's call too, under the store's one key, and would serve or delete it.
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"tenants:\n  app_a: {{key: {KEY_A}}}\n  app_b: {{key: {KEY_B}}}\n")
    args = ["--keys", str(keys), "--forward", "models,chat,responses"]
    url = f"{upstream.url}/v1"
    with capturing_store(tmp_path / "s.db", url, read_key=None, extra_args=args) as proxy:
        chat_id, response_id = capture_both(proxy, KEY_B)
        asked = len(upstream.requests)
        a = client(proxy, KEY_A)
        with pytest.raises(openai.NotFoundError):
            a.chat.completions.retrieve(chat_id)
        with pytest.raises(openai.NotFoundError):
            a.chat.completions.delete(chat_id)
        with pytest.raises(openai.NotFoundError):
            a.chat.completions.messages.list(chat_id)
        with pytest.raises(openai.NotFoundError):
            a.responses.retrieve(response_id)
        with pytest.raises(openai.NotFoundError):
            a.responses.delete(response_id)
        not_held = len(upstream.requests)
        with pytest.raises(openai.NotFoundError):  # the fake upstream holds nothing either
            a.chat.completions.retrieve("chatcmpl-held-by-nobody")
        still_b = client(proxy, KEY_B).chat.completions.retrieve(chat_id).id

    assert not_held == asked, upstream.requests[asked:]  # none of the five reached the upstream
    assert len(upstream.requests) == asked + 1  # an id the store does not hold is forwarded
    assert still_b == chat_id
