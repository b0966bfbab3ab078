"""pandera (polars) models, one per stored table, named after its asset, and the vocabularies.

Each table's polars schema is derived from its model (`*_SCHEMA`), never written a second time.
Imports pandera and polars only, never dagster.
"""

from schemas.completions import Completions, Conversations
from schemas.completions_quarantine import CompletionsQuarantine
from schemas.curated import Curated
from schemas.derive import polars_schema
from schemas.raw_completions import RawCompletions
from schemas.vocabularies import (
    APIS,
    CHAT_COMPLETIONS_API,
    CONVERSATIONS_API,
    INSTRUCTION_ROLES,
    LEGACY_API,
    MESSAGE_ROLES,
    RESPONSES_API,
    SOURCE_KINDS,
    TRACES_API,
)

RAW_COMPLETIONS_SCHEMA = polars_schema(RawCompletions)
COMPLETIONS_SCHEMA = polars_schema(Completions)
QUARANTINE_SCHEMA = polars_schema(CompletionsQuarantine)
CURATED_SCHEMA = polars_schema(Curated)

RAW_JSON_COLUMNS = ("completion_json", "messages_json")
"""The stored object and its items as they came, in the lake and the table; every other column of
`completions` is typed from them. Curated rows never carry them (they would hold the text
unredacted)."""

__all__ = [
    "APIS",
    "CHAT_COMPLETIONS_API",
    "COMPLETIONS_SCHEMA",
    "CONVERSATIONS_API",
    "CURATED_SCHEMA",
    "INSTRUCTION_ROLES",
    "LEGACY_API",
    "MESSAGE_ROLES",
    "QUARANTINE_SCHEMA",
    "RAW_COMPLETIONS_SCHEMA",
    "RAW_JSON_COLUMNS",
    "RESPONSES_API",
    "SOURCE_KINDS",
    "TRACES_API",
    "Completions",
    "CompletionsQuarantine",
    "Conversations",
    "Curated",
    "RawCompletions",
    "polars_schema",
]
