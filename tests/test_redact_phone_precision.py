"""Phone redaction measured as a reviewer would: every planted phone found, national and
international, in every place a conversation holds text; and fewer than 1 in 1,000 technical
numbers (versions, dates, prices, ISBNs, coordinates, order numbers, …) taken for a phone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipelines.curate.redact import redact_completions
from pipelines.recipes import Redaction
from tests.frames import completions_frame
from tests.records import completion_record
from tests.technical_numbers import technical_sentences

PHONES = {
    # Written as people in each country write them, without a country code, then with one.
    "ES": ["661 572 425", "91 432 32 14", "912 34 56 78", "+34 661 572 425", "0034 914 32 32 14"],
    "DE": ["0152 05693605", "030 12345678", "030/12345678", "+49 152 05693605"],
    "IT": ["06-70563849", "06 1234 5678", "347 123 4567", "+39 06 7056 3849"],
    "CN": ["18205707386", "138 0013 8000", "010-1234-5678", "+86 182 0570 7386"],
    "FR": ["06 12 34 56 78", "06.12.34.56.78", "0612345678", "+33 6 12 34 56 78"],
    "GB": ["020 7946 0958", "07700 900123", "+44 20 7946 0958"],
    "US": ["(415) 555-0123", "415-555-0123", "415.555.0123", "+1 415 555 0123"],
    "JP": ["03-1234-5678", "090-1234-5678", "+81 3-1234-5678"],
    "IN": ["98998 79647", "+91 98998 79647"],
    "AU": ["(02) 5550 9128", "0412 345 678", "+61 412 345 678"],
    "BR": ["(11) 91234-5678", "+55 11 91234-5678"],
    "MX": ["55 1234 5678", "+52 55 1234 5678"],
}
PHONE_SENTENCES = [
    "You can reach me on {} after six.",
    "Mi teléfono es {}.",
    "Meine Handynummer: {}",
    "我的手机号是 {}",
    "Appelez le {} demain.",
]
PLACES = [
    "system",
    "developer",
    "user",
    "user content part",
    "assistant",
    "tool call arguments",
    "tool",
    "output",
    "output tool call arguments",
]


def conversation(row: int, texts: dict[str, list[str]]) -> dict[str, Any]:
    """One stored completion with `texts[place]` joined into each place of `PLACES`."""

    def joined(place: str) -> str:
        return " ".join(texts.get(place, [])) or "ok"

    def call(place: str) -> dict[str, Any]:
        arguments = json.dumps({"note": joined(place)}, ensure_ascii=False)
        return {
            "id": f"call_{row}",
            "type": "function",
            "function": {"name": "note", "arguments": arguments},
        }

    parts = [{"type": "text", "text": joined("user content part")}]
    return completion_record(
        f"c{row}",
        input_messages=[
            {"role": "system", "content": joined("system")},
            {"role": "developer", "content": joined("developer")},
            {"role": "user", "content": joined("user")},
            {"role": "user", "content": parts},
            {
                "role": "assistant",
                "content": joined("assistant"),
                "tool_calls": [call("tool call arguments")],
            },
            {"role": "tool", "tool_call_id": f"call_{row}", "content": joined("tool")},
        ],
        choices=[
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": joined("output"),
                    "refusal": None,
                    "tool_calls": [call("output tool call arguments")],
                },
                "finish_reason": "tool_calls",
            }
        ],
    )


def planted_rows() -> tuple[list[dict[str, Any]], list[list[str]], list[list[str]]]:
    """Rows of technical sentences with phones among them, every phone once in every place.

    Returns the records, and per row the technical tokens and the phones planted in it.
    """
    sentences = technical_sentences(3600)
    phones = [phone for forms in PHONES.values() for phone in forms]
    plantings = [(phone, place) for phone in phones for place in PLACES]
    rows = max(len(sentences) // 12, len(plantings) // 2 + 1)
    texts: list[dict[str, list[str]]] = [{} for _ in range(rows)]
    tokens: list[list[str]] = [[] for _ in range(rows)]
    planted: list[list[str]] = [[] for _ in range(rows)]
    for i, (_, token, sentence) in enumerate(sentences):
        row, place = i % rows, PLACES[(i // rows + i) % len(PLACES)]
        texts[row].setdefault(place, []).append(sentence)
        tokens[row].append(token)
    for i, (phone, place) in enumerate(plantings):
        row = i % rows
        sentence = PHONE_SENTENCES[i % len(PHONE_SENTENCES)].format(phone)
        texts[row].setdefault(place, []).append(sentence)
        planted[row].append(phone)
    records = [conversation(row, row_texts) for row, row_texts in enumerate(texts)]
    return records, tokens, planted


def published_text(value: Any) -> str:
    """Every text of a redacted row, JSON texts (content parts, tool arguments) read back."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return published_text(parsed) if isinstance(parsed, dict | list) else value
    if isinstance(value, dict):
        return "\n".join(published_text(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(published_text(v) for v in value)
    return ""


@pytest.mark.slow
def test_every_planted_phone_is_found_and_technical_numbers_are_left_alone() -> None:
    records, tokens, planted = planted_rows()
    frame = completions_frame(records)

    redacted, report = redact_completions(frame, Redaction())

    texts = [published_text(row) for row in redacted.iter_rows(named=True)]
    leaked = [p for text, phones in zip(texts, planted, strict=True) for p in phones if p in text]
    taken = [
        t
        for text, row_tokens in zip(texts, tokens, strict=True)
        for t in row_tokens
        if t not in text
    ]
    total_tokens = sum(len(row_tokens) for row_tokens in tokens)
    total_phones = sum(len(phones) for phones in planted)
    assert total_tokens >= 3000 and total_phones >= 300
    assert leaked == [], f"{len(leaked)} of {total_phones} phones leaked: {sorted(set(leaked))}"
    assert len(taken) < total_tokens / 1000, (
        f"{len(taken)} of {total_tokens} technical numbers redacted: {taken[:20]}"
    )
    assert report.counts["phone"] >= total_phones


def test_phone_regions_decide_which_national_numbers_are_read() -> None:
    spanish = completion_record(
        "c1", input_messages=[{"role": "user", "content": "llama al 661 572 425"}]
    )
    frame = completions_frame([spanish])

    default, _ = redact_completions(frame, Redaction())
    french_only, _ = redact_completions(frame, Redaction(phone_regions=["FR"]))

    assert default["messages"][0][0]["content"] == "llama al <PHONE>"
    assert french_only["messages"][0][0]["content"] == "llama al 661 572 425"


def test_phone_regions_are_iso_codes() -> None:
    assert Redaction(phone_regions=["es", "DE"]).phone_regions == ["ES", "DE"]
    with pytest.raises(ValueError, match=r"unknown phone regions.*XX"):
        Redaction(phone_regions=["XX"])
