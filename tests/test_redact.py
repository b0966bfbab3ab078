"""Redaction of each kind, in every text field, with near-misses left untouched."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.curate.redact import redact_completions
from pipelines.recipes import Redaction
from tests.frames import completions_frame, user
from tests.records import completion_record

CASES = [
    ("email", "write to jane.doe+work@example.co.uk today", "write to <EMAIL> today"),
    ("phone", "call (555) 123-4567 or 555.987.6543", "call <PHONE> or <PHONE>"),
    ("phone", "ring +44 20 7946 0958 tonight", "ring <PHONE> tonight"),
    ("card", "card 4111 1111 1111 1111 expires", "card <CARD> expires"),
    ("card", "visa 4012-8888-8888-1881", "visa <CARD>"),
    ("ip", "server at 192.168.10.254 is down", "server at <IP> is down"),
    ("secret", "key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx12 leaked", "key <SECRET> leaked"),
    ("secret", "aws AKIAIOSFODNN7EXAMPLE ok", "aws <SECRET> ok"),
    ("secret", "Authorization: Bearer abcdefghijklmnop0123456789", "Authorization: <SECRET>"),
    (
        "secret",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXZhbHVl end",
        "jwt <SECRET> end",
    ),
    (
        "secret",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY----- done",
        "<SECRET> done",
    ),
]

NEAR_MISSES = [
    "released version 3.11.7 on 2026-10-01",
    "python 3.12.0 and v1.2.3.4 builds",
    "order number 1234567890 shipped",
    "ISBN 978-3-16-148410-0 and 12:30 pm",
    "the total was 4111 1111 1111 1112 dollars",  # card-shaped but fails Luhn
    "sk-short is not a key",
    "pi is 3.14159265 and e is 2.71828",
    "room 404, floor 12, year 2026",
    "an email-like word@ and @handle",
]


def redact(text: str, **options: object) -> tuple[pl.DataFrame, dict[str, int]]:
    frame = completions_frame([completion_record("c1", input_messages=user(text))])
    redacted, report = redact_completions(frame, Redaction(**options))
    return redacted, report.counts


@pytest.mark.parametrize(("kind", "text", "expected"), CASES)
def test_each_kind_is_replaced_by_its_placeholder(kind: str, text: str, expected: str) -> None:
    redacted, counts = redact(text)

    assert redacted["messages"][0][0]["content"] == expected
    assert counts[kind] >= 1
    assert redacted["redacted_kinds"][0].to_list() == [kind]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_alone(text: str) -> None:
    redacted, counts = redact(text)

    assert redacted["messages"][0][0]["content"] == text
    assert counts["records_redacted"] == 0


def test_every_text_field_is_covered() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "notify", "arguments": '{"to": "a@example.com"}'},
    }
    record = completion_record(
        "c1",
        metadata={"owner": "b@example.com"},
        input_messages=[
            {
                "role": "user",
                "content": "hi",
                "content_parts": [{"type": "text", "text": "c@example.com"}],
            },
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sent to d@example.com"},
        ],
        choices=[
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "done, e@example.com",
                    "refusal": None,
                    "tool_calls": [call],
                },
                "finish_reason": "stop",
            }
        ],
    )
    redacted, report = redact_completions(completions_frame([record]), Redaction())

    row = redacted.row(0, named=True)
    assert "@example.com" not in str(row)
    assert report.counts["email"] == 6
    assert row["redactions"] == 6
    assert row["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"to": "<EMAIL>"}'


def test_drop_mode_drops_with_the_kind_as_reason() -> None:
    frame = completions_frame(
        [
            completion_record("clean", input_messages=user("nothing here")),
            completion_record("mail", input_messages=user("x@example.org")),
            completion_record("key", input_messages=user("sk-AbCdEfGhIjKlMnOpQrStUvWx")),
        ]
    )

    kept, report = redact_completions(frame, Redaction(mode="drop"))

    assert kept["id"].to_list() == ["clean"]
    assert report.dropped == {"contains_secret": 1, "contains_email": 1}


def test_off_and_selected_kinds() -> None:
    text = "mail x@example.org from 10.0.0.1"
    off, _ = redact(text, mode="off")
    only_ip, counts = redact(text, kinds=["ip"])

    assert off["messages"][0][0]["content"] == text
    assert only_ip["messages"][0][0]["content"] == "mail x@example.org from <IP>"
    assert "email" not in counts


def test_rows_keep_their_order_and_chunked_input_gives_the_same_rows() -> None:
    # Parquet reads a large table in several chunks; the rewritten rows are merged back chunk by
    # chunk, so PII on either side of a chunk boundary must land in the right row.
    texts = ["plain", "a@example.com", "plain too", "call 555-010-1234", "b@example.com"]
    records = [completion_record(f"c{i}", input_messages=user(t)) for i, t in enumerate(texts)]
    whole = completions_frame(records)
    chunked = pl.concat([whole[:1], whole[1:3], whole[3:]], rechunk=False)
    assert chunked["messages"].n_chunks() == 3

    redacted, _ = redact_completions(chunked, Redaction())
    reference, _ = redact_completions(whole, Redaction())

    assert redacted["id"].to_list() == [f"c{i}" for i in range(5)]
    contents = [messages[0]["content"] for messages in redacted["messages"].to_list()]
    assert contents == ["plain", "<EMAIL>", "plain too", "call <PHONE>", "<EMAIL>"]
    assert redacted["redactions"].to_list() == [0, 1, 0, 1, 1]
    assert redacted.equals(reference)
