"""Every path under the data directory, in one place; no other module builds one.

<data dir>/lake/raw_completions/batch-<run>-<page>.parquet   raw lake, one file per fetched page
<data dir>/lake/state/ingest.json                            sync state
<data dir>/lake/state/seen-<run>.txt                         ids listed by an unfinished refresh
<data dir>/lake/completions.parquet                          validated rows
<data dir>/lake/quarantine/completions_quarantine.parquet    failing records with every reason
<data dir>/lake/curated/<recipe>.parquet                     a recipe's curated rows
<data dir>/lake/curated/<recipe>.steps.json                  what each curation step did
<data dir>/artifacts/<recipe>/<version>/                     a published dataset version (its
                                                             files: `VersionLayout`)
<data dir>/artifacts/<recipe>/.staging-<token>/              a version being written
<data dir>/artifacts/<recipe>/.staging-<token>/.owner.json   the build writing it (pid, host)
<data dir>/artifacts/<recipe>/LATEST                         the version the last build produced
<data dir>/lake/state/writer.lease                           the one writer's lease (object storage)
<data dir>/forget/tombstones.txt                             erased ids, as salted sha256 hashes
<data dir>/forget/salt                                       the salt of those hashes
<data dir>/forget/<time>.json                                the record of one erasure
<data dir>/forget/journal.json                               an unfinished erasure's version ids

The data directory is a local path or an object storage URL (`s3://bucket/prefix`, `az://`,
`abfs://`, `gs://`); for a URL every path here is a `pipelines.datadir.object_storage.ObjectPath`,
which reads like a `Path`. Object storage has no rename, so versions are not staged under it: a
build stages on local disk and uploads (`pipelines.export.publish`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipelines.datadir.object_storage import AnyPath, ObjectPath, as_path
from pipelines.source_kind import BUNDLED_SAMPLE_KIND, named_source_kind

DEFAULT_DATA_DIR = "distillery-data"

SAMPLE_DATA_DIR = "distillery-data/sample"
"""The bundled sample's own default: its synthetic rows never share a lake with a real source's."""

STAGING_PREFIX = ".staging-"
"""Directories of versions being written start with this; readers skip them."""


def data_dir_from_env(env: Mapping[str, str] | None = None) -> AnyPath:
    """`DISTILLERY_DATA_DIR` (a path or an object storage URL); unset, `./distillery-data`, or
    `./distillery-data/sample` when the source is the bundled sample."""
    env = os.environ if env is None else env
    if env.get("DISTILLERY_DATA_DIR"):
        return as_path(env["DISTILLERY_DATA_DIR"])
    sample = named_source_kind(env) == BUNDLED_SAMPLE_KIND
    return as_path(SAMPLE_DATA_DIR if sample else DEFAULT_DATA_DIR)


@dataclass(frozen=True)
class DataPaths:
    """The layout of one data directory (a `str` is accepted too: a path or a URL)."""

    data_dir: AnyPath

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", as_path(self.data_dir))

    @property
    def remote(self) -> bool:
        """Whether the data directory is on object storage."""
        return isinstance(self.data_dir, ObjectPath)

    # The raw lake and its sync state.

    @property
    def raw_completions(self) -> AnyPath:
        return self.data_dir / "lake" / "raw_completions"

    def raw_batch(self, batch_id: str) -> AnyPath:
        return self.raw_completions / f"batch-{batch_id}.parquet"

    def batch_files(self) -> list[AnyPath]:
        """Every raw batch file, oldest first (batch ids sort by time)."""
        return sorted(self.raw_completions.glob("batch-*.parquet"))

    @property
    def state_dir(self) -> AnyPath:
        return self.data_dir / "lake" / "state"

    @property
    def ingest_state(self) -> AnyPath:
        """The chat-completions sync state (the name it had before other APIs were read)."""
        return self.sync_state("ingest")

    def sync_state(self, name: str) -> AnyPath:
        """One reader's sync state: `ingest` (chat completions), `responses-list`,
        `responses-ids`, `conversations-ids`."""
        return self.state_dir / f"{name}.json"

    def seen_ids(self, run_id: str) -> AnyPath:
        return self.state_dir / f"seen-{run_id}.txt"

    def lock(self, name: str) -> Path:
        """The lock file one kind of writer (e.g. `ingest`) takes on this data directory."""
        return self.state_dir / f"{name}.lock"

    @property
    def lease(self) -> AnyPath:
        """The lease object the one writer of a data directory on object storage holds."""
        return self.state_dir / "writer.lease"

    def rejected_items(self, run_id: str) -> AnyPath:
        """List items a run could not store by id (no id, not an object), with the reason."""
        return self.data_dir / "lake" / "rejected" / f"items-{run_id}.jsonl"

    # Tables.

    @property
    def completions(self) -> AnyPath:
        return self.data_dir / "lake" / "completions.parquet"

    @property
    def completions_segments_dir(self) -> AnyPath:
        """Normalized rows kept per raw batch (`pipelines.completions.segments`)."""
        return self.data_dir / "lake" / "completions" / "segments"

    def completions_segment(self, batch_id: str, key: str) -> AnyPath:
        return self.completions_segments_dir / f"{batch_id}-{key}.parquet"

    def completions_segments(self) -> list[AnyPath]:
        return sorted(self.completions_segments_dir.glob("*.parquet"))

    @staticmethod
    def segment_batch(segment: AnyPath) -> str:
        """The batch id a segment was normalized from (`<batch>-<key>.parquet`)."""
        return segment.name.removesuffix(".parquet").rsplit("-", 1)[0]

    @property
    def quarantine(self) -> AnyPath:
        return self.data_dir / "lake" / "quarantine" / "completions_quarantine.parquet"

    def curated(self, recipe: str) -> AnyPath:
        return self.data_dir / "lake" / "curated" / f"{recipe}.parquet"

    def curation_parts_dir(self, recipe: str) -> AnyPath:
        """What curation made of each part of the table (`pipelines.curate.lake`)."""
        return self.data_dir / "lake" / "curated" / f"{recipe}.parts"

    def curation_part(self, recipe: str, key: str, kind: str) -> AnyPath:
        """One part's `rows`, `prefixes` (Parquet) or `report` (JSON)."""
        suffix = "json" if kind == "report" else "parquet"
        return self.curation_parts_dir(recipe) / f"{key}.{kind}.{suffix}"

    def curation_part_files(self, recipe: str) -> list[AnyPath]:
        return sorted(self.curation_parts_dir(recipe).glob("*.*"))

    def curation_part_tables(self, recipe: str) -> list[AnyPath]:
        """The Parquet files among them (rows, keys, chain prefixes)."""
        return sorted(self.curation_parts_dir(recipe).glob("*.parquet"))

    @staticmethod
    def curation_part_name(path: AnyPath) -> str:
        """The part a curation part's file belongs to (`<name>.<kind>.<suffix>`)."""
        return path.name.split(".", 1)[0]

    def curation_steps(self, recipe: str) -> AnyPath:
        return self.data_dir / "lake" / "curated" / f"{recipe}.steps.json"

    # Erasure (`pipelines.forget`).

    @property
    def forget_dir(self) -> AnyPath:
        return self.data_dir / "forget"

    @property
    def tombstones(self) -> AnyPath:
        """Every erased id as a salted hash, one a line (`pipelines.datadir.tombstones`)."""
        return self.forget_dir / "tombstones.txt"

    @property
    def tombstone_salt(self) -> AnyPath:
        return self.forget_dir / "salt"

    @property
    def forget_journal(self) -> AnyPath:
        """An unfinished erasure's version ids: LATEST before it, what replaced what."""
        return self.forget_dir / "journal.json"

    def forget_record(self, stamp: str) -> AnyPath:
        """The record of one erasure (hashed selectors, counts, versions replaced)."""
        return self.forget_dir / f"{stamp}.json"

    def rejected_files(self) -> list[AnyPath]:
        """Every rejects file of every run."""
        return sorted((self.data_dir / "lake" / "rejected").glob("items-*.jsonl"))

    def seen_files(self) -> list[AnyPath]:
        """The ids files of unfinished full refreshes."""
        return sorted(self.state_dir.glob("seen-*.txt"))

    def sync_state_names(self) -> list[str]:
        """The name of every reader's sync state (`sync_state(name)`)."""
        return sorted(p.name.removesuffix(".json") for p in self.state_dir.glob("*.json"))

    def recipes_with_curation_parts(self) -> list[str]:
        """Every recipe that has kept curation parts (with or without a curated table: a first
        curation killed after some parts left no table)."""
        reports = (self.data_dir / "lake" / "curated").glob("*.parts/*.report.json")
        return sorted({path.parent.name.removesuffix(".parts") for path in reports})

    def curated_tables(self) -> dict[str, AnyPath]:
        """recipe → its curated table, for every recipe curated here."""
        tables = (self.data_dir / "lake" / "curated").glob("*.parquet")
        return {p.name.removesuffix(".parquet"): p for p in sorted(tables)}

    def recipes_with_versions(self) -> list[str]:
        """Every recipe that has a folder under `artifacts/`."""
        return sorted(
            path.name
            for path in (self.data_dir / "artifacts").glob("*")
            if path.is_dir() and not path.name.startswith(".")
        )

    # Dataset versions.

    def artifacts(self, recipe: str) -> AnyPath:
        return self.data_dir / "artifacts" / recipe

    def version(self, recipe: str, version: str) -> AnyPath:
        return self.artifacts(recipe) / version

    def staging(self, recipe: str, token: str) -> Path:
        return self.artifacts(recipe) / f"{STAGING_PREFIX}{token}"

    def staging_dirs(self, recipe: str) -> list[Path]:
        """Every staging directory of `recipe`: being written, or left by a killed build."""
        if self.remote:  # object storage never holds a staging directory
            return []
        return sorted(p for p in self.artifacts(recipe).glob(f"{STAGING_PREFIX}*") if p.is_dir())

    def staging_owner(self, staging: Path) -> Path:
        """The file in a staging directory that names the build writing it."""
        return staging / ".owner.json"

    def latest(self, recipe: str) -> AnyPath:
        return self.artifacts(recipe) / "LATEST"

    def manifests(self, recipe: str) -> list[AnyPath]:
        """The manifest of every published version of `recipe` (staging directories skipped)."""
        return [
            path
            for path in sorted(self.artifacts(recipe).glob(f"*/{VersionLayout.MANIFEST}"))
            if not path.parent.name.startswith(".")
        ]


class VersionLayout:
    """Every name inside a dataset version directory, relative to it (as its manifest lists
    them). A name holding `{split}` is a pattern: `.format(split=…)`.

        manifest.json                    what the version holds; written last
        README.md                        the dataset card
        tokens.svg                       token-length histogram per split, linked from the card
        <split>.parquet                  the split's rows
        train.jsonl, validation.jsonl    OpenAI's (and Azure's) fine-tuning lines
        hf/<layout>/<split>.parquet      and each other target in its own folder, below
    """

    MANIFEST = "manifest.json"
    CARD = "README.md"
    TOKENS_CHART = "tokens.svg"
    ROWS = "{split}.parquet"
    FINE_TUNING = "{split}.jsonl"

    # Each target's folder and the files in it.
    HF_LAYOUT = "hf/{layout}/{split}.parquet"
    LLAMAFACTORY = "llamafactory"
    LLAMAFACTORY_DATA = "llamafactory/{split}.jsonl"
    LLAMAFACTORY_INFO = "llamafactory/dataset_info.json"
    AXOLOTL_DATA = "axolotl/{split}.parquet"
    AXOLOTL_CONFIG = "axolotl/datasets.yaml"
    PROMPTFOO_CONFIG = "promptfoo/promptfooconfig.yaml"
    PROMPTFOO_TESTS = "promptfoo/tests.jsonl"
    PROMPTFOO_TOOLS = "promptfoo/tools"
    INSPECT_SAMPLES = "inspect/eval.jsonl"
    INSPECT_TASK = "inspect/task.py"
    FOUNDRY_EVAL = "foundry/eval.jsonl"
    OSS_EVALS = "eval.openai-evals.jsonl"
    """openai/evals' samples: beside the version's rows, as they always were."""
    DPO = "preference/openai_dpo/{split}.jsonl"
    TRL = "preference/trl/{split}.parquet"

    PARQUET = ".parquet"
    JSONL = ".jsonl"
    """The endings that tell a target's data files from its configs."""

    @staticmethod
    def rows(split: str) -> str:
        """The file of a split's rows."""
        return VersionLayout.ROWS.format(split=split)

    @staticmethod
    def fine_tuning(split: str) -> str:
        """The file of a split's OpenAI fine-tuning lines."""
        return VersionLayout.FINE_TUNING.format(split=split)
