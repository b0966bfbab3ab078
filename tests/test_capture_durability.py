"""A capturing store killed with SIGKILL under concurrent load loses no record a client had seen
finish: whatever a client received in full (a whole answer, a stream to its end) was committed
first, and the file opens afterwards with every such record whole."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import openai
import pytest

from tests.capture_support import CLIENT_KEY, capturing_store
from tests.fake_upstream import running_upstream
from tests.store_process import store_process

WORKERS = 16
KILL_AFTER = 300
"""Records confirmed by their clients before the kill."""


@pytest.mark.slow
def test_sigkill_under_load_loses_no_committed_record(tmp_path: Path) -> None:
    db_path = tmp_path / "store.db"
    confirmed: dict[str, set[str]] = {"chat": set(), "response": set()}
    lock = threading.Lock()
    stop = threading.Event()

    def work(proxy_url: str, worker: int) -> None:
        client = openai.OpenAI(
            base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=10
        )
        question = [{"role": "user", "content": f"worker {worker}"}]
        for n in range(10_000):
            if stop.is_set():
                return
            try:
                if n % 3 == 0:
                    done = (
                        "chat",
                        client.chat.completions.create(model="m", messages=question, store=True).id,
                    )
                elif n % 3 == 1:
                    chunks = list(
                        client.chat.completions.create(
                            model="m", messages=question, store=True, stream=True
                        )
                    )
                    done = ("chat", chunks[-1].id)
                else:
                    done = ("response", client.responses.create(model="m", input="hi").id)
            except openai.APIError:
                return  # the proxy is gone
            with lock:
                confirmed[done[0]].add(done[1])

    with running_upstream() as upstream, capturing_store(db_path, f"{upstream.url}/v1") as proxy:
        threads = [
            threading.Thread(target=work, args=(proxy.url, i), daemon=True) for i in range(WORKERS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if sum(map(len, confirmed.values())) >= KILL_AFTER:
                    break
            time.sleep(0.01)
        os.kill(proxy.process.pid, signal.SIGKILL)
        proxy.process.wait()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert sum(map(len, confirmed.values())) >= KILL_AFTER
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        chat_ids = {row[0] for row in conn.execute("SELECT id FROM completions")}
        response_ids = {row[0] for row in conn.execute("SELECT id FROM responses")}
        without_messages = conn.execute(
            "SELECT COUNT(*) FROM completions c"
            " WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.completion_seq = c.seq)"
        ).fetchone()[0]
    assert confirmed["chat"] <= chat_ids
    assert confirmed["response"] <= response_ids
    assert without_messages == 0
    # The file serves again as it is.
    with store_process(db_path) as reopened:
        client = openai.OpenAI(base_url=f"{reopened.url}/v1", api_key="x", max_retries=0)
        some = next(iter(confirmed["chat"]))
        assert client.chat.completions.retrieve(some).id == some
