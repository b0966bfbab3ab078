"""pandera (polars) models, one per stored table, named after its asset.

Imports pandera and polars only, never dagster.
"""

from schemas.completions import Completions
from schemas.completions_quarantine import CompletionsQuarantine
from schemas.raw_completions import RawCompletions

__all__ = ["Completions", "CompletionsQuarantine", "RawCompletions"]
