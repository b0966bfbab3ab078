"""The local store: the stored-completions API (OpenAI and Azure shapes) over SQLite.

It serves the same HTTP surface as OpenAI (`/v1/chat/completions…`) and Azure OpenAI
(`/openai/chat/completions…?api-version=`), so everything downstream runs the real `openai` SDK over
real HTTP: the embedded default, the tests, and later a capture proxy.
"""

from pipelines.store.database import ImportReport, InvalidRecord, StoreDatabase
from pipelines.store.faults import FaultConfig
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
