"""Reading by id survives kills and lost checkpoints: the exact id set, no batch written over."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.datadir.paths import DataPaths
from pipelines.ingest import LakeWriteError, read_state
from pipelines.ingest.lake import read_raw_completions, write_batch
from pipelines.ingest.rows import lake_row
from tests.records import completion_record, response_record
from tests.store_process import StoreProcess, distillery_command
from tests.test_ingest_responses import (
    by_id_env,
    ids_file,
    item_requests,
    responses,
    run_ingest,
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_a_killed_read_by_id_resumes_to_the_exact_id_set(
    fresh_store: StoreProcess, tmp_path: Path, mode: str
) -> None:
    fresh_store.import_records(responses(600))
    data = tmp_path / "data"
    ids = [f"resp_ing_{i:04d}" for i in range(600)]
    env = {
        **by_id_env(fresh_store, tmp_path, ids),
        "DISTILLERY_CHAT_COMPLETIONS": "off",
        "DISTILLERY_CONVERSATION_IDS": "",
    }
    earlier = 0
    if mode == "incremental":  # a first run stored 100, so the killed run is incremental
        run_ingest(
            {**env, "DISTILLERY_RESPONSE_IDS": str(ids_file(tmp_path / "a", ids[:100]))}, data
        )
        earlier = 1
    fresh_store.set_faults(latency_ms=15)
    run = subprocess.Popen(
        [*distillery_command(), "ingest", "--concurrency", "4"],
        env={**os.environ, **env, "DISTILLERY_DATA_DIR": str(data)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    paths = DataPaths(data)
    deadline = time.monotonic() + 120
    while (
        len(paths.batch_files()) < earlier + 2
        and time.monotonic() < deadline
        and run.poll() is None
    ):
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    killed_after = len(paths.batch_files()) - earlier
    assert 2 <= killed_after < 5, "the run should have been killed part-way"
    fresh_store.set_faults()
    before = item_requests(fresh_store)

    resumed = run_ingest(env, data)

    lake = read_raw_completions(data)
    assert set(lake["id"]) == set(ids) and lake.height == 600
    assert resumed.by_reader()["responses_ids"].mode == mode
    assert resumed.by_reader()["responses_ids"].new == 600 - 100 * (earlier + killed_after)
    # Only what the killed run had not stored is read again, and no batch was written twice.
    assert item_requests(fresh_store)["input_items"] - before["input_items"] == resumed.total("new")
    assert len(paths.batch_files()) == 6


def fail_on_call(number: int, real: Any) -> Any:
    """`real`, except that its `number`th call raises as a full disk would."""
    calls = [0]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == number:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    return flaky


def test_a_checkpoint_lost_after_its_batch_never_costs_that_batch(
    fresh_store: StoreProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.ingest.reader as reader

    fresh_store.import_records(responses(18))
    data = tmp_path / "data"
    ids = [f"resp_ing_{i:04d}" for i in range(18)]
    env = {**by_id_env(fresh_store, tmp_path, ids[:5]), "DISTILLERY_CHAT_COMPLETIONS": "off"}
    env["DISTILLERY_CONVERSATION_IDS"] = ""
    run_ingest(env, data, page_size=5)  # the next run is incremental
    env["DISTILLERY_RESPONSE_IDS"] = str(ids_file(tmp_path / "all.txt", ids))
    # The second chunk's batch is written, then its checkpoint fails: the run stops there.
    monkeypatch.setattr(reader, "write_state", fail_on_call(2, reader.write_state))
    with pytest.raises(LakeWriteError):
        run_ingest(env, data, page_size=5)
    monkeypatch.undo()

    resumed = run_ingest(env, data, page_size=5)

    lake = read_raw_completions(data)
    assert set(lake["id"]) == set(ids) and lake.height == 18
    assert resumed.by_reader()["responses_ids"].resumed
    names = [path.name for path in DataPaths(data).batch_files()]
    assert len(names) == len(set(names)) == 1 + 2 + 1  # first run, killed run, resumed run


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["chat_completions_list", "responses_ids"])
def test_a_full_refresh_asked_for_is_not_traded_for_an_unfinished_incremental_run(
    fresh_store: StoreProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    # The rule lives once, in the reader lifecycle: both kinds of reader must keep it.
    import pipelines.ingest.reader as lifecycle

    now = int(time.time())
    fresh_store.import_records(
        [completion_record(f"chatcmpl-old-{i}", created=now - 60 * i) for i in range(4)]
    )
    fresh_store.import_records(responses(8))
    ids = [f"resp_ing_{i:04d}" for i in range(8)]
    env = {**by_id_env(fresh_store, tmp_path, ids[:2]), "DISTILLERY_CONVERSATION_IDS": ""}
    if reader == "responses_ids":
        env["DISTILLERY_CHAT_COMPLETIONS"] = "off"
    else:
        env["DISTILLERY_RESPONSE_IDS"] = ""
    data = tmp_path / "data"
    run_ingest(env, data, page_size=2)  # full: nothing was read before
    # Something new, so the next run (incremental) checkpoints; it dies at its second checkpoint.
    fresh_store.import_records(
        [completion_record(f"chatcmpl-new-{i}", created=now + 60 * i) for i in range(4)]
    )
    if reader == "responses_ids":
        ids_file(tmp_path / "responses.txt", ids)
    monkeypatch.setattr(lifecycle, "write_state", fail_on_call(2, lifecycle.write_state))
    with pytest.raises(LakeWriteError):
        run_ingest(env, data, page_size=2)
    monkeypatch.undo()
    state_name = "ingest" if reader == "chat_completions_list" else "responses-ids"
    state = read_state(DataPaths(data), state_name)
    assert state.run is not None and state.run.mode == "incremental"

    refresh = run_ingest(env, data, page_size=2, full_refresh=True).by_reader()[reader]

    assert refresh.mode == "full" and not refresh.resumed
    assert read_state(DataPaths(data), state_name).run is None


def test_a_batch_name_written_again_gets_a_later_name_not_the_old_file(tmp_path: Path) -> None:
    # A resumed run may write a page under the name of a batch whose checkpoint was lost; the
    # rows of that batch are known by then and not written again, so it must stay.
    paths = DataPaths(tmp_path)
    row = lake_row(
        response_record("resp_a"),
        [],
        api="responses",
        source_kind="local",
        source_endpoint="local",
        ingested_at=datetime(2026, 12, 1, tzinfo=UTC),
    )

    first = write_batch(paths, "run-000002", [row])
    second = write_batch(paths, "run-000002", [{**row, "id": "resp_b"}])

    assert (first.name, second.name) == (
        "batch-run-000002.parquet",
        "batch-run-000002-r001.parquet",
    )
    lake = read_raw_completions(tmp_path)
    assert set(lake["id"]) == {"resp_a", "resp_b"}
    assert set(lake["batch_id"]) == {"run-000002", "run-000002-r001"}
