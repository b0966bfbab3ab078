"""`openai` and `azure`: the supervised fine-tuning chat JSONL both services take.

    train.jsonl, validation.jsonl    one line per example (`pipelines.export.lines`)

The lines are the version's own (`line` in its Parquet rows): `developer` written as `system`,
tools, tool calls with `arguments` as a JSON string, content parts, `weight`, no nulls. Azure
OpenAI reads the same lines; what differs is the service: a training file must stay under
512 MB, and the per-example token limit of some models (`target_model` sets it).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from pipelines.datadir.paths import VersionLayout
from pipelines.export.line_check import FineTuneChecker
from pipelines.export.targets.base import JsonlWriter, Problem, Target, Written

SPLITS = ("train", "validation")
AZURE_MAX_FILE_BYTES = 512 * 2**20
"""Azure OpenAI's limit on one training or validation file."""
# The checker's messages start with where the error is: `messages[2].tool_calls[0]: …`.
_WHERE = re.compile(r"^((?:messages|tools)(?:\[\d+\])?(?:\.[A-Za-z_]+(?:\[\d+\])?)*)")


class FineTuningWriter(JsonlWriter):
    def write(self, split: str, part: pl.DataFrame) -> None:
        self.files.append(VersionLayout.fine_tuning(split), part["line"])


def validate_fine_tuning(directory: Path, written: Written) -> list[Problem]:
    """OpenAI's line rules (`pipelines.export.line_check`), file by file."""
    problems = []
    for name in written.files:
        checker = FineTuneChecker()
        # The checker's column-wise first pass vouches for plain chats at once (most lines).
        lines = (directory / name).read_text(encoding="utf-8").split("\n")[:-1]
        checker.feed_series(pl.Series("line", lines, dtype=pl.String))
        report = checker.report()
        for number, kind, message in report.first_errors:
            where = _WHERE.match(message)
            problems.append(Problem(name, number, where.group(1) if where else kind, message))
        listed = len(report.first_errors)
        if sum(report.errors.values()) > listed:
            rest = sum(report.errors.values()) - listed
            problems.append(Problem(name, None, "(more)", f"{rest:,} more format errors"))
    return problems


def validate_azure(directory: Path, written: Written) -> list[Problem]:
    problems = validate_fine_tuning(directory, written)
    for name in written.files:
        size = (directory / name).stat().st_size
        if size > AZURE_MAX_FILE_BYTES:
            problems.append(
                Problem(name, None, "(file)", f"{size:,} bytes; Azure OpenAI takes up to 512 MB")
            )
    return problems


OPENAI = Target(
    name="openai",
    kind="fine-tuning",
    summary="OpenAI supervised fine-tuning chat JSONL (tools, tool calls, content parts,"
    " weights; `developer` written as `system`)",
    usage="`client.files.create(file=open('train.jsonl', 'rb'), purpose='fine-tune')`, then"
    " `client.fine_tuning.jobs.create(training_file=…, validation_file=…, model=…)`",
    splits=SPLITS,
    writer=FineTuningWriter,
    validate=validate_fine_tuning,
)

AZURE = Target(
    name="azure",
    kind="fine-tuning",
    summary="the same lines as `openai`, checked against Azure OpenAI's 512 MB file limit",
    usage="`AzureOpenAI(...).files.create(file=open('train.jsonl', 'rb'), purpose='fine-tune')`,"
    " then `fine_tuning.jobs.create(...)` (or upload in the Foundry portal)",
    splits=SPLITS,
    writer=FineTuningWriter,
    validate=validate_azure,
)
