"""What an ingest reads from its source, from the environment.

- `DISTILLERY_CHAT_COMPLETIONS`: `off` skips the stored-chat-completions list (default on);
- `DISTILLERY_RESPONSES_LIST`: `on` pages the source's `GET /responses` (Azure Foundry, a
  capturing store; OpenAI has none), `off` never; unset, it is paged when the source is a
  capturing store (`distillery store serve --upstream`): its every answer says so
  (`STORE_HEADER`), and the chat-completions list, read first, hears it;
- `DISTILLERY_RESPONSE_IDS`: an ids file, stored responses read by id (`pipelines.ingest.ids`);
- `DISTILLERY_CONVERSATION_IDS`: an ids file, conversations read by id;
- `DISTILLERY_TRACES`: `on` reads the trace spans the source's store received (`distillery store
  serve` takes OTLP/HTTP exports at `/v1/traces`);
- `DISTILLERY_TRACES_PATH`: a file or directory of OTLP JSON-lines files (the Collector's file
  exporter), or an object storage prefix (`s3://`, `az://`, `gs://`), read incrementally;
- `DISTILLERY_AGENT_SESSIONS`: `on` reads every session's traces through the Agents API
  (`GET /agents/sessions`, OpenAI's or the store's).

The bundled sample (the `local` source with no settings) reads everything it holds: its chat
completions, its responses through the store's list, and its conversations by the ids of its
conversations file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.ingest.ids import read_ids
from pipelines.ingest.sources import SourceConfigError
from pipelines.sample import CONVERSATIONS_SAMPLE_PATH
from pipelines.source_kind import CAPTURE_STORE
from pipelines.wording import counted

_ON = {"1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class ReadPlan:
    """Which APIs a run reads, and how.

    Attributes:
        chat_completions: Page the stored-chat-completions list.
        responses_list: Page the source's list of stored responses; None: when the source's
            answers say it is a capturing store (`listing_responses`).
        response_ids: Stored responses to read by id.
        conversation_ids: Conversations to read by id.
        traces: Page the trace spans the source's store received.
        traces_path: Read OTLP JSON-lines files under this path or object storage prefix.
        agent_sessions: Read the Agents API sessions' traces.
    """

    chat_completions: bool = True
    responses_list: bool | None = False
    response_ids: tuple[str, ...] = ()
    conversation_ids: tuple[str, ...] = ()
    traces: bool = False
    traces_path: str | None = None
    agent_sessions: bool = False

    @property
    def reads_source(self) -> bool:
        """Whether anything is read from the source (trace files are read from disk)."""
        return bool(
            self.chat_completions
            or self.responses_list
            or self.response_ids
            or self.conversation_ids
            or self.traces
            or self.agent_sessions
        )

    def listing_responses(self, store: str | None) -> bool:
        """Whether the responses list is read, once the source has answered: `store` is what
        it said it is (`RequestCounter.store`), None when not distillery's own store."""
        return bool(self.responses_list or (self.responses_list is None and store == CAPTURE_STORE))

    def describe(self) -> str:
        parts = ["chat completions (list)"] if self.chat_completions else []
        if self.responses_list:
            parts.append("responses (list)")
        elif self.responses_list is None:
            parts.append("responses (list, if the source is a capturing store)")
        if self.response_ids:
            parts.append(f"{counted(len(self.response_ids), 'response')} by id")
        if self.conversation_ids:
            parts.append(f"{counted(len(self.conversation_ids), 'conversation')} by id")
        if self.traces:
            parts.append("trace spans the store received")
        if self.traces_path:
            parts.append(f"trace files under {self.traces_path}")
        if self.agent_sessions:
            parts.append("agent sessions' traces")
        return ", ".join(parts) or "nothing"


def read_plan(source_kind: str, env: Mapping[str, str] | None = None) -> ReadPlan:
    """The plan the environment describes for a source of `source_kind`.

    Raises:
        SourceConfigError: A switch is not on/off, an ids file cannot be read, or nothing at all
            would be read.
    """
    env = os.environ if env is None else env
    local = source_kind == "local"
    response_ids = env.get("DISTILLERY_RESPONSE_IDS", "").strip()
    conversation_ids = env.get("DISTILLERY_CONVERSATION_IDS", "").strip()
    chat_completions = _switch(env, "DISTILLERY_CHAT_COMPLETIONS", default=True)
    # Unset: the sample's store lists; another source is listed if it is a capturing store,
    # which the chat-completions list (read first) finds out; without it, nothing tells.
    responses_list = _switch(
        env,
        "DISTILLERY_RESPONSES_LIST",
        default=True if local else (None if chat_completions else False),
    )
    plan = ReadPlan(
        chat_completions=chat_completions,
        responses_list=responses_list,
        response_ids=read_ids(response_ids) if response_ids else (),
        conversation_ids=read_ids(conversation_ids)
        if conversation_ids
        else read_ids(CONVERSATIONS_SAMPLE_PATH)
        if local
        else (),
        traces=_switch(env, "DISTILLERY_TRACES", default=False),
        traces_path=env.get("DISTILLERY_TRACES_PATH", "").strip() or None,
        agent_sessions=_switch(env, "DISTILLERY_AGENT_SESSIONS", default=False),
    )
    if plan.describe() == "nothing":
        raise SourceConfigError(
            "nothing to read: DISTILLERY_CHAT_COMPLETIONS is off and no responses,"
            " conversations or traces are configured"
        )
    return plan


def _switch(env: Mapping[str, str], name: str, *, default: bool | None) -> bool | None:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _ON | _OFF:
        return value in _ON
    raise SourceConfigError(f"{name}={value!r} is neither on nor off")
