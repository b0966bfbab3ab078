"""`distillery store serve` refuses, in one line and with exit code 2, what it cannot serve: a store
file it cannot write, and a keys file that does not say who is who."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.store_process import distillery_command


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    command = [*distillery_command(), "store", "serve", "--port", "0", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILLERY_")}
    env["DISTILLERY_UPSTREAM_API_KEY"] = "sk-upstream-0123456789abcdef"
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("distillery: error: ")
    assert all(word in result.stderr for word in words), result.stderr


@pytest.mark.slow
def test_a_store_file_that_cannot_be_written_ends_in_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    not_a_database = tmp_path / "garbage.db"
    not_a_database.write_bytes(b"this is not SQLite" * 100)

    assert_refused(serve("--db", str(not_a_folder / "s.db")), "store file")
    assert_refused(serve("--db", str(not_a_database), "--upstream", "http://127.0.0.1:9/v1"))


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_store_file_ends_in_one_line(tmp_path: Path) -> None:
    db_path = tmp_path / "s.db"
    subprocess.run(["sqlite3", str(db_path), "VACUUM"], check=False)
    db_path.touch()
    db_path.chmod(0o444)

    assert_refused(serve("--db", str(db_path)), "store file")


@pytest.mark.slow
def test_a_keys_file_that_does_not_say_who_is_who_ends_in_one_line(tmp_path: Path) -> None:
    upstream = ["--upstream", "http://127.0.0.1:9/v1", "--db", str(tmp_path / "s.db")]
    no_tenants = tmp_path / "empty.yaml"
    no_tenants.write_text("apps: {}\n")
    short_key = tmp_path / "short.yaml"
    short_key.write_text("tenants:\n  app_a: {key: sk-secret}\n")
    bad_role = tmp_path / "role.yaml"
    bad_role.write_text("tenants:\n  app_a: {key: sk-0123456789abcdef, role: admin}\n")

    assert_refused(serve(*upstream, "--keys", str(tmp_path / "missing.yaml")), "keys file")
    assert_refused(serve(*upstream, "--keys", str(no_tenants)), "tenants")
    short = serve(*upstream, "--keys", str(short_key))
    assert_refused(short, "app_a", "16 characters")
    assert "sk-secret" not in short.stderr
    assert_refused(serve(*upstream, "--keys", str(bad_role)), "role")
    good = tmp_path / "good.yaml"
    good.write_text("tenants:\n  app_a: {key: sk-0123456789abcdef}\n")
    both = serve(*upstream, "--keys", str(good), "--api-key", "sk-store-0123456789abcdef")
    assert_refused(both, "--keys and --api-key")
