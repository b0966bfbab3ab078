"""The bundled sample never shares a lake with a real source: it has a data directory of its own,
and a lake that holds one kind refuses the other in one line."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.datadir.paths import DataPaths, data_dir_from_env
from pipelines.ingest import ingest, open_source, read_plan
from pipelines.ingest.errors import SampleMixError
from pipelines.ingest.sources import SourceInfo
from pipelines.ingest.state import IngestState, write_state

# A real source's settings (the refusal comes before any request is sent).
OPENAI_ENV = {"OPENAI_API_KEY": "sk-not-used", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}


@pytest.fixture
def listening_source() -> Iterator[dict[str, str]]:
    """`OPENAI_ENV` pointed at a port that accepts connections, so the source is reachable."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        yield OPENAI_ENV | {"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}


def test_the_sample_defaults_to_a_data_directory_of_its_own() -> None:
    assert data_dir_from_env({}) == Path("distillery-data/sample")
    assert data_dir_from_env({"DISTILLERY_SOURCE": "local"}) == Path("distillery-data/sample")
    assert data_dir_from_env(OPENAI_ENV) == Path("distillery-data")
    assert data_dir_from_env({"AZURE_OPENAI_ENDPOINT": "https://x"}) == Path("distillery-data")
    assert data_dir_from_env({"DISTILLERY_DATA_DIR": "/d"}) == Path("/d")


def run_ingest(env: dict[str, str], data_dir: Path) -> None:
    with open_source(env) as (client, source, _requests):
        ingest(client, source=source, data_dir=data_dir, plan=read_plan(source.kind))


def batch_files(data_dir: Path) -> list[Path]:
    return DataPaths(data_dir).batch_files()


@pytest.mark.slow
def test_a_real_source_is_refused_where_the_sample_was_read(
    tmp_path: Path, listening_source: dict[str, str]
) -> None:
    run_ingest({}, tmp_path)
    before = batch_files(tmp_path)
    assert before

    with pytest.raises(SampleMixError) as refused:
        run_ingest(listening_source, tmp_path)

    message = str(refused.value)
    assert "\n" not in message
    assert "bundled sample's synthetic rows" in message
    assert "DISTILLERY_DATA_DIR" in message
    assert "sk-not-used" not in message
    assert batch_files(tmp_path) == before


@pytest.mark.slow
def test_the_sample_is_refused_where_a_real_source_was_read(tmp_path: Path) -> None:
    write_state(
        DataPaths(tmp_path),
        IngestState(source=SourceInfo(kind="openai", endpoint_host="api.openai.com")),
    )

    with pytest.raises(SampleMixError) as refused:
        run_ingest({}, tmp_path)

    message = str(refused.value)
    assert "\n" not in message
    assert "holds rows read from openai" in message
    assert "unset DISTILLERY_DATA_DIR" in message
    assert batch_files(tmp_path) == []
