"""Every text of a completion, listed once.

Redaction scans and rewrites exactly `TEXT_FIELDS`; the exact-dedup key and the near-dup prompt
text are built here from the same fields. A text the list misses is a text redaction never sees,
so a test walks the `completions` schema and fails on any string column or nested string field
that is neither listed here nor named in `NOT_TEXT` with the reason it holds no free text.

A field is a path into the row: a column, then `[]` for each list level and a name for each
struct field, e.g. `messages[].tool_calls[].function.arguments`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from schemas import INSTRUCTION_ROLES

Transform = Callable[[pl.Expr], pl.Expr]
"""A function of one text (a String expression) to another expression."""

_LIST = "[]"


@dataclass(frozen=True)
class TextField:
    """One place in a completion row that holds free text."""

    path: tuple[str, ...]

    @classmethod
    def at(cls, dotted: str) -> TextField:
        """`messages[].content` → the path ("messages", "[]", "content")."""
        path: list[str] = []
        for part in dotted.split("."):
            name, lists = part.replace("[]", ""), part.count("[]")
            path += [name, *[_LIST] * lists]
        return cls(tuple(path))

    @property
    def column(self) -> str:
        return self.path[0]

    @property
    def name(self) -> str:
        parts: list[str] = []
        for step in self.path:
            if step == _LIST:
                parts[-1] += _LIST
            else:
                parts.append(step)
        return ".".join(parts)

    def total(self, count: Transform) -> pl.Expr:
        """`count` of every text of this field, summed over its lists: one number per row."""
        return self._fold(count, lambda listed: listed.list.sum())

    def gather(self, extract: Transform) -> pl.Expr:
        """`extract` (text → list of strings) of every text of this field, concatenated."""
        return self._fold(extract, lambda listed: listed.list.eval(pl.element().explode()))

    def _fold(self, leaf: Transform, combine: Transform) -> pl.Expr:
        def walk(expr: pl.Expr, rest: tuple[str, ...]) -> pl.Expr:
            if not rest:
                return leaf(expr)
            if rest[0] == _LIST:
                return combine(expr.list.eval(walk(pl.element(), rest[1:])))
            return walk(expr.struct.field(rest[0]), rest[1:])

        return walk(pl.col(self.column), self.path[1:])


TEXT_FIELDS = tuple(
    TextField.at(dotted)
    for dotted in (
        "messages[].content",
        "messages[].content_parts",  # JSON text of the parts: text, image URLs, file names
        "messages[].name",
        "messages[].tool_calls[].function.arguments",
        "output_content",
        "output_refusal",
        "output_tool_calls[].function.arguments",
        "metadata[].key",
        "metadata[].value",
        "tools",  # JSON of the tool definitions: descriptions and examples are free text
        "input_user",  # the end-user id an application sends: often an e-mail address
    )
)
"""Every text of a completion row that can hold personal data or secrets."""

NOT_TEXT = {
    "api": "API name (vocabulary)",
    "id": "stored completion, response or conversation id, assigned by the API",
    "model": "model name",
    "source": "source kind (vocabulary)",
    "response_format": "JSON schema of the requested format, written by the application",
    "tool_choice": "a tool name or mode, written by the application",
    "service_tier": "vocabulary",
    "system_fingerprint": "backend fingerprint",
    "request_id": "provider request id",
    "finish_reason": "vocabulary",
    "response_status": "vocabulary",
    "content_filter_categories[]": "vocabulary",
    "completion_json": "raw JSON: dropped before curation, never exported",
    "messages_json": "raw JSON: dropped before curation, never exported",
    "messages[].role": "vocabulary",
    "messages[].content_type": "JSON type name",
    "messages[].tool_calls[].id": "call id, assigned by the model",
    "messages[].tool_calls[].type": "vocabulary",
    "messages[].tool_calls[].function.name": "function name, from the application's tools",
    "messages[].tool_call_id": "call id, assigned by the model",
    "output_tool_calls[].id": "call id, assigned by the model",
    "output_tool_calls[].type": "vocabulary",
    "output_tool_calls[].function.name": "function name, from the application's tools",
}
"""String fields that are not free text, each with the reason (checked against the schema)."""


def count_in_texts(count: Transform) -> pl.Expr:
    """`count` over every text field of a row, summed: one number per row."""
    return pl.sum_horizontal(field.total(count).fill_null(0) for field in TEXT_FIELDS)


def any_text(matches: Transform) -> pl.Expr:
    """Does `matches` (text → count or bool) hold in any text field of a row?"""
    return pl.any_horizontal(
        field.total(lambda text: matches(text).cast(pl.UInt32)).fill_null(0) > 0
        for field in TEXT_FIELDS
    )


def gather_from_texts(extract: Transform) -> list[pl.Expr]:
    """`extract` (text → list of strings) over every text field: one list column per field."""
    return [field.gather(extract).alias(field.name) for field in TEXT_FIELDS]


def rewrite_texts(rewrite: Transform) -> list[pl.Expr]:
    """Column expressions applying `rewrite` to every text field, the structure unchanged.

    Fields sharing a column are rewritten in one pass over it (one `list.eval` of `messages`,
    not four).
    """
    tree: dict[str, dict] = {}
    for field in TEXT_FIELDS:
        node = tree
        for step in field.path:
            node = node.setdefault(step, {})

    def build(expr: pl.Expr, node: dict) -> pl.Expr:
        if not node:
            return rewrite(expr)
        if _LIST in node:
            return expr.list.eval(build(pl.element(), node[_LIST]))
        return expr.struct.with_fields(build(pl.field(name), child) for name, child in node.items())

    return [build(pl.col(column), node).alias(column) for column, node in tree.items()]


# -- the conversation as one text: exact-dedup keys and near-dup prompts -------------------------

FIELD_SEPARATOR, MESSAGE_SEPARATOR = "\x1f", "\x1e"
"""Separators that cannot occur in normal text, so "a"+"bc" and "ab"+"c" never join alike."""


def calls_text(tool_calls: pl.Expr) -> pl.Expr:
    """A list of tool calls as one string: `name(arguments` per call, comma-joined."""
    function = pl.element().struct.field("function").struct
    return tool_calls.list.eval(
        pl.concat_str(
            [function.field("name"), function.field("arguments")], separator="(", ignore_nulls=True
        )
    ).list.join(",")


def message_texts() -> pl.Expr:
    """Per input message: role, text (or content parts) and tool calls, as one string each."""
    message = pl.element().struct
    return pl.col("messages").list.eval(
        pl.concat_str(
            [
                message.field("role"),
                pl.coalesce(message.field("content"), message.field("content_parts")),
                calls_text(message.field("tool_calls")),
            ],
            separator=FIELD_SEPARATOR,
            ignore_nulls=True,
        )
    )


def output_text() -> pl.Expr:
    """The output message: content, refusal and tool calls, as one string."""
    return pl.concat_str(
        [
            pl.col("output_content"),
            pl.col("output_refusal"),
            calls_text(pl.col("output_tool_calls")),
        ],
        separator=FIELD_SEPARATOR,
        ignore_nulls=True,
    )


def prompt_text() -> pl.Expr:
    """The conversation's input text, space-joined: what near-duplicate detection compares.

    Instruction messages (system, developer) are left out: an application sends the same
    instructions with every request, and counting them would make unrelated questions look alike.
    """
    message = pl.element().struct
    return (
        pl.col("messages")
        .list.eval(
            pl.when(~message.field("role").is_in(list(INSTRUCTION_ROLES))).then(
                message.field("content")
            )
        )
        .list.drop_nulls()
        .list.join(" ")
    )
