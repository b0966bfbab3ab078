"""LLM-call spans (OpenTelemetry) in the shapes of Chat Completions: one code path types them all.

`span_as_chat` returns what a stored chat completion holds (`ChatShapes`) for one span record
(`pipelines.otlp`: the span with its resource and scope), whichever of the three shapes its
instrumentation wrote:

- **GenAI semantic conventions** (`opentelemetry-instrumentation-openai-v2` ≥ 2.4 with
  `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=span_only`, OpenLLMetry ≥ 0.55):
  `gen_ai.input.messages` / `gen_ai.output.messages` as JSON, each message a role and `parts`
  (`text`, `tool_call` with id, name and an arguments *object*, `tool_call_response` with the id
  it answers, `uri` / `blob` media); `gen_ai.system_instructions` as a leading system message;
  tools from `gen_ai.tool.definitions`.
- **OpenLLMetry's flattened attributes** (up to 0.54): `gen_ai.prompt.N.role/content/
  tool_call_id/tool_calls.M.{id,name,arguments}`, `gen_ai.completion.N.…`, tools as
  `llm.request.functions.N.{name,description,parameters}`.
- **OpenInference** (`openinference-instrumentation-openai`): the whole request and response in
  `input.value` / `output.value` (JSON) when they are there, which is the call exactly as the SDK
  made it; else `llm.input_messages.N.message.…`, `llm.output_messages.N.message.…` (tool calls
  under `tool_calls.M.tool_call.…`, arguments as the original string),
  `llm.tools.N.tool.json_schema`, `llm.invocation_parameters`, `llm.token_count.*`.

Common to all: usage from `gen_ai.usage.*` (or `llm.token_count.*`), settings from
`gen_ai.request.*`, `created` from the span's start; the trace id, span id, parent span id,
response id and session or conversation id (when the span has them), and the tenant a capturing
store received it from, become metadata pairs, so recipes select by them and splits can group by
them.

What cannot be recovered: the semantic conventions keep tool-call arguments as a JSON object, so
they are written back as compact JSON (`{"city":"Paris"}`), the same value but not necessarily the
model's exact string; the official instrumentation records no tool definitions.

A span without content (capture off, the default of every instrumentation; or OpenInference's
`"__REDACTED__"` placeholders, which are not content) gives no input messages and an empty
output: `completions` quarantines it as `trace_content_captured`, naming the switch to turn.
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.completions.responses import ChatShapes
from pipelines.jsontext import loads
from pipelines.otlp import span_attributes

TENANT_METADATA_KEY = "distillery_tenant"
"""The metadata pair of the tenant a capturing store received the span from (the record's
`tenant`), the key captures carry it under (`pipelines.store.tenants.TENANT_KEY`, which this stage
does not import)."""

REDACTED = "__REDACTED__"
"""OpenInference's placeholder for content it was told not to record."""

_SETTINGS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "seed")
_REQUEST_KEYS = (*_SETTINGS, "response_format", "tool_choice", "parallel_tool_calls")
_FINISH_REASONS = {"tool_call": "tool_calls"}  # the conventions' name → Chat Completions'
_METADATA_ATTRIBUTES = {
    "response_id": ("gen_ai.response.id",),
    "conversation_id": ("gen_ai.conversation.id",),
    "session_id": ("session.id", "gen_ai.session.id"),
}


def span_as_chat(record: dict[str, Any]) -> ChatShapes:
    """An LLM-call span record in chat-completion shapes (see the module docstring)."""
    attrs = span_attributes(record)
    span = record.get("span") if isinstance(record.get("span"), dict) else {}
    if "gen_ai.input.messages" in attrs or "gen_ai.output.messages" in attrs:
        messages, output, tools = _semconv(attrs)
    elif any(key.startswith(("gen_ai.prompt.", "gen_ai.completion.")) for key in attrs):
        messages, output, tools = _openllmetry(attrs)
    else:
        messages, output, tools, request = _openinference(attrs)
        attrs = {**{f"gen_ai.request.{k}": v for k, v in request.items()}, **attrs}
    if _redacted(messages, output):
        messages, output = [], {}
    finish = output.pop("finish_reason", None) or _first(
        attrs.get("gen_ai.response.finish_reasons")
    )
    completion: dict[str, Any] = {
        "created": _seconds(span.get("startTimeUnixNano")),
        **{key: attrs.get(f"gen_ai.request.{key}") for key in _REQUEST_KEYS},
        "tools": tools,
        "service_tier": _first_of(
            attrs, "openai.response.service_tier", "gen_ai.openai.response.service_tier"
        ),
        "system_fingerprint": _first_of(
            attrs,
            "openai.response.system_fingerprint",
            "gen_ai.openai.response.system_fingerprint",
            "gen_ai.openai.system_fingerprint",
        ),
        "input_user": _first_of(attrs, "gen_ai.request.user", "user.id"),
        "metadata": _metadata(span, attrs, record.get("tenant")),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **output},
                "finish_reason": _FINISH_REASONS.get(finish, finish),
            }
        ],
        "usage": _usage(attrs),
    }
    return ChatShapes(completion=completion, messages=messages)


# -- the GenAI semantic conventions -----------------------------------------------------------


def _semconv(attrs: dict[str, Any]) -> tuple[list[Any], dict[str, Any], Any]:
    messages: list[dict[str, Any]] = []
    instructions = _json_list(attrs.get("gen_ai.system_instructions"))
    inputs = _json_list(attrs.get("gen_ai.input.messages"))
    if instructions and not any(_dict(m).get("role") == "system" for m in inputs):
        messages.extend(_semconv_message({"role": "system", "parts": instructions}))
    for message in inputs:
        messages.extend(_semconv_message(_dict(message)))
    outputs = _json_list(attrs.get("gen_ai.output.messages"))
    output: dict[str, Any] = {}
    if outputs:
        first = _dict(outputs[0])
        shaped = _semconv_message({**first, "role": "assistant"})
        output = {key: value for key, value in shaped[0].items() if key != "role"}
        output["finish_reason"] = first.get("finish_reason")
    definitions = _json_list(attrs.get("gen_ai.tool.definitions"))
    return messages, output, [_chat_tool(tool) for tool in definitions] or None


def _semconv_message(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One message of the conventions as chat messages: one per tool result, else one."""
    role, texts, media, calls, results = message.get("role"), [], [], [], []
    for part in _list(message.get("parts")):
        part = _dict(part)
        kind = part.get("type")
        if kind == "text":
            texts.append(part.get("content"))
        elif kind == "tool_call":
            calls.append(_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            results.append(
                {
                    "role": "tool",
                    "tool_call_id": part.get("id"),
                    "content": _text(part.get("response")),
                }
            )
        elif kind in ("uri", "blob") and part.get("modality") == "image":
            url = part.get("uri")
            if kind == "blob":
                url = f"data:{part.get('mime_type') or 'image/png'};base64,{part.get('content')}"
            media.append({"type": "image_url", "image_url": {"url": url}})
        # reasoning parts are not what the model said (as for responses); others are unknown
    if results and not (texts or calls or media):
        return results
    content: Any = texts[0] if len(texts) == 1 and not media else None
    if media or len(texts) > 1:
        content = [*({"type": "text", "text": text} for text in texts), *media]
    shaped: dict[str, Any] = {"role": role, "content": content}
    if calls:
        shaped["tool_calls"] = calls
    return [shaped, *results]


# -- OpenLLMetry's flattened attributes (up to 0.54) ------------------------------------------


def _openllmetry(attrs: dict[str, Any]) -> tuple[list[Any], dict[str, Any], Any]:
    messages = [_flat_message(flat) for flat in _indexed(attrs, "gen_ai.prompt")]
    completions = _indexed(attrs, "gen_ai.completion")
    output: dict[str, Any] = {}
    if completions:
        shaped = _flat_message(completions[0])
        output = {key: value for key, value in shaped.items() if key != "role"}
        output["finish_reason"] = completions[0].get("finish_reason")
    tools = [
        {
            "type": "function",
            "function": {
                key: _maybe_json(value) if key == "parameters" else value
                for key, value in function.items()
                if key in ("name", "description", "parameters")
            },
        }
        for function in _indexed(attrs, "llm.request.functions")
    ]
    return messages, output, tools or None


def _flat_message(flat: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": flat.get("role"), "content": flat.get("content")}
    calls = [
        _call(call.get("id"), call.get("name"), call.get("arguments"))
        for call in _indexed(flat, "tool_calls")
    ]
    if calls:
        message["tool_calls"] = calls
    if flat.get("tool_call_id") is not None:
        message["tool_call_id"] = flat["tool_call_id"]
    return message


# -- OpenInference ----------------------------------------------------------------------------


def _openinference(
    attrs: dict[str, Any],
) -> tuple[list[Any], dict[str, Any], Any, dict[str, Any]]:
    request = _dict(_maybe_json(attrs.get("input.value")))
    response = _dict(_maybe_json(attrs.get("output.value")))
    if not isinstance(request.get("messages"), list):
        request = {
            **_dict(_maybe_json(attrs.get("llm.invocation_parameters"))),
            "messages": [_oi_message(flat) for flat in _indexed(attrs, "llm.input_messages")],
            "tools": [
                _maybe_json(tool.get("tool.json_schema")) for tool in _indexed(attrs, "llm.tools")
            ]
            or None,
        }
    choices = _list(response.get("choices"))
    if choices:
        first = _dict(choices[0])
        message = _dict(first.get("message"))
        output = {key: value for key, value in message.items() if key != "role"}
        output["finish_reason"] = first.get("finish_reason")
    else:
        outputs = _indexed(attrs, "llm.output_messages")
        output = _oi_message(outputs[0]) if outputs else {}
        output.pop("role", None)
        output["finish_reason"] = attrs.get("llm.finish_reason")
    settings = {key: request.get(key) for key in _REQUEST_KEYS if request.get(key) is not None}
    return _list(request.get("messages")), output, request.get("tools"), settings


def _oi_message(flat: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": flat.get("message.role")}
    contents = _indexed(flat, "message.contents")
    if contents:
        message["content"] = [_oi_part(part) for part in contents]
    else:
        message["content"] = flat.get("message.content")
    calls = [
        _call(
            call.get("tool_call.id"),
            call.get("tool_call.function.name"),
            call.get("tool_call.function.arguments"),
        )
        for call in _indexed(flat, "message.tool_calls")
    ]
    if calls:
        message["tool_calls"] = calls
    for key in ("tool_call_id", "name"):
        if flat.get(f"message.{key}") is not None:
            message[key] = flat[f"message.{key}"]
    return message


def _oi_part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("message_content.type") == "image":
        return {
            "type": "image_url",
            "image_url": {"url": part.get("message_content.image.image.url")},
        }
    return {"type": "text", "text": part.get("message_content.text")}


# -- shared -----------------------------------------------------------------------------------


def _indexed(flat: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """`prefix.N.rest` keys as a list (by N) of `{rest: value}` dicts."""
    groups: dict[int, dict[str, Any]] = {}
    head = prefix + "."
    for key, value in flat.items():
        if not key.startswith(head):
            continue
        number, _, rest = key[len(head) :].partition(".")
        if number.isdigit() and rest:
            groups.setdefault(int(number), {})[rest] = value
    return [groups[number] for number in sorted(groups)]


def _call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, str) and arguments is not None:
        arguments = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _chat_tool(tool: Any) -> Any:
    """A tool definition of the conventions (`{"type", "name", "description", "parameters"}`) in
    the chat shape; one already in it as it is."""
    tool = _dict(tool)
    if "function" in tool or tool.get("type", "function") != "function":
        return tool
    keys = ("name", "description", "parameters", "strict")
    return {"type": "function", "function": {k: tool[k] for k in keys if tool.get(k) is not None}}


def _redacted(messages: list[Any], output: dict[str, Any]) -> bool:
    """Whether a placeholder stands where content was: then nothing of the span is content."""
    texts = [_dict(message).get("content") for message in messages]
    texts.append(output.get("content"))
    return REDACTED in texts or any(
        _dict(part).get("text") == REDACTED for text in texts for part in _list(text)
    )


def _metadata(span: dict[str, Any], attrs: dict[str, Any], tenant: Any) -> dict[str, str]:
    pairs = {
        "trace_id": span.get("traceId"),
        "span_id": span.get("spanId"),
        "parent_span_id": span.get("parentSpanId") or None,
    }
    for key, names in _METADATA_ATTRIBUTES.items():
        pairs[key] = _first_of(attrs, *names)
    pairs[TENANT_METADATA_KEY] = tenant
    return {key: str(value) for key, value in pairs.items() if value is not None}


def _usage(attrs: dict[str, Any]) -> dict[str, Any]:
    prompt = _first_of(
        attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"
    )
    completion = _first_of(
        attrs,
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    )
    total = _first_of(
        attrs, "gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total"
    )
    if total is None and isinstance(prompt, int) and isinstance(completion, int):
        total = prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def _seconds(nanos: Any) -> int | None:
    try:
        return int(nanos) // 1_000_000_000 if nanos not in (None, "", "0", 0) else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> Any:
    return value if isinstance(value, str) or value is None else json.dumps(value)


def _maybe_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return loads(value)
    except ValueError:
        return value


def _json_list(value: Any) -> list[Any]:
    return _list(_maybe_json(value))


def _first_of(attrs: dict[str, Any], *names: str) -> Any:
    return next((attrs[name] for name in names if attrs.get(name) is not None), None)


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
