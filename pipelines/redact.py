"""PII and secret redaction over every text of a completion, vectorized in polars.

Texts covered: message content and content parts, tool-call arguments (input and output), the output
content and refusal, and metadata values. Each kind is replaced by a typed placeholder (`<EMAIL>`,
…) or, in `drop` mode, the record is dropped with the kind as its reason. Patterns aim to leave
near-misses alone: dates, version numbers and plain numbers are not phones or IPs, and a digit run
is a card only when its Luhn checksum holds.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from pipelines.chunks import cut
from pipelines.recipes import Redaction
from pipelines.steps import StepReport, drop_by_first_reason

RAW_JSON_COLUMNS = ["completion_json", "messages_json"]
# The columns whose texts are scanned and rewritten.
TEXT_COLUMNS = ["messages", "output_content", "output_refusal", "output_tool_calls", "metadata"]
PLACEHOLDERS = {
    "secret": "<SECRET>",
    "email": "<EMAIL>",
    "card": "<CARD>",
    "ip": "<IP>",
    "phone": "<PHONE>",
}

_SECRET = "|".join(
    [
        r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",  # OpenAI keys
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
        r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWTs
        r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{16,}=*",  # bearer tokens
    ]
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
PATTERNS = {
    "secret": _SECRET,
    "email": r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
    # Digit runs of 13-19 with optional single spaces or dashes; Luhn decides (see _valid_cards).
    "card": r"\b[0-9](?:[ \-]?[0-9]){12,18}\b",
    # Four dotted octets, each 0-255; three-part versions (3.11.7) never match.
    "ip": rf"\b{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}\b",
    # +country … with separators, or North American (555) 123-4567 / 555-123-4567 / 555.123.4567.
    # Dates (2026-10-01), versions and unseparated numbers do not have these shapes.
    "phone": r"\+[0-9]{1,3}[ .\-]?(?:\([0-9]{1,4}\)[ .\-]?)?[0-9]{2,4}(?:[ .\-][0-9]{2,4}){1,4}\b"
    r"|(?:\([0-9]{3}\) ?|\b[0-9]{3}[.\-])[0-9]{3}[.\-][0-9]{4}\b",
}


def redact_completions(
    completions: pl.DataFrame, redaction: Redaction
) -> tuple[pl.DataFrame, StepReport]:
    """Redact (or drop) the PII and secrets a recipe names.

    Adds `redactions` (total placeholders written into the row) and `redacted_kinds`. The raw JSON
    columns, if present, are removed whatever the mode: they would carry the text unredacted.

    Returns:
        The rows and a report whose `counts` hold redactions per kind and `records_redacted`.
    """
    completions = completions.drop(RAW_JSON_COLUMNS, strict=False)
    if redaction.mode == "off" or completions.is_empty():
        return _untouched(completions), StepReport("redact", completions.height, completions.height)
    kinds = [kind for kind in PATTERNS if kind in redaction.kinds]
    # One scan of every row with all patterns at once; only the rows that match anything (a few
    # percent in practice) pay for counting and rewriting kind by kind.
    # The streaming engine splits the rows into morsels across cores; the eager engine runs one
    # thread per chunk, and a frame built in memory is often a single chunk.
    pattern = _any_of(kinds)
    suspect = (
        completions.lazy()
        .select(
            pl.any_horizontal(
                matches.fill_null(0) > 0
                for matches in _each_text(lambda text: text.str.contains(pattern))
            )
        )
        .collect(engine="streaming")
        .to_series()
    )
    suspect_rows = suspect.arg_true()
    if suspect_rows.is_empty():
        counts = dict.fromkeys(kinds, 0) | (
            {"records_redacted": 0} if redaction.mode == "redact" else {}
        )
        return _untouched(completions), StepReport(
            "redact", completions.height, completions.height, counts=counts
        )
    dirty = completions.select(TEXT_COLUMNS).filter(suspect)
    valid_cards = _valid_cards(dirty) if "card" in kinds else []
    dirty = dirty.with_columns(
        _count_in_texts(kind, valid_cards).alias(f"_found_{kind}") for kind in kinds
    )
    counts = {kind: int(dirty[f"_found_{kind}"].sum()) for kind in kinds}
    if redaction.mode == "drop":
        checks = [(f"contains_{kind}", pl.col(f"_found_{kind}") == 0) for kind in kinds]
        _, report = drop_by_first_reason(dirty, checks, step="redact")
        found_rows = suspect_rows.filter(_finish(dirty, kinds)["redactions"] > 0)
        keep = pl.repeat(True, completions.height, eager=True).scatter(found_rows, False)
        kept = _untouched(completions.filter(keep))
        return kept, StepReport(
            "redact", completions.height, kept.height, dropped=report.dropped, counts=counts
        )
    for kind in kinds:
        dirty = dirty.with_columns(_transform_texts(_replacer(kind, valid_cards)))
    dirty = _finish(dirty, kinds)
    counts["records_redacted"] = int((dirty["redactions"] > 0).sum())
    untouched = _untouched(completions)
    redacted = untouched.with_columns(_merge_rewritten(suspect_rows, dirty, untouched))
    return redacted, StepReport("redact", completions.height, redacted.height, counts=counts)


def _merge_rewritten(
    rows: pl.Series, rewritten: pl.DataFrame, original: pl.DataFrame
) -> list[pl.Series]:
    """Each column of `rewritten` put back at its `rows` of `original`, input order kept.

    polars cannot scatter into nested columns, so each column is the original and the rewritten
    values end to end (one chunk: polars 2.1 gathers from a list-of-struct column in several
    chunks some 25 times slower), gathered chunk by chunk into new arrays cut like the rest of
    the frame (see `pipelines.chunks`; zero-copy slices of one array would write slowly).
    """
    height = original.height
    positions = pl.int_range(height, dtype=pl.UInt32, eager=True).scatter(
        rows, pl.int_range(height, height + rows.len(), dtype=pl.UInt32, eager=True)
    )
    columns = [*TEXT_COLUMNS, "redactions", "redacted_kinds"]
    values = pl.concat([original.select(columns), rewritten.select(columns)]).rechunk()
    lengths = original.to_series(0).chunk_lengths()
    # Frame-wide rechunk and gathers run the columns in parallel.
    return pl.concat([values[part] for part in cut(positions, lengths)]).get_columns()


def _untouched(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(
        pl.lit(0, pl.Int64).alias("redactions"),
        pl.lit([], pl.List(pl.String)).alias("redacted_kinds"),
    )


def _any_of(kinds: list[str]) -> str:
    return "|".join(f"(?:{PATTERNS[kind]})" for kind in kinds)


def _finish(frame: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    found = [pl.col(f"_found_{kind}") for kind in kinds]
    return frame.with_columns(
        pl.sum_horizontal(found).cast(pl.Int64).alias("redactions"),
        pl.concat_list([pl.when(pl.col(f"_found_{k}") > 0).then(pl.lit(k)) for k in kinds])
        .list.drop_nulls()
        .alias("redacted_kinds"),
    ).drop(f"_found_{kind}" for kind in kinds)


def _replacer(kind: str, valid_cards: list[str]) -> Callable[[pl.Expr], pl.Expr]:
    placeholder = PLACEHOLDERS[kind]
    if kind == "card":
        if not valid_cards:
            return lambda text: text
        return lambda text: text.str.replace_many(valid_cards, [placeholder] * len(valid_cards))
    return lambda text: text.str.replace_all(PATTERNS[kind], placeholder)


def _counter(kind: str, valid_cards: list[str]) -> Callable[[pl.Expr], pl.Expr]:
    if kind == "card":
        cards = pl.Series(valid_cards, dtype=pl.String).implode()
        return lambda text: (
            text.str.extract_all(PATTERNS["card"]).list.eval(pl.element().is_in(cards)).list.sum()
        )
    return lambda text: text.str.count_matches(PATTERNS[kind])


def _count_in_texts(kind: str, valid_cards: list[str]) -> pl.Expr:
    count = _counter(kind, valid_cards)
    return pl.sum_horizontal([expression.fill_null(0) for expression in _each_text(count)]).cast(
        pl.Int64
    )


def _each_text(fn: Callable[[pl.Expr], pl.Expr]) -> list[pl.Expr]:
    """`fn` applied to every text of a row, summed within lists: one number per text field."""
    message = pl.element().struct
    return [
        pl.col("messages").list.eval(message.field("content").pipe(fn)).list.sum(),
        pl.col("messages").list.eval(message.field("content_parts").pipe(fn)).list.sum(),
        pl.col("messages")
        .list.eval(_arguments_of(message.field("tool_calls")).list.eval(pl.element().pipe(fn)))
        .list.eval(pl.element().list.sum())
        .list.sum(),
        pl.col("output_content").pipe(fn),
        pl.col("output_refusal").pipe(fn),
        _arguments_of(pl.col("output_tool_calls")).list.eval(pl.element().pipe(fn)).list.sum(),
        pl.col("metadata").list.eval(pl.element().struct.field("value").pipe(fn)).list.sum(),
    ]


def _arguments_of(tool_calls: pl.Expr) -> pl.Expr:
    return tool_calls.list.eval(pl.element().struct.field("function").struct.field("arguments"))


def _transform_texts(fn: Callable[[pl.Expr], pl.Expr]) -> list[pl.Expr]:
    """Column expressions rewriting every text of a row with `fn`, structure unchanged."""

    def in_tool_calls(tool_calls: pl.Expr) -> pl.Expr:
        return tool_calls.list.eval(
            pl.element().struct.with_fields(
                pl.field("function").struct.with_fields(pl.field("arguments").pipe(fn))
            )
        )

    return [
        pl.col("messages").list.eval(
            pl.element().struct.with_fields(
                pl.field("content").pipe(fn),
                pl.field("content_parts").pipe(fn),
                in_tool_calls(pl.field("tool_calls")),
            )
        ),
        pl.col("output_content").pipe(fn),
        pl.col("output_refusal").pipe(fn),
        in_tool_calls(pl.col("output_tool_calls")),
        pl.col("metadata").list.eval(pl.element().struct.with_fields(pl.field("value").pipe(fn))),
    ]


def _valid_cards(completions: pl.DataFrame) -> list[str]:
    """Card-shaped digit runs anywhere in the texts whose Luhn checksum holds."""
    candidates = pl.concat(
        [
            completions.select(expression.alias("found")).explode("found")
            for expression in _each_text_list(lambda t: t.str.extract_all(PATTERNS["card"]))
        ]
    )["found"].drop_nulls()
    return sorted(c for c in candidates.unique().to_list() if _luhn_valid(c))


def _each_text_list(fn: Callable[[pl.Expr], pl.Expr]) -> list[pl.Expr]:
    """Like `_each_text`, but concatenating lists (of matches) instead of summing counts."""
    message = pl.element().struct
    return [
        pl.col("messages")
        .list.eval(message.field("content").pipe(fn))
        .list.eval(pl.element().explode()),
        pl.col("messages")
        .list.eval(message.field("content_parts").pipe(fn))
        .list.eval(pl.element().explode()),
        pl.col("output_content").pipe(fn),
        _arguments_of(pl.col("output_tool_calls")).list.eval(pl.element().pipe(fn).explode()),
    ]


def _luhn_valid(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
