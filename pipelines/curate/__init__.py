"""Curation: a recipe's selection, redaction, exact dedup, chat chains and near-duplicate
clusters.

    from pipelines.curate import curate_completions, redact_completions, dedupe_exact

Each step takes rows and its recipe section and returns `(rows, StepReport)`; `curate_completions`
runs them over a frame. `curate_lake` runs the same steps over the whole `completions` table part
by part, keeping what each part made, and writes the curated table (what the assets call).
"""

from pipelines.curate.chains import chain_completions, find_chains
from pipelines.curate.dedup import dedupe_exact, dedupe_near
from pipelines.curate.filters import select_completions
from pipelines.curate.lake import LakeCuration, curate_lake
from pipelines.curate.redact import redact_completions
from pipelines.curate.table import (
    CuratedCompletions,
    curate_completions,
    read_curated,
    read_curation_steps,
    write_curated,
)
from pipelines.curate.text_fields import TEXT_FIELDS, prompt_text

__all__ = [
    "TEXT_FIELDS",
    "CuratedCompletions",
    "LakeCuration",
    "chain_completions",
    "curate_completions",
    "curate_lake",
    "dedupe_exact",
    "dedupe_near",
    "find_chains",
    "prompt_text",
    "read_curated",
    "read_curation_steps",
    "redact_completions",
    "select_completions",
    "write_curated",
]
