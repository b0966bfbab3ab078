"""`oss_evals`: the open-source `openai/evals` registry's sample format (not OpenAI's hosted Evals
API, which shuts down on 2026-11-30; the open-source framework is unaffected).

    eval.openai-evals.jsonl    {"input": [chat messages], "ideal": "…"} per eval row
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.datadir.paths import VersionLayout
from pipelines.export.lines import oss_eval_items
from pipelines.export.targets.base import (
    JsonlWriter,
    Problem,
    Target,
    Written,
    capped,
    jsonl_objects,
)

FILE = VersionLayout.OSS_EVALS


class OssEvalsWriter(JsonlWriter):
    def write(self, split: str, part: pl.DataFrame) -> None:
        self.files.append(FILE, oss_eval_items(part))


def validate_oss_evals(directory: Path, written: Written) -> list[Problem]:
    problems: list[Problem] = []
    for name in written.files:
        for number, item in jsonl_objects(directory, name, problems):
            messages = item.get("input")
            if not isinstance(messages, list) or not messages:
                problems.append(Problem(name, number, "input", "must be a non-empty list"))
            else:
                for index, message in enumerate(messages):
                    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                        problems.append(Problem(name, number, f"input[{index}]", "needs a role"))
            if not isinstance(item.get("ideal"), str | list):
                problems.append(Problem(name, number, "ideal", "must be a string or a list"))
    return capped(problems)


TARGET = Target(
    name="oss_evals",
    kind="evaluation",
    summary="open-source `openai/evals` samples `{input, ideal}` (stored roles kept)",
    usage="register `eval.openai-evals.jsonl` as `samples_jsonl` of an `evals.elsuite.basic.match`"
    " (or `fuzzy_match`) eval, then `oaieval <completion_fn> <eval>`",
    splits=("eval",),
    writer=OssEvalsWriter,
    validate=validate_oss_evals,
)
