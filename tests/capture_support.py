"""Shared by the capture tests: a capturing `distillery store serve --upstream` subprocess, the real
SDK clients of every shape pointed at it, and what a client received, put together independently of
the proxy's own code."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai

from pipelines.store.tenants import TENANT_KEY
from tests.conftest import AZURE_API_VERSION
from tests.store_process import StoreProcess, store_process

UPSTREAM_KEY = "sk-upstream-fake-0123456789abcdef"
CLIENT_KEY = "sk-client-never-forwarded-0123456789"
READ_KEY = "sk-reader-of-every-tenant-0123456789"
"""`--read-key` of every capturing store the tests start: what ingest reads with."""
KEY_VARIABLE = "DISTILLERY_UPSTREAM_API_KEY"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""
RESPONSE_TOOLS = [{"type": "function", **TOOLS[0]["function"]}]
CLIENT_KINDS = ["openai", "openai-async", "azure", "azure-async"]
RESPONSE_CLIENT_KINDS = ["openai", "openai-async", "azure", "azure-v1"]


@contextlib.contextmanager
def capturing_store(
    db_path: Path,
    upstream_url: str,
    *,
    upstream_key: str | None = UPSTREAM_KEY,
    api_key: str | None = None,
    read_key: str | None = READ_KEY,
    extra_args: Iterable[str] = (),
) -> Iterator[StoreProcess]:
    """`distillery store serve --upstream URL/v1 --read-key K` with the upstream key in the
    environment."""
    env = {KEY_VARIABLE: upstream_key} if upstream_key else {}
    args = ["--upstream", upstream_url, *(["--read-key", read_key] if read_key else [])]
    args += extra_args
    with store_process(db_path, api_key=api_key, extra_args=args, env=env) as proxy:
        yield proxy


def sdk(proxy: StoreProcess, kind: str = "openai", **options: Any) -> Any:
    """A real SDK client of `kind` via the proxy: `openai`, `azure` (each optionally `-async`), or
    `azure-v1` (the OpenAI client on Azure's v1 path, as Microsoft documents it)."""
    key = proxy.api_key or CLIENT_KEY
    options.setdefault("max_retries", 0)
    if kind == "azure-v1":
        return openai.OpenAI(base_url=f"{proxy.url}/openai/v1", api_key=key, **options)
    if kind.startswith("azure"):
        factory = openai.AsyncAzureOpenAI if kind.endswith("async") else openai.AzureOpenAI
        return factory(
            azure_endpoint=proxy.url, api_key=key, api_version=AZURE_API_VERSION, **options
        )
    factory = openai.AsyncOpenAI if kind.endswith("async") else openai.OpenAI
    return factory(base_url=f"{proxy.url}/v1", api_key=key, **options)


def call(client: Any, method: str, **params: Any) -> Any:
    """`client.<method>(**params)`, sync or async alike; a stream is read to the end into a list
    of its items."""
    target = client
    for name in method.split("."):
        target = getattr(target, name)
    if not isinstance(client, openai.AsyncOpenAI):
        result = target(**params)
        return list(result) if params.get("stream") else result

    async def run() -> Any:
        async with client:
            result = await target(**params)
            if params.get("stream"):
                return [item async for item in result]
            return result

    return asyncio.run(run())


def received_chat(result: Any) -> dict[str, Any]:
    """What a chat client received, as plain JSON: the completion, or its chunks joined the way a
    reader of the stream joins them (text appended, tool-call pieces appended by index)."""
    if not isinstance(result, list):
        return result.model_dump(mode="json", exclude_unset=True)
    received: dict[str, Any] = {"content": None, "tool_calls": {}, "usage": None}
    for chunk in result:
        for key in ("id", "model", "created", "system_fingerprint"):
            if getattr(chunk, key, None):
                received[key] = getattr(chunk, key)
        received["usage"] = (
            chunk.usage.model_dump(exclude_unset=True) if chunk.usage else received["usage"]
        )
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content is not None:
                received["content"] = (received["content"] or "") + delta.content
            for call_delta in delta.tool_calls or []:
                slot = received["tool_calls"].setdefault(
                    call_delta.index, {"id": "", "name": "", "arguments": ""}
                )
                slot["id"] += call_delta.id or ""
                if call_delta.function is not None:
                    slot["name"] += call_delta.function.name or ""
                    slot["arguments"] += call_delta.function.arguments or ""
            if choice.finish_reason:
                received["finish_reason"] = choice.finish_reason
    received["tool_calls"] = [received["tool_calls"][i] for i in sorted(received["tool_calls"])]
    return received


def received_response(result: Any) -> dict[str, Any]:
    """What a Responses client received: the response, or the one its stream ended with."""
    if isinstance(result, list):
        (final,) = [event.response for event in result if event.type == "response.completed"]
        result = final
    return result.model_dump(mode="json", exclude_unset=True)


def served_matches_received(served: dict[str, Any], received: dict[str, Any]) -> None:
    """Assert a stored completion (as served, JSON) is what the client received, field for field:
    every field of a non-streamed answer; id, model, created, text, tool calls, finish reason and
    usage of a streamed one."""
    if "choices" in received:
        assert {key: served.get(key) for key in received} == received
        return
    message = served["choices"][0]["message"]
    calls = [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in message.get("tool_calls") or []
    ]
    assert served["id"] == received["id"]
    assert (served["model"], served["created"]) == (received["model"], received["created"])
    assert served["system_fingerprint"] == received["system_fingerprint"]
    assert message["content"] == received["content"]
    assert calls == received["tool_calls"]
    assert served["choices"][0]["finish_reason"] == received["finish_reason"]
    assert served["usage"] == received["usage"]


def settled(proxy: StoreProcess, *, key: str | None = None, timeout_s: float = 20.0) -> dict:
    """Wait until the proxy has committed (or dropped) every capture it took, as its health route
    counts them, and return those counts: answers go out before their commit."""
    headers = {"Authorization": f"Bearer {key or proxy.api_key or CLIENT_KEY}"}
    deadline = time.monotonic() + timeout_s
    while True:
        health = httpx2.get(f"{proxy.url}/distillery/health", headers=headers, timeout=30)
        captures = health.json()["captures"]
        if captures["pending"] == 0 or time.monotonic() > deadline:
            return captures
        time.sleep(0.01)


def without_tenant(stored: dict[str, Any]) -> dict[str, Any]:
    """`stored` with the tenant the store adds to its metadata taken out (checked to be there)."""
    metadata = dict(stored["metadata"])
    assert isinstance(metadata.pop(TENANT_KEY), str)
    return {**stored, "metadata": metadata}


def api_get(
    proxy: StoreProcess, path: str, *, key: str | None = None, **params: Any
) -> httpx2.Response:
    """GET `path` from the store once every capture is committed (as `CLIENT_KEY`'s tenant, or
    as `key`)."""
    key = key or proxy.api_key or CLIENT_KEY
    settled(proxy, key=key)
    headers = {"Authorization": f"Bearer {key}"}
    return httpx2.get(f"{proxy.url}{path}", params=params, headers=headers, timeout=30)


def stored_ids(
    proxy: StoreProcess, what: str = "chat/completions", *, key: str | None = None
) -> list[str]:
    """Every id on a list of the store (`chat/completions` or `responses`) a key sees (by default
    `CLIENT_KEY`), paging to the end."""
    ids: list[str] = []
    after = None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        page = api_get(proxy, f"/v1/{what}", key=key, **params).json()
        ids += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            return ids
        after = page["last_id"]


def hold_write_lock(db_path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the store's write lock (`BEGIN IMMEDIATE`) for `seconds`, as an
    import or a backup would; returns once it holds it."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db_path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker
