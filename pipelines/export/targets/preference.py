"""`preference`: answers to the same prompt paired by the feedback stored on them.

    preference/openai_dpo/train.jsonl, validation.jsonl   OpenAI DPO lines: `input` {messages,
                                                          tools?}, `preferred_output`,
                                                          `non_preferred_output` (one assistant
                                                          message each)
    preference/trl/<split>.parquet                        TRL's preference format: `prompt`,
                                                          `chosen`, `rejected` (`List(Json())`),
                                                          `tools`, the two completion ids

Feedback is a metadata key on the stored completions (`export.preference`), set through the API
(`chat.completions.update(id, metadata={"feedback": "up"})`): up/down labels, or a score. Two
answers pair when their prompts are the same (the same input messages and tools) and the chosen
one is up and the other down, or scores at least `min_margin` higher. Pairs are made within a
split, so a pair never straddles two; at most `max_pairs_per_prompt` per prompt. Only text answers
pair (OpenAI's DPO takes text outputs only); answers that call tools are counted and left out.
Rows without feedback take no part. Alternative answers to one prompt are near duplicates, so
a preference recipe keeps them with `dedup.near.keep: all`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import polars_hash as plh

from pipelines.datadir.paths import VersionLayout
from pipelines.export.line_check import check_example
from pipelines.export.lines import (
    escape_line_breaks,
    input_messages,
    json_member,
    json_object,
    json_raw_member,
)
from pipelines.export.splits import SPLITS
from pipelines.export.targets.base import (
    JSON,
    JSON_LIST,
    ExportContext,
    JsonlFiles,
    ParquetFiles,
    Problem,
    Target,
    TargetWriter,
    Written,
    capped,
    hf_table,
    jsonl_values,
)
from pipelines.export.targets.hf import validate_chat_parquet
from pipelines.export.targets.messages import MessageStyle, conversations, tools_json
from pipelines.recipes import Preference

DPO = VersionLayout.DPO
TRL = VersionLayout.TRL
DPO_SPLITS = ("train", "validation")
_DPO_KEYS = {"input", "preferred_output", "non_preferred_output"}


class PreferenceWriter(TargetWriter):
    """Keeps each split's rows that carry feedback, and pairs them when the split is complete."""

    def __init__(self, directory: Path, context: ExportContext) -> None:
        super().__init__(directory, context)
        settings = context.recipe.export.preference
        assert settings is not None  # the recipe model requires it for this target
        self.settings = settings
        self.dpo = JsonlFiles(directory)
        self.trl = ParquetFiles(directory)
        self.pending: list[pl.DataFrame] = []
        self.split: str | None = None
        self.tool_answers = 0
        self.with_feedback = 0

    def write(self, split: str, part: pl.DataFrame) -> None:
        if split != self.split:
            self._flush()
            self.split = split
        scored = part.with_columns(_score(self.settings).alias("_score")).filter(
            pl.col("_score").is_not_null()
        )
        self.with_feedback += scored.height
        text = scored.filter(pl.col("output_tool_calls").list.len().fill_null(0) == 0)
        self.tool_answers += scored.height - text.height
        if not text.is_empty():
            self.pending.append(text.drop("line"))

    def _flush(self) -> None:
        if self.split is None:
            return
        rows = pl.concat(self.pending) if self.pending else None
        self.pending = []
        sequential = self.context.recipe.export.parallel_tool_calls == "sequential"
        pairs = _pairs(rows, self.settings, sequential) if rows is not None else None
        self._write_pairs(self.split, pairs)

    def _write_pairs(self, split: str, pairs: pl.DataFrame | None) -> None:
        if pairs is None or pairs.is_empty():
            empty = pl.DataFrame(
                schema={
                    "chosen_id": pl.String,
                    "rejected_id": pl.String,
                    "prompt": pl.List(pl.String),
                    "chosen": pl.List(pl.String),
                    "rejected": pl.List(pl.String),
                    "tools": pl.String,
                    "dpo": pl.String,
                }
            )
            pairs = empty
        if split in DPO_SPLITS:
            self.dpo.append(DPO.format(split=split), pairs["dpo"])
        self.trl.append(
            TRL.format(split=split),
            hf_table(
                pairs,
                {
                    "chosen_id": "string",
                    "rejected_id": "string",
                    "prompt": JSON_LIST,
                    "chosen": JSON_LIST,
                    "rejected": JSON_LIST,
                    "tools": JSON,
                },
            ),
        )

    def close(self) -> Written:
        self._flush()
        for split in SPLITS:  # a split with no rows at all still gets its (empty) files
            if TRL.format(split=split) not in self.trl.rows:
                self._write_pairs(split, None)
        files = [*self.dpo.close(), *self.trl.close()]
        notes = [f"{self.with_feedback:,} completions carry feedback `{self.settings.key}`"]
        if self.tool_answers:
            notes.append(f"{self.tool_answers:,} answers that call tools left out (DPO: text)")
        return Written(files=files, rows={**self.dpo.rows, **self.trl.rows}, notes=notes)


def _score(settings: Preference) -> pl.Expr:
    """Each row's feedback as a number (up 1, down 0, or the score); null without one."""
    pair = pl.element().struct
    value = (
        pl.col("metadata")
        .list.eval(pl.element().filter(pair.field("key") == settings.key).struct.field("value"))
        .list.first()
        .str.strip_chars()
    )
    if settings.scale == "score":
        return value.cast(pl.Float64, strict=False)
    folded = value.str.to_lowercase()
    up = [label.lower() for label in settings.up]
    down = [label.lower() for label in settings.down]
    return (
        pl.when(folded.is_in(up))
        .then(pl.lit(1.0))
        .when(folded.is_in(down))
        .then(pl.lit(0.0))
        .otherwise(pl.lit(None, pl.Float64))
    )


def _pairs(rows: pl.DataFrame, settings: Preference, sequential: bool) -> pl.DataFrame:
    """Chosen and rejected answers of the same prompt, one row per pair, in a stable order."""
    margin = 1.0 if settings.scale == "up_down" else settings.min_margin
    built = conversations(rows, MessageStyle(sequential=sequential))
    prompt_text = "[" + input_messages(rows, weights="none", rename_roles=True).list.join(",") + "]"
    keyed = rows.select(
        "id",
        "_score",
        plh.concat_str(prompt_text, pl.lit("\n"), tools_json().fill_null(""))
        .chash.sha2_256()
        .alias("_prompt_key"),
        prompt_text.alias("_input"),
        tools_json().alias("tools"),
        pl.col("parallel_tool_calls"),
        built.prompt.alias("prompt"),
        built.completion.alias("answer"),
        pl.coalesce("output_content", "output_refusal").alias("_text"),
    ).filter(pl.col("_text").is_not_null() & (pl.col("_text") != ""))
    chosen = keyed.select(
        "_prompt_key",
        pl.col("id").alias("chosen_id"),
        pl.col("_score").alias("chosen_score"),
        "_input",
        "tools",
        "parallel_tool_calls",
        "prompt",
        pl.col("answer").alias("chosen"),
        pl.col("_text").alias("chosen_text"),
    )
    rejected = keyed.select(
        "_prompt_key",
        pl.col("id").alias("rejected_id"),
        pl.col("_score").alias("rejected_score"),
        pl.col("answer").alias("rejected"),
        pl.col("_text").alias("rejected_text"),
    )
    pairs = (
        chosen.join(rejected, on="_prompt_key")
        .filter(pl.col("chosen_score") - pl.col("rejected_score") >= margin)
        .sort("_prompt_key", "chosen_id", "rejected_id")
        .group_by("_prompt_key", maintain_order=True)
        .head(settings.max_pairs_per_prompt)
        .sort("chosen_id", "rejected_id")
    )
    dpo_input = json_object(
        json_raw_member("messages", pl.col("_input")),
        json_raw_member("tools", pl.col("tools")),
        json_raw_member(
            "parallel_tool_calls", pl.col("parallel_tool_calls").cast(pl.String).str.to_lowercase()
        ),
    )
    dpo = json_object(
        json_raw_member("input", dpo_input),
        json_raw_member("preferred_output", _assistant_text("chosen_text")),
        json_raw_member("non_preferred_output", _assistant_text("rejected_text")),
    )
    return pairs.with_columns(escape_line_breaks(pairs, dpo, "dpo"))


def _assistant_text(column: str) -> pl.Expr:
    message = json_object(pl.lit('"role":"assistant"'), json_member("content", pl.col(column)))
    return "[" + message + "]"


def validate_preference(directory: Path, written: Written) -> list[Problem]:
    """OpenAI's DPO line rules, and TRL's preference format read through `datasets`."""
    problems: list[Problem] = []
    for name in written.files:
        if name.endswith(VersionLayout.JSONL):
            for number, example in jsonl_values(directory, name, problems):
                if example is not None:
                    problems += check_dpo_example(example, file=name, line=number)
    parquet = Written(files=[f for f in written.files if f.endswith(VersionLayout.PARQUET)])
    problems += validate_chat_parquet(directory, parquet)
    return capped(problems)


def check_dpo_example(example: object, *, file: str, line: int) -> list[Problem]:
    """One OpenAI DPO line: `input` holds a fine-tuning example's messages (and tools), each
    output is a list of exactly one assistant message with text, nothing else at the top."""
    if not isinstance(example, dict):
        return [Problem(file, line, "(line)", "not an object")]
    problems = [
        Problem(file, line, key, "unrecognized top-level key")
        for key in example
        if key not in _DPO_KEYS
    ]
    given = example.get("input")
    if not isinstance(given, dict):
        return [*problems, Problem(file, line, "input", "must be an object")]
    unknown = set(given) - {"messages", "tools", "parallel_tool_calls"}
    problems += [Problem(file, line, f"input.{key}", "unrecognized key") for key in unknown]
    messages = given.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, Problem(file, line, "input.messages", "must be a non-empty list")]
    if isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
        problems.append(Problem(file, line, "input.messages", "must not end with the answer"))
    for key in ("preferred_output", "non_preferred_output"):
        output = example.get(key)
        if not (
            isinstance(output, list)
            and len(output) == 1
            and isinstance(output[0], dict)
            and output[0].get("role") == "assistant"
            and isinstance(output[0].get("content"), str)
            and output[0]["content"]
            and set(output[0]) == {"role", "content"}
        ):
            problems.append(
                Problem(file, line, key, "must be one assistant message with text content")
            )
            continue
        whole = {k: v for k, v in given.items() if k != "messages"}
        whole["messages"] = [*messages, output[0]]
        for kind, message in check_example(whole):
            problems.append(Problem(file, line, f"input ({kind})", message))
    return problems


TARGET = Target(
    name="preference",
    kind="preference",
    summary="pairs of answers to one prompt by stored feedback: OpenAI DPO JSONL and TRL's"
    " `prompt`/`chosen`/`rejected` Parquet",
    usage="`fine_tuning.jobs.create(method={'type': 'dpo', …}, training_file=…)`;"
    ' `DPOTrainer(train_dataset=load_dataset("parquet", data_files='
    '"preference/trl/train.parquet")["train"])`',
    splits=SPLITS,
    writer=PreferenceWriter,
    validate=validate_preference,
)
