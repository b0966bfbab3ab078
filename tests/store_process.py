"""Start `distillery store serve` as a real subprocess and talk to it over real HTTP.

Shared by the tests of every stage that reads stored completions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_URL_LINE = re.compile(r"listening on (http://\S+)")


def distillery_command() -> list[str]:
    """The installed console script, or the module when the script is not on PATH."""
    script = shutil.which("distillery", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "pipelines.cli"]


@dataclass
class StoreProcess:
    """A running `distillery store serve`; `url` is its root (OpenAI clients add `/v1`)."""

    url: str
    db_path: Path
    api_key: str | None
    process: subprocess.Popen[str]

    def admin(self, method: str, path: str, payload: Any = None, *, body: str | None = None) -> Any:
        """Call a `/_admin` test-control route (JSON `payload` or raw `body`); return its JSON."""
        data = body.encode() if body is not None else None
        content_type = "application/x-ndjson"
        if payload is not None:
            data, content_type = json.dumps(payload).encode(), "application/json"
        request = urllib.request.Request(f"{self.url}/_admin{path}", data=data, method=method)
        if data is not None:
            # The store refuses writes in the types a web page can send cross-site (urllib's
            # default is a form).
            request.add_header("Content-Type", content_type)
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def set_faults(self, **faults: Any) -> None:
        self.admin("PUT", "/faults", faults)

    def stats(self) -> dict[str, dict[str, int]]:
        return self.admin("GET", "/stats")

    def import_records(self, records: Iterable[dict[str, Any]]) -> dict[str, int]:
        return self.admin("POST", "/import", body="\n".join(json.dumps(r) for r in records))


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@contextmanager
def store_process(
    db_path: Path,
    *,
    api_key: str | None = None,
    extra_args: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[StoreProcess]:
    """Run `distillery store serve --port 0 --test-controls` until the block ends (with `env`
    added to the environment, e.g. a capturing store's upstream key)."""
    command = [
        *distillery_command(),
        "store",
        "serve",
        "--db",
        str(db_path),
        "--port",
        "0",
        "--test-controls",
        *(["--api-key", api_key] if api_key else []),
        *extra_args,
    ]
    environment = {k: v for k, v in os.environ.items() if k != "DISTILLERY_STORE_API_KEY"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**environment, **(env or {})},
    )
    try:
        url = _wait_for_url(process)
        yield StoreProcess(url=url, db_path=db_path, api_key=api_key, process=process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_url(process: subprocess.Popen[str], timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = _URL_LINE.search(line)
        if match:
            return match.group(1)
    process.kill()
    stderr = process.stderr.read() if process.stderr else ""
    raise RuntimeError(f"the store never announced its URL; stderr:\n{stderr}")
