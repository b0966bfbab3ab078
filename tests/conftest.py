"""Fixtures: a real `distillery store serve` subprocess and real `openai` clients pointed at it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.profiles import examples  # noqa: F401 (loads the hypothesis profile first)
from tests.records import completion_record, conversation
from tests.store_process import StoreProcess, distillery_command, store_process, write_jsonl

STORE_KEY = "sk-distillery-test-key-0000"
AZURE_API_VERSION = "2025-02-01-preview"

MODELS = ["gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "gpt-4o-2024-08-06"]


def listing_records() -> list[dict[str, Any]]:
    """53 records: repeated `created` values (so insertion order must break ties), three models,
    metadata on most, a 30-message conversation, and malformed records that must still list."""
    records = []
    for i in range(48):
        metadata = {"app": "support" if i % 2 else "search", "env": "prod" if i % 3 else "dev"}
        if i % 5 == 0:
            metadata = {}
        records.append(
            completion_record(
                f"chatcmpl-list-{i:03d}",
                # Out of order and with ties: 0, 7, 14, … mod 10.
                created=1_760_000_000 + (i * 7) % 10,
                model=MODELS[i % 3],
                metadata=metadata,
            )
        )
    records.append(
        completion_record("chatcmpl-long", created=1_760_000_005, input_messages=conversation(30))
    )
    malformed = [
        completion_record("chatcmpl-bad-nochoices", choices=[]),
        completion_record("chatcmpl-bad-number", input_messages=[{"role": "user", "content": 42}]),
        completion_record(
            "chatcmpl-bad-role", input_messages=[{"role": "narrator", "content": "x"}]
        ),
        completion_record("chatcmpl-bad-nocreated", created=None),
    ]
    return records + malformed


def expected_order(records: list[dict[str, Any]], order: str) -> list[str]:
    """Ids sorted as the store promises: by `created` (missing counts as 0), then insertion."""
    keyed = [(r.get("created") or 0, position, r["id"]) for position, r in enumerate(records)]
    ids = [completion_id for _, _, completion_id in sorted(keyed)]
    return ids if order == "asc" else ids[::-1]


@pytest.fixture(scope="session")
def records() -> list[dict[str, Any]]:
    return listing_records()


@pytest.fixture(scope="session")
def store(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]]
) -> Iterator[StoreProcess]:
    """A read-only store holding `records`, imported through the real CLI, requiring a key."""
    directory = tmp_path_factory.mktemp("store")
    source = write_jsonl(directory / "records.jsonl", records)
    db_path = directory / "store.db"
    subprocess.run(
        [*distillery_command(), "store", "import", str(source), "--db", str(db_path)], check=True
    )
    with store_process(db_path, api_key=STORE_KEY) as process:
        yield process


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[StoreProcess]:
    """An empty store of its own, for tests that change data or faults."""
    with store_process(tmp_path / "store.db", api_key=STORE_KEY) as process:
        yield process


def openai_client(store: StoreProcess, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{store.url}/v1", api_key=store.api_key, **options)


def azure_client(store: StoreProcess, **options: Any) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=store.url, api_key=store.api_key, api_version=AZURE_API_VERSION, **options
    )


@pytest.fixture(params=["openai", "azure"])
def client(request: pytest.FixtureRequest, store: StoreProcess) -> openai.OpenAI:
    """The real SDK client of each shape, pointed at the shared store."""
    factory = openai_client if request.param == "openai" else azure_client
    return factory(store, max_retries=0)


CREDENTIAL_VARIABLES = (
    "DISTILLERY_SOURCE",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
)


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No source configured: the pipeline reads the bundled sample, as on a fresh machine."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
