"""Run distillery's Dagster jobs in subprocesses with the data directory on object storage."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from pipelines.datadir.object_storage import ObjectPath
from pipelines.export.manifest import read_manifest
from pipelines.export.versions import latest_version


def job_env(home: Path, data_dir: str, store_env: dict[str, str]) -> dict[str, str]:
    """The environment of a run: no source credentials (the bundled sample), its own
    DAGSTER_HOME, the data directory and the object store's settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "AZURE_OPENAI_", "DISTILLERY_", "AWS_", "AZURE_STORAGE"))
    }
    home.mkdir(parents=True, exist_ok=True)
    env.update(store_env, DAGSTER_HOME=str(home), DISTILLERY_DATA_DIR=data_dir)
    return env


def dagster(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_job(job: str, *, cwd: Path, env: dict[str, str], config: Path | None = None) -> str:
    """Run `job` to the end; its output (asserting it succeeded)."""
    args = ["job", "execute", "-m", "assets.definitions", "-j", job]
    if config is not None:
        args += ["-c", str(config)]
    process = dagster(*args, cwd=cwd, env=env)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-4000:]
    return output


def objects(root: ObjectPath) -> dict[str, bytes]:
    """Every object under `root`, by key relative to it."""
    return {item.relative_to(root): item.read_bytes() for item in root.walk()}


def assert_latest_is_whole(data_dir: ObjectPath, recipe: str = "default") -> str:
    """LATEST names a version whose manifest lists every file with its right sha256."""
    version = latest_version(data_dir, recipe)
    assert version is not None
    directory = data_dir / "artifacts" / recipe / version
    manifest = read_manifest(directory / "manifest.json")
    assert manifest.version == version
    for name, entry in manifest.files.items():
        data = (directory / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256, name
        assert len(data) == entry.bytes, name
    return version
