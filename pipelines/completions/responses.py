"""Responses and conversations in the shapes of Chat Completions, so one code path types them all.

`response_as_chat` and `conversation_as_chat` return what a stored chat completion holds: a
`chat.completion`-like dict (settings, `choices[0].message`, `finish_reason`, `usage`) and the
list of chat input messages. `pipelines.completions.normalize` reads those as it reads a stored
chat completion. The mapping, item by item:

- `instructions` → a leading `system` message: the Responses API documents them as "a system (or
  developer) message inserted into the model's context" (first); `system` is the role every
  fine-tuning format and chat template takes. They are the response's own: a response made with
  `previous_response_id` does not inherit them.
- `message` items → chat messages of the same role. One text part becomes the `content` string;
  several parts stay parts (`text`, `image_url`, `file`); a `refusal` part of an earlier assistant
  message stays a `refusal` part (Chat Completions' own assistant part), of the output it becomes
  the output's refusal.
- `function_call` → a `tool_calls` entry of an assistant message: the previous message's when it
  is an assistant message not yet answered by a tool, else a new one with no content.
- `function_call_output` → a `tool` message answering its `call_id` (parts as message parts).
- The output items → `choices[0].message`: their texts joined as the SDK's `output_text` joins
  them, their refusals, their function calls. `finish_reason`: `tool_calls` when the last is a
  call, `stop` after a message, `length` / `content_filter` for a response left incomplete by
  `max_output_tokens` / the content filter.
- Settings: `created_at` → `created`; usage `input_tokens` / `output_tokens` / `total_tokens` →
  `prompt_tokens` / `completion_tokens` / `total_tokens`; function tools and a forced function
  in the chat shape (other tools as they are); a `json_schema` text format → `response_format`
  (plain text → none); `user`, else `safety_identifier` → `input_user`.

Left out on purpose (the raw JSON keeps them all):

- `reasoning` items: summaries are not what the model said to the user, and `encrypted_content`
  is opaque and bound to the organisation that made it;
- built-in tool calls and their outputs (`web_search_call`, `file_search_call`, `computer_call`,
  `mcp_call`, …) and custom tool calls: the typed columns hold function calls only, and Chat
  Completions has no shape for the built-in ones;
- annotations, logprobs, item ids and item statuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
_FILE_KEYS = ("file_id", "file_data", "filename", "file_url")
_INCOMPLETE_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


@dataclass(frozen=True)
class ChatShapes:
    """A response or conversation as a stored chat completion and its input messages.

    Attributes:
        completion: A `chat.completion`-like dict (`choices[0]` is the output).
        messages: The chat input messages, oldest first.
        response_status: The response's status (`incomplete` when `incomplete_details` is
            set); None for a conversation or a response that states none.
        context_missing: Earlier turns could not be found (see `ResponseContexts`).
    """

    completion: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    response_status: str | None = None
    context_missing: bool = False


def response_as_chat(
    response: dict[str, Any], items: list[Any], *, context_missing: bool = False
) -> ChatShapes:
    """A stored response in chat-completion shapes.

    Args:
        response: The Response object as `GET /responses/{id}` returns it.
        items: Its whole input, oldest first: the earlier turns (when it continues another
            response) and its own input items, item references resolved.
        context_missing: Whether earlier turns could not be found.
    """
    instructions = response.get("instructions")
    if isinstance(instructions, str):
        leading: list[Any] = [{"type": "message", "role": "system", "content": instructions}]
    else:
        # A prompt template's instructions come as input items with their own roles.
        leading = instructions if isinstance(instructions, list) else []
    status = _status(response)
    output = response.get("output")
    completion = {
        "created": response.get("created_at"),
        "temperature": response.get("temperature"),
        "top_p": response.get("top_p"),
        "response_format": _response_format(_as_dict(response.get("text")).get("format")),
        "tool_choice": _tool_choice(response.get("tool_choice")),
        "tools": _tools(response.get("tools")),
        "parallel_tool_calls": response.get("parallel_tool_calls"),
        "service_tier": response.get("service_tier"),
        "input_user": _first_text(response.get("user"), response.get("safety_identifier")),
        "metadata": response.get("metadata"),
        "choices": [_choice(output, status, response)] if isinstance(output, list) else [],
        "usage": _usage(response.get("usage")),
    }
    return ChatShapes(
        completion=completion,
        messages=items_as_messages([*leading, *items]),
        response_status=status,
        context_missing=context_missing,
    )


def conversation_as_chat(
    conversation: dict[str, Any], items: list[Any], *, context_missing: bool = False
) -> ChatShapes:
    """A conversation in chat-completion shapes: every item but the answer is input; the answer
    is the assistant's messages and function calls after the last message of another role (user,
    system, developer) or function call output, reasoning and built-in tool calls left out.

    A conversation has no model and no usage: both stay null.
    """
    start = 0
    for position, item in enumerate(items):
        kind, role = _kind(item), _as_dict(item).get("role")
        if (kind == "message" and role != "assistant") or kind == "function_call_output":
            start = position + 1
    completion = {
        "created": conversation.get("created_at"),
        "metadata": conversation.get("metadata"),
        "choices": [_choice(items[start:], None, {})],
    }
    return ChatShapes(
        completion=completion,
        messages=items_as_messages(items[:start]),
        context_missing=context_missing,
    )


def items_as_messages(items: list[Any]) -> list[dict[str, Any]]:
    """Input items (Responses or conversation items, oldest first) as chat messages."""
    messages: list[dict[str, Any]] = []
    for raw in items:
        item = _as_dict(raw)
        kind = _kind(item)
        if kind == "message":
            message: dict[str, Any] = {"role": item.get("role")}
            content = item.get("content")
            message["content"] = _chat_content(content) if isinstance(content, list) else content
            messages.append(message)
        elif kind == "function_call":
            call = _tool_call(item)
            previous = messages[-1] if messages else {}
            if previous.get("role") == "assistant":
                previous["tool_calls"] = [*(previous.get("tool_calls") or []), call]
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "content": _chat_content(output) if isinstance(output, list) else output,
                }
            )
    return messages


# -- the output ----------------------------------------------------------------------------------


def _choice(output: list[Any], status: str | None, response: dict[str, Any]) -> dict[str, Any]:
    """`choices[0]` of the output items: their text, refusal and function calls in one message."""
    texts, refusals, calls = [], [], []
    last = None
    for raw in output:
        item = _as_dict(raw)
        kind = _kind(item)
        if kind == "message" and item.get("role", "assistant") == "assistant":
            last = kind
            content = item.get("content")
            if isinstance(content, str):
                texts.append(content)
            for part in content if isinstance(content, list) else []:
                part = _as_dict(part)
                if part.get("type") in _TEXT_PARTS and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                    refusals.append(part["refusal"])
        elif kind == "function_call":
            last = kind
            calls.append(_tool_call(item))
    # As the SDK's `Response.output_text`: every output text, joined with nothing between.
    message = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": "".join(refusals) if refusals else None,
        "tool_calls": calls or None,
    }
    return {"index": 0, "message": message, "finish_reason": _finish_reason(status, last, response)}


def _finish_reason(status: str | None, last: str | None, response: dict[str, Any]) -> str | None:
    if status == "incomplete":
        reason = _as_dict(response.get("incomplete_details")).get("reason")
        return _INCOMPLETE_FINISH.get(reason) if isinstance(reason, str) else None
    if status is not None and status != "completed":
        return None
    if last == "function_call":
        return "tool_calls"
    return "stop" if last == "message" else None


def _status(response: dict[str, Any]) -> str | None:
    """The status, `incomplete` whenever `incomplete_details` is set (whatever `status` says)."""
    if response.get("incomplete_details"):
        return "incomplete"
    status = response.get("status")
    return status if isinstance(status, str) else None


# -- parts and calls -----------------------------------------------------------------------------


def _chat_content(parts: list[Any]) -> Any:
    """Responses content parts as chat content: one text part → its text, else chat parts."""
    chat_parts: list[Any] = []
    for raw in parts:
        part = _as_dict(raw)
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            chat_parts.append({"type": "text", "text": part.get("text")})
        elif kind == "input_image":
            image = {"url": part["image_url"]} if "image_url" in part else {}
            if part.get("image_url") is None and part.get("file_id") is not None:
                # Chat Completions has no image by file id; kept under its own key, so the
                # export's line check names the part instead of the id being lost.
                image = {"file_id": part["file_id"]}
            if part.get("detail") is not None:
                image["detail"] = part["detail"]
            chat_parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file":
            file = {key: part[key] for key in _FILE_KEYS if part.get(key) is not None}
            chat_parts.append({"type": "file", "file": file})
        elif kind == "refusal":
            chat_parts.append({"type": "refusal", "refusal": part.get("refusal")})
        else:
            # Unknown parts stay as they are: checks and exports see them rather than nothing.
            chat_parts.append(raw)
    if len(chat_parts) == 1 and _as_dict(chat_parts[0]).get("type") == "text":
        return chat_parts[0]["text"]
    return chat_parts


def _tool_call(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item.get("call_id"),
        "type": "function",
        "function": {"name": item.get("name"), "arguments": item.get("arguments")},
    }


# -- request settings ----------------------------------------------------------------------------


def _tools(tools: Any) -> Any:
    """Function tools in the chat shape (`{"type": "function", "function": {…}}`); every other
    tool (built-in, custom, MCP) as it is."""
    if not isinstance(tools, list):
        return tools
    shaped = []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "function":
            keys = ("name", "description", "parameters", "strict")
            function = {key: tool[key] for key in keys if tool.get(key) is not None}
            shaped.append({"type": "function", "function": function})
        else:
            shaped.append(tool)
    return shaped


def _tool_choice(choice: Any) -> Any:
    """A forced function as chat names it; modes and other tool types as they are."""
    if isinstance(choice, dict) and choice.get("type") == "function" and "name" in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _response_format(text_format: Any) -> Any:
    """`text.format` as chat's `response_format`: plain text is no format at all."""
    if not isinstance(text_format, dict) or text_format.get("type") == "text":
        return None
    if text_format.get("type") == "json_schema":
        keys = ("name", "description", "schema", "strict")
        schema = {key: text_format[key] for key in keys if text_format.get(key) is not None}
        return {"type": "json_schema", "json_schema": schema}
    return text_format


def _usage(usage: Any) -> dict[str, Any]:
    usage = _as_dict(usage)
    return {
        "prompt_tokens": usage.get("input_tokens"),
        "completion_tokens": usage.get("output_tokens"),
        "total_tokens": usage.get("total_tokens"),
    }


# -- values --------------------------------------------------------------------------------------


def _kind(item: Any) -> str | None:
    """An item's type; an easy input message (`{"role", "content"}`) has none and is a message."""
    item = _as_dict(item)
    kind = item.get("type")
    if kind is None and "role" in item:
        return "message"
    return kind if isinstance(kind, str) else None


def _first_text(*values: Any) -> str | None:
    return next((value for value in values if isinstance(value, str)), None)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
