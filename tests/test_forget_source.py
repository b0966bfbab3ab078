"""`--at-source`: the objects are deleted at the source through the real SDK, refusals counted,
and a distillery store's DELETE erases the bytes from its live SQLite file and WAL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import openai
import pytest

from pipelines.forget import Selection, forget
from tests.conftest import STORE_KEY, openai_client
from tests.records import completion_record
from tests.store_process import StoreProcess, store_process
from tests.test_forget_lake import _lake

CANARY = "wombat-pancake-canary"


@pytest.fixture
def source(tmp_path: Path) -> StoreProcess:
    with store_process(tmp_path / "store.db", api_key=STORE_KEY) as process:
        process.import_records(
            [
                completion_record("chatcmpl-gone-1", answer=f"Your code is {CANARY}."),
                completion_record("chatcmpl-gone-2", answer=f"Again: {CANARY}."),
                completion_record("chatcmpl-keep-1"),
            ]
        )
        yield process


@pytest.mark.slow
def test_at_source_deletes_through_the_sdk_and_the_store_keeps_no_byte(
    tmp_path: Path, source: StoreProcess
) -> None:
    _lake(tmp_path / "data")
    client = openai_client(source, max_retries=0)
    report = forget(
        tmp_path / "data",
        Selection(ids=("chatcmpl-gone-1", "chatcmpl-gone-2", "chatcmpl-never-stored")),
        source_client=client,
    )
    # The store has two of them; the third it does not know (nor does its upstream: none).
    assert report.at_source is not None
    assert report.at_source["deleted"] == {"chat_completions": 2}
    assert report.at_source["not_found"] + report.at_source["refused"] == 1
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.retrieve("chatcmpl-gone-1")
    assert client.chat.completions.retrieve("chatcmpl-keep-1").id == "chatcmpl-keep-1"
    # The store is still running, its connection open: its file and log, read raw.
    files = [p for p in (tmp_path).glob("store.db*") if p.is_file()]
    assert files and all(CANARY.encode() not in p.read_bytes() for p in files)


def test_spans_the_trace_receiver_kept_are_erased_by_lake_id(tmp_path: Path) -> None:
    from pipelines.datadir.tombstones import Tombstones
    from pipelines.forget.stores import purge_store
    from pipelines.store.traces_db import SPANS_SCHEMA, store_spans

    def span(trace_id: str, span_id: str, text: str) -> dict[str, object]:
        attributes = [{"key": "gen_ai.input.messages", "value": {"stringValue": text}}]
        return {"span": {"traceId": trace_id, "spanId": span_id, "attributes": attributes}}

    database = tmp_path / "store.db"
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SPANS_SCHEMA)
    records = [span("aa", "01", CANARY), span("aa", "02", f"and {CANARY}"), span("bb", "01", "x")]
    store_spans(conn, records, received_at=0, tenant=None)
    conn.commit()
    conn.close()
    # The first by the id a user names, the second by its tombstone (matched in the lake).
    tombstones = Tombstones("salt", frozenset()).with_ids(["span_aa_02"])

    purge = purge_store(database, Selection(ids=("span_aa_01",)), tombstones, dry_run=False)

    assert purge.deleted["traces"] == 2 and purge.ids >= {"span_aa_01", "span_aa_02"}
    left = sqlite3.connect(database).execute("SELECT trace_id, span_id FROM trace_spans")
    assert left.fetchall() == [("bb", "01")]
    files = [p for p in tmp_path.glob("store.db*") if p.is_file()]
    assert all(CANARY.encode() not in p.read_bytes() for p in files)
