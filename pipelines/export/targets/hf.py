"""`hf`: Parquet that `datasets` loads as TRL's conversational formats.

    hf/messages/<split>.parquet            completion_id, messages, tools   (language modeling)
    hf/prompt_completion/<split>.parquet   completion_id, prompt, completion, tools

`messages`, `prompt` and `completion` are `List(Json())` and `tools` is `Json()` (datasets >= 4.7,
as TRL's dataset-format guide shows for tool calling): every message comes back as a plain dict
with only its own keys, tool-call arguments as a dict. The prompt/completion variant is the one
that learns only the answer (SFTTrainer's completion-only loss): the way to train as
`train_on: last_assistant` says, since TRL reads no per-message weight.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import polars as pl

from pipelines.datadir.paths import VersionLayout
from pipelines.export.splits import SPLITS
from pipelines.export.targets.base import (
    JSON,
    JSON_LIST,
    ExportContext,
    ParquetFiles,
    Problem,
    Target,
    TargetWriter,
    Written,
    capped,
    hf_table,
    read_frame,
)
from pipelines.export.targets.chat_check import check_conversation, plain_conversations
from pipelines.export.targets.messages import (
    MessageStyle,
    conversation_notes,
    conversations,
    tools_json,
)

LAYOUTS = {
    layout: VersionLayout.HF_LAYOUT.replace("{layout}", layout)
    for layout in ("messages", "prompt_completion")
}
_FEATURES = {
    "messages": {"completion_id": "string", "messages": JSON_LIST, "tools": JSON},
    "prompt_completion": {
        "completion_id": "string",
        "prompt": JSON_LIST,
        "completion": JSON_LIST,
        "tools": JSON,
    },
}


_CONVERSATIONS = ("messages", "prompt", "completion", "chosen", "rejected")
"""Columns holding a conversation (all but `prompt` must hold an assistant message)."""


class ChatParquetWriter(TargetWriter):
    """Conversations as `List(Json())` Parquet, in each of `layouts` (`messages`,
    `prompt_completion`: file name patterns with `{split}`).

    `weights`: `none`, or `train_on` to write the recipe's assistant weights into the messages
    (for trainers that read a per-message flag).
    """

    def __init__(
        self,
        directory: Path,
        context: ExportContext,
        *,
        layouts: dict[str, str] = LAYOUTS,
        weights: str = "none",
    ) -> None:
        super().__init__(directory, context)
        recipe = context.recipe
        if weights == "train_on":
            weights = "stored" if recipe.fine_tuning_train_on == "all" else "zero"
        self.style = MessageStyle(
            weights=weights,  # type: ignore[arg-type]
            sequential=recipe.export.parallel_tool_calls == "sequential",
        )
        self.layouts = layouts
        self.files = ParquetFiles(directory)
        self.counts: Counter[str] = Counter()

    def write(self, split: str, part: pl.DataFrame) -> None:
        built = conversations(part, self.style)
        self.counts.update(built.counts())
        frame = pl.DataFrame(
            {
                "completion_id": part["id"],
                "prompt": built.prompt,
                "completion": built.completion,
                "tools": part.select(tools_json())["tools"],
            }
        ).with_columns(pl.concat_list("prompt", "completion").alias("messages"))
        for layout, pattern in self.layouts.items():
            self.files.append(pattern.format(split=split), hf_table(frame, _FEATURES[layout]))

    def close(self) -> Written:
        return Written(
            files=self.files.close(),
            rows=dict(self.files.rows),
            notes=conversation_notes(self.counts),
        )


def validate_chat_parquet(directory: Path, written: Written) -> list[Problem]:
    """Every conversation of every file: the rules of `chat_check`, on what `datasets` reads."""
    problems: list[Problem] = []
    for name in written.files:
        frame = read_frame(directory / name)
        lists = [c for c in _CONVERSATIONS if c in frame.columns]
        plain = pl.Series([True] * frame.height, dtype=pl.Boolean)
        for column in lists:
            plain &= plain_conversations(frame[column], need_assistant=column != "prompt")
        suspects = frame.with_row_index("line", offset=1).filter(~plain)
        for row in suspects.iter_rows(named=True):
            for column in lists:
                problems += _check_column(row[column], column, name, row["line"])
    return capped(problems)


def _check_column(texts: list[str] | None, column: str, file: str, line: int) -> list[Problem]:
    try:
        messages = [orjson.loads(text) for text in texts or []]
    except orjson.JSONDecodeError as error:
        return [Problem(file, line, column, f"a message is not JSON: {error}")]
    return check_conversation(
        messages, file=file, line=line, where=column, need_assistant=column != "prompt"
    )


TARGET = Target(
    name="hf",
    kind="fine-tuning",
    summary="Parquet in TRL's conversational format (`messages`, `tools`; tool-call arguments"
    " as dicts through `datasets`' `Json()` feature), and a prompt/completion variant",
    usage='`SFTTrainer(train_dataset=load_dataset("parquet", data_files='
    '"hf/messages/train.parquet")["train"])`; `hf/prompt_completion/` learns only the answer',
    splits=SPLITS,
    writer=ChatParquetWriter,
    validate=validate_chat_parquet,
)
