"""`axolotl`: Parquet conversations and the `datasets:` block of an axolotl config that loads them.

    axolotl/train.parquet, validation.parquet    messages (`List(Json())`, each assistant
                                                 message with a 0/1 `weight` when the recipe
                                                 sets them), tools (`Json()`)
    axolotl/datasets.yaml                        `datasets:` and `test_datasets:` for
                                                 `type: chat_template`

axolotl loads local Parquet with `datasets` (it pins 4.8, which decodes `Json()`), maps `role`
and `content`, keeps the keys its chat template reads (`tool_calls`, `tool_call_id`), takes dict
or string arguments, and reads the per-message training flag named by `message_field_training`.
The paths in the block are relative to the version directory: run axolotl from there, or make
them absolute.

The block is not checked by axolotl's own config model: its dataset models (0.19,
`axolotl/utils/schemas/datasets.py`) import `schemas/enums.py`, whose enum values are torch
dtypes, and `schemas/utils.py`, whose logger imports `axolotl.utils.distributed` (torch); the
tests install consumers without torch. The test loads the files as axolotl's loader does instead.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelines.datadir.paths import VersionLayout
from pipelines.export.targets.base import ExportContext, Problem, Target, Written
from pipelines.export.targets.hf import ChatParquetWriter, validate_chat_parquet

CONFIG = VersionLayout.AXOLOTL_CONFIG
DATA = VersionLayout.AXOLOTL_DATA


class AxolotlWriter(ChatParquetWriter):
    def close(self) -> Written:
        written = super().close()
        weighted = self.style.weights != "none"

        def entry(split: str) -> dict:
            block = {
                "path": DATA.format(split=split),
                "ds_type": "parquet",
                "type": "chat_template",
                "field_messages": "messages",
                "field_tools": "tools",
                "roles_to_train": ["assistant"],
            }
            if weighted:
                block["message_field_training"] = "weight"
            if split != "train":
                block["split"] = "train"
            return block

        config = {"datasets": [entry("train")], "test_datasets": [entry("validation")]}
        header = (
            f"# distillery {self.context.recipe.name} {self.context.version}: paste into an"
            " axolotl config\n# (set `chat_template` to your model's); paths are relative to"
            " the version directory.\n"
        )
        (self.directory / CONFIG).write_text(
            header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8"
        )
        written.files.append(CONFIG)
        return written


def _writer(directory: Path, context: ExportContext) -> AxolotlWriter:
    return AxolotlWriter(directory, context, layouts={"messages": DATA}, weights="train_on")


def validate_axolotl(directory: Path, written: Written) -> list[Problem]:
    data = Written(files=[f for f in written.files if f.endswith(VersionLayout.PARQUET)])
    problems = validate_chat_parquet(directory, data)
    try:
        config = yaml.safe_load((directory / CONFIG).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        return [*problems, Problem(CONFIG, None, "(file)", f"not readable YAML: {error}")]
    for section in ("datasets", "test_datasets"):
        for index, block in enumerate(config.get(section) or []):
            at = f"{section}[{index}]"
            if block.get("type") != "chat_template":
                problems.append(Problem(CONFIG, None, f"{at}.type", "must be chat_template"))
            if not (directory / str(block.get("path"))).is_file():
                problems.append(Problem(CONFIG, None, f"{at}.path", "no such file"))
    return problems


TARGET = Target(
    name="axolotl",
    kind="fine-tuning",
    summary="Parquet conversations (dict arguments, per-message `weight`) and a ready"
    " `datasets:` block for axolotl's `type: chat_template`",
    usage="paste `axolotl/datasets.yaml` into the axolotl config, then"
    " `axolotl train config.yaml` from the version directory",
    splits=("train", "validation"),
    writer=_writer,
    validate=validate_axolotl,
)
