"""Format checks for OpenAI supervised fine-tuning JSONL, before a file is uploaded.

Extends the OpenAI cookbook's checker ("Data preparation and analysis for chat model
fine-tuning": `data_type`, `missing_messages_list`, `message_missing_key`,
`message_unrecognized_key`, `unrecognized_role`, `missing_content`,
`example_missing_assistant_message`), which predates tools, `weight` and content parts, with
checks for each of those and for null-valued keys, which OpenAI rejects. A `developer` message is
an unrecognized role: OpenAI's schema for a training line has none (the exporter writes `system`).
Every error is counted by kind, like the cookbook's `format_errors`, once per occurrence.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import polars as pl

from pipelines.export.line_check_fast import is_well_formed, plain_chats
from pipelines.export.lines import FINE_TUNING_ROLES as ROLES

TOP_LEVEL_KEYS = ("messages", "tools", "parallel_tool_calls")
MIN_EXAMPLES = 10
"""Fewest examples OpenAI accepts in a training file."""
FIRST_ERRORS = 20
"""How many errors `FineTuneCheckReport.first_errors` keeps, in file order."""

_MESSAGE_KEYS = {
    "system": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "function_call", "weight"},
    "tool": {"role", "content", "name", "tool_call_id"},
    "function": {"role", "content", "name"},
}
_ALL_MESSAGE_KEYS = set().union(*_MESSAGE_KEYS.values())
_UNSUPPORTED_PARTS = {"input_audio", "audio", "file", "input_file"}

Error = tuple[str, str]
"""(kind, message) of one error found in one example."""


@dataclass
class FineTuneCheckReport:
    """What checking a fine-tuning file found.

    Attributes:
        examples: Lines checked (blank lines are skipped, not counted).
        errors: Error kind → occurrences, over the whole file.
        first_errors: The first `FIRST_ERRORS` errors as (1-based line number, kind, message).
        examples_with_errors: Lines with at least one error.
    """

    examples: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    first_errors: list[tuple[int, str, str]] = field(default_factory=list)
    examples_with_errors: int = 0

    @property
    def ok(self) -> bool:
        """At least one example, and no errors."""
        return self.examples > 0 and not self.errors

    @property
    def meets_minimum(self) -> bool:
        """Enough examples for OpenAI to accept the file as training data (`MIN_EXAMPLES`)."""
        return self.examples >= MIN_EXAMPLES


def check_fine_tuning_lines(
    lines: Iterable[str | bytes | dict[str, Any]],
) -> FineTuneCheckReport:
    """Check every line of a fine-tuning JSONL file.

    Args:
        lines: JSON text lines (str or UTF-8 bytes; a trailing newline is fine; blank lines
            are skipped) or already-parsed examples. Text lines go through the strict first
            pass of `pipelines.export.line_check_fast`; only those it cannot vouch for are
            walked here.

    Returns:
        The counts of every error kind and the first few errors with their line numbers.
    """
    checker = FineTuneChecker()
    checker.feed(lines)
    return checker.report()


class FineTuneChecker:
    """`check_fine_tuning_lines` fed a batch at a time (as a file is written); line numbers run
    on from one batch to the next."""

    def __init__(self) -> None:
        self._report = FineTuneCheckReport()
        self._counts: Counter[str] = Counter()
        self._lines = 0

    def feed(self, lines: Iterable[str | bytes | dict[str, Any]]) -> None:
        for line in lines:
            self._lines += 1
            self._check(self._lines, line)

    def feed_series(self, lines: pl.Series) -> None:
        """`feed` for text lines in a polars Series: the plain chats among them (most lines, as a
        rule) are vouched for at once by `plain_chats`; only the others are looked at one by one.
        """
        plain = plain_chats(lines)
        first = self._lines + 1
        self._report.examples += int(plain.sum())
        others = pl.DataFrame({"index": pl.int_range(lines.len(), eager=True), "line": lines})
        for index, line in others.filter(~plain).iter_rows():
            self._check(first + index, line)
        self._lines += lines.len()

    def _check(self, number: int, line: str | bytes | dict[str, Any]) -> None:
        report = self._report
        if isinstance(line, str | bytes):
            if is_well_formed(line.encode("utf-8") if isinstance(line, str) else line):
                report.examples += 1
                return
            if not line.strip():
                return
            try:
                example: Any = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                example, errors = None, [("invalid_json", f"not JSON: {error}")]
            else:
                errors = check_example(example)
        else:
            errors = check_example(line)
        report.examples += 1
        report.examples_with_errors += bool(errors)
        self._counts.update(kind for kind, _ in errors)
        room = FIRST_ERRORS - len(report.first_errors)
        report.first_errors += [(number, kind, message) for kind, message in errors[:room]]

    def report(self) -> FineTuneCheckReport:
        """What the lines fed so far hold."""
        return replace(
            self._report,
            errors=dict(self._counts.most_common()),
            first_errors=list(self._report.first_errors),
        )


def check_example(example: Any) -> list[Error]:
    """Every format error of one parsed fine-tuning example.

    Args:
        example: One parsed JSONL line.

    Returns:
        (kind, message) pairs, in the order found; empty when the example is well-formed.
    """
    if not isinstance(example, dict):
        return [("data_type", f"the example is a {type(example).__name__}, not an object")]
    errors = [("null_value", f"{path} is null") for path in _null_paths(example, "")]
    for key in example:
        if key not in TOP_LEVEL_KEYS:
            errors.append(("unrecognized_key", f"unrecognized top-level key {key!r}"))
    tools = example.get("tools")
    if tools is not None:
        errors += _check_tools(tools)
    parallel = example.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        errors.append(("invalid_parallel_tool_calls", "parallel_tool_calls must be a boolean"))
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*errors, ("missing_messages_list", "messages is missing, empty or not a list")]
    called: set[str] = set()
    for index, message in enumerate(messages):
        errors += _check_message(message, f"messages[{index}]", called)
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        errors.append(("example_missing_assistant_message", "no assistant message to learn"))
    return errors


def _check_message(message: Any, where: str, called: set[str]) -> list[Error]:
    """Errors of one message; adds its tool call ids to `called` (ids earlier messages made)."""
    if not isinstance(message, dict):
        return [("data_type", f"{where} is a {type(message).__name__}, not an object")]
    role = message.get("role")
    errors: list[Error] = []
    if role is None:
        errors.append(("message_missing_key", f"{where} has no role"))
    elif role not in ROLES:
        errors.append(("unrecognized_role", f"{where} has role {role!r}"))
    known = role if isinstance(role, str) else None
    allowed = _MESSAGE_KEYS.get(known, _ALL_MESSAGE_KEYS) | {"weight"}
    for key in message:
        if key not in allowed:
            errors.append(("message_unrecognized_key", f"{where} ({role}) has key {key!r}"))
    errors += _check_content(message, where, role)
    if "weight" in message and message["weight"] is not None:
        weight = message["weight"]
        if role != "assistant":
            errors.append(("invalid_weight", f"{where}: weight is for assistant messages only"))
        elif isinstance(weight, bool) or not isinstance(weight, int) or weight not in (0, 1):
            errors.append(("invalid_weight", f"{where}: weight must be 0 or 1, not {weight!r}"))
    if role == "assistant" and message.get("tool_calls") is not None:
        errors += _check_tool_calls(message["tool_calls"], where, called)
    if role == "tool":
        call_id = message.get("tool_call_id")
        if call_id is None:
            errors.append(("message_missing_key", f"{where}: a tool message needs tool_call_id"))
        elif not isinstance(call_id, str) or call_id not in called:
            errors.append(
                ("unmatched_tool_call_id", f"{where}: no earlier tool call has id {call_id!r}")
            )
    return errors


def _check_content(message: dict[str, Any], where: str, role: Any) -> list[Error]:
    content = message.get("content")
    calls = role == "assistant" and bool(message.get("tool_calls") or message.get("function_call"))
    if content is None:
        if calls:
            return []
        return [("message_missing_key", f"{where} has no content")]
    if isinstance(content, str):
        if content or calls:
            return []
        return [("missing_content", f"{where} has empty content")]
    if not isinstance(content, list):
        kind = type(content).__name__
        return [("missing_content", f"{where}: content is a {kind}, not a string or parts")]
    if not content and not calls:
        return [("missing_content", f"{where} has an empty list of content parts")]
    errors: list[Error] = []
    for index, part in enumerate(content):
        errors += _check_part(part, f"{where}.content[{index}]", role)
    return errors


def _check_part(part: Any, where: str, role: Any) -> list[Error]:
    kind = part.get("type") if isinstance(part, dict) else None
    kind = kind if isinstance(kind, str) else None
    if kind in _UNSUPPORTED_PARTS:
        return [("unsupported_content_part", f"{where}: {kind} parts cannot be fine-tuned on")]
    if kind == "text":
        if isinstance(part.get("text"), str):
            return []
        return [("invalid_content_part", f"{where}: a text part needs a string text")]
    if kind == "image_url":
        if role == "assistant":
            return [("image_in_assistant_message", f"{where}: images only in input messages")]
        image = part.get("image_url")
        if isinstance(image, dict) and isinstance(image.get("url"), str) and image["url"]:
            return []
        return [("invalid_content_part", f"{where}: an image_url part needs image_url.url")]
    return [("invalid_content_part", f"{where}: part type {kind!r} is not text or image_url")]


def _check_tool_calls(tool_calls: Any, where: str, called: set[str]) -> list[Error]:
    if not isinstance(tool_calls, list) or not tool_calls:
        return [("invalid_tool_calls", f"{where}: tool_calls must be a non-empty list")]
    errors: list[Error] = []
    for index, call in enumerate(tool_calls):
        at = f"{where}.tool_calls[{index}]"
        if not isinstance(call, dict):
            errors.append(("invalid_tool_calls", f"{at} is not an object"))
            continue
        if isinstance(call.get("id"), str) and call["id"]:
            called.add(call["id"])
        else:
            errors.append(("invalid_tool_calls", f"{at} has no id"))
        if call.get("type") != "function":
            errors.append(("invalid_tool_calls", f"{at}: type must be 'function'"))
        function = call.get("function")
        if not isinstance(function, dict):
            errors.append(("invalid_tool_calls", f"{at} has no function object"))
            continue
        if not isinstance(function.get("name"), str) or not function["name"]:
            errors.append(("invalid_tool_calls", f"{at}: function.name is missing"))
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            errors.append(("invalid_tool_calls", f"{at}: function.arguments must be a string"))
            continue
        try:
            json.loads(arguments)
        except json.JSONDecodeError:
            errors.append(("invalid_tool_arguments", f"{at}: function.arguments is not JSON"))
    return errors


def _check_tools(tools: Any) -> list[Error]:
    if not isinstance(tools, list) or not tools:
        return [("invalid_tools", "tools must be a non-empty list")]
    errors: list[Error] = []
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            not isinstance(tool, dict)
            or tool.get("type") != "function"
            or not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not function["name"]
        ):
            errors.append(
                ("invalid_tools", f"tools[{index}] must be {{type: function, function: {{name}}}}")
            )
    return errors


def _null_paths(value: Any, path: str) -> list[str]:
    """Paths of every key, at any depth, whose value is null."""
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            at = f"{path}.{key}" if path else str(key)
            found += [at] if item is None else _null_paths(item, at)
        return found
    if isinstance(value, list):
        return [
            found
            for index, item in enumerate(value)
            for found in _null_paths(item, f"{path}[{index}]")
        ]
    return []
