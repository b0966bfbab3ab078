"""Which source the environment names: a leaf module, so that the data directory's default (which
differs for the bundled sample) and the ingest stage read the same rule without importing each
other."""

from __future__ import annotations

from collections.abc import Mapping

BUNDLED_SAMPLE_KIND = "local"
"""The source kind of the bundled sample, read through an embedded local store."""


def named_source_kind(env: Mapping[str, str]) -> str:
    """`DISTILLERY_SOURCE` (lower-cased, not checked), else the kind the credentials imply:
    `openai` when `OPENAI_API_KEY` is set, `azure` when `AZURE_OPENAI_ENDPOINT` is, else the
    bundled sample (`local`)."""
    kind = env.get("DISTILLERY_SOURCE", "").strip().lower()
    if kind:
        return kind
    if env.get("OPENAI_API_KEY"):
        return "openai"
    if env.get("AZURE_OPENAI_ENDPOINT"):
        return "azure"
    return BUNDLED_SAMPLE_KIND


STORE_HEADER = "x-distillery-store"
"""The header on every answer of distillery's own store, naming which it is: `capture` (serving
with `--upstream`) or `local` (serving what was imported, a stand-in for OpenAI in the tests).
Ingest lists a capturing store's stored responses without being told to
(`pipelines.ingest.plan`)."""
CAPTURE_STORE = "capture"
LOCAL_STORE = "local"
