"""Completions: the raw lake normalized into one typed table, validated; failures quarantined.

from pipelines.completions import build_completions, read_completions
"""

from pipelines.completions.normalize import normalize_completions
from pipelines.completions.segments import CheckedLake, SegmentReport
from pipelines.completions.table import (
    BuiltCompletions,
    build_completions,
    columns_without_raw_json,
    read_completions,
    read_quarantine,
)
from pipelines.completions.validate import ValidatedCompletions, reason_counts, validate_completions

__all__ = [
    "BuiltCompletions",
    "CheckedLake",
    "SegmentReport",
    "ValidatedCompletions",
    "build_completions",
    "columns_without_raw_json",
    "normalize_completions",
    "read_completions",
    "read_quarantine",
    "reason_counts",
    "validate_completions",
]
