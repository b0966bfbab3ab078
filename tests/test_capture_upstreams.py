"""Whose key goes upstream, which URL shape it goes to, what else is forwarded, and the store's
guards in front of it all — seen from both ends, the client's and the upstream's."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest

from tests.capture_support import (
    CLIENT_KEY,
    UPSTREAM_KEY,
    api_get,
    call,
    capturing_store,
    received_chat,
    sdk,
    served_matches_received,
    stored_ids,
)
from tests.conftest import AZURE_API_VERSION, STORE_KEY
from tests.fake_upstream import FakeUpstream, running_upstream
from tests.store_process import distillery_command

QUESTION = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_upstream(FakeUpstream(required_key=UPSTREAM_KEY)) as up:
        yield up


def auth_seen(upstream: FakeUpstream, since: int) -> set[tuple[str | None, str | None]]:
    return {
        (r.headers.get("authorization"), r.headers.get("api-key"))
        for r in upstream.requests[since:]
    }


@pytest.mark.slow
def test_the_upstream_key_from_the_environment_replaces_the_clients(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    since = len(upstream.requests)
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1") as proxy:
        sdk(proxy).chat.completions.create(model="m", messages=QUESTION, store=True)
        sdk(proxy, "azure").chat.completions.create(model="m", messages=QUESTION)
        sdk(proxy).models.list()

    assert auth_seen(upstream, since) == {(f"Bearer {UPSTREAM_KEY}", None)}


@pytest.mark.slow
def test_without_an_upstream_key_the_clients_own_is_passed_through(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    since = len(upstream.requests)
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1", upstream_key=None) as proxy:
        good = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=UPSTREAM_KEY, max_retries=0)
        good.chat.completions.create(model="m", messages=QUESTION)
        azure = openai.AzureOpenAI(
            azure_endpoint=proxy.url, api_key=UPSTREAM_KEY, api_version=AZURE_API_VERSION
        )
        azure.chat.completions.create(model="m", messages=QUESTION)  # api-key → Bearer
        with pytest.raises(openai.AuthenticationError) as refused:
            sdk(proxy).chat.completions.create(model="m", messages=QUESTION)

    assert refused.value.code == "bad_key"  # the upstream's own 401, unchanged
    assert auth_seen(upstream, since) == {
        (f"Bearer {UPSTREAM_KEY}", None),
        (f"Bearer {CLIENT_KEY}", None),
    }


@pytest.mark.slow
def test_a_store_key_guards_the_proxy_and_never_goes_upstream(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    since = len(upstream.requests)
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1", api_key=STORE_KEY) as proxy:
        created = sdk(proxy).chat.completions.create(model="m", messages=QUESTION, store=True)
        outsider = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=UPSTREAM_KEY, max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            outsider.chat.completions.create(model="m", messages=QUESTION, store=True)
        with pytest.raises(openai.AuthenticationError):
            outsider.models.list()

        assert stored_ids(proxy) == [created.id]
    assert auth_seen(upstream, since) == {(f"Bearer {UPSTREAM_KEY}", None)}
    assert len(upstream.requests) == since + 1


def test_a_store_key_without_an_upstream_key_is_refused_at_start(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            *distillery_command(),
            "store",
            "serve",
            "--db",
            str(tmp_path / "s.db"),
            "--api-key",
            STORE_KEY,
            "--upstream",
            "http://127.0.0.1:9/v1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )

    assert run.returncode == 2
    assert "needs the upstream's key" in run.stderr and STORE_KEY not in run.stderr


@pytest.mark.parametrize(
    "flags",
    [["--capture", "always"], ["--upstream-timeout", "3"], ["--upstream-flavour", "azure"]],
)
def test_capture_flags_without_an_upstream_are_refused(tmp_path: Path, flags: list[str]) -> None:
    command = [*distillery_command(), "store", "serve", "--db", str(tmp_path / "s.db"), *flags]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert run.returncode == 2 and "need --upstream" in run.stderr


@pytest.mark.slow
def test_an_azure_upstream_gets_azure_paths_and_the_api_key_header(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    since = len(upstream.requests)
    args = ["--upstream-flavour", "azure"]
    with capturing_store(tmp_path / "s.db", upstream.url, extra_args=args) as proxy:
        whole = received_chat(
            call(
                sdk(proxy, "azure"),
                "chat.completions.create",
                model="dep",
                messages=QUESTION,
                store=True,
            )
        )
        chunks = call(
            sdk(proxy, "azure-async"),
            "chat.completions.create",
            model="dep",
            messages=QUESTION,
            store=True,
            stream=True,
            stream_options={"include_usage": True},
        )
        streamed = received_chat(chunks)
        v1 = sdk(proxy, "azure-v1").responses.create(model="dep", input="hi")

        served_whole = api_get(proxy, f"/v1/chat/completions/{whole['id']}").json()
        served_streamed = api_get(proxy, f"/v1/chat/completions/{streamed['id']}").json()
        assert stored_ids(proxy) == [whole["id"], streamed["id"]]
        assert stored_ids(proxy, "responses") == [v1.id]

    seen = upstream.requests[since:]
    assert [(r.path, r.query) for r in seen] == [
        ("/openai/deployments/dep/chat/completions", f"api-version={AZURE_API_VERSION}"),
        ("/openai/deployments/dep/chat/completions", f"api-version={AZURE_API_VERSION}"),
        ("/openai/v1/responses", ""),
    ]
    assert auth_seen(upstream, since) == {(None, UPSTREAM_KEY)}
    served_matches_received(served_whole, whole)
    served_matches_received(served_streamed, streamed)
    # Azure's extras survive: the first chunk's prompt filters, each choice's content filters.
    assert served_streamed["prompt_filter_results"] == served_whole["prompt_filter_results"]
    assert served_streamed["choices"][0]["content_filter_results"]["hate"]["filtered"] is False


@pytest.mark.slow
def test_an_azure_client_reaches_an_openai_style_upstream(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    since = len(upstream.requests)
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1") as proxy:
        sdk(proxy, "azure").chat.completions.create(model="dep", messages=QUESTION)
        sdk(proxy, "azure").responses.create(model="dep", input="hi")
        sdk(proxy, "azure-v1").chat.completions.create(model="dep", messages=QUESTION)

    assert [(r.path, r.query) for r in upstream.requests[since:]] == [
        ("/v1/chat/completions", ""),
        ("/v1/responses", ""),
        ("/v1/chat/completions", ""),
    ]


@pytest.mark.slow
def test_the_routes_forward_allows_are_forwarded_unchanged(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    upload = tmp_path / "train.jsonl"
    upload.write_text('{"messages": []}\n' * 50)
    forward = ["--forward", "models,embeddings,files"]
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1", extra_args=forward) as proxy:
        client = sdk(proxy)
        models = client.models.list()
        embedding = client.embeddings.with_raw_response.create(model="e", input="text")
        uploaded = client.files.create(file=upload.open("rb"), purpose="fine-tune")

    assert [m.id for m in models.data] == ["fake-model"]
    assert embedding.parse().data[0].embedding == [0.25, -0.5, 1.0]
    assert embedding.headers["x-request-id"] == "req_other"
    assert (uploaded.id, uploaded.content_type) == ("file-fake", "multipart/form-data")  # type: ignore[attr-defined]
    assert uploaded.bytes > upload.stat().st_size


@pytest.mark.slow
def test_the_guards_refuse_before_anything_goes_upstream(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    since = len(upstream.requests)
    args = ["--max-body-bytes", "2000"]
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1", extra_args=args) as proxy:
        url = f"{proxy.url}/v1/chat/completions"
        body = {"model": "m", "messages": QUESTION, "store": True}
        cross_site = httpx2.post(url, json=body, headers={"Origin": "http://evil.example"})
        form = httpx2.post(url, data={"model": "m"})  # what a page can post without asking
        page_upload = httpx2.post(
            f"{proxy.url}/v1/files",
            files={"file": ("x.jsonl", b"{}")},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        rebound = httpx2.post(url, json=body, headers={"Host": "attacker.example"})
        too_big = sdk(proxy).chat.completions.with_raw_response
        with pytest.raises(openai.APIStatusError) as large:
            too_big.create(model="m", messages=[{"role": "user", "content": "x" * 3000}])

        assert [cross_site.status_code, form.status_code, page_upload.status_code] == [403] * 3
        assert rebound.status_code == 421 and large.value.status_code == 413
        assert stored_ids(proxy) == []
    assert len(upstream.requests) == since


@pytest.mark.slow
def test_keys_are_never_stored_or_logged(tmp_path: Path, upstream: FakeUpstream) -> None:
    with capturing_store(tmp_path / "s.db", f"{upstream.url}/v1", api_key=STORE_KEY) as proxy:
        client = sdk(proxy)
        client.chat.completions.create(model="m", messages=QUESTION, store=True)
        with pytest.raises(openai.APIError):
            list(
                client.chat.completions.create(
                    model="fault-drop", messages=QUESTION, stream=True, store=True
                )
            )
        client.responses.create(model="m", input="hi")
    stderr = proxy.process.stderr.read() if proxy.process.stderr else ""

    files = [p for p in tmp_path.iterdir() if p.name.startswith("s.db")]
    stored = b"".join(p.read_bytes() for p in files)
    for key in (UPSTREAM_KEY, STORE_KEY, UPSTREAM_KEY[-12:]):
        assert key.encode() not in stored
        assert key not in stderr
    assert b"hello" in stored  # the records are there; only the keys are not
