"""PII and secret redaction over every text of a completion, vectorized in polars.

The texts are `pipelines.curate.text_fields.TEXT_FIELDS` (messages, content parts, names, tool
arguments in and out, the output and its refusal, metadata keys and values, tool definitions, the
end-user id); the detectors are `pipelines.privacy.pii`. Each kind found is replaced by a typed
placeholder (`<EMAIL>`, …) or, in `drop` mode, the record is dropped with the kind as its reason.
"""

from __future__ import annotations

import polars as pl

from pipelines.curate.chunks import cut
from pipelines.curate.text_fields import (
    TEXT_FIELDS,
    Transform,
    any_text,
    count_in_texts,
    gather_from_texts,
    rewrite_texts,
)
from pipelines.privacy.pii import CANDIDATES, CONFIRM, PATTERNS, PLACEHOLDERS, scan_patterns
from pipelines.privacy.secret_rules import SECRET_RULES, polars_replacement
from pipelines.recipes import REDACTION_KINDS, Redaction
from pipelines.steps import StepReport, drop_by_first_reason
from schemas import RAW_JSON_COLUMNS

TEXT_COLUMNS = list(dict.fromkeys(field.column for field in TEXT_FIELDS))
"""The columns whose texts are scanned and rewritten."""


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
    kinds = [kind for kind in REDACTION_KINDS if kind in redaction.kinds]
    # One scan of every row with all detectors at once; only the rows that match anything (a
    # few percent in practice) pay for counting and rewriting kind by kind. The streaming engine
    # splits the rows into morsels across cores; the eager engine runs one thread per chunk, and
    # a frame built in memory is often a single chunk.
    patterns = scan_patterns(kinds)
    suspect = (
        completions.lazy()
        .select(any_text(lambda text: pl.any_horizontal(text.str.contains(p) for p in patterns)))
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
    confirmed = {
        kind: _confirmed(dirty, kind, regions=redaction.phone_regions)
        for kind in kinds
        if kind in CANDIDATES
    }
    # Kind by kind, each found in the text the previous kinds left (a password inside a URL,
    # `postgres://admin:pw@db.example.net`, is a secret, not also an e-mail address), and
    # counted as the placeholders the rewrite added: one rewrite per kind, overlapping rules
    # counted once.
    rewritten = dirty
    for kind in kinds:
        placeholders = count_in_texts(
            lambda text, kind=kind: text.str.count_matches(PLACEHOLDERS[kind], literal=True)
        ).cast(pl.Int64)
        rewritten = (
            rewritten.with_columns(placeholders.alias("_before"))
            .with_columns(rewrite_texts(_replacer(kind, confirmed.get(kind))))
            .with_columns((placeholders - pl.col("_before")).alias(f"_found_{kind}"))
            .drop("_before")
        )
    counts = {kind: int(rewritten[f"_found_{kind}"].sum()) for kind in kinds}
    found = rewritten.select(f"_found_{kind}" for kind in kinds)
    rewritten = _finish(rewritten, kinds)
    if redaction.mode == "drop":
        checks = [(f"contains_{kind}", pl.col(f"_found_{kind}") == 0) for kind in kinds]
        _, report = drop_by_first_reason(found, checks, step="redact")
        found_rows = suspect_rows.filter(rewritten["redactions"] > 0)
        keep = pl.repeat(True, completions.height, eager=True).scatter(found_rows, False)
        kept = _untouched(completions.filter(keep))
        return kept, StepReport(
            "redact", completions.height, kept.height, dropped=report.dropped, counts=counts
        )
    counts["records_redacted"] = int((rewritten["redactions"] > 0).sum())
    untouched = _untouched(completions)
    redacted = untouched.with_columns(_merge_rewritten(suspect_rows, rewritten, untouched))
    return redacted, StepReport("redact", completions.height, redacted.height, counts=counts)


def _confirmed(rows: pl.DataFrame, kind: str, *, regions: list[str]) -> list[str]:
    """The distinct candidates of `kind` anywhere in the texts that its confirmer accepts,
    national phone numbers read as numbers of `regions`."""
    pattern = CANDIDATES[kind]
    found = rows.select(gather_from_texts(lambda text: text.str.extract_all(pattern)))
    candidates = pl.concat([found[name].explode() for name in found.columns]).drop_nulls()
    return CONFIRM[kind](candidates.unique().to_list(), regions=regions)


def _replacer(kind: str, confirmed: list[str] | None) -> Transform:
    placeholder = PLACEHOLDERS[kind]
    if confirmed is None:
        # Rule by rule: each keeps its literal prefix, which the engine searches for at memory
        # speed; one alternation of all the secret rules runs two hundred times slower.
        rules = list(SECRET_RULES.values()) if kind == "secret" else [PATTERNS[kind]]

        def replace(text: pl.Expr) -> pl.Expr:
            for rule in rules:
                text = text.str.replace_all(rule, polars_replacement(rule, placeholder))
            return text

        return replace
    if not confirmed:
        return lambda text: text
    # Longest first: where one confirmed number contains another, the whole one is replaced.
    literals = sorted(confirmed, key=len, reverse=True)
    return lambda text: text.str.replace_many(literals, [placeholder] * len(literals))


def _merge_rewritten(
    rows: pl.Series, rewritten: pl.DataFrame, original: pl.DataFrame
) -> list[pl.Series]:
    """Each column of `rewritten` put back at its `rows` of `original`, input order kept.

    polars cannot scatter into nested columns, so each column is the original and the rewritten
    values end to end (one chunk: polars 2.1 gathers from a list-of-struct column in several
    chunks some 25 times slower), gathered chunk by chunk into new arrays cut like the rest of
    the frame (see `pipelines.curate.chunks`; zero-copy slices of one array would write slowly).
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


def _finish(frame: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    found = [pl.col(f"_found_{kind}") for kind in kinds]
    return frame.with_columns(
        pl.sum_horizontal(found).cast(pl.Int64).alias("redactions"),
        pl.concat_list([pl.when(pl.col(f"_found_{k}") > 0).then(pl.lit(k)) for k in kinds])
        .list.drop_nulls()
        .alias("redacted_kinds"),
    ).drop(f"_found_{kind}" for kind in kinds)
