"""One path downstream: traffic captured through the proxy becomes a dataset version through
`build_datasets_job`, reading the capturing store as it reads OpenAI."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.capture_support import READ_KEY, TOOLS, capturing_store, sdk, settled
from tests.fake_upstream import running_upstream
from tests.test_build_job import VERSION_LINE

TOPICS = ["tides", "compilers", "bread", "glaciers", "tariffs", "vaccines", "jazz", "orbits"]
AUDIENCES = ["child", "lawyer", "farmer", "pilot", "chef", "nurse", "student", "banker"]


def run_main_job(cwd: Path, source: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """README's main command with `source` as the only source settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "DISTILLERY_"))
    }
    (cwd / "dagster_home").mkdir(exist_ok=True)
    env |= {"DAGSTER_HOME": str(cwd / "dagster_home"), **source}
    dagster = str(Path(sys.executable).parent / "dagster")
    return subprocess.run(
        [dagster, "job", "execute", "-m", "assets.definitions", "-j", "build_datasets_job"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_captured_traffic_becomes_a_dataset_version(tmp_path: Path) -> None:
    with (
        running_upstream() as upstream,
        capturing_store(tmp_path / "capture.db", f"{upstream.url}/v1") as proxy,
    ):
        client = sdk(proxy)
        pairs = list(itertools.product(TOPICS, AUDIENCES))[:48]
        for n, (topic, audience) in enumerate(pairs):
            question = f"Explain {topic} to a {audience} in {n % 5 + 2} sentences."
            request = {
                "model": "gpt-4.1-mini",
                "messages": [{"role": "user", "content": question}],
                "store": True,
                "metadata": {"app": "capture"},
            }
            if n % 3 == 0:
                request["messages"][0]["content"] += " And the weather?"
                request["tools"] = TOOLS
            if n % 2:
                request |= {"stream": True, "stream_options": {"include_usage": True}}
                list(client.chat.completions.create(**request))
            else:
                client.chat.completions.create(**request)

        settled(proxy)
        run = run_main_job(
            tmp_path,
            {
                "DISTILLERY_SOURCE": "openai",
                "OPENAI_BASE_URL": f"{proxy.url}/v1",
                "OPENAI_API_KEY": READ_KEY,
                "DISTILLERY_DATA_DIR": str(tmp_path / "data"),
            },
        )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    _, state, path = VERSION_LINE.search(output).groups()  # type: ignore[union-attr]
    assert state == "written"
    assert re.search(r"48 listed, 48 new", output)
    manifest = json.loads((Path(path) / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "openai"
    assert manifest["splits"]["train"]["rows"] >= 10
    train = (Path(path) / "train.jsonl").read_text().splitlines()
    assert any("tool_calls" in line for line in train)
    answers = [json.loads(line)["messages"][-1] for line in train]
    assert all("café über" in a["content"] for a in answers if "tool_calls" not in a)
