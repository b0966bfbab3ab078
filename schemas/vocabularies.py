"""The closed vocabularies of the stored tables: where a row came from, and who said a message."""

SOURCE_KINDS = ("openai", "azure", "local")
"""Where stored completions are read from: OpenAI, Azure OpenAI, or distillery's local store."""

MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
"""Roles a chat message may have; `function` is the legacy tool role."""

INSTRUCTION_ROLES = ("system", "developer")
"""Roles that carry the application's instructions rather than the conversation itself."""
