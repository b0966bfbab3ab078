"""JSONL lines from curated `completions` rows: OpenAI fine-tuning, OpenAI Evals, openai/evals.

Lines are built column-wise by polars expressions (a million rows in about a second on two cores;
building them row by row in Python took twenty), from the `messages`, `output_*`, `tools`,
`parallel_tool_calls`, `metadata`, `id` and `model` columns. The rules, message by message:

- `role`, then `content`: for input messages other than the assistant's, the content parts when
  there are any (images kept), else the text; for assistant messages the text, or the text of
  their `text` and `refusal` parts joined; for the output, its content, else its refusal.
- `name`, `tool_calls` (each `{id, type, function: {name, arguments}}`, `type` defaulting to
  `function`; an empty list is left out), `tool_call_id`.
- `weight` on assistant messages only: the stored one (`train_on="all"`), or 0 on every input
  assistant turn and 1 on the output (`train_on="last_assistant"`); evaluation input has none.

No line holds a key whose value is null, at any depth (OpenAI rejects e.g. `"tool_calls": null`,
and `write_ndjson` would write them), and U+0085, U+2028 and U+2029 are written as escapes, so no
reader splitting on line breaks cuts a line in two. `pipelines.export.line_check` checks the result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from schemas import COMPLETIONS_SCHEMA

FINE_TUNING_ROLES = ("system", "user", "assistant", "tool", "function")
"""Roles a fine-tuning line may hold: OpenAI's last published schema for one
(`FineTuneChatRequestInput`, openai-openapi, 2025-04) lists no `developer`; `function` is the
legacy tool role."""

FINE_TUNING_ROLE_RENAMES = {"developer": "system"}
"""Stored roles a fine-tuning line writes under another name (the Parquet keeps the stored one)."""

EXPORT_TRANSFORMS = tuple(
    f"fine-tuning lines write `{stored}` messages as `{written}`"
    for stored, written in FINE_TUNING_ROLE_RENAMES.items()
)
"""What the exporter changes on the way out, for the manifest and the dataset card."""

TRAIN_ON = ("all", "last_assistant")
"""`all`: learn every assistant turn (stored weights kept); `last_assistant`: the output only."""

LINE_COLUMNS = [
    "id",
    "model",
    "messages",
    "output_content",
    "output_refusal",
    "output_tool_calls",
    "tools",
    "parallel_tool_calls",
    "metadata",
]
"""The curated columns every line is built from."""

# Characters str.splitlines() treats as line breaks that JSON leaves unescaped: a reader splitting
# on them would cut a line in two. Escaped, they are the same JSON string.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
# One JSON string token (a key, when followed by a colon). In compact JSON a quote that follows
# `{` or `,` always opens a key or an array item: inside strings every quote is escaped.
_KEY = r'"(?:[^"\\]|\\.)*"'


def fine_tuning_lines(rows: pl.DataFrame, *, train_on: str = "all") -> pl.Series:
    """The OpenAI supervised fine-tuning line of every row, in row order.

    Args:
        rows: Curated `completions` rows (at least `LINE_COLUMNS`).
        train_on: `all` keeps the weights the stored messages carried (none by default, so every
            assistant turn is learned); `last_assistant` writes `weight: 0` on every earlier
            assistant turn and `weight: 1` on the output.

    Returns:
        One JSON text per row: `{"messages": [...], "tools"?: [...], "parallel_tool_calls"?:
        bool}`, the stored input messages in order (`developer` written as `system`, see
        `FINE_TUNING_ROLE_RENAMES`) and then the output as the last assistant message.

    Raises:
        ValueError: `train_on` is not one of `TRAIN_ON`.
    """
    if train_on not in TRAIN_ON:
        raise ValueError(f"train_on must be one of {', '.join(TRAIN_ON)}, not {train_on!r}")
    weights = "stored" if train_on == "all" else "zero"
    # The output is joined on as text, not appended to the list (a list column costs more); with
    # no input messages that leaves a leading comma, which goes.
    messages = pl.concat_str(
        [
            _input_messages(rows, weights=weights).list.join(","),
            _output_message(weight=train_on == "last_assistant"),
        ],
        separator=",",
    ).str.strip_prefix(",")
    tools, parallel = pl.col("tools"), pl.col("parallel_tool_calls")
    line = _object(
        _raw_member("messages", "[" + messages + "]"),
        _raw_member(
            "tools",
            pl.when(tools.str.starts_with("[") & (tools != "[]")).then(_without_null_keys(tools)),
        ),
        _raw_member("parallel_tool_calls", parallel.cast(pl.String).str.to_lowercase()),
    )
    return _evaluate(rows, line, "line")


def eval_items(rows: pl.DataFrame) -> pl.Series:
    """The OpenAI Evals (custom data source) line of every row, in row order.

    Each is `{"item": {"input": [...], "ideal": "...", "metadata": {...}}}`. `input` holds the
    stored input messages as a fine-tuning line has them, without weights; `ideal` is what
    `expected_output` describes; `metadata` is the row's metadata pairs plus `completion_id` and
    `model` (these two win over stored keys of the same name).
    """
    item = _object(
        _raw_member("input", "[" + _input_messages(rows, weights="none").list.join(",") + "]"),
        _member("ideal", _expected_output()),
        _raw_member("metadata", "{" + _metadata_members() + "}"),
    )
    line = '{"item":' + item + "}"
    return _evaluate(rows, line, "item")


def oss_eval_items(rows: pl.DataFrame) -> pl.Series:
    """The open-source `openai/evals` line of every row: `{"input": [...], "ideal": "..."}`,
    with `input` and `ideal` as in `eval_items`."""
    line = _object(
        _raw_member("input", "[" + _input_messages(rows, weights="none").list.join(",") + "]"),
        _member("ideal", _expected_output()),
    )
    return _evaluate(rows, line, "item")


def fine_tuning_line(row: dict[str, Any], *, train_on: str = "all") -> dict[str, Any]:
    """`fine_tuning_lines` of one row (as `DataFrame.iter_rows(named=True)` yields it), parsed."""
    return json.loads(fine_tuning_lines(_frame_of(row), train_on=train_on).item())


def eval_item(row: dict[str, Any]) -> dict[str, Any]:
    """`eval_items` of one row, parsed."""
    return json.loads(eval_items(_frame_of(row)).item())


def oss_eval_item(row: dict[str, Any]) -> dict[str, Any]:
    """`oss_eval_items` of one row, parsed."""
    return json.loads(oss_eval_items(_frame_of(row)).item())


# -- the pieces of a line --------------------------------------------------------------------------


def _evaluate(rows: pl.DataFrame, line: pl.Expr, name: str) -> pl.Series:
    """`line` over `rows`, line breaks escaped, on every core."""
    final = line.str.replace_many(list(_LINE_BREAKS), list(_LINE_BREAKS.values()))
    # The streaming engine spreads string work over every core whatever the chunking.
    return rows.lazy().select(final.alias(name)).collect(engine="streaming").to_series()


def _input_messages(
    rows: pl.DataFrame, *, weights: str, rename_roles: bool | None = None
) -> pl.Expr:
    """Each row's input messages, as a list of JSON objects.

    `weights`: `stored` (assistant messages keep theirs), `zero` (every assistant message gets
    0) or `none` (evaluation input, which also keeps every stored role; fine-tuning lines rename
    the roles of `FINE_TUNING_ROLE_RENAMES`, and so does any caller passing `rename_roles`).
    Members no message of `rows` has are left out of the expression altogether (most batches
    have no names, tool calls or parts): a third less work, the same lines.
    """
    present = _StoredFields.of(rows)
    message = pl.element().struct
    role, parts = message.field("role"), message.field("content_parts")
    assistant = role == "assistant"
    text = pl.when(message.field("content_type") != "array").then(message.field("content"))
    content = _member("content", text)
    if present.parts:
        has_parts = parts.str.starts_with("[") & (parts != "[]")
        content = (
            pl.when(~assistant & has_parts)
            .then(_raw_member("content", _without_null_keys(parts)))
            .when(~assistant)
            .then(content)
            .otherwise(_member("content", pl.coalesce(text, _assistant_parts_text(present, parts))))
        )
    written_role = role
    if weights != "none" if rename_roles is None else rename_roles:
        written_role = role.replace(FINE_TUNING_ROLE_RENAMES)
    members = [_member("role", written_role), content]
    if present.name:
        members.append(_member("name", message.field("name")))
    if present.tool_calls:
        members.append(_raw_member("tool_calls", _tool_calls(message.field("tool_calls"))))
    if present.tool_call_id:
        members.append(_member("tool_call_id", message.field("tool_call_id")))
    if weights == "zero" or (weights == "stored" and present.weight):
        weight = message.field("weight") if weights == "stored" else pl.lit(0, pl.Int64)
        members.append(_raw_member("weight", pl.when(assistant).then(weight).cast(pl.String)))
    return pl.col("messages").list.eval(_object(*members))


@dataclass(frozen=True)
class _StoredFields:
    """Which optional message fields any input message of some rows holds."""

    parts: bool
    name: bool
    tool_calls: bool
    tool_call_id: bool
    weight: bool
    assistant_parts: list[str]
    """The distinct content parts (JSON text) of assistant messages."""

    @classmethod
    def of(cls, rows: pl.DataFrame) -> _StoredFields:
        fields = rows.select(
            pl.col("messages")
            .explode()
            .struct.field("role", "content_parts", "name", "tool_calls", "tool_call_id", "weight")
        )
        listed = pl.col("content_parts").str.starts_with("[")
        found = fields.select(
            listed.any().alias("parts"),
            pl.col("name").is_not_null().any(),
            (pl.col("tool_calls").list.len() > 0).any(),
            pl.col("tool_call_id").is_not_null().any(),
            pl.col("weight").is_not_null().any(),
        ).row(0, named=True)
        assistant_parts = fields.filter(listed & (pl.col("role") == "assistant"))["content_parts"]
        return cls(
            **{name: bool(value) for name, value in found.items()},
            assistant_parts=assistant_parts.unique().to_list(),
        )


def _output_message(*, weight: bool) -> pl.Expr:
    return _object(
        pl.lit('"role":"assistant"'),
        _member("content", pl.coalesce("output_content", "output_refusal")),
        _raw_member("tool_calls", _tool_calls(pl.col("output_tool_calls"))),
        pl.lit('"weight":1') if weight else pl.lit(None, pl.String),
    )


def _tool_calls(calls: pl.Expr) -> pl.Expr:
    """Tool calls as a JSON list in the line shape; null when there are none."""
    call = pl.element().struct
    kind, function = call.field("type"), call.field("function").struct
    shaped = calls.list.eval(
        _object(
            _member("id", call.field("id")),
            _member(
                "type",
                pl.when(kind.is_null() | (kind == "")).then(pl.lit("function")).otherwise(kind),
            ),
            _raw_member(
                "function",
                _object(
                    _member("name", function.field("name")),
                    _member("arguments", function.field("arguments")),
                ),
            ),
        )
    )
    return pl.when(calls.list.len() > 0).then("[" + shaped.list.join(",") + "]")


def _assistant_parts_text(present: _StoredFields, parts: pl.Expr) -> pl.Expr:
    """For an assistant message stored as content parts, its `text` and `refusal` parts joined
    (null when that is empty).

    Stored parts can hold anything, so they are read in Python, but only the few distinct ones
    assistant messages carry; the expression looks each message's parts up by their JSON text.
    """
    stored = present.assistant_parts
    if not stored:
        return pl.lit(None, pl.String)
    texts = [_text_of_parts(json.loads(value)) for value in stored]
    return parts.replace_strict(stored, texts, default=None, return_dtype=pl.String)


def _text_of_parts(parts: Any) -> str | None:
    texts = []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict):
            value = part.get("text") if part.get("type") == "text" else part.get("refusal")
            texts.append(value if isinstance(value, str) else "")
    return "".join(texts) or None


def _expected_output() -> pl.Expr:
    """The text an evaluation expects: the output content; else, for a tool-call output, the tool
    calls as compact JSON (the list a fine-tuning line holds); else the refusal; else "" (an
    output the content filter removed)."""
    # The calls' JSON is text inside the line: its line breaks are escaped as a line's would be.
    calls_json = _tool_calls(pl.col("output_tool_calls")).str.replace_many(
        list(_LINE_BREAKS), list(_LINE_BREAKS.values())
    )
    return pl.coalesce(
        pl.col("output_content"),
        calls_json,
        pl.col("output_refusal"),
        pl.lit(""),
    )


def _metadata_members() -> pl.Expr:
    """The members of the eval item's metadata object: stored pairs, `completion_id`, `model`."""
    pair = pl.element().struct
    key, value = pair.field("key"), pair.field("value")

    def stored(*, overridden: list[str]) -> pl.Expr:
        kept = key.is_not_null() & value.is_not_null() & ~key.is_in(overridden)
        members = pl.concat_str([_json_string(key), pl.lit(":"), _json_string(value)])
        return pl.col("metadata").list.eval(members.filter(kept)).list.join(",").fill_null("")

    with_model = pl.col("model").is_not_null()
    pairs = (
        pl.when(with_model)
        .then(stored(overridden=["completion_id", "model"]))
        .otherwise(stored(overridden=["completion_id"]))
    )
    return pl.concat_str(
        [
            pl.when(pairs != "").then(pairs + ","),
            pl.lit('"completion_id":'),
            _json_string(pl.col("id")),
            pl.when(with_model).then(',"model":' + _json_string(pl.col("model"))),
        ],
        ignore_nulls=True,
    )


def _member(key: str, value: pl.Expr) -> pl.Expr:
    """`"key":value` with `value` JSON-encoded (polars escapes strings as orjson does); null when
    `value` is null, so `_object` leaves it out."""
    encoded = pl.struct(value.alias(key)).struct.json_encode().str.slice(1).str.head(-1)
    return pl.when(value.is_not_null()).then(encoded)


def _raw_member(key: str, json_text: pl.Expr) -> pl.Expr:
    """`"key":json_text` for a value that is JSON text already; null when it is null."""
    return f'"{key}":' + json_text


def _object(*members: pl.Expr) -> pl.Expr:
    """A JSON object of the members that are not null: no line ever holds a null-valued key."""
    joined = pl.concat_str(list(members), separator=",", ignore_nulls=True).fill_null("")
    return "{" + joined + "}"


def _json_string(text: pl.Expr) -> pl.Expr:
    """`text` as a JSON string token."""
    return pl.struct(text.alias("s")).struct.json_encode().str.slice(5).str.head(-1)


def _without_null_keys(json_text: pl.Expr) -> pl.Expr:
    """`json_text` (compact JSON) with every `"key":null` member removed, at any depth.

    First every member that follows another goes (`,"k":null`; a member's value `null` is always
    followed by `,` or `}`), which leaves at most a null first member per object.
    """
    return (
        json_text.str.replace_all(f",{_KEY}:null", "")
        .str.replace_all(rf"\{{{_KEY}:null,", "{")
        .str.replace_all(rf"\{{{_KEY}:null\}}", "{}")
    )


def _frame_of(row: dict[str, Any]) -> pl.DataFrame:
    schema = {name: COMPLETIONS_SCHEMA[name] for name in LINE_COLUMNS}
    return pl.DataFrame([{name: row.get(name) for name in LINE_COLUMNS}], schema=schema)


# -- the pieces, for the targets that build other lines from the same columns ---------------------

json_member = _member
json_raw_member = _raw_member
json_object = _object
json_string = _json_string
without_null_keys = _without_null_keys
escape_line_breaks = _evaluate
input_messages = _input_messages
tool_calls_json = _tool_calls
text_of_parts = _text_of_parts
metadata_members = _metadata_members
expected_output = _expected_output
