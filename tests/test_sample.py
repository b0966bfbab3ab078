"""The bundled sample of stored completions: reproducible, and covering every case it promises."""

from __future__ import annotations

import difflib
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from pipelines.sample import SAMPLE_PATH, SAMPLE_PATHS
from tests.sample_generator.builder import MODELS
from tests.sample_generator.generate import (
    EXACT_DUPLICATES,
    NEAR_DUPLICATES,
    generate_sample,
    main,
    render_jsonl,
    sample_files,
)
from tests.sample_generator.malformed import MALFORMED_KINDS, UNKNOWN_FIELD_CASE

Record = dict[str, Any]

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
US_PHONE = re.compile(r"(?:\+1 \d{3} |\(\d{3}\) |\b\d{3}[-.])\d{3}[-. ]\d{4}\b")
INTL_PHONE = re.compile(r"\+(?:[2-9]\d{0,2}) \d[\d -]{6,}\d")
OPENAI_KEY = re.compile(r"\bsk-proj-[A-Za-z0-9]{32,}")
AWS_KEY_ID = re.compile(r"\bAKIA[A-Z2-7]{16}\b")
CARD = re.compile(r"\b\d{4}(?: \d{4}){3}\b")
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
EMOJI = re.compile(r"[\U0001F300-\U0001FAFF]")


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return [json.loads(line) for line in SAMPLE_PATH.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def well_formed(records: list[Record]) -> list[Record]:
    return [r for r in records if not _case(r).startswith("malformed_")]


def _case(record: Record) -> str:
    return (record.get("metadata") or {}).get("sample_case", "")


def _output(record: Record) -> Record:
    return record["choices"][0]["message"]


def _user_texts(record: Record) -> str:
    return "\n".join(
        str(m.get("content")) for m in record["input_messages"] if m.get("role") == "user"
    )


def _count(records: list[Record], pattern: re.Pattern[str]) -> int:
    return sum(1 for r in records if pattern.search(_user_texts(r)))


def _luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _by_case(records: list[Record]) -> dict[str, Record]:
    marked = [r for r in records if _case(r)]
    cases = Counter(_case(r) for r in marked)
    assert all(n == 1 for n in cases.values()), cases
    return {_case(r): r for r in marked}


# -- reproducibility -----------------------------------------------------------------------------


def test_regenerating_gives_the_shipped_bytes() -> None:
    files = sample_files()

    assert render_jsonl(generate_sample()).encode("utf-8") == SAMPLE_PATH.read_bytes()
    assert sorted(files) == sorted(path.name for path in SAMPLE_PATHS)
    for path in SAMPLE_PATHS:
        assert files[path.name].encode("utf-8") == path.read_bytes(), path.name


def test_main_writes_the_shipped_bytes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "nested" / "sample.jsonl"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes() == SAMPLE_PATH.read_bytes()
    assert "315 records" in capsys.readouterr().out
    assert sorted(path.name for path in out.parent.iterdir()) == ["sample.jsonl"]


def test_main_writes_all_three_samples_into_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["--out-dir", str(tmp_path / "samples")]) == 0

    for path in SAMPLE_PATHS:
        assert (tmp_path / "samples" / path.name).read_bytes() == path.read_bytes(), path.name
    printed = capsys.readouterr().out
    assert "wrote 315 records" in printed
    assert "wrote 18 records" in printed and "wrote 2 records" in printed


def test_seed_and_count_change_the_output() -> None:
    other = generate_sample(seed=8, count=250)
    assert len(other) == 250
    assert render_jsonl(other) != render_jsonl(generate_sample(count=250))


def test_too_small_a_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="count must be at least"):
        generate_sample(count=10)


# -- file shape ---------------------------------------------------------------------------------


def test_every_line_is_a_json_object_with_a_string_id() -> None:
    text = SAMPLE_PATH.read_text(encoding="utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n")
    lines = text.splitlines()
    assert 250 <= len(lines) <= 350
    for line in lines:
        record = json.loads(line)
        assert isinstance(record, dict)
        assert isinstance(record["id"], str) and record["id"]


def test_file_is_small_and_keeps_non_ascii_text_unescaped() -> None:
    data = SAMPLE_PATH.read_bytes()
    assert len(data) < 1_500_000
    assert b"\\u" not in data
    text = data.decode("utf-8")
    assert CJK.search(text) and EMOJI.search(text) and "é" in text


def test_ids_are_unique_and_shaped_like_openai_ids(records: list[Record]) -> None:
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"chatcmpl-[0-9a-f]{24}", i) for i in ids)
    assert len({r["request_id"] for r in records}) == len(records)


def test_records_are_ordered_by_created(records: list[Record]) -> None:
    created = [r["created"] for r in records if "created" in r]
    assert created == sorted(created)


def test_well_formed_records_follow_the_retrieve_shape(well_formed: list[Record]) -> None:
    for record in well_formed:
        assert record["object"] in ("chat.completion", None)
        assert isinstance(record["created"], int)
        assert record["model"] in MODELS
        (choice,) = record["choices"]
        assert choice["index"] == 0 and choice["logprobs"] is None
        assert set(_output(record)) >= {"role", "content", "refusal", "tool_calls"}
        usage = record["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert all(isinstance(v, str) for v in record["metadata"].values())
        assert len(record["metadata"]) <= 16
        for message in record["input_messages"]:
            assert "id" not in message


def test_token_counts_are_plausible(well_formed: list[Record]) -> None:
    for record in well_formed:
        request = [record["input_messages"], record["tools"]]
        assert 0 < record["usage"]["prompt_tokens"] < len(json.dumps(request, ensure_ascii=False))
        content = _output(record)["content"]
        if content:
            assert abs(record["usage"]["completion_tokens"] - len(content) / 4) <= 1


# -- spread -------------------------------------------------------------------------------------


def test_spread_over_models_days_and_metadata(records: list[Record]) -> None:
    assert {r["model"] for r in records} == set(MODELS)
    created = [r["created"] for r in records if "created" in r]
    assert 20 * 86400 <= max(created) - min(created) <= 26 * 86400
    with_metadata = sum(1 for r in records if r["metadata"])
    assert 0.75 <= with_metadata / len(records) <= 0.95
    keys = {k for r in records for k in r["metadata"]}
    assert keys >= {"app", "env", "user_id", "category", "conversation_id", "prompt_version"}


def test_some_records_share_a_conversation_or_a_user(records: list[Record]) -> None:
    for key in ("conversation_id", "user_id"):
        values = Counter(r["metadata"][key] for r in records if key in r["metadata"])
        assert sum(1 for n in values.values() if n > 1) >= 3, key


def test_single_and_multi_turn_conversations(well_formed: list[Record]) -> None:
    turns = Counter(
        len([m for m in r["input_messages"] if m["role"] in ("user", "assistant")])
        for r in well_formed
        if not r.get("tools")
    )
    assert turns[1] >= 100
    assert turns[3] >= 10 and turns[5] >= 5 and turns[7] >= 5
    roles = Counter(m["role"] for r in well_formed for m in r["input_messages"])
    assert roles["system"] and roles["developer"]


def test_topics_are_varied(well_formed: list[Record]) -> None:
    categories = Counter(r["metadata"].get("category") for r in well_formed)
    for topic in ("customer_support", "coding", "sql", "summarization", "translation", "math"):
        assert categories[topic] >= 3, topic
    first_prompts = {_user_texts(r).split("\n")[0] for r in well_formed}
    assert len(first_prompts) >= 150


# -- features -----------------------------------------------------------------------------------


def test_tool_use_in_the_input(well_formed: list[Record]) -> None:
    with_results = 0
    for record in well_formed:
        calls = {
            call["id"]
            for m in record["input_messages"]
            if m["role"] == "assistant"
            for call in m.get("tool_calls") or []
        }
        results = [m for m in record["input_messages"] if m["role"] == "tool"]
        if results:
            with_results += 1
            assert record["tools"] and record["tool_choice"] == "auto"
            assert {m["tool_call_id"] for m in results} <= calls
            assert _output(record)["content"]
    assert with_results >= 10


def test_tool_call_outputs(well_formed: list[Record]) -> None:
    outputs = [r for r in well_formed if _output(r)["tool_calls"]]
    assert len(outputs) >= 5
    for record in outputs:
        assert record["choices"][0]["finish_reason"] == "tool_calls"
        assert _output(record)["content"] is None
        defined = {t["function"]["name"] for t in record["tools"]}
        for call in _output(record)["tool_calls"]:
            assert call["id"].startswith("call_") and call["type"] == "function"
            assert call["function"]["name"] in defined
            assert isinstance(json.loads(call["function"]["arguments"]), dict)
    assert any(len(_output(r)["tool_calls"]) > 1 for r in outputs)


def test_refusals(well_formed: list[Record]) -> None:
    refusals = [r for r in well_formed if _output(r)["refusal"]]
    assert len(refusals) >= 3
    assert all(_output(r)["content"] is None for r in refusals)


def test_truncated_answers(well_formed: list[Record]) -> None:
    truncated = [r for r in well_formed if r["choices"][0]["finish_reason"] == "length"]
    assert len(truncated) >= 3
    assert all(_output(r)["content"] for r in truncated)


def test_azure_content_filter_annotations(well_formed: list[Record]) -> None:
    azure = [r for r in well_formed if "content_filter_results" in r["choices"][0]]
    assert len(azure) >= 5
    assert all("prompt_filter_results" in r for r in azure)
    assert any(r["object"] is None for r in azure)
    safe = azure[0]["choices"][0]["content_filter_results"]
    assert set(safe) == {"hate", "self_harm", "sexual", "violence"}
    filtered = [r for r in azure if r["choices"][0]["finish_reason"] == "content_filter"]
    assert len(filtered) >= 2
    for record in filtered:
        results = record["choices"][0]["content_filter_results"].values()
        assert any(result["filtered"] for result in results)
        assert _output(record)["content"] is None


def test_images_and_json_mode(well_formed: list[Record]) -> None:
    images = [
        m
        for r in well_formed
        for m in r["input_messages"]
        if any(p["type"] == "image_url" for p in m.get("content_parts") or [])
    ]
    assert len(images) >= 3
    for message in images:
        assert message["content"] == message["content_parts"][0]["text"]
    json_mode = [r for r in well_formed if r["response_format"] == {"type": "json_object"}]
    assert len(json_mode) >= 3
    assert all(isinstance(json.loads(_output(r)["content"]), dict) for r in json_mode)


def test_exact_duplicates(well_formed: list[Record]) -> None:
    groups = Counter(
        json.dumps([r["input_messages"], _output(r)], sort_keys=True) for r in well_formed
    )
    assert sum(1 for n in groups.values() if n > 1) == EXACT_DUPLICATES


def test_near_duplicates(well_formed: list[Record]) -> None:
    by_output: defaultdict[str, list[Record]] = defaultdict(list)
    for record in well_formed:
        by_output[json.dumps(_output(record), sort_keys=True)].append(record)
    pairs = 0
    for group in by_output.values():
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                a, b = _user_texts(first), _user_texts(second)
                if a != b and difflib.SequenceMatcher(None, a, b).ratio() >= 0.95:
                    pairs += 1
    assert pairs >= NEAR_DUPLICATES


def test_personal_data_and_secrets_in_user_texts(records: list[Record]) -> None:
    assert _count(records, EMAIL) >= 10
    assert _count(records, US_PHONE) >= 3
    assert _count(records, INTL_PHONE) >= 3
    assert _count(records, OPENAI_KEY) >= 1
    assert _count(records, AWS_KEY_ID) >= 1
    cards = [m.group() for r in records for m in CARD.finditer(_user_texts(r))]
    assert cards and all(_luhn_valid(card) for card in cards)


def test_non_ascii_text(records: list[Record]) -> None:
    texts = [json.dumps(r, ensure_ascii=False) for r in records]
    assert sum(1 for t in texts if CJK.search(t)) >= 2
    assert sum(1 for t in texts if EMOJI.search(t)) >= 3
    assert sum(1 for t in texts if re.search(r"[àâçéèêëîïôûüäöñßøłãõ]", t)) >= 10


# -- marked cases -------------------------------------------------------------------------------


def test_every_malformed_kind_is_present_once(records: list[Record]) -> None:
    cases = _by_case(records)
    assert set(cases) == {f"malformed_{k}" for k in MALFORMED_KINDS} | {UNKNOWN_FIELD_CASE}


def test_malformed_records_are_broken_as_marked(records: list[Record]) -> None:
    cases = _by_case(records)
    assert cases["malformed_empty_choices"]["choices"] == []
    numeric = cases["malformed_numeric_content"]["input_messages"]
    assert any(isinstance(m["content"], int) for m in numeric)
    roles = {m["role"] for m in cases["malformed_unknown_role"]["input_messages"]}
    assert "narrator" in roles
    assert "created" not in cases["malformed_missing_created"]
    empty = _output(cases["malformed_empty_output"])
    assert empty["content"] is None and empty["refusal"] is None and empty["tool_calls"] is None
    missing = cases["malformed_tool_missing_call_id"]["input_messages"]
    assert any(m["role"] == "tool" and "tool_call_id" not in m for m in missing)
    orphan = cases["malformed_orphan_tool_call_id"]["input_messages"]
    call_ids = {c["id"] for m in orphan for c in m.get("tool_calls") or []}
    assert any(m["role"] == "tool" and m["tool_call_id"] not in call_ids for m in orphan)


def test_unknown_field_record_is_otherwise_well_formed(records: list[Record]) -> None:
    record = _by_case(records)[UNKNOWN_FIELD_CASE]
    assert record["x_custom_field"] == {"nested": [1, 2]}
    assert record["choices"][0]["finish_reason"] == "stop" and _output(record)["content"]
    assert "created" in record


def test_unmarked_records_are_not_malformed(records: list[Record]) -> None:
    for record in records:
        if _case(record):
            continue
        assert record["choices"] and "created" in record
        output = _output(record)
        assert (
            output["content"]
            or output["refusal"]
            or output["tool_calls"]
            or (record["choices"][0]["finish_reason"] == "content_filter")
        )
        call_ids: set[str] = set()
        for message in record["input_messages"]:
            assert message["role"] in ("system", "developer", "user", "assistant", "tool")
            if message["role"] == "tool":
                assert message["tool_call_id"] in call_ids
            else:
                assert isinstance(message["content"], str) or message.get("tool_calls")
            call_ids |= {c["id"] for c in message.get("tool_calls") or []}


def test_python_dash_m_tests_sample_generator_rewrites_the_shipped_files(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.sample_generator", "--out-dir", str(tmp_path)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    for path in SAMPLE_PATHS:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
