"""The same tool exchange, stored through Chat Completions and through Responses, served by the
store, read by the real SDK into one lake: the fine-tuning lines of the two are equal, field for
field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipelines.completions import build_completions
from pipelines.export.lines import fine_tuning_line
from tests.response_rows import weather_exchange_rows
from tests.store_process import StoreProcess
from tests.test_ingest_responses import by_id_env, run_ingest


def import_record(row: dict[str, Any]) -> dict[str, Any]:
    """A lake row as the store's import format: the object, and its messages or input items."""
    items = "input_messages" if row["api"] == "chat_completions" else "input_items"
    return {**json.loads(row["completion_json"]), items: json.loads(row["messages_json"])}


@pytest.mark.parametrize("train_on", ["all", "last_assistant"])
def test_an_exchange_read_through_both_apis_gives_equal_fine_tuning_lines(
    fresh_store: StoreProcess, tmp_path: Path, train_on: str
) -> None:
    fresh_store.import_records([import_record(row) for row in weather_exchange_rows()])
    data = tmp_path / "data"
    env = {
        **by_id_env(fresh_store, tmp_path, ["resp_1", "resp_2"]),
        "DISTILLERY_CONVERSATION_IDS": "",
    }

    run_ingest(env, data)
    validated = build_completions(data)

    assert validated.quarantine.is_empty()
    rows = {row["id"]: row for row in validated.completions.iter_rows(named=True)}
    assert {i: rows[i]["api"] for i in rows} == {
        "chatcmpl-1": "chat_completions",
        "chatcmpl-2": "chat_completions",
        "resp_1": "responses",
        "resp_2": "responses",
    }
    line = {i: fine_tuning_line(rows[i], train_on=train_on) for i in rows}
    assert line["resp_2"] == line["chatcmpl-2"]
    assert line["resp_1"] == line["chatcmpl-1"]
    assert [m["role"] for m in line["resp_2"]["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
