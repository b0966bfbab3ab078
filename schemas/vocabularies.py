"""The closed vocabularies of the stored tables: where a row came from, and who said a message."""

SOURCE_KINDS = ("openai", "azure", "local")
"""Where stored completions are read from: OpenAI, Azure OpenAI, or distillery's local store."""

APIS = ("chat_completions", "responses", "conversations")
"""Which API a stored object was read from: a stored chat completion, a stored response (with its
input items), or a conversation (with its items). The lake keys its rows by (api, id), so ids of
the three kinds never collide."""

LEGACY_API = "chat_completions"
"""The API of lake batches written before the `api` column existed (only chat completions)."""

MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
"""Roles a chat message may have; `function` is the legacy tool role."""

INSTRUCTION_ROLES = ("system", "developer")
"""Roles that carry the application's instructions rather than the conversation itself."""
