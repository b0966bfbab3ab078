"""Fault injection: each fault happens, is counted, and the real SDK reacts as to OpenAI."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest

from tests.conftest import STORE_KEY, openai_client
from tests.records import completion_record
from tests.store_process import StoreProcess, store_process

IDS = [f"chatcmpl-f{i:02d}" for i in range(25)]


@pytest.fixture
def faulty_store(fresh_store: StoreProcess) -> StoreProcess:
    fresh_store.import_records(
        completion_record(i, created=1_760_000_000 + n) for n, i in enumerate(IDS)
    )
    return fresh_store


def list_ids(store: StoreProcess, **options: object) -> list[str]:
    client = openai_client(store, **options)
    return [c.id for c in client.chat.completions.list(limit=5)]


def test_rate_limits_carry_retry_after_and_the_sdk_retries_them(faulty_store: StoreProcess) -> None:
    faulty_store.set_faults(rate_limit_every=2, retry_after_ms=20)

    assert list_ids(faulty_store, max_retries=3) == IDS

    stats = faulty_store.stats()
    # 5 pages, each first try answered; every 2nd request refused and retried.
    assert stats["faults"]["rate_limited"] == 4
    assert stats["requests"]["list"] == 9


def test_a_rate_limit_without_retries_raises_with_retry_after(faulty_store: StoreProcess) -> None:
    faulty_store.set_faults(rate_limit_every=1, retry_after_ms=250_000)

    with pytest.raises(openai.RateLimitError) as caught:
        list_ids(faulty_store, max_retries=2)

    assert caught.value.response.headers["retry-after"] == "250"
    assert caught.value.code == "rate_limit_exceeded"
    # Retry-After above 120 s: the SDK does not retry at all (REFERENCE.md).
    assert faulty_store.stats()["requests"]["list"] == 1


@pytest.mark.slow
def test_server_errors_are_retried_to_the_same_result(faulty_store: StoreProcess) -> None:
    faulty_store.set_faults(error_rate=0.4, seed=3)

    assert list_ids(faulty_store, max_retries=8) == IDS
    assert faulty_store.stats()["faults"]["server_error"] > 0


@pytest.mark.slow
def test_dropped_connections_are_connection_errors(faulty_store: StoreProcess) -> None:
    faulty_store.set_faults(drop_rate=1.0)
    with pytest.raises(openai.APIConnectionError):
        list_ids(faulty_store, max_retries=0)

    faulty_store.set_faults(drop_rate=0.3, seed=1)
    assert list_ids(faulty_store, max_retries=8) == IDS
    assert faulty_store.stats()["faults"]["dropped"] > 0


def test_insufficient_quota_is_a_429_with_its_code(faulty_store: StoreProcess) -> None:
    faulty_store.set_faults(insufficient_quota=True)

    with pytest.raises(openai.RateLimitError) as caught:
        list_ids(faulty_store, max_retries=0)

    assert caught.value.code == "insufficient_quota"
    assert caught.value.type == "insufficient_quota"


@pytest.mark.slow
def test_latency_delays_each_request(faulty_store: StoreProcess) -> None:
    faulty_store.set_faults(latency_ms=150)

    started = time.monotonic()
    list_ids(faulty_store, max_retries=0)  # 5 pages

    assert time.monotonic() - started >= 5 * 0.15


def test_unknown_fault_setting_is_refused(faulty_store: StoreProcess) -> None:
    with pytest.raises(Exception, match="400"):
        faulty_store.set_faults(error_rat=0.5)


def test_faults_from_command_line_flags(tmp_path: Path) -> None:
    flags = ["--fault-rate-limit-every", "3", "--fault-retry-after-ms", "10"]
    with store_process(tmp_path / "store.db", api_key=STORE_KEY, extra_args=flags) as store:
        store.import_records(
            completion_record(i, created=1_760_000_000 + n) for n, i in enumerate(IDS)
        )
        assert list_ids(store, max_retries=3) == IDS
        # 5 pages; requests 3 and 6 are refused and retried.
        assert store.stats()["faults"]["rate_limited"] == 2
