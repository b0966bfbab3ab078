"""`distillery ingest` of trace spans SIGKILLed anywhere resumes to the exact span set: each LLM
span of the store's receiver and of the trace files is in the lake once, never written twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import httpx2
import polars as pl
import pytest

from pipelines.datadir.paths import DataPaths
from pipelines.ingest import read_raw_completions
from pipelines.ingest.lake import scan_raw_batches
from tests.conftest import STORE_KEY
from tests.spans import export_request, span_record
from tests.store_process import StoreProcess, distillery_command
from tests.test_ingest import source_env
from tests.test_normalize_traces import SEMCONV_ROUND_TRIP

STORE_EXPORTS, SPANS_PER_EXPORT = 40, 20
FILES, LINES_PER_FILE = 8, 40
KILLS = 6


def _span_id(number: int) -> str:
    return f"{number:016x}"


TRACE_ID = "5b8aa5a2d2c872e8321cf37308d69df2"


def _post(store: StoreProcess, first: int, count: int) -> set[str]:
    """`count` spans in one export to the store's receiver; returns their lake ids."""
    numbers = range(first, first + count)
    records = [span_record(SEMCONV_ROUND_TRIP, span_id=_span_id(n)) for n in numbers]
    answer = httpx2.post(
        f"{store.url}/v1/traces",
        content=json.dumps(export_request(records)),
        headers={"Authorization": f"Bearer {STORE_KEY}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    return {f"span_{TRACE_ID}_{_span_id(n)}" for n in numbers}


def _fill(store: StoreProcess, trace_dir: Path) -> set[str]:
    """Spans for both readers; returns the lake ids they must end as."""
    trace_id = TRACE_ID
    expected, number = set(), 0
    for _ in range(STORE_EXPORTS):
        records = []
        for _ in range(SPANS_PER_EXPORT):
            number += 1
            records.append(span_record(SEMCONV_ROUND_TRIP, span_id=_span_id(number)))
            expected.add(f"span_{trace_id}_{_span_id(number)}")
        answer = httpx2.post(
            f"{store.url}/v1/traces",
            content=json.dumps(export_request(records)),
            headers={"Authorization": f"Bearer {STORE_KEY}", "Content-Type": "application/json"},
        )
        assert answer.status_code == 200
    for file in range(FILES):
        lines = []
        for _ in range(LINES_PER_FILE):
            number += 1
            record = span_record(SEMCONV_ROUND_TRIP, span_id=_span_id(number))
            lines.append(json.dumps(export_request([record])) + "\n")
            expected.add(f"span_{trace_id}_{_span_id(number)}")
        (trace_dir / f"traces-{file:02d}.jsonl").write_text("".join(lines), encoding="utf-8")
    return expected


def _start(store: StoreProcess, data_dir: Path, trace_dir: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **source_env(store, "openai"),
        "DISTILLERY_DATA_DIR": str(data_dir),
        "DISTILLERY_CHAT_COMPLETIONS": "off",
        "DISTILLERY_TRACES": "on",
        "DISTILLERY_TRACES_PATH": str(trace_dir),
    }
    return subprocess.Popen(
        [*distillery_command(), "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after_first_checkpoint(process: subprocess.Popen[str], data_dir: Path, s: float) -> bool:
    states = DataPaths(data_dir).state_dir
    started_ns, deadline = time.time_ns(), time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        written = [p for p in states.glob("traces-*.json") if p.stat().st_mtime_ns > started_ns]
        if written:
            try:
                process.wait(timeout=s)
                return False
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
        time.sleep(0.002)
    process.wait()
    return False


@pytest.mark.slow
def test_trace_ingest_killed_anywhere_ends_with_each_span_once(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    trace_dir, data_dir = tmp_path / "otel", tmp_path / "data"
    trace_dir.mkdir()
    expected = _fill(fresh_store, trace_dir)
    fresh_store.set_faults(latency_ms=150)  # a run lasts long enough to be cut in its pages
    rng = random.Random(27)
    cut = 0
    for kill in range(KILLS):
        process = _start(fresh_store, data_dir, trace_dir)
        cut += _kill_after_first_checkpoint(process, data_dir, rng.uniform(0.0, 0.5))
        # Traffic goes on between runs, so every run has pages to be cut in.
        expected |= _post(fresh_store, 1_000_000 + 300 * kill, 300)
    assert cut >= KILLS // 2, f"only {cut} of {KILLS} runs were cut after a checkpoint"
    last = _start(fresh_store, data_dir, trace_dir)
    _, stderr = last.communicate(timeout=300)
    assert last.returncode == 0, stderr[-3000:]

    assert set(read_raw_completions(data_dir)["id"]) == expected
    # Never written twice: a page read again after a lost checkpoint writes only what it lacks.
    written = scan_raw_batches(DataPaths(data_dir)).select(pl.len()).collect().item()
    assert written == len(expected)
