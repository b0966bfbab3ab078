"""Ingest SIGKILLed anywhere, while the source deletes completions, converges on the source.

The real `distillery ingest` command runs against the project's store (with a little latency, so
a run lasts long enough to be cut anywhere) and is killed 20 times at random moments, one of them
right after a run checkpointed its last page. Between kills the source deletes completions, as
retention does, and stores new ones, as traffic does. A last run to completion must leave the
lake holding exactly the source's ids, and every id the source lost flagged as deleted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import openai
import pytest

from pipelines.datadir.paths import DataPaths
from pipelines.ingest import read_raw_completions, read_state
from tests.conftest import openai_client
from tests.store_process import StoreProcess, distillery_command
from tests.test_ingest import make_records, source_env

RECORDS = 450
PAGE_SIZE = 100
KILLS = 20


def start_ingest(store: StoreProcess, data_dir: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **source_env(store, "openai"),
        "DISTILLERY_DATA_DIR": str(data_dir),
    }
    return subprocess.Popen(
        [*distillery_command(), "ingest", "--full-refresh"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def state_written_since(data_dir: Path, started_ns: int) -> bool:
    state = DataPaths(data_dir).ingest_state
    return state.exists() and state.stat().st_mtime_ns > started_ns


def kill_after(process: subprocess.Popen[str], seconds: float, data_dir: Path) -> bool:
    """SIGKILL `process` `seconds` after its first checkpoint (so the cut falls in its work, not
    in Python's start-up); True when the kill cut it."""
    started_ns = time.time_ns()
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if state_written_since(data_dir, started_ns):
            try:
                process.wait(timeout=seconds)
                return False
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
        time.sleep(0.002)
    process.wait()
    return False


def kill_after_last_checkpoint(
    process: subprocess.Popen[str], data_dir: Path, source_rows: int
) -> bool:
    """SIGKILL as soon as this run has checkpointed its last page; True if it got there."""
    last_page = -(-source_rows // PAGE_SIZE)
    started_ns = time.time_ns()
    paths = DataPaths(data_dir)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            run = read_state(paths).run if state_written_since(data_dir, started_ns) else None
        except (OSError, ValueError):  # the state file is being replaced
            run = None
        if run is not None and run.pages >= last_page:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.001)
    process.wait()
    return False


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ingest_killed_anywhere_converges_on_the_sources_ids(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    fresh_store.import_records(make_records(RECORDS))
    fresh_store.set_faults(latency_ms=15)
    client: openai.OpenAI = openai_client(fresh_store, max_retries=0)
    rng = random.Random(20261126)
    source_ids = {f"chatcmpl-ing-{i:04d}" for i in range(RECORDS)}
    killed = 0  # kills that cut a run after it had written a checkpoint

    for kill in range(KILLS):
        process = start_ingest(fresh_store, tmp_path)
        if kill == KILLS // 2:
            killed += kill_after_last_checkpoint(process, tmp_path, len(source_ids))
        else:
            killed += kill_after(process, rng.uniform(0.0, 0.6), tmp_path)
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
        # Retention and traffic at work: a few completions vanish, new ones arrive.
        for gone in rng.sample(sorted(source_ids), 3):
            client.chat.completions.delete(gone)
            source_ids.discard(gone)
        arriving = make_records(25, start=RECORDS + 25 * kill)
        fresh_store.import_records(arriving)
        source_ids.update(record["id"] for record in arriving)

    fresh_store.set_faults(latency_ms=0)
    final = start_ingest(fresh_store, tmp_path)
    _, errors = final.communicate(timeout=300)

    assert killed >= KILLS // 2, f"only {killed} of {KILLS} runs were cut after a checkpoint"
    assert final.returncode == 0, errors
    lake = read_raw_completions(tmp_path)
    present = set(lake.filter(~lake["deleted"])["id"].to_list())
    flagged = set(lake.filter(lake["deleted"])["id"].to_list())
    assert present == source_ids, errors
    assert flagged == set(lake["id"].to_list()) - source_ids
    assert flagged, "some deleted completions had been ingested before they went"
    assert read_state(DataPaths(tmp_path)).run is None
