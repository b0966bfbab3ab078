"""Export targets: the formats a dataset version is written in, one module each.

from pipelines.export.targets import TARGETS, write_targets

Every target (`base.Target`) has a writer, fed the version's rows a split slice at a time, and a
validator naming the file, line and field of every problem. `write_targets` runs the writers
and validators of the chosen targets into a version directory being made; a version is published
only when every validator found nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.export.targets import (
    axolotl,
    foundry,
    hf,
    inspect_eval,
    llamafactory,
    oss_evals,
    preference,
    promptfoo,
)
from pipelines.export.targets.base import ExportContext, Problem, Target, Written
from pipelines.export.targets.openai import AZURE, OPENAI
from pipelines.recipes import TARGET_NAMES

TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        OPENAI,
        AZURE,
        hf.TARGET,
        llamafactory.TARGET,
        axolotl.TARGET,
        promptfoo.TARGET,
        inspect_eval.TARGET,
        foundry.TARGET,
        oss_evals.TARGET,
        preference.TARGET,
    )
}
"""Every target by name, in the order recipes list them (`pipelines.recipes.TARGET_NAMES`)."""
assert tuple(TARGETS) == TARGET_NAMES, "a target without a writer, or a writer without a name"

SHARED_FILES = {"azure": "openai"}
"""Targets that write the same files as another: written once when both are chosen."""


@dataclass
class TargetResult:
    """One target's files and what its validator found."""

    name: str
    written: Written
    problems: list[Problem] = field(default_factory=list)


def write_targets(
    directory: Path,
    names: Iterable[str],
    parts: Iterable[tuple[str, pl.DataFrame]],
    context: ExportContext,
) -> dict[str, TargetResult]:
    """Write the targets `names` into `directory` from `parts` ((split, rows) in file order, each
    split's slices together), then validate each.

    Returns:
        Each target's result, by name.
    """
    chosen = [TARGETS[name] for name in names]
    own = [t for t in chosen if SHARED_FILES.get(t.name) not in {c.name for c in chosen}]
    writers = {target.name: target.writer(directory, context) for target in own}
    for split, part in parts:
        for target in own:
            if split in target.splits:
                writers[target.name].write(split, part)
    written = {name: writer.close() for name, writer in writers.items()}
    results = {}
    for target in chosen:
        files = written.get(target.name) or written[SHARED_FILES[target.name]]
        results[target.name] = TargetResult(target.name, files, target.validate(directory, files))
    return results


__all__ = [
    "TARGETS",
    "ExportContext",
    "Problem",
    "Target",
    "TargetResult",
    "Written",
    "write_targets",
]
