"""When the upstream misbehaves, the client hears it as the upstream said it, or (for what only the
proxy can see: a stall, a drop, no upstream at all) as a clear 502 / 504 / stream error — and
nothing is stored. Every request here asks to be stored, so the store must stay empty."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest

from tests.capture_support import CLIENT_KEY, capturing_store, sdk, stored_ids
from tests.fake_upstream import RETRY_AFTER, FakeUpstream, running_upstream
from tests.store_process import StoreProcess

TIMEOUT_S = 0.5
QUESTION = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_upstream() as up:
        yield up


@pytest.fixture(scope="module")
def proxy(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[StoreProcess]:
    db_path = tmp_path_factory.mktemp("faults") / "store.db"
    args = ["--upstream-timeout", str(TIMEOUT_S)]
    with capturing_store(db_path, f"{upstream.url}/v1", extra_args=args) as process:
        yield process
        assert stored_ids(process) == [] and stored_ids(process, "responses") == []


def post(url: str, model: str) -> httpx2.Response:
    body = {"model": model, "messages": QUESTION, "store": True}
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    return httpx2.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize("model", ["fault-429", "fault-500"])
def test_upstream_errors_reach_the_client_unchanged(
    proxy: StoreProcess, upstream: FakeUpstream, model: str
) -> None:
    direct = post(upstream.url, model)
    relayed = post(proxy.url, model)

    assert relayed.status_code == direct.status_code
    assert relayed.json() == direct.json()
    for header in ("content-type", "retry-after", "retry-after-ms"):
        assert relayed.headers.get(header) == direct.headers.get(header)
    # The upstream numbers its request ids: the proxied one is the next after the direct one.
    assert int(relayed.headers["x-request-id"][6:]) == int(direct.headers["x-request-id"][6:]) + 1
    assert stored_ids(proxy) == []


def test_the_sdk_sees_a_rate_limit_with_its_retry_after(proxy: StoreProcess) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        sdk(proxy).chat.completions.create(model="fault-429", messages=QUESTION, store=True)

    assert limited.value.response.headers["retry-after"] == RETRY_AFTER
    assert limited.value.code == "rate_limit_exceeded"
    assert limited.value.request_id.startswith("req_up")


@pytest.mark.slow
def test_a_stalled_upstream_is_a_504_after_the_timeout(proxy: StoreProcess) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as stalled:
        sdk(proxy).chat.completions.create(model="fault-stall", messages=QUESTION, store=True)
    waited = time.monotonic() - started

    assert stalled.value.status_code == 504
    assert stalled.value.code == "upstream_timeout"
    assert f"sent nothing for {TIMEOUT_S} s (--upstream-timeout)" in stalled.value.message
    assert TIMEOUT_S * 0.9 < waited < TIMEOUT_S + 2


@pytest.mark.slow
def test_a_stream_that_stalls_midway_ends_with_a_clear_error(proxy: StoreProcess) -> None:
    stream = sdk(proxy).chat.completions.create(
        model="fault-stall-stream", messages=QUESTION, store=True, stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as cut:
        received.extend(stream)

    assert received  # the chunks before the stall went through
    assert f"sent nothing for {TIMEOUT_S} s" in cut.value.message
    assert cut.value.body["code"] == "upstream_timeout"


@pytest.mark.slow
def test_a_responses_stream_that_stalls_ends_with_an_error_event(proxy: StoreProcess) -> None:
    events = list(sdk(proxy).responses.create(model="fault-stall-stream", input="x", stream=True))

    assert events[-1].type == "error"
    assert events[-1].code == "upstream_timeout"


def test_a_dropped_stream_ends_with_a_clear_error(proxy: StoreProcess) -> None:
    stream = sdk(proxy).chat.completions.create(
        model="fault-drop", messages=QUESTION, store=True, stream=True
    )
    with pytest.raises(openai.APIError) as dropped:
        list(stream)

    assert "closed the stream before it finished" in dropped.value.message


def test_a_dropped_answer_is_a_502(proxy: StoreProcess) -> None:
    with pytest.raises(openai.InternalServerError) as dropped:
        sdk(proxy).chat.completions.create(model="fault-drop", messages=QUESTION, store=True)

    assert dropped.value.status_code == 502
    assert dropped.value.code == "upstream_unavailable"
    assert "closed the connection before its answer was complete" in dropped.value.message


@pytest.mark.slow
def test_a_client_that_hangs_up_mid_stream_stores_nothing(proxy: StoreProcess) -> None:
    stream = sdk(proxy).chat.completions.create(
        model="slow-stream", messages=QUESTION, store=True, stream=True
    )
    first = next(iter(stream))
    stream.close()
    time.sleep(1.0)  # the upstream's whole stream would have ended by now
    # The same stream read to its end is stored: the one hung up on was not merely late.
    whole = list(
        sdk(proxy).chat.completions.create(
            model="slow-stream", messages=QUESTION, store=True, stream=True
        )
    )

    stored = stored_ids(proxy)
    sdk(proxy).chat.completions.delete(whole[0].id)  # the module's faults store nothing else
    assert whole[0].id in stored
    assert first.id not in stored


@pytest.mark.slow
def test_an_unreachable_upstream_is_a_502(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}/v1"
    with capturing_store(tmp_path / "s.db", url) as proxy:
        with pytest.raises(openai.InternalServerError) as unreachable:
            sdk(proxy).chat.completions.create(model="m", messages=QUESTION, store=True)

        assert unreachable.value.status_code == 502
        assert (
            f"Could not reach the upstream (127.0.0.1:{closed_port})" in unreachable.value.message
        )
        assert stored_ids(proxy) == []
