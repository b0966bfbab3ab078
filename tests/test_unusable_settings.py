"""Settings that cannot work stop an ingest in one line, within seconds, before anything is made:
object storage without credentials, and a source nobody listens at."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.datadir.credentials import missing_credentials
from pipelines.datadir.object_storage import ObjectPath
from pipelines.ingest.reachable import public_url


def clean_env(**settings: str) -> dict[str, str]:
    """A shell with no cloud, source or distillery settings but `settings`."""
    prefixes = ("OPENAI_", "AZURE_", "DISTILLERY_", "AWS_", "GOOGLE_", "DAGSTER_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)} | settings


def run_ingest(cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    command = str(Path(sys.executable).parent / "distillery")
    started = time.monotonic()
    run = subprocess.run(
        [command, "ingest"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    return run, time.monotonic() - started


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


@pytest.mark.slow
def test_object_storage_without_credentials_names_what_is_missing(tmp_path: Path) -> None:
    run, seconds = run_ingest(tmp_path, clean_env(DISTILLERY_DATA_DIR="s3://distillery-test/x"))

    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    (line,) = [line for line in run.stderr.splitlines() if "error" in line]
    assert line.startswith("distillery: error: no credentials for s3://distillery-test: set")
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in line
    assert seconds < 10


def test_each_cloud_names_its_own_variables() -> None:
    azure = missing_credentials(ObjectPath.from_url("az://container/x"), {})
    google = missing_credentials(ObjectPath.from_url("gs://bucket/x"), {})
    keys = {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}

    assert azure and "AZURE_STORAGE_CONNECTION_STRING" in azure
    assert google and "GOOGLE_APPLICATION_CREDENTIALS" in google
    assert missing_credentials(ObjectPath.from_url("s3://bucket/x"), keys) is None
    assert missing_credentials(ObjectPath.from_url("s3://bucket/x"), {"AWS_ACCESS_KEY_ID": "a"})
    # A machine whose role the metadata service gives: said explicitly, never probed.
    on_a_cloud_machine = {"DISTILLERY_INSTANCE_CREDENTIALS": "on"}
    assert missing_credentials(ObjectPath.from_url("s3://bucket/x"), on_a_cloud_machine) is None


@pytest.mark.slow
def test_an_unreachable_source_is_one_line_naming_the_url_and_makes_nothing(
    tmp_path: Path,
) -> None:
    port = closed_port()
    env = clean_env(
        OPENAI_API_KEY="sk-do-not-print-me",
        OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1",
    )

    run, seconds = run_ingest(tmp_path, env)

    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    (line,) = [line for line in run.stderr.splitlines() if "error" in line]
    assert f"cannot reach the source at http://127.0.0.1:{port}/v1" in line
    assert "sk-do-not-print-me" not in run.stdout + run.stderr
    assert seconds < 10
    assert list(tmp_path.iterdir()) == []


def test_a_printed_url_carries_no_user_password_or_query() -> None:
    assert public_url("https://me:sk-secret@example.com:8443/v1?key=sk-2#x") == (
        "https://example.com:8443/v1"
    )
