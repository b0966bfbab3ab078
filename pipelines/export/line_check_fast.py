"""Fast, strict first passes of the format checker: a regex for plain chats, msgspec types for
the rest.

Neither pass says a line is wrong; each only vouches for lines that certainly have none of the
errors `pipelines.export.line_check` looks for, and the checker walks the rest in full and says
what, if anything, is wrong with them.

- `plain_chats`: a line in exactly the shape the exporter writes for a plain chat (`PLAIN_CHAT`).
  polars matches a million in a fraction of a second, on every core.
- `is_well_formed`: a line that decodes into `Example`, holds no null-valued key, and passes the
  few rules types cannot say (content present, tool results answering an earlier call, arguments
  that are JSON, an assistant message somewhere). Every type is at least as strict as the
  checker's rules (a `name` must be a string, say, where the checker accepts anything). About a
  microsecond a line; walking each parsed line in Python took ten.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

import msgspec
import orjson
import polars as pl
from msgspec import UNSET, Meta, Struct, UnsetType

_NonEmpty = Annotated[str, Meta(min_length=1)]


class _ImageURL(Struct, gc=False):
    url: _NonEmpty


class _TextPart(Struct, tag_field="type", tag="text", gc=False):
    text: str


class _ImagePart(Struct, tag_field="type", tag="image_url", gc=False):
    image_url: _ImageURL


# Every message but the assistant's needs content: a non-empty text or list of parts.
_RequiredContent = (
    Annotated[str, Meta(min_length=1)] | Annotated[list[_TextPart | _ImagePart], Meta(min_length=1)]
)
_AssistantContent = str | list[_TextPart] | UnsetType  # images only in input messages


class _Function(Struct, gc=False):
    name: _NonEmpty
    arguments: str


class _ToolCall(Struct, gc=False):
    id: _NonEmpty
    type: Literal["function"]
    function: _Function


class _ToolFunction(Struct, gc=False):
    name: _NonEmpty


class _Tool(Struct, gc=False):
    type: Literal["function"]
    function: _ToolFunction


# Messages are told apart by role; each role's struct lists exactly the keys it may carry.
# (gc=False everywhere: decoded lines hold no reference cycles, and untracked structs are cheaper.)
class _Message(Struct, forbid_unknown_fields=True, tag_field="role", gc=False):
    pass


class _Input(_Message):
    """system, user and the legacy function role: content, and optionally a name."""

    content: _RequiredContent
    name: str | UnsetType = UNSET


_INPUT_ROLES = tuple(
    msgspec.defstruct(f"_{role.title()}", [], bases=(_Input,), tag=role)
    for role in ("system", "user", "function")
)


class _ToolResult(_Message, tag="tool"):
    tool_call_id: str
    content: _RequiredContent
    name: str | UnsetType = UNSET


class _Assistant(_Message, tag="assistant"):
    content: _AssistantContent = UNSET
    name: str | UnsetType = UNSET
    tool_calls: Annotated[list[_ToolCall], Meta(min_length=1)] | UnsetType = UNSET
    weight: Literal[0, 1] | UnsetType = UNSET


class Example(Struct, forbid_unknown_fields=True, gc=False):
    """One fine-tuning line, as strictly as the format allows."""

    messages: Annotated[
        list[Union[*_INPUT_ROLES, _ToolResult, _Assistant]],  # a union built from a tuple
        Meta(min_length=1),
    ]
    tools: Annotated[list[_Tool], Meta(min_length=1)] | UnsetType = UNSET
    parallel_tool_calls: bool | UnsetType = UNSET


_DECODER = msgspec.json.Decoder(Example)
# A key whose value is null, in any JSON layout: a quote after `{` or `,` (and blanks) can only
# open a key or an array item, since every quote inside a string is escaped.
_NULL_MEMBER = re.compile(rb'[{,]\s*"(?:[^"\\]|\\.)*"\s*:\s*null')


def is_well_formed(line: bytes) -> bool:
    """True when `line` certainly passes every check of `check_example`; False when it may not."""
    if b"null" in line and _NULL_MEMBER.search(line):
        return False
    try:
        example = _DECODER.decode(line)
    except msgspec.DecodeError:  # invalid JSON, or a shape the types do not allow
        return False
    called: set[str] = set()
    has_assistant = False
    for message in example.messages:
        kind = type(message)
        if kind is _Assistant:
            has_assistant = True
            if message.tool_calls is UNSET:
                if not message.content:
                    return False
                continue
            for call in message.tool_calls:
                called.add(call.id)
                try:
                    orjson.loads(call.function.arguments)
                except orjson.JSONDecodeError:
                    return False
        elif kind is _ToolResult and message.tool_call_id not in called:
            return False
    return has_assistant


# A plain chat, exactly as the exporter writes one: system and user messages with text,
# assistant messages with text and perhaps a 0/1 weight, the last message the assistant's, and
# nothing else. Every text is a non-empty JSON string with no control character and no escaped
# surrogate (the checker's JSON parser refuses lone ones). A line of this shape passes every
# check; polars matches a million of them in a fraction of a second, on every core.
_JSON_TEXT = (
    r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]'
    r"|\\u(?:[0-9a-cA-Ce-fE-F][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))+\""
)
_INPUT_MESSAGE = r'\{"role":"(?:system|user)","content":' + _JSON_TEXT + r"\}"
_ASSISTANT_MESSAGE = r'\{"role":"assistant","content":' + _JSON_TEXT + r'(?:,"weight":[01])?\}'
PLAIN_CHAT = (
    r'^\{"messages":\[(?:(?:'
    + _INPUT_MESSAGE
    + "|"
    + _ASSISTANT_MESSAGE
    + "),)*"
    + _ASSISTANT_MESSAGE
    + r"\]\}$"
)


def plain_chats(lines: pl.Series) -> pl.Series:
    """True for each line in the `PLAIN_CHAT` shape (it passes every check); False says nothing."""
    matched = (
        lines.to_frame("line")
        .lazy()
        .select(pl.col("line").str.contains(PLAIN_CHAT).fill_null(False))
        .collect(engine="streaming")  # on every core
    )
    return matched.to_series()
