"""Done when: the real openai SDK, instrumented in turn by each real instrumentation package, with
the real OpenTelemetry SDK and its OTLP/HTTP exporter, gives through its traces the same dataset
the capturing proxy gives of the same exchanges, line for line.

Every exchange goes through the capturing store (`distillery store serve --upstream` in front of
the test upstream), which stores it as a chat completion, while the instrumentation exports its
span to the same store's receiver (OpenInference's to a JSON-lines file in the Collector's format
instead). `build_datasets_job` then runs twice: once reading the captured chat completions, once
reading only the traces; the fine-tuning lines must be the same. Where a shape cannot carry a
field, the test says so: the GenAI conventions keep tool-call arguments as a JSON object (the
values are compared, not the spacing), and the official instrumentation records no tool
definitions. The same calls made with content capture off (not through the proxy) land in
quarantine as `trace_content_captured`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines.completions.table import read_quarantine
from tests.capture_support import capturing_store
from tests.consumers import missing
from tests.fake_upstream import running_upstream
from tests.test_build_job import VERSION_LINE
from tests.test_capture_dataset import run_main_job

REPO = Path(__file__).resolve().parent.parent
READ_KEY = "sk-ingest-read-0123456789"
APP_KEY = "sk-app"  # what tests/traces_scenario.py's client sends
LEGACY_OPENLLMETRY = REPO / ".ci" / "otel-legacy"
LINES_PER_RUN = 4
"""A single call, a streamed one, a tool-call round trip (2 calls) and a three-turn chat (3): the
calls of the round trip and of the chat are one chat stored turn by turn, which the default
recipe's chains publish once, whole (`chains: {keep: longest}`), from either door."""

# (instrumentation, tag, its own path first) — the tag marks every text of that run.
RUNS = [
    ("openai-v2", "v2", None),
    ("openllmetry", "ll62", None),
    ("openllmetry", "ll54", LEGACY_OPENLLMETRY),
    ("openinference", "oi", None),
]
ARGUMENTS_AS_OBJECTS = {"v2", "ll62"}  # the GenAI conventions' JSON messages
NO_TOOL_DEFINITIONS = {"v2"}

RECIPES = """
recipes:
  default:
    # Every run asks the same questions, tagged: near-duplicates by design, all kept.
    dedup: {near: {enabled: false}}
    split: {train: 1.0, validation: 0.0, eval: 0.0}
    export: {min_train_examples: 1}
"""


def _scenario(kind: str, tag: str, base_url: str, *how: str, first: Path | None) -> None:
    path = [str(first)] if first else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(REPO)])}
    command = [sys.executable, "-m", "tests.traces_scenario", kind, tag, base_url, *how]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _published_lines(cwd: Path, source: dict[str, str]) -> list[dict[str, Any]]:
    cwd.mkdir()
    run = run_main_job(cwd, source)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    _, _, path = VERSION_LINE.search(output).groups()  # type: ignore[union-attr]
    lines = (Path(path) / "train.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _key(line: dict[str, Any]) -> str:
    """An exchange's identity on both sides: its input texts (every run's are its own)."""
    return json.dumps([(m["role"], m.get("content")) for m in line["messages"][:-1]])


def _tag(line: dict[str, Any]) -> str:
    first = next(m["content"] for m in line["messages"] if m["role"] == "user")
    return first[1 : first.index("]")]


def _as_the_shape_keeps_it(line: dict[str, Any], tag: str) -> dict[str, Any]:
    """A line as the run's span shape can carry it (see the module docstring)."""
    line = json.loads(json.dumps(line))
    for message in line["messages"]:
        for call in message.get("tool_calls") or []:
            if tag in ARGUMENTS_AS_OBJECTS:
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    if tag in NO_TOOL_DEFINITIONS:
        line.pop("tools", None)
    return line


@pytest.mark.slow
def test_traces_of_every_instrumentation_publish_the_lines_the_proxy_captures(
    tmp_path: Path,
) -> None:
    if not LEGACY_OPENLLMETRY.is_dir():
        missing("OpenLLMetry 0.54", "bash .ci/install-otel-legacy.sh")
    trace_file = tmp_path / "collector" / "traces.jsonl"
    trace_file.parent.mkdir()
    with (
        running_upstream() as upstream,
        capturing_store(
            tmp_path / "capture.db", f"{upstream.url}/v1", extra_args=["--read-key", READ_KEY]
        ) as proxy,
    ):
        # The app's key on its spans too: its captures and its spans are one tenant's.
        receiver = ["--otlp", f"{proxy.url}/v1/traces", APP_KEY]
        for kind, tag, first in RUNS:
            export = ["--file", str(trace_file)] if tag == "oi" else receiver
            _scenario(kind, tag, f"{proxy.url}/v1", *export, first=first)
            # Content capture off, straight to the upstream (so the proxy keeps none of them);
            # one call each, so the quarantined share stays below what fails the build (20%).
            if tag in ("v2", "oi"):
                off = ["--no-content", "--only-first", *export]
                _scenario(kind, f"{tag}-off", f"{upstream.url}/v1", *off, first=first)

        source = {"DISTILLERY_SOURCE": "openai", "OPENAI_BASE_URL": f"{proxy.url}/v1"}
        source |= {"OPENAI_API_KEY": READ_KEY, "DISTILLERY_RECIPES": str(tmp_path / "r.yaml")}
        (tmp_path / "r.yaml").write_text(RECIPES, encoding="utf-8")
        captured = _published_lines(
            tmp_path / "capture-side",
            {**source, "DISTILLERY_DATA_DIR": str(tmp_path / "capture-data")},
        )
        traced = _published_lines(
            tmp_path / "traces-side",
            {
                **source,
                "DISTILLERY_DATA_DIR": str(tmp_path / "traces-data"),
                "DISTILLERY_CHAT_COMPLETIONS": "off",
                "DISTILLERY_TRACES": "on",
                "DISTILLERY_TRACES_PATH": str(trace_file.parent),
            },
        )

    by_key = {_key(line): line for line in traced}
    assert len(by_key) == len(traced)
    assert sorted(by_key) == sorted(_key(line) for line in captured)
    for line in captured:
        tag = _tag(line)
        traced_line = _as_the_shape_keeps_it(by_key[_key(line)], tag)
        assert traced_line == _as_the_shape_keeps_it(line, tag), tag
    # Every run published every exchange.
    tags = [_tag(line) for line in traced]
    assert {tag: tags.count(tag) for tag in set(tags)} == {tag: LINES_PER_RUN for _, tag, _ in RUNS}
    # The tool round trip is really there, calls and results.
    assert any(m.get("tool_calls") for line in traced for m in line["messages"])
    assert any(m["role"] == "tool" for line in traced for m in line["messages"])

    quarantine = read_quarantine(tmp_path / "traces-data")
    reasons = [r["check"] for reasons in quarantine["reasons"] for r in reasons]
    assert reasons == ["trace_content_captured"] * 2
