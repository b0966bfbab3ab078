"""The rules every chat template of an open trainer holds a conversation to, checked per message.

The templates shipped with TRL (`trl/chat_templates/*.jinja`) and the converters of LLaMA-Factory
and axolotl read a conversation as a list of `{role, content, tool_calls?, tool_call_id?}`. What
makes one of them raise, or train on something other than what was stored:

- a role other than system, user, assistant, tool; a system message after the first message
  (Qwen 3.5/3.6: "System message must be at the beginning");
- content that is not a string where a template concatenates it (gpt-oss, Llama 3.x `trim`);
- tool-call `arguments` that are not a mapping: Llama 3.x, Qwen 2.5 and gpt-oss `tojson` them
  (a string comes out encoded twice), Qwen 3.5/3.6 and Nemotron 3 iterate them (a string raises);
- a tool message with no assistant tool call before it (gpt-oss raises);
- no assistant message to learn, in a training conversation.

`plain_conversations` vouches column-wise for the conversations made only of system, user and
assistant text messages, as most are; only the others are parsed and walked in Python.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from pipelines.export.targets.base import Problem

ROLES = ("system", "user", "assistant", "tool")

# A message as `pipelines.export.targets.messages` writes a text-only one: role, string content,
# and, for assistant messages of weighted styles, a 0/1 weight.
_STRING = r'"(?:[^"\\]|\\.)*"'
_PLAIN_MESSAGE = rf'^\{{"role":"(system|user|assistant)","content":{_STRING}(,"weight":[01])?\}}$'


def plain_conversations(conversations: pl.Series, *, need_assistant: bool) -> pl.Series:
    """True for each conversation (a list of message JSON texts) that is text messages only, a
    system message at most first, and (with `need_assistant`) an assistant message: those pass
    every rule of `check_conversation` without being parsed."""
    messages = (
        conversations.rename("m")
        .to_frame()
        .with_row_index("row")
        .explode("m")
        .with_columns(
            pl.col("m").str.extract(_PLAIN_MESSAGE, 1).alias("role"),
            pl.int_range(pl.len()).over("row").alias("position"),
        )
    )
    verdict = messages.group_by("row", maintain_order=True).agg(
        (
            pl.col("role").is_not_null().all()
            & pl.col("m").is_not_null().all()
            & ((pl.col("role") != "system") | (pl.col("position") == 0)).all()
            & ((pl.col("role") == "assistant").any() | (not need_assistant))
        ).alias("plain")
    )
    return verdict.sort("row")["plain"]


def check_conversation(
    messages: Any, *, file: str, line: int, where: str, need_assistant: bool
) -> list[Problem]:
    """Every problem of one conversation (parsed messages), named by file, line and field."""
    if not isinstance(messages, list) or not messages:
        return [Problem(file, line, where, "must be a non-empty list of messages")]
    problems: list[Problem] = []
    called: set[Any] = set()
    for index, message in enumerate(messages):
        at = f"{where}[{index}]"
        if not isinstance(message, dict):
            problems.append(Problem(file, line, at, "is not an object"))
            continue
        role = message.get("role")
        if role not in ROLES:
            problems.append(Problem(file, line, f"{at}.role", f"{role!r} is not one of {ROLES}"))
        elif role == "system" and index > 0:
            problems.append(
                Problem(file, line, f"{at}.role", "a system message after the first message")
            )
        calls = message.get("tool_calls") if role == "assistant" else None
        content = message.get("content")
        if content is None and not calls:
            problems.append(Problem(file, line, f"{at}.content", "missing"))
        elif content is not None and not isinstance(content, str):
            problems.append(Problem(file, line, f"{at}.content", "must be a string"))
        if "tool_calls" in message and role != "assistant":
            problems.append(Problem(file, line, f"{at}.tool_calls", "only assistant messages"))
        if calls is not None:
            problems += _check_calls(calls, file=file, line=line, at=f"{at}.tool_calls")
            called.update(c.get("id") for c in calls if isinstance(c, dict))
        if role == "tool" and not called:
            problems.append(Problem(file, line, at, "a tool result before any tool call"))
    if need_assistant and not any(
        isinstance(m, dict) and m.get("role") == "assistant" for m in messages
    ):
        problems.append(Problem(file, line, where, "no assistant message to learn"))
    return problems


def _check_calls(calls: Any, *, file: str, line: int, at: str) -> list[Problem]:
    if not isinstance(calls, list) or not calls:
        return [Problem(file, line, at, "must be a non-empty list")]
    problems = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            problems.append(Problem(file, line, f"{at}[{index}].function", "needs a name"))
            continue
        if not isinstance(function.get("arguments"), dict):
            problems.append(
                Problem(
                    file,
                    line,
                    f"{at}[{index}].function.arguments",
                    "not a JSON object: templates would encode a string twice or fail on it",
                )
            )
    return problems
