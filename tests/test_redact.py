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
    (
        "secret",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n=abcd\n"
        "-----END PGP PRIVATE KEY BLOCK----- ok",
        "<SECRET> ok",
    ),
    # Pasted without its END line: everything after BEGIN goes.
    (
        "secret",
        "my key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk",
        "my key:\n<SECRET>",
    ),
    (
        "secret",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nregion",
        "aws_secret_access_key = <SECRET>\nregion",
    ),
    ("secret", "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 works", "token <SECRET> works"),
    (
        "secret",
        "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123 end",
        "pat <SECRET> end",
    ),
    ("secret", "HF hf_abcdefghijklmnopqrstuvwxyzABCDEFGH ok", "HF <SECRET> ok"),
    (
        "secret",
        "slack xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx ok",
        "slack <SECRET> ok",
    ),
    ("secret", "stripe sk_live_abcdefghijklmnopqrstuvwx ok", "stripe <SECRET> ok"),
    ("secret", "anthropic sk-ant-api03-abcdefghijklmnopqrstuv ok", "anthropic <SECRET> ok"),
    (
        "secret",
        "db postgres://admin:hunter2secret@db.example.net/app",
        "db postgres<SECRET>db.example.net/app",
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
@pytest.mark.slow
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


# -- phone numbers, country by country -------------------------------------------------------

PHONE_FORMS = {
    # The sample's own planted forms come first in each row that has them.
    "FR": ["+33 6 89 99 67 28", "06 89 99 67 28", "+33 (0)1 42 68 53 00", "0033 6 89 99 67 28"],
    "JP": ["+81 3-1234-5678", "03-1234-5678", "+81 90-1234-5678"],
    "IN": ["+91 98998 79647", "98998 79647", "+919899879647"],
    "AU": ["+61 2 5550 9128", "(02) 5550 9128", "+61 412 345 678"],
    "GB": ["+44 20 7946 0958", "020 7946 0018", "+44 7700 900123"],
    "US": ["(415) 555-0123", "415-555-0123", "415.555.0123", "+1 415 555 0123", "+14155550123"],
    "DE": ["+49 30 12345678", "030 12345678", "+49 (0)30 1234 5678", "+49 151 23456789"],
    "BR": ["+55 11 91234-5678", "(11) 91234-5678"],
    "MX": ["+52 55 1234 5678", "55 1234 5678"],
    "ES": ["+34 912 345 678", "912 34 56 78"],
    "IT": ["+39 06 1234 5678", "06 1234 5678", "+39 347 123 4567"],
    "CN": ["+86 138 0013 8000", "138 0013 8000", "010-1234-5678"],
}

NOT_PHONES = [
    "2026-10-01",
    "01/10/2026",
    "10.01.2026",
    "2026/10/01 14:30",
    "3.11.7",
    "version 1.13.27",
    "ORD-2026-88412",
    "INV-0042-7781",
    "order #48213377",
    "1234567",
    "12,345,678",
    "1 000 000",
    "100 000 000",
    "3.14159265",
    "978-3-16-148410-0",
    "1999-2024",
    "between 10 and 20",
]


def phone_recall_by_country() -> dict[str, tuple[int, int]]:
    """country → (forms redacted, forms), each form alone in a sentence."""
    texts = [(c, f"reach me on {f} tonight") for c, forms in PHONE_FORMS.items() for f in forms]
    records = [
        completion_record(f"c{i}", input_messages=user(text)) for i, (_, text) in enumerate(texts)
    ]
    redacted, _ = redact_completions(completions_frame(records), Redaction(kinds=["phone"]))
    contents = [messages[0]["content"] for messages in redacted["messages"].to_list()]
    recall: dict[str, tuple[int, int]] = {}
    for (country, _), content in zip(texts, contents, strict=True):
        found, total = recall.get(country, (0, 0))
        recall[country] = (found + (content == "reach me on <PHONE> tonight"), total + 1)
    return recall


def test_phone_recall_is_complete_in_every_country() -> None:
    recall = phone_recall_by_country()
    table = "\n".join(f"{c}: {found}/{total}" for c, (found, total) in recall.items())

    assert all(found == total for found, total in recall.values()), table


@pytest.mark.parametrize(
    "form", [pytest.param(f, id=f"{c}:{f}") for c, forms in PHONE_FORMS.items() for f in forms]
)
@pytest.mark.slow
def test_each_national_and_international_form_is_a_phone(form: str) -> None:
    redacted, counts = redact(f"call {form}, thanks", kinds=["phone"])

    assert redacted["messages"][0][0]["content"] == "call <PHONE>, thanks"
    assert counts["phone"] == 1


@pytest.mark.parametrize("text", NOT_PHONES)
@pytest.mark.slow
def test_dates_versions_order_numbers_and_plain_numbers_are_not_phones(text: str) -> None:
    redacted, counts = redact(f"see {text} here")

    assert redacted["messages"][0][0]["content"] == f"see {text} here"
    assert counts["records_redacted"] == 0


def test_a_phone_followed_by_another_number_is_still_found() -> None:
    redacted, _ = redact("call 06 89 99 67 28 2 times", kinds=["phone"])

    assert redacted["messages"][0][0]["content"] == "call <PHONE> 2 times"


# -- every text field, every kind -------------------------------------------------------------

CARD = "4111 1111 1111 1111"


def card_record(**placement: object) -> dict[str, object]:
    return completion_record("c1", **placement)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "where",
    ["metadata value", "metadata key", "input tool arguments", "refusal", "tools", "name"],
)
def test_a_card_in_any_text_field_is_redacted_and_counted(where: str) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "pay", "arguments": f'{{"card": "{CARD}"}}'},
    }
    placements: dict[str, dict[str, object]] = {
        "metadata value": {"metadata": {"note": f"paid with {CARD}"}},
        "metadata key": {"metadata": {f"card {CARD}": "yes"}},
        "input tool arguments": {
            "input_messages": [
                {"role": "user", "content": "pay it"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "paid"},
            ]
        },
        "refusal": {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": None, "refusal": f"not {CARD}"},
                    "finish_reason": "stop",
                }
            ]
        },
        "tools": {
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "pay", "description": f"e.g. {CARD}", "parameters": {}},
                }
            ]
        },
        "name": {"input_messages": [{"role": "user", "name": f"card {CARD}", "content": "hi"}]},
    }
    frame = completions_frame([card_record(**placements[where])])

    redacted, report = redact_completions(frame, Redaction())

    row = redacted.row(0, named=True)
    assert CARD not in str(row)
    assert "<CARD>" in str(row)
    assert report.counts["card"] == 1
    assert row["redacted_kinds"] == ["card"]


def test_every_string_field_of_the_schema_is_a_text_field_or_named_as_not_text() -> None:
    # A string field redaction does not know of is a field whose personal data gets published.
    from pipelines.curate.text_fields import NOT_TEXT, TEXT_FIELDS
    from schemas import COMPLETIONS_SCHEMA

    def strings(name: str, dtype: pl.DataType) -> list[str]:
        if dtype == pl.String:
            return [name]
        if isinstance(dtype, pl.List):
            return strings(f"{name}[]", dtype.inner)
        if isinstance(dtype, pl.Struct):
            return [s for f in dtype.fields for s in strings(f"{name}.{f.name}", f.dtype)]
        return []

    in_schema = {s for name, dtype in COMPLETIONS_SCHEMA.items() for s in strings(name, dtype)}
    listed = {field.name for field in TEXT_FIELDS}

    assert in_schema - listed - set(NOT_TEXT) == set()
    assert listed <= in_schema and set(NOT_TEXT) <= in_schema
    assert not listed & set(NOT_TEXT)


def test_every_redaction_kind_has_one_detector_and_one_placeholder() -> None:
    from pipelines.privacy.pii import CANDIDATES, CONFIRM, PATTERNS, PLACEHOLDERS
    from pipelines.recipes import REDACTION_KINDS

    assert set(PLACEHOLDERS) == set(REDACTION_KINDS)
    assert set(PATTERNS) | set(CANDIDATES) == set(REDACTION_KINDS)
    assert not set(PATTERNS) & set(CANDIDATES)
    assert set(CONFIRM) == set(CANDIDATES)
