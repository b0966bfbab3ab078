"""Every secret rule, with a planted value, in every text field of a completion: the value is
gone from the curated row, a `<SECRET>` stands in that field, and a keyed secret keeps its name.

Both lists are read from the code: a new rule without a sample here fails
`test_every_secret_rule_has_a_sample`, and a new text field in `TEXT_FIELDS` is planted into
without a change here.
"""

from __future__ import annotations

import json
import re
from functools import cache

import polars as pl
import pytest

from pipelines.curate.redact import redact_completions
from pipelines.curate.text_fields import TEXT_FIELDS, TextField
from pipelines.privacy.secret_rules import SECRET_RULES
from pipelines.recipes import Redaction
from tests.frames import completions_frame
from tests.records import completion_record

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" * 3

# rule → [(text as a user or a tool would write it, the secret value in it)]
SAMPLES: dict[str, list[tuple[str, str]]] = {
    "private key block": [
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretbody\n"
            "-----END RSA PRIVATE KEY-----",
            "MIIEowIBAAKCAQEAsecretbody",
        )
    ],
    "putty private key": [
        (
            "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\nAAAAIBbzdW1lc2VjcmV0\n"
            "Private-MAC: 0123abcd",
            "AAAAIBbzdW1lc2VjcmV0",
        )
    ],
    "aws secret access key": [
        (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
        (f'AWS_SECRET_ACCESS_KEY: "{AWS_SECRET}"', AWS_SECRET),
        (f'{{"aws_secret_access_key": "{AWS_SECRET}"}}', AWS_SECRET),
        (f"export MY_AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET),
        (f'"SecretAccessKey": "{AWS_SECRET}"', AWS_SECRET),
    ],
    "github fine-grained token": [
        (f"github_pat_11ABCDEFG0_{ALPHANUMERIC[:40]}", f"11ABCDEFG0_{ALPHANUMERIC[:40]}")
    ],
    "sk- key": [("sk-proj-AbCdEfGhIjKlMnOpQrStUvWx12", "AbCdEfGhIjKlMnOpQrStUvWx12")],
    "jwt": [
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXZhbHVl",
            "eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXZhbHVl",
        )
    ],
    "hugging face token": [(f"hf_{ALPHANUMERIC[:34]}", ALPHANUMERIC[:34])],
    "google api key": [(f"AIza{ALPHANUMERIC[:35]}", ALPHANUMERIC[:35])],
    "bearer token": [
        ("Authorization: Bearer abcdefghijklmnop0123456789", "abcdefghijklmnop0123456789")
    ],
    "AWSKeyDetector[0]": [("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE")],
    "AWSKeyDetector[1]": [(f"aws_session_token = '{AWS_SECRET}'", AWS_SECRET)],
    "AzureStorageKeyDetector[0]": [
        (f"AccountName=acct;AccountKey={ALPHANUMERIC[:86]}==", ALPHANUMERIC[:86])
    ],
    "BasicAuthDetector[0]": [("postgres://admin:hunter2secret@db.example.net", "hunter2secret")],
    "DiscordBotTokenDetector[0]": [
        (
            f"MTA{ALPHANUMERIC[:21]}.GaBcDe.{ALPHANUMERIC[30:57]}",
            f"{ALPHANUMERIC[:21]}.GaBcDe.{ALPHANUMERIC[30:57]}",
        )
    ],
    "GitHubTokenDetector[0]": [(f"ghp_{ALPHANUMERIC[:36]}", ALPHANUMERIC[:36])],
    "GitLabTokenDetector[0]": [(f"glpat-{ALPHANUMERIC[:20]}", ALPHANUMERIC[:20])],
    "GitLabTokenDetector[1]": [(f"GR1348941{ALPHANUMERIC[5:25]}", ALPHANUMERIC[5:25])],
    "GitLabTokenDetector[2]": [(f"glcbt-{ALPHANUMERIC[:24]}", ALPHANUMERIC[:24])],
    "GitLabTokenDetector[3]": [(f"glimt-{ALPHANUMERIC[:25]}", ALPHANUMERIC[:25])],
    "GitLabTokenDetector[4]": [(f"glptt-{ALPHANUMERIC[:40]}", ALPHANUMERIC[:40])],
    "GitLabTokenDetector[5]": [(f"glagent-{ALPHANUMERIC[:50]}", ALPHANUMERIC[:50])],
    "GitLabTokenDetector[6]": [(f"gloas-{ALPHANUMERIC[:64]}", ALPHANUMERIC[:64])],
    "MailchimpDetector[0]": [(f"{ALPHANUMERIC[:26]}012345-us12", f"{ALPHANUMERIC[:26]}012345")],
    "OpenAIDetector[0]": [
        (
            f"sk-{ALPHANUMERIC[:20]}T3BlbkFJ{ALPHANUMERIC[20:40]}",
            f"{ALPHANUMERIC[:20]}T3BlbkFJ{ALPHANUMERIC[20:40]}",
        )
    ],
    "PypiTokenDetector[0]": [(f"pypi-AgEIcHlwaS5vcmc{ALPHANUMERIC[:72]}", ALPHANUMERIC[:72])],
    "PypiTokenDetector[1]": [
        (f"pypi-AgENdGVzdC5weXBpLm9yZw{ALPHANUMERIC[:72]}", ALPHANUMERIC[:72])
    ],
    "SendGridDetector[0]": [
        (
            f"SG.{ALPHANUMERIC[:22]}.{ALPHANUMERIC[22:65]}",
            f"{ALPHANUMERIC[:22]}.{ALPHANUMERIC[22:65]}",
        )
    ],
    "SlackDetector[0]": [
        ("xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx")
    ],
    "SlackDetector[1]": [
        (
            "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx",
            "abcdefghijklmnopqrstuvwx",
        )
    ],
    "SquareOAuthDetector[0]": [(f"sq0csp-{ALPHANUMERIC[:43]}", ALPHANUMERIC[:43])],
    "StripeDetector[0]": [(f"sk_live_{ALPHANUMERIC[:24]}", ALPHANUMERIC[:24])],
    "TelegramBotTokenDetector[0]": [(f"123456789:{ALPHANUMERIC[:35]}", ALPHANUMERIC[:35])],
}
KEYED = {"aws secret access key"}
"""Rules whose secret's name and assignment are kept (`aws_secret_access_key = <SECRET>`)."""


@cache
def base_frame() -> pl.DataFrame:
    """One completion with every text field present: content parts, names, tool calls in and
    out, a refusal, metadata, tools and the end user."""

    def call(arguments: str) -> dict[str, object]:
        return {
            "id": "call_1",
            "type": "function",
            "function": {"name": "f", "arguments": arguments},
        }

    record = completion_record(
        "c1",
        metadata={"owner": "ops"},
        input_messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "name": "ana", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": None, "tool_calls": [call("{}")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "done"},
        ],
        choices=[
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "ok",
                    "refusal": "no",
                    "tool_calls": [call("{}")],
                },
                "finish_reason": "tool_calls",
            }
        ],
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        input_user="user-1",
    )
    return completions_frame([record])


def planted(field: TextField, text: str) -> pl.Expr:
    """The column of `field` with every text of that field (every message's content, every
    tool call's arguments, …) replaced by `text`."""

    def build(expr: pl.Expr, rest: tuple[str, ...]) -> pl.Expr:
        if not rest:
            return pl.concat_str([expr.fill_null("").str.slice(0, 0), pl.lit(text)])
        if rest[0] == "[]":
            return expr.list.eval(build(pl.element(), rest[1:]))
        return expr.struct.with_fields(build(pl.field(rest[0]), rest[1:]))

    return build(pl.col(field.column), field.path[1:]).alias(field.column)


def texts_of(frame: pl.DataFrame, field: TextField) -> list[str]:
    gathered = frame.select(field.gather(lambda text: text.str.split("\x00")))
    return [t for t in gathered.to_series().explode().to_list() if t is not None]


def test_every_secret_rule_has_a_sample() -> None:
    assert set(SAMPLES) == set(SECRET_RULES)
    for rule, samples in SAMPLES.items():
        for text, secret in samples:
            assert secret in text
            assert re.search(SECRET_RULES[rule], text), f"{rule} does not match {text!r}"


PLANTINGS = [(rule, text, secret) for rule in sorted(SAMPLES) for text, secret in SAMPLES[rule]]


def written(text: str) -> str:
    """`text` as written, and as a JSON text holds it (tool arguments, content parts: quotes
    escaped)."""
    return f"see {text}\nand {json.dumps({'note': text})} end"


@cache
def redacted_rows(field: TextField) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per planted sample (`PLANTINGS`) with it in `field`: the rows before and after
    redaction. Redacted together, once per field: the rows do not touch."""
    rows = [
        base_frame().with_columns(planted(field, written(text)), pl.lit(f"c{i}").alias("id"))
        for i, (_, text, _) in enumerate(PLANTINGS)
    ]
    frame = pl.concat(rows)
    redacted, _ = redact_completions(frame, Redaction())
    return frame, redacted


@pytest.mark.slow
@pytest.mark.parametrize("field", TEXT_FIELDS, ids=lambda field: field.name)
@pytest.mark.parametrize("rule", sorted(SAMPLES))
def test_a_planted_secret_is_redacted_in_every_text_field(rule: str, field: TextField) -> None:
    before, after = redacted_rows(field)
    for i, (planted_rule, text, secret) in enumerate(PLANTINGS):
        if planted_rule != rule:
            continue
        assert any(secret in t for t in texts_of(before[i], field))

        row = after.row(i, named=True)
        assert secret not in str(row), f"{rule} leaked from {field.name}: {text!r}"
        assert all("<SECRET>" in t for t in texts_of(after[i], field))
        assert row["redactions"] >= 1 and row["redacted_kinds"] == ["secret"]
        if rule in KEYED:
            name = re.search(r"\w*(?i:secret_?access_?key)", text).group(0)
            assert all(t.count(name) == 2 for t in texts_of(after[i], field)), name
