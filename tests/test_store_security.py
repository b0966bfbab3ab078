"""The store's defenses, seen from outside over real HTTP: cross-site writes, DNS rebinding,
non-loopback binds without a key, body and filter limits, and errors that never turn to plain text.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
import pytest

from tests.conftest import STORE_KEY
from tests.records import completion_record
from tests.store_process import StoreProcess, distillery_command, store_process

FOREIGN_ORIGIN = "http://evil.example"
KEPT_ID = "chatcmpl-kept"
KEPT_METADATA = {"owner": "me"}


@pytest.fixture(scope="module")
def open_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreProcess]:
    """A store without a key on loopback, the default a browser page could reach."""
    with store_process(tmp_path_factory.mktemp("open") / "store.db") as store:
        store.import_records([completion_record(KEPT_ID, metadata=KEPT_METADATA)])
        yield store


def sdk(store: StoreProcess, url: str | None = None) -> openai.OpenAI:
    base = url or store.url
    return openai.OpenAI(base_url=f"{base}/v1", api_key=store.api_key or "none", max_retries=0)


def error_of(response: httpx2.Response) -> dict[str, Any]:
    """The error object, after checking the body is exactly OpenAI's error shape."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:12]}"


def is_stored(store: StoreProcess, completion_id: str, url: str | None = None) -> bool:
    try:
        sdk(store, url).chat.completions.retrieve(completion_id)
    except openai.NotFoundError:
        return False
    return True


def port_of(store: StoreProcess) -> int:
    port = urlsplit(store.url).port
    assert port is not None
    return port


def loopback_url(store: StoreProcess) -> str:
    """The store's URL on 127.0.0.1, also when it announced a wildcard address."""
    return f"http://127.0.0.1:{port_of(store)}"


# -- cross-site writes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        # What a page sends with fetch(…, {mode: "no-cors"}) or a form: no preflight needed.
        ({"Content-Type": "text/plain", "Origin": FOREIGN_ORIGIN}, FOREIGN_ORIGIN),
        ({"Content-Type": "text/plain"}, "Content-Type must be application/json"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "application/json"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, "application/json"),
        ({}, "Content-Type must be application/json, got 'none'"),
        ({"Content-Type": "application/json", "Origin": FOREIGN_ORIGIN}, "Cross-site"),
        ({"Content-Type": "application/json", "Origin": "null"}, "origin 'null'"),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, "Cross-site"),
    ],
    ids=[
        "text-plain-foreign-origin",
        "text-plain",
        "form",
        "multipart",
        "no-type",
        "json-foreign-origin",
        "json-null-origin",
        "sec-fetch-cross-site",
    ],
)
def test_a_cross_site_post_cannot_store_a_record(
    open_store: StoreProcess, headers: dict[str, str], reason: str
) -> None:
    completion_id = new_id()

    response = httpx2.post(
        f"{open_store.url}/v1/chat/completions",
        content=json.dumps(completion_record(completion_id)),
        headers=headers,
    )

    assert response.status_code == 403
    error = error_of(response)
    assert reason in error["message"]
    assert "refused" in error["message"]
    assert not is_stored(open_store, completion_id)


def test_a_cross_site_request_cannot_change_metadata_or_delete(open_store: StoreProcess) -> None:
    url = f"{open_store.url}/v1/chat/completions/{KEPT_ID}"
    change = json.dumps({"metadata": {"owner": "attacker"}})

    plain = httpx2.post(url, content=change, headers={"Content-Type": "text/plain"})
    foreign = httpx2.post(
        url,
        content=change,
        headers={"Content-Type": "application/json", "Origin": FOREIGN_ORIGIN},
    )
    delete = httpx2.delete(url, headers={"Origin": FOREIGN_ORIGIN})
    delete_with_a_body = httpx2.request(
        "DELETE", url, content=b"x", headers={"Content-Type": "text/plain"}
    )
    admin_import = httpx2.post(
        f"{open_store.url}/_admin/import",
        content=json.dumps(completion_record(KEPT_ID, metadata={"owner": "attacker"})),
        headers={"Content-Type": "text/plain", "Origin": FOREIGN_ORIGIN},
    )

    refused = (plain, foreign, delete, delete_with_a_body, admin_import)
    assert [r.status_code for r in refused] == [403] * 5
    assert all(error_of(r)["message"] for r in refused)
    assert sdk(open_store).chat.completions.retrieve(KEPT_ID).metadata == KEPT_METADATA


def test_the_sdk_and_same_origin_requests_still_write(open_store: StoreProcess) -> None:
    client = sdk(open_store)
    posted, same_origin, curl_deleted = new_id(), new_id(), new_id()
    open_store.import_records([completion_record(curl_deleted)])

    stored = httpx2.post(f"{open_store.url}/v1/chat/completions", json=completion_record(posted))
    from_own_page = httpx2.post(
        f"{open_store.url}/v1/chat/completions",
        json=completion_record(same_origin),
        headers={"Origin": open_store.url, "Sec-Fetch-Site": "same-origin"},
    )
    updated = client.chat.completions.update(posted, metadata={"split": "train"})
    deleted = client.chat.completions.delete(same_origin)
    # As `curl -X DELETE` sends it: no body, so no Content-Type either.
    bodiless = httpx2.delete(f"{open_store.url}/v1/chat/completions/{curl_deleted}")

    assert (stored.status_code, from_own_page.status_code) == (200, 200)
    assert bodiless.status_code == 200
    assert not is_stored(open_store, curl_deleted)
    assert updated.metadata == {"split": "train"}
    assert deleted.deleted
    assert is_stored(open_store, posted)
    assert not is_stored(open_store, same_origin)


# -- DNS rebinding -----------------------------------------------------------------------------


def test_a_foreign_host_name_is_refused(open_store: StoreProcess) -> None:
    rebound = {"Host": f"evil.example:{port_of(open_store)}"}
    completion_id = new_id()

    listing = httpx2.get(f"{open_store.url}/v1/chat/completions", headers=rebound)
    retrieve = httpx2.get(f"{open_store.url}/v1/chat/completions/{KEPT_ID}", headers=rebound)
    store = httpx2.post(
        f"{open_store.url}/v1/chat/completions",
        json=completion_record(completion_id),
        headers=rebound,
    )

    assert [r.status_code for r in (listing, retrieve, store)] == [421] * 3
    error = error_of(listing)
    assert error["code"] == "host_not_allowed"
    assert "'evil.example'" in error["message"]
    assert "--allowed-host" in error["message"]
    assert KEPT_ID not in retrieve.text
    assert not is_stored(open_store, completion_id)


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LocalHost", "[::1]"])
def test_loopback_host_names_are_served(open_store: StoreProcess, name: str) -> None:
    response = httpx2.get(
        f"{open_store.url}/v1/chat/completions",
        headers={"Host": f"{name}:{port_of(open_store)}"},
    )

    assert response.status_code == 200
    assert response.json()["object"] == "list"


def test_allowed_host_serves_that_name_only(tmp_path: Path) -> None:
    flags = ["--allowed-host", "store.internal", "--allowed-host", "Other.Internal"]
    with store_process(tmp_path / "store.db", extra_args=flags) as store:
        port = port_of(store)
        statuses = [
            httpx2.get(f"{store.url}/v1/chat/completions", headers={"Host": host}).status_code
            for host in (f"store.internal:{port}", "other.internal", f"evil.example:{port}")
        ]

    assert statuses == [200, 200, 421]


def test_a_non_loopback_bind_with_a_key_answers_any_host(tmp_path: Path) -> None:
    flags = ["--host", "0.0.0.0"]
    with store_process(tmp_path / "store.db", api_key=STORE_KEY, extra_args=flags) as store:
        url = f"{loopback_url(store)}/v1/chat/completions"
        headers = {"Host": f"store.example.com:{port_of(store)}"}
        with_key = httpx2.get(url, headers={**headers, "Authorization": f"Bearer {STORE_KEY}"})
        without_key = httpx2.get(url, headers=headers)

    assert with_key.status_code == 200
    assert without_key.status_code == 401
    assert error_of(without_key)["code"] == "missing_api_key"


# -- non-loopback binds without a key ----------------------------------------------------------


def test_serve_refuses_a_non_loopback_bind_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISTILLERY_STORE_API_KEY", raising=False)
    db = tmp_path / "store.db"
    command = [*distillery_command(), "store", "serve", "--db", str(db), "--host", "0.0.0.0"]

    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the store started serving 0.0.0.0 without a key")

    assert process.returncode == 2
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1
    assert "without an API key" in lines[0]
    assert "--api-key" in lines[0]
    assert "--insecure-no-key" in lines[0]
    assert not db.exists()


@pytest.mark.slow
def test_insecure_no_key_serves_with_a_warning(tmp_path: Path) -> None:
    flags = ["--host", "0.0.0.0", "--insecure-no-key"]
    with store_process(tmp_path / "store.db", extra_args=flags) as store:
        url = f"{loopback_url(store)}/v1/chat/completions"
        served = httpx2.get(url)
        # Only a key lifts the Host check: a name still has to be allowed.
        rebound = httpx2.get(url, headers={"Host": f"evil.example:{port_of(store)}"})
    stderr = store.process.stderr.read() if store.process.stderr else ""

    assert served.status_code == 200
    assert rebound.status_code == 421
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "without an API key" in warnings[0]


# -- limits --------------------------------------------------------------------------------------


def raw_request(store: StoreProcess, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send `head` (and `body`) on a socket of its own; return the status and body of the reply."""
    with socket.create_connection(("127.0.0.1", port_of(store)), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before a reply: {reply!r}"
            reply += chunk
        header_block, _, content = reply.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in lines[1:])
        while len(content) < int(fields["content-length"]):
            chunk = sock.recv(65536)
            assert chunk, "connection closed mid-reply"
            content += chunk
    return int(lines[0].split()[1]), content


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(
    open_store: StoreProcess,
) -> None:
    # 100 MB announced, one byte sent: the reply must come without waiting for the rest.
    head = (
        "POST /v1/chat/completions HTTP/1.1\n"
        f"Host: 127.0.0.1:{port_of(open_store)}\n"
        "Content-Type: application/json\n"
        "Content-Length: 100000000\n"
    )

    status, content = raw_request(open_store, head, b"{")

    assert status == 413
    error = json.loads(content)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "8388608 bytes" in error["message"]
    assert is_stored(open_store, KEPT_ID)


@pytest.mark.slow
def test_bodies_over_max_body_bytes_are_413_chunked_or_not(tmp_path: Path) -> None:
    big = json.dumps(completion_record(new_id(), answer="x" * 10_000)).encode()
    small_id = new_id()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    with store_process(tmp_path / "store.db", extra_args=["--max-body-bytes", "4096"]) as store:
        url = f"{store.url}/v1/chat/completions"
        json_headers = {"Content-Type": "application/json"}
        chunked = httpx2.post(url, content=chunks(), headers=json_headers)
        declared = httpx2.post(url, content=big, headers=json_headers)
        small = httpx2.post(url, json=completion_record(small_id))
        listed = [c.id for c in sdk(store).chat.completions.list()]

    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert (chunked.status_code, declared.status_code, small.status_code) == (413, 413, 200)
    assert "4096 bytes" in error_of(chunked)["message"]
    assert error_of(declared)["code"] == "request_too_large"
    assert listed == [small_id]


def test_more_than_16_metadata_filters_are_400_naming_metadata(open_store: StoreProcess) -> None:
    client = sdk(open_store)
    sixteen = {f"k{i}": "v" for i in range(16)}

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.list(metadata={**sixteen, "k16": "v"})
    thousand = httpx2.get(
        f"{open_store.url}/v1/chat/completions",
        params=[(f"metadata[k{i}]", "v") for i in range(1000)],
    )

    assert caught.value.param == "metadata"
    assert thousand.status_code == 400
    error = error_of(thousand)
    assert error["param"] == "metadata"
    assert "at most 16" in error["message"]
    assert client.chat.completions.list(metadata=sixteen).data == []


def test_an_unexpected_error_is_a_json_500_that_never_echoes_the_key(
    fresh_store: StoreProcess,
) -> None:
    fresh_store.import_records([completion_record("chatcmpl-1", metadata={"a": "b"})])
    # Damage the database under the running store: no route expects a missing table.
    with sqlite3.connect(fresh_store.db_path) as conn:
        conn.execute("DROP TABLE metadata")
    conn.close()

    response = httpx2.get(
        f"{fresh_store.url}/v1/chat/completions",
        params={"metadata[a]": "b"},
        headers={"Authorization": f"Bearer {STORE_KEY}"},
    )
    with pytest.raises(openai.InternalServerError):
        sdk(fresh_store).chat.completions.list(metadata={"a": "b"})

    assert response.status_code == 500
    error = error_of(response)
    assert error["type"] == "server_error"
    assert STORE_KEY not in response.text
    assert "sqlite" not in response.text.lower()


# -- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "presented",
    [
        STORE_KEY[:-1],
        STORE_KEY + "0",
        STORE_KEY[:-1] + "1",
        STORE_KEY.upper(),
        "sk-" + "é" * 20,
    ],
    ids=["prefix", "longer", "last-char", "case", "non-ascii"],
)
def test_keys_that_almost_match_are_401_and_never_echoed(
    store: StoreProcess, presented: str
) -> None:
    response = httpx2.get(
        f"{store.url}/v1/chat/completions",
        headers={"Authorization": b"Bearer " + presented.encode()},
    )

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"
    assert presented not in response.text
    assert presented.encode() not in response.content


@pytest.mark.parametrize(
    "headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}]
)
def test_a_web_page_cannot_read_the_store_either(
    open_store: StoreProcess, headers: dict[str, str]
) -> None:
    # Through the capture proxy a cross-site GET would also reach the upstream with its key.
    response = httpx2.get(f"{open_store.url}/v1/chat/completions", headers=headers)

    assert response.status_code == 403
    assert error_of(response)["code"] == "cross_site_request"
    assert httpx2.get(f"{open_store.url}/v1/chat/completions").status_code == 200
