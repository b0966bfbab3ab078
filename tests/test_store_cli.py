"""The `distillery store` console script: import reports and refusals, and serve's URL line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import openai
import pytest

from tests.records import completion_record, conversation_record, dialogue_items, response_record
from tests.store_process import distillery_command, store_process, write_jsonl


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*distillery_command(), *args], capture_output=True, text=True)


def test_import_reports_what_it_stored(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [completion_record(f"c{i}") for i in range(3)])

    first = run_cli("store", "import", str(source), "--db", str(tmp_path / "s.db"))
    second = run_cli("store", "import", str(source), "--db", str(tmp_path / "s.db"))

    assert first.returncode == 0, first.stderr
    assert "3 new, 0 replaced, 0 skipped; 3 stored" in first.stdout
    assert "  chat completions: 3 new, 0 replaced; 3 stored" in first.stdout
    assert "  responses: 0 new, 0 replaced; 0 stored" in first.stdout
    assert "0 new, 3 replaced, 0 skipped; 3 stored" in second.stdout


@pytest.mark.slow
def test_import_refuses_a_file_with_invalid_lines_and_imports_nothing(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps(completion_record("ok-1")),
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"object": "chat.completion"}),
        json.dumps(completion_record("ok-2", input_messages="hello")),  # type: ignore[arg-type]
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "s.db"

    result = run_cli("store", "import", str(source), "--db", str(db))

    assert result.returncode == 1
    assert f"{source}:2: not valid JSON" in result.stderr
    assert f"{source}:3: expected a JSON object, got list" in result.stderr
    assert f"{source}:4: missing a non-empty string `id`" in result.stderr
    assert f"{source}:5: `input_messages` must be a list of JSON objects" in result.stderr
    assert "nothing imported: 4 invalid line(s)" in result.stderr
    with store_process(db) as store:
        assert (
            list(openai.OpenAI(base_url=f"{store.url}/v1", api_key="x").chat.completions.list())
            == []
        )


def test_import_skip_invalid_keeps_the_valid_lines(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps(completion_record("ok-1")) + "\n{oops\n" + json.dumps(completion_record("ok-2")),
        encoding="utf-8",
    )

    result = run_cli(
        "store", "import", str(source), "--db", str(tmp_path / "s.db"), "--skip-invalid"
    )

    assert result.returncode == 0
    assert "2 new, 0 replaced, 1 skipped; 2 stored" in result.stdout
    assert f"{source}:2: not valid JSON" in result.stderr


INVALID_LINES = [
    (
        {**response_record("resp_bad_1"), "input_items": "What is 2 + 2?"},
        "`input_items` must be a list of JSON objects",
    ),
    ({**response_record("resp_bad_2"), "id": ""}, "missing a non-empty string `id`"),
    (
        response_record("resp_bad_3", input_items=dialogue_items("x", 1) * 2),
        "item id 'msg_x_0000' appears twice in `input_items`",
    ),
    (
        {**conversation_record("conv_bad_1", []), "items": {"id": "msg_1"}},
        "`items` must be a list of JSON objects",
    ),
    (
        conversation_record("conv_bad_2", [{"id": 7, "type": "message"}]),
        "`items[0].id` must be a non-empty string when given",
    ),
]
"""Invalid response and conversation lines, each with the reason it is refused."""


@pytest.mark.slow
def test_invalid_response_and_conversation_lines_are_refused_with_their_reasons(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.jsonl"
    lines = [response_record("resp_good"), *(line for line, _ in INVALID_LINES)]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    refused = run_cli("store", "import", str(source), "--db", str(tmp_path / "s.db"))
    skipped = run_cli(
        "store", "import", str(source), "--db", str(tmp_path / "s.db"), "--skip-invalid"
    )

    assert refused.returncode == 1
    for number, (_, reason) in enumerate(INVALID_LINES, start=2):
        assert f"{source}:{number}: {reason}\n" in refused.stderr
    assert "nothing imported: 5 invalid line(s)" in refused.stderr
    assert skipped.returncode == 0, skipped.stderr
    assert "(1 new, 0 replaced, 5 skipped; 1 stored)" in skipped.stdout
    assert "  responses: 1 new, 0 replaced; 1 stored" in skipped.stdout


@pytest.mark.slow
def test_serve_prints_one_line_with_its_url_and_serves_without_a_key(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run_cli(
        "store",
        "import",
        str(write_jsonl(tmp_path / "a.jsonl", [completion_record("c1")])),
        "--db",
        str(db),
    )

    with store_process(db) as store:
        assert store.url.startswith("http://127.0.0.1:")
        client = openai.OpenAI(base_url=f"{store.url}/v1", api_key="anything")
        assert [c.id for c in client.chat.completions.list()] == ["c1"]
        store.process.terminate()
        stdout, _ = store.process.communicate(timeout=15)
    # The announcement was the only stdout line; nothing else followed it.
    assert stdout.strip() == ""
