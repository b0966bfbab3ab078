"""The closed vocabularies of the stored tables: where a row came from, and who said a message."""

SOURCE_KINDS = ("openai", "azure", "local")
"""Where stored completions are read from: OpenAI, Azure OpenAI, or distillery's local store."""

CHAT_COMPLETIONS_API = "chat_completions"
"""A stored chat completion, with its input messages."""

RESPONSES_API = "responses"
"""A stored response, with its input items."""

CONVERSATIONS_API = "conversations"
"""A conversation, with its items."""

TRACES_API = "traces"
"""An LLM-call span of an OpenTelemetry trace, with its resource and scope (`pipelines.otlp`)."""

APIS = (CHAT_COMPLETIONS_API, RESPONSES_API, CONVERSATIONS_API, TRACES_API)
"""Which API a stored object was read from: a stored chat completion, a stored response (with its
input items), a conversation (with its items), or an LLM-call span of a trace. The lake keys its
rows by (api, id), so ids of the four kinds never collide there; `completions` quarantines an id
two of them share (the check `id_unique`), as everything downstream tells examples apart by id
alone."""

LEGACY_API = CHAT_COMPLETIONS_API
"""The API of lake batches written before the `api` column existed (only chat completions)."""

MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
"""Roles a chat message may have; `function` is the legacy tool role."""

INSTRUCTION_ROLES = ("system", "developer")
"""Roles that carry the application's instructions rather than the conversation itself."""
