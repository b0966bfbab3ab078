"""The local store: the stored-completions API (OpenAI and Azure shapes) over SQLite.

It serves the same HTTP surface as OpenAI (`/v1/chat/completions…`) and Azure OpenAI
(`/openai/chat/completions…?api-version=`), so everything downstream runs the real `openai` SDK over
real HTTP: the embedded default and the tests. It also serves the Responses API's stored responses
(`responses`) and conversations (`conversations`), all three imported from one JSONL format
(`imports`), and with `serve --upstream` it is a capturing proxy in front of any OpenAI-compatible
endpoint (`pipelines.store.capture`).
"""

from pipelines.store.database import StoreDatabase
from pipelines.store.faults import FaultConfig
from pipelines.store.imports import ImportReport, InvalidRecord
from pipelines.store.server import create_app, running_store, serve

__all__ = [
    "FaultConfig",
    "ImportReport",
    "InvalidRecord",
    "StoreDatabase",
    "create_app",
    "running_store",
    "serve",
]
