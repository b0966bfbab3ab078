"""Ingest into the raw lake against the local store over real HTTP, in OpenAI and Azure shapes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2
import polars as pl
import pytest

from pipelines.datadir.paths import DataPaths
from pipelines.ingest import IngestReport, IngestSettings, ingest_completions
from pipelines.ingest.lake import read_raw_completions
from pipelines.ingest.paging import RetryPolicy, SourceAccessError
from pipelines.ingest.sources import open_source
from pipelines.sample import SAMPLE_PATH
from tests.conftest import AZURE_API_VERSION, STORE_KEY
from tests.records import completion_record, conversation
from tests.store_process import StoreProcess, distillery_command

BASE_CREATED = 1_760_000_000


def make_records(count: int, *, start: int = 0) -> list[dict[str, Any]]:
    """`count` completions ten minutes apart, each with a 3-message conversation."""
    return [
        completion_record(
            f"chatcmpl-ing-{i:04d}",
            created=BASE_CREATED + 600 * i,
            metadata={"n": str(i)},
            input_messages=conversation(3),
            x_extra={"i": i},
        )
        for i in range(start, start + count)
    ]


def source_env(store: StoreProcess, shape: str, key: str = STORE_KEY) -> dict[str, str]:
    if shape == "openai":
        return {
            "DISTILLERY_SOURCE": "openai",
            "OPENAI_BASE_URL": f"{store.url}/v1",
            "OPENAI_API_KEY": key,
        }
    return {
        "DISTILLERY_SOURCE": "azure",
        "AZURE_OPENAI_ENDPOINT": store.url,
        "AZURE_OPENAI_API_KEY": key,
        "OPENAI_API_VERSION": AZURE_API_VERSION,
    }


def ingest(env: dict[str, str], data_dir: Path, **settings: Any) -> IngestReport:
    settings.setdefault("retry", RetryPolicy(attempts=4, max_wait_s=0.2))
    with open_source(env, max_retries=3) as (client, source, requests):
        return ingest_completions(
            client,
            source=source,
            data_dir=data_dir,
            settings=IngestSettings(**settings),
            requests=requests,
        )


def lake_files(data_dir: Path) -> dict[str, int]:
    """Every file and its modification time; the lock files, which each run takes and names
    itself in, are not data."""
    return {
        str(p.relative_to(data_dir)): p.stat().st_mtime_ns
        for p in data_dir.rglob("*")
        if p.suffix != ".lock"
    }


def api_json(store: StoreProcess, path: str) -> Any:
    response = httpx2.get(
        f"{store.url}/v1{path}", headers={"Authorization": f"Bearer {STORE_KEY}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()


@pytest.fixture(params=["openai", "azure"])
def shape(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.slow
def test_full_ingest_holds_every_id_with_its_raw_json(
    fresh_store: StoreProcess, shape: str, tmp_path: Path
) -> None:
    fresh_store.import_records(make_records(230))

    report = ingest(source_env(fresh_store, shape), tmp_path, page_size=100)

    lake = read_raw_completions(tmp_path)
    assert set(lake["id"]) == fresh_store_ids(fresh_store)
    assert lake.height == 230 and lake["id"].is_unique().all()
    assert (report.mode, report.pages, report.new, report.source.kind) == ("full", 3, 230, shape)
    assert set(lake["source"]) == {shape}
    for row in lake.sample(5, seed=1).iter_rows(named=True):
        assert json.loads(row["completion_json"]) == api_json(
            fresh_store, f"/chat/completions/{row['id']}"
        )
        messages = api_json(fresh_store, f"/chat/completions/{row['id']}/messages")["data"]
        assert json.loads(row["messages_json"]) == messages
        assert [m["content"] for m in messages] == ["message 0", "message 1", "message 2"]


def fresh_store_ids(store: StoreProcess) -> set[str]:
    ids, after = set(), None
    while True:
        page = api_json(store, "/chat/completions?limit=100" + (f"&after={after}" if after else ""))
        ids |= {item["id"] for item in page["data"]}
        if not page["has_more"]:
            return ids
        after = page["last_id"]


def test_a_second_run_with_nothing_new_lists_at_most_twice_and_writes_nothing(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    fresh_store.import_records(make_records(250))
    env = source_env(fresh_store, "openai")
    ingest(env, tmp_path)
    before_files = lake_files(tmp_path)
    before_stats = fresh_store.stats()["requests"]

    report = ingest(env, tmp_path)

    after_stats = fresh_store.stats()["requests"]
    assert report.mode == "incremental" and report.new == 0 and report.batch_files == []
    assert after_stats["list"] - before_stats["list"] <= 2
    assert after_stats.get("messages", 0) == before_stats["messages"]
    assert lake_files(tmp_path) == before_files


def test_a_third_run_brings_only_the_new_records(fresh_store: StoreProcess, tmp_path: Path) -> None:
    fresh_store.import_records(make_records(150))
    env = source_env(fresh_store, "azure")
    ingest(env, tmp_path)
    ingest(env, tmp_path)
    fresh_store.import_records(make_records(30, start=150))
    messages_before = fresh_store.stats()["requests"]["messages"]

    report = ingest(env, tmp_path)

    assert report.new == 30
    assert fresh_store.stats()["requests"]["messages"] - messages_before == 30
    assert set(read_raw_completions(tmp_path)["id"]) == fresh_store_ids(fresh_store)


def test_full_refresh_picks_up_metadata_updates_and_records_deletions(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    fresh_store.import_records(make_records(40))
    env = source_env(fresh_store, "openai")
    ingest(env, tmp_path)
    headers = {"Authorization": f"Bearer {STORE_KEY}"}
    httpx2.post(
        f"{fresh_store.url}/v1/chat/completions/chatcmpl-ing-0003",
        json={"metadata": {"reviewed": "yes"}},
        headers=headers,
    ).raise_for_status()
    httpx2.delete(
        f"{fresh_store.url}/v1/chat/completions/chatcmpl-ing-0007", headers=headers
    ).raise_for_status()

    report = ingest(env, tmp_path, full_refresh=True)

    assert (report.mode, report.new, report.updated, report.deleted) == ("full", 0, 1, 1)
    lake = read_raw_completions(tmp_path).filter(
        pl.col("id").is_in(["chatcmpl-ing-0003", "chatcmpl-ing-0007"])
    )
    updated, deleted = lake.sort("id").iter_rows(named=True)
    assert json.loads(updated["completion_json"])["metadata"] == {"n": "3", "reviewed": "yes"}
    assert json.loads(updated["messages_json"])[0]["content"] == "message 0"  # carried over
    assert (updated["deleted"], deleted["deleted"]) == (False, True)
    assert json.loads(deleted["completion_json"])["id"] == "chatcmpl-ing-0007"  # kept, flagged
    assert read_raw_completions(tmp_path, include_deleted=False).height == 39


@pytest.mark.slow
def test_faults_leave_the_same_lake_as_a_clean_run(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    fresh_store.import_records(make_records(300))
    env = source_env(fresh_store, "openai")
    ingest(env, tmp_path / "clean")
    fresh_store.set_faults(
        error_rate=0.05, rate_limit_every=7, retry_after_ms=10, drop_rate=0.01, seed=11
    )

    report = ingest(env, tmp_path / "faulty")

    faults = fresh_store.stats()["faults"]
    assert faults["server_error"] > 0 and faults["rate_limited"] > 0 and faults["dropped"] > 0
    assert report.retries >= sum(faults.values())
    columns = ["id", "created", "model", "completion_json", "messages_json"]
    clean = read_raw_completions(tmp_path / "clean").select(columns)
    faulty = read_raw_completions(tmp_path / "faulty").select(columns)
    assert faulty.equals(clean)


@pytest.mark.parametrize(
    ("fault", "message", "list_requests"),
    [
        # The SDK retries every 429, insufficient_quota too (3 tries in the CLI, 4 in `ingest`);
        # distillery adds none.
        ({"insufficient_quota": True}, "no quota left (429 insufficient_quota)", 3 + 4),
        (None, "rejected the API key (HTTP 401)", 1 + 1),
    ],
)
@pytest.mark.slow
def test_access_errors_stop_at_once_with_one_line_and_no_batch(
    fresh_store: StoreProcess, tmp_path: Path, fault: dict | None, message: str, list_requests: int
) -> None:
    fresh_store.import_records(make_records(20))
    key = STORE_KEY
    if fault:
        fresh_store.set_faults(**fault)
    else:
        key = "sk-wrong-0000"
    env = {
        **os.environ,
        **source_env(fresh_store, "openai", key),
        "DISTILLERY_DATA_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [*distillery_command(), "ingest"], capture_output=True, text=True, env=env, timeout=120
    )

    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert DataPaths(tmp_path).batch_files() == []
    with pytest.raises(SourceAccessError):
        ingest(source_env(fresh_store, "openai", key), tmp_path)
    assert fresh_store.stats()["requests"]["list"] == list_requests


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_exact_id_set(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    fresh_store.import_records(make_records(1200))
    fresh_store.set_faults(latency_ms=15)
    env = {**os.environ, **source_env(fresh_store, "openai"), "DISTILLERY_DATA_DIR": str(tmp_path)}
    run = subprocess.Popen(
        [*distillery_command(), "ingest", "--concurrency", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    paths = DataPaths(tmp_path)
    deadline = time.monotonic() + 120
    while len(paths.batch_files()) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    killed_after = len(paths.batch_files())
    assert 3 <= killed_after < 12, "the run should have been killed part-way"
    fresh_store.set_faults()

    report = ingest(source_env(fresh_store, "openai"), tmp_path)

    assert report.resumed
    lake = read_raw_completions(tmp_path)
    assert set(lake["id"]) == fresh_store_ids(fresh_store)
    assert lake.height == 1200
    assert not list(paths.raw_completions.glob(".*.tmp"))


@pytest.mark.slow
def test_the_api_key_never_reaches_logs_or_files(fresh_store: StoreProcess, tmp_path: Path) -> None:
    key = "sk-distillery-canary-7f3a9c"
    with_key_store_env = source_env(fresh_store, "openai", key)
    fresh_store.import_records(make_records(10))
    # The store checks STORE_KEY; run once rejected (the error path) and once accepted.
    env = {
        **os.environ,
        **with_key_store_env,
        "DISTILLERY_DATA_DIR": str(tmp_path),
        "OPENAI_LOG": "debug",
    }
    rejected = subprocess.run(
        [*distillery_command(), "ingest"], capture_output=True, text=True, env=env
    )
    env["OPENAI_API_KEY"] = STORE_KEY
    accepted = subprocess.run(
        [*distillery_command(), "ingest"], capture_output=True, text=True, env=env
    )

    assert rejected.returncode == 2 and accepted.returncode == 0
    assert key not in rejected.stdout + rejected.stderr
    assert STORE_KEY not in accepted.stdout + accepted.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert key.encode() not in content and STORE_KEY.encode() not in content, path


@pytest.mark.slow
def test_no_credentials_reads_the_bundled_sample_through_the_embedded_store(tmp_path: Path) -> None:
    report = ingest({}, tmp_path)

    sample_ids = {json.loads(line)["id"] for line in SAMPLE_PATH.read_text().splitlines()}
    assert report.source.kind == "local" and "bundled sample" in report.source.detail
    assert report.source.endpoint_host.startswith("127.0.0.1:")
    assert set(read_raw_completions(tmp_path)["id"]) == sample_ids
    assert report.lake_path == str((tmp_path / "lake" / "raw_completions").resolve())
