"""Conversations as open trainers and evaluation harnesses read them, built column-wise.

They take the messages OpenAI's fine-tuning line holds, but differ from it where stored
completions are richest (`../shared/REFERENCE.md`, "Open trainers"):

- a tool call's `arguments` is a JSON *object*: chat templates `tojson` it (a string would be
  encoded twice) or iterate it (a string raises). Stored arguments are parsed once per distinct
  text and written compact; arguments that are not a JSON object stay a string and are counted,
  so a validator names them;
- content is text: a message stored as parts keeps its text parts; image parts are left out
  (text-only formats; the version's rows and the OpenAI lines keep them) and counted;
- `developer` is written as `system`, the role every open template knows;
- with `sequential`, an assistant message holding several tool calls becomes one assistant
  message per call, each followed by its result: Llama 3.x templates refuse several calls in one
  message and gpt-oss's renders only the first. Only the rows holding such a message are
  rewritten, in Python; every other row stays column-wise.

A conversation is a list of JSON object texts, one per message (Parquet `List(Json())`, which
`datasets` >= 4.7 decodes into plain dicts holding only the keys each message has). The input
messages and the output are returned apart (`prompt`, `completion`), so prompt/completion and
preference formats share the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
import polars as pl

from pipelines.export.lines import (
    FINE_TUNING_ROLE_RENAMES,
    json_member,
    json_object,
    json_raw_member,
    json_string,
    text_of_parts,
    without_null_keys,
)

ToolCallStyle = Literal["chat", "inspect", "function_call"]
"""`chat`: `{id, type, function: {name, arguments: {…}}}` (TRL, axolotl, transformers);
`inspect`: `{id, function: <name>, arguments: {…}, type}` (inspect_ai's ToolCall);
`function_call`: the message becomes `{role: function_call, content: "[{name, arguments}]"}`,
the text LLaMA-Factory's converter itself makes of `tool_calls`."""


@dataclass(frozen=True)
class MessageStyle:
    """How messages are written.

    Attributes:
        tool_calls: See `ToolCallStyle`.
        content_always: Every message has `content` ("" where there is none); otherwise an
            assistant message with tool calls and no text has none, as OpenAI writes it.
        weights: `none`, `stored` (assistant messages keep a stored weight) or `zero` (0 on
            every input assistant message, 1 on the output): `train_on` as fine-tuning lines
            apply it.
        sequential: Split messages holding several tool calls (see the module docstring).
    """

    tool_calls: ToolCallStyle = "chat"
    content_always: bool = False
    weights: Literal["none", "stored", "zero"] = "none"
    sequential: bool = False


@dataclass
class Conversations:
    """Per row: the input messages and the output message(s), as lists of JSON object texts."""

    prompt: pl.Series
    completion: pl.Series
    images_left_out: int = 0
    """Image parts left out of messages (text-only formats)."""
    arguments_not_objects: int = 0
    """Tool calls whose stored arguments are not a JSON object (written as a string)."""
    rewritten_rows: int = 0
    """Rows whose parallel tool calls were made sequential."""

    def counts(self) -> dict[str, int]:
        """The counts behind `conversation_notes`, to add up over slices."""
        return {
            "images_left_out": self.images_left_out,
            "rewritten_rows": self.rewritten_rows,
            "arguments_not_objects": self.arguments_not_objects,
        }


def conversation_notes(counts: dict[str, int]) -> list[str]:
    """What was written differently from the stored records, for the manifest."""
    notes = []
    if counts.get("images_left_out"):
        notes.append(f"{counts['images_left_out']:,} image parts left out (text-only format)")
    if counts.get("rewritten_rows"):
        notes.append(
            f"{counts['rewritten_rows']:,} conversations: parallel tool calls written one per"
            " assistant message, each followed by its result"
        )
    if counts.get("arguments_not_objects"):
        notes.append(
            f"{counts['arguments_not_objects']:,} tool calls whose arguments are not a JSON"
            " object kept as a string"
        )
    return notes


def conversations(rows: pl.DataFrame, style: MessageStyle) -> Conversations:
    """The conversations of curated rows (`LINE_COLUMNS`), in row order."""
    lookups = _Lookups.of(rows)
    message = pl.element().struct
    prompt = pl.col("messages").list.eval(_input_message(message, style, lookups))
    completion = pl.concat_list(_output_message(style, lookups))
    built = rows.lazy().select(prompt.alias("prompt"), completion.alias("completion"))
    frame = built.collect(engine="streaming")
    result = Conversations(
        frame["prompt"],
        frame["completion"],
        images_left_out=lookups.images,
        arguments_not_objects=lookups.invalid_arguments,
    )
    if style.sequential and style.tool_calls == "chat":
        _make_sequential(rows, result)
    return result


def expected_calls(rows: pl.DataFrame) -> pl.Series:
    """Each row's output tool calls as `[{"name", "arguments": {…}}]` JSON text; null when the
    output calls no tool. What evaluation targets compare a model's calls with."""
    calls = pl.col("output_tool_calls")
    expression = pl.when(calls.list.len() > 0).then(_calls_text(calls, _Lookups.of(rows)))
    return rows.select(expression.alias("expected_calls"))["expected_calls"]


def tools_json() -> pl.Expr:
    """The request's tool definitions as a JSON array text (null keys dropped); null for none."""
    tools = pl.col("tools")
    return pl.when(tools.str.starts_with("[") & (tools != "[]")).then(without_null_keys(tools))


# -- one message -----------------------------------------------------------------------------------


def _input_message(message: Any, style: MessageStyle, lookups: _Lookups) -> pl.Expr:
    role = message.field("role").replace(FINE_TUNING_ROLE_RENAMES)
    assistant = role == "assistant"
    calls = message.field("tool_calls")
    has_calls = assistant & (calls.list.len() > 0)
    text = pl.when(message.field("content_type") != "array").then(message.field("content"))
    if lookups.parts:
        text = pl.coalesce(text, lookups.parts_text(message.field("content_parts")))
    weight = None
    if style.weights == "stored":
        weight = pl.when(assistant).then(message.field("weight"))
    elif style.weights == "zero":
        weight = pl.when(assistant).then(pl.lit(0, pl.Int64))
    return _message(
        role=role,
        text=text,
        calls=calls,
        has_calls=has_calls,
        name=message.field("name"),
        tool_call_id=message.field("tool_call_id"),
        weight=weight,
        style=style,
        lookups=lookups,
    )


def _output_message(style: MessageStyle, lookups: _Lookups) -> pl.Expr:
    calls = pl.col("output_tool_calls")
    weight = pl.lit(1, pl.Int64) if style.weights == "zero" else None
    return _message(
        role=pl.lit("assistant"),
        text=pl.coalesce("output_content", "output_refusal"),
        calls=calls,
        has_calls=calls.list.len() > 0,
        name=None,
        tool_call_id=None,
        weight=weight,
        style=style,
        lookups=lookups,
    )


def _message(
    *,
    role: pl.Expr,
    text: pl.Expr,
    calls: pl.Expr,
    has_calls: pl.Expr,
    name: pl.Expr | None,
    tool_call_id: pl.Expr | None,
    weight: pl.Expr | None,
    style: MessageStyle,
    lookups: _Lookups,
) -> pl.Expr:
    if style.tool_calls == "function_call":
        # LLaMA-Factory keeps a tool-call message's calls and drops its text.
        role = pl.when(has_calls).then(pl.lit("function_call")).otherwise(role)
        text = pl.when(has_calls).then(_calls_text(calls, lookups)).otherwise(text)
    if style.content_always:
        content = json_member("content", text.fill_null(""))
    else:
        content = pl.when(has_calls).then(json_member("content", text))
        content = content.otherwise(json_member("content", text.fill_null("")))
    members = [json_member("role", role), content]
    if name is not None:
        field = "function" if style.tool_calls == "inspect" else "name"
        members.append(json_member(field, name))
    if style.tool_calls != "function_call":
        shaped = _tool_calls(calls, style.tool_calls, lookups)
        members.append(pl.when(has_calls).then(json_raw_member("tool_calls", shaped)))
    if tool_call_id is not None and style.tool_calls != "function_call":
        members.append(json_member("tool_call_id", tool_call_id))
    if weight is not None:
        members.append(json_raw_member("weight", weight.cast(pl.String)))
    return json_object(*members)


def _tool_calls(calls: pl.Expr, style: ToolCallStyle, lookups: _Lookups) -> pl.Expr:
    call = pl.element().struct
    function = call.field("function").struct
    kind = call.field("type")
    kind = pl.when(kind.is_null() | (kind == "")).then(pl.lit("function")).otherwise(kind)
    arguments = json_raw_member("arguments", lookups.arguments(function.field("arguments")))
    if style == "inspect":
        shaped = json_object(
            json_member("id", call.field("id")),
            json_member("function", function.field("name")),
            arguments,
            json_member("type", kind),
        )
    else:
        shaped = json_object(
            json_member("id", call.field("id")),
            json_member("type", kind),
            json_raw_member(
                "function", json_object(json_member("name", function.field("name")), arguments)
            ),
        )
    return "[" + calls.list.eval(shaped).list.join(",") + "]"


def _calls_text(calls: pl.Expr, lookups: _Lookups) -> pl.Expr:
    """`[{"name", "arguments": {…}}]` as text: LLaMA-Factory's function-call content."""
    call = pl.element().struct
    function = call.field("function").struct
    shaped = json_object(
        json_member("name", function.field("name")),
        json_raw_member("arguments", lookups.arguments(function.field("arguments"))),
    )
    return "[" + calls.list.eval(shaped).list.join(",") + "]"


# -- lookups: the few values read in Python, once per distinct value ---------------------------


@dataclass
class _Lookups:
    """Stored parts and arguments are arbitrary JSON text; they are parsed in Python once per
    distinct value (few: only messages with parts, only tool calls), and the expressions look
    each message's value up by its text."""

    parts: list[str]
    texts: list[str | None]
    raw_arguments: list[str]
    object_arguments: list[str | None]
    images: int
    invalid_arguments: int

    @classmethod
    def of(cls, rows: pl.DataFrame) -> _Lookups:
        messages = rows.select(pl.col("messages").explode()).unnest("messages")
        listed = messages.filter(pl.col("content_parts").str.starts_with("["))["content_parts"]
        parts = listed.unique().to_list()
        images = int(listed.str.count_matches('"type":"image_url"').sum() or 0)
        calls = pl.concat(
            [
                messages.select(pl.col("tool_calls").explode()),
                rows.select(pl.col("output_tool_calls").explode().alias("tool_calls")),
            ]
        )
        arguments = calls.select(
            pl.col("tool_calls").struct.field("function").struct.field("arguments")
        )["arguments"]
        raw = arguments.drop_nulls().unique().to_list()
        normalized = [_object_text(text) for text in raw]
        invalid = {text for text, value in zip(raw, normalized, strict=True) if value is None}
        return cls(
            parts=parts,
            texts=[text_of_parts(_loads(value)) for value in parts],
            raw_arguments=raw,
            object_arguments=normalized,
            images=images,
            invalid_arguments=int(arguments.is_in(list(invalid)).sum()) if invalid else 0,
        )

    def parts_text(self, parts: pl.Expr) -> pl.Expr:
        return parts.replace_strict(self.parts, self.texts, default=None, return_dtype=pl.String)

    def arguments(self, arguments: pl.Expr) -> pl.Expr:
        """The arguments as a JSON object text; a JSON string of the stored text when that is
        not a JSON object; `{}` when there are none."""
        if not self.raw_arguments:
            return pl.lit("{}")
        parsed = arguments.replace_strict(
            self.raw_arguments, self.object_arguments, default=None, return_dtype=pl.String
        )
        return pl.coalesce(parsed, json_string(arguments), pl.lit("{}"))


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _object_text(text: str) -> str | None:
    value = _loads(text)
    return orjson.dumps(value).decode() if isinstance(value, dict) else None


# -- parallel tool calls, made sequential ----------------------------------------------------


def _make_sequential(rows: pl.DataFrame, result: Conversations) -> None:
    """Rewrite, in place, the rows holding a message with several tool calls."""
    several = pl.col("messages").list.eval(
        pl.element().struct.field("tool_calls").list.len() > 1
    ).list.any() | (pl.col("output_tool_calls").list.len() > 1)
    positions = rows.select(pl.arg_where(several.fill_null(False)))
    if positions.is_empty():
        return
    indices = positions.to_series()
    prompts, completions = [], []
    for index in indices.to_list():
        prompts.append(_sequential(result.prompt[index].to_list()))
        completions.append(_sequential(result.completion[index].to_list()))
    result.prompt = _replaced(result.prompt, indices, prompts)
    result.completion = _replaced(result.completion, indices, completions)
    result.rewritten_rows = indices.len()


def _replaced(series: pl.Series, indices: pl.Series, values: list[list[str]]) -> pl.Series:
    # Series.scatter does not take list values (polars 2.1): a left join on the row number.
    fixes = pl.DataFrame(
        {"index": indices.cast(pl.UInt32), "fixed": values},
        schema={"index": pl.UInt32, "fixed": pl.List(pl.String)},
    )
    frame = series.to_frame("value").with_row_index("index")
    joined = frame.join(fixes, on="index", how="left", maintain_order="left")
    return joined.select(pl.coalesce("fixed", "value").alias(series.name)).to_series()


def _sequential(texts: list[str]) -> list[str]:
    messages = [orjson.loads(text) for text in texts]
    if not any(len(m.get("tool_calls") or ()) > 1 for m in messages):
        return texts
    out: list[dict[str, Any]] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        calls = message.get("tool_calls") or []
        index += 1
        if len(calls) < 2:
            out.append(message)
            continue
        results = []
        while index < len(messages) and messages[index].get("role") == "tool":
            results.append(messages[index])
            index += 1
        for position, call in enumerate(calls):
            single = {key: value for key, value in message.items() if key != "tool_calls"}
            if position:
                single.pop("content", None)
            single["tool_calls"] = [call]
            out.append(single)
            answered = [r for r in results if r.get("tool_call_id") == call.get("id")]
            out.extend(answered)
            results = [r for r in results if r not in answered]
        out.extend(results)  # results that answer none of the calls, in their stored order
    return [orjson.dumps(m).decode() for m in out]
