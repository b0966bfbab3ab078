"""Judge JSON the store serves by the installed `openai` SDK's own pydantic models.

Strict where the SDK allows: pydantic's strict mode (no coercion: a number is not a string), and no
field the SDK's model does not declare, except the ones named here with the reason the SDK lacks
them. Every failure is kept with the object it belongs to, so a test can say which records fail
and why, instead of stopping at the first.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, get_args, get_type_hints

import pydantic
from openai import BaseModel
from openai.types.chat import ChatCompletionMessageParam

UNDECLARED_CHAT_FIELDS = frozenset(
    {
        # The request's settings: a stored completion carries them, the SDK's ChatCompletion does
        # not declare them (REFERENCE: "read them from model_extra").
        "request_id",
        "seed",
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "tools",
        "tool_choice",
        "response_format",
        "input_user",
        # Azure's content-filter annotations, on the completion and on each choice.
        "prompt_filter_results",
        "content_filter_results",
    }
)
"""Fields of a stored chat completion the SDK's `ChatCompletion` leaves undeclared."""

STORE_ONLY_MESSAGE_KEYS = ("id", "content_parts")
"""Keys a stored input message has and a request's message (the SDK's param types) has not."""


def _role_of(param_type: Any) -> str:
    role = get_type_hints(param_type, include_extras=True)["role"]  # Required[Literal["tool"]]
    while get_args(role):
        (role,) = get_args(role)
    return role


_REQUEST_MESSAGE_BY_ROLE = {
    _role_of(member): pydantic.TypeAdapter(member)
    for member in get_args(ChatCompletionMessageParam)
}
"""The SDK's request-message type for each role of the Chat Completions API."""


class Findings:
    """Validation failures, by the id of the stored object they belong to."""

    def __init__(self) -> None:
        self.by_owner: dict[str, list[str]] = defaultdict(list)
        self.validated = 0

    def fail(self, owner: str, where: str, message: str) -> None:
        self.by_owner[owner].append(f"{where}: {message}")

    def model(
        self,
        kind: Any,
        value: Any,
        *,
        owner: str,
        where: str,
        undeclared: frozenset[str] = frozenset(),
    ) -> Any:
        """Validate `value` as `kind` (a model or a union of models) strictly and look for fields
        the SDK does not declare; return the validated object, or None when it failed."""
        self.validated += 1
        try:
            parsed = pydantic.TypeAdapter(kind).validate_python(value, strict=True)
        except pydantic.ValidationError as err:
            self.fail(owner, where, _summary(err))
            return None
        for path in undeclared_fields(parsed):
            if path.rsplit(".", 1)[-1] not in undeclared:
                self.fail(owner, where, f"{path}: a field the SDK's model does not declare")
        return parsed

    def stored_message(self, message: Any, *, owner: str, where: str) -> None:
        """A stored input message, by the two SDK types that describe one.

        `ChatCompletionStoreMessage` (what `messages.list` returns) types every message's role as
        "assistant", whatever it is, so it is judged on its other fields with that role; the
        request types (`ChatCompletionMessageParam`, one per role) judge the role and what each
        role must carry. They write an absent optional key as missing, the store as null.
        """
        from openai.types.chat import ChatCompletionStoreMessage

        if not isinstance(message, dict):
            self.fail(owner, where, f"a message that is not an object: {message!r}")
            return
        self.model(
            ChatCompletionStoreMessage,
            {**message, "role": "assistant"},
            owner=owner,
            where=where,
            undeclared=frozenset({"name", "tool_call_id"}),
        )
        request_message = {
            key: value
            for key, value in message.items()
            if key not in STORE_ONLY_MESSAGE_KEYS and value is not None
        }
        self.validated += 1
        adapter = _REQUEST_MESSAGE_BY_ROLE.get(message.get("role"))  # type: ignore[arg-type]
        if adapter is None:
            self.fail(owner, where, f"role {message.get('role')!r} is none of the API's")
            return
        try:
            adapter.validate_python(request_message, strict=True)
        except pydantic.ValidationError as err:
            self.fail(owner, f"{where} as a {message['role']} message", _summary(err))

    def summary(self, by_owner: dict[str, list[str]] | None = None) -> str:
        """Each distinct failure once, with how many objects have it and a few of their ids."""
        owners_of: dict[str, list[str]] = defaultdict(list)
        for owner, failures in (self.by_owner if by_owner is None else by_owner).items():
            for failure in dict.fromkeys(failures):
                owners_of[failure].append(owner)
        return "\n".join(
            f"{len(owners)}× {failure} (e.g. {', '.join(sorted(owners)[:3])})"
            for failure, owners in sorted(owners_of.items(), key=lambda kv: -len(kv[1]))
        )


def undeclared_fields(value: Any, path: str = "") -> list[str]:
    """Dotted paths of every field an SDK model holds without declaring it, at any depth."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            found.append(f"{path}.{key}".lstrip("."))
        for name in type(value).model_fields:
            found += undeclared_fields(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += undeclared_fields(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += undeclared_fields(item, f"{path}.{key}")
    return found


def _summary(err: pydantic.ValidationError) -> str:
    # The SDK's unions report one error per member; the first few name the field that broke.
    parts = [f"{'.'.join(str(part) for part in e['loc'])} {e['type']}" for e in err.errors()[:4]]
    return "; ".join(parts)
