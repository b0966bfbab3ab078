"""`llamafactory`: JSONL and the `dataset_info.json` entries LLaMA-Factory reads them by.

    llamafactory/train.jsonl, validation.jsonl    {"messages": [...], "tools"?: "<JSON text>"}
    llamafactory/dataset_info.json                `<recipe>_train`, `<recipe>_validation`:
                                                  `formatting: openai`, columns and tags

LLaMA-Factory's `openai` formatting (`OpenAIDatasetConverter`, src/llamafactory/data/
converter.py) is the one that reads tool calls. It turns an assistant message's `tool_calls` into
a `function_call` message whose content is the JSON text of `[{name, arguments}]`, and its
function formatter parses that text and dumps each `arguments`: so arguments must be objects (a
string comes out encoded twice). This target writes that message directly: every value is a
string, so `datasets` (LLaMA-Factory pins <= 4.0, before `Json()`) cannot pad one call's
arguments with another's keys, as it would a struct column. Tools are a JSON text, system first,
consecutive tool results are left for the converter to merge, and an assistant message's text
beside its tool calls is dropped, as the converter would drop it. The converter (0.9.5) also
appends "detailed thinking off" to the system prompt of every example without tools (or makes it
the system prompt): the note in the manifest and dataset card counts those examples.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import orjson
import polars as pl

from pipelines.datadir.paths import VersionLayout
from pipelines.export.lines import escape_line_breaks, json_member, json_object, json_raw_member
from pipelines.export.targets.base import (
    ExportContext,
    JsonlWriter,
    Problem,
    Target,
    Written,
    capped,
    jsonl_objects,
)
from pipelines.export.targets.messages import (
    MessageStyle,
    conversation_notes,
    conversations,
    tools_json,
)

SPLITS = ("train", "validation")
INFO = VersionLayout.LLAMAFACTORY_INFO
DATA = VersionLayout.LLAMAFACTORY_DATA
TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "observation_tag": "tool",
    "function_tag": "function_call",
    "system_tag": "system",
}
# OpenAIDatasetConverter: after the system message and with consecutive tool results merged,
# user/observation turns sit at even positions, assistant/function turns at odd ones, and a
# training example has an even number of turns.
_ASKING = ("user", "tool")
_ANSWERING = ("assistant", "function_call")


class LlamaFactoryWriter(JsonlWriter):
    style = MessageStyle(tool_calls="function_call", content_always=True)

    def __init__(self, directory: Path, context: ExportContext) -> None:
        super().__init__(directory, context)
        self.counts: Counter[str] = Counter()
        self.without_tools = 0

    def write(self, split: str, part: pl.DataFrame) -> None:
        built = conversations(part, self.style)
        self.counts.update(built.counts())
        frame = pl.DataFrame(
            {
                "prompt": built.prompt,
                "completion": built.completion,
                "tools": part.select(tools_json())["tools"],
            }
        )
        messages = pl.concat_list("prompt", "completion").list.join(",")
        line = json_object(
            json_raw_member("messages", "[" + messages + "]"),
            json_member("tools", pl.col("tools")),
        )
        self.files.append(DATA.format(split=split), escape_line_breaks(frame, line, "line"))
        self.without_tools += frame["tools"].null_count()

    def close(self) -> Written:
        files = self.files.close()
        recipe = self.context.recipe.name
        info = {
            f"{recipe}_{Path(name).stem}": {
                "file_name": Path(name).name,
                "formatting": "openai",
                "columns": {"messages": "messages", "tools": "tools"},
                "tags": TAGS,
            }
            for name in files
        }
        (self.directory / INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        notes = conversation_notes(self.counts)
        if self.without_tools:
            notes.append(
                f"{self.without_tools:,} examples without tools: LLaMA-Factory's `openai` converter"
                ' appends "detailed thinking off" to their system prompt (or makes it their system'
                " prompt) before training"
            )
        return Written(files=[*files, INFO], rows=dict(self.files.rows), notes=notes)


def validate_llamafactory(directory: Path, written: Written) -> list[Problem]:
    """The rules `OpenAIDatasetConverter` applies (an example breaking them is skipped with a
    warning, silently shrinking the dataset), and the dataset_info entries."""
    problems: list[Problem] = []
    try:
        info = json.loads((directory / INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [Problem(INFO, None, "(file)", f"not readable JSON: {error}")]
    for name, entry in info.items():
        if entry.get("formatting") != "openai" or entry.get("tags") != TAGS:
            problems.append(Problem(INFO, None, name, "needs formatting openai and the tags"))
        file = f"{VersionLayout.LLAMAFACTORY}/{Path(str(entry.get('file_name'))).name}"
        if not (directory / file).is_file():
            problems.append(Problem(INFO, None, f"{name}.file_name", f"no file {Path(file).name}"))
            continue
        for number, example in jsonl_objects(directory, file, problems):
            problems += check_example(example, file=file, line=number)
    return capped(problems)


def check_example(example: dict, *, file: str, line: int) -> list[Problem]:
    """One example as LLaMA-Factory's converter and function formatter read it."""
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [Problem(file, line, "messages", "must be a non-empty list")]
    problems = []
    tools = example.get("tools")
    if tools is not None and not (isinstance(tools, str) and isinstance(_loads(tools), list)):
        problems.append(Problem(file, line, "tools", "must be the JSON text of a list"))
    turns: list[str] = []
    for index, message in enumerate(messages):
        at = f"messages[{index}]"
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in (*_ASKING, *_ANSWERING, "system"):
            problems.append(Problem(file, line, f"{at}.role", f"{role!r} has no tag"))
            continue
        if not isinstance(content, str):
            problems.append(Problem(file, line, f"{at}.content", "must be a string"))
        if role == "system":
            if index:
                problems.append(Problem(file, line, f"{at}.role", "system only first"))
            continue
        if role == "function_call":
            problems += _check_calls(content, file=file, line=line, at=f"{at}.content")
        if role == "tool" and turns and turns[-1] == "tool":
            continue  # merged with the result before it
        turns.append(role)
    for position, role in enumerate(turns):
        if role not in (_ASKING if position % 2 == 0 else _ANSWERING):
            problems.append(
                Problem(file, line, "messages", f"turn {position} is {role}: turns must alternate")
            )
            break
    if len(turns) % 2:
        problems.append(Problem(file, line, "messages", "must end with an assistant turn"))
    return problems


def _check_calls(content: object, *, file: str, line: int, at: str) -> list[Problem]:
    calls = _loads(content) if isinstance(content, str) else None
    if not isinstance(calls, list) or not calls:
        return [Problem(file, line, at, "must be the JSON text of a list of calls")]
    return [
        Problem(file, line, f"{at}[{k}].arguments", "must be an object")
        for k, call in enumerate(calls)
        if not (isinstance(call, dict) and isinstance(call.get("arguments"), dict))
    ]


def _loads(text: str) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


TARGET = Target(
    name="llamafactory",
    kind="fine-tuning",
    summary="LLaMA-Factory JSONL with a ready `dataset_info.json` (`formatting: openai`, tool"
    " calls as `function_call` turns with object arguments, tools as JSON text)",
    usage="`llamafactory-cli train … --dataset_dir llamafactory --dataset <recipe>_train"
    " --eval_dataset <recipe>_validation`",
    splits=SPLITS,
    writer=LlamaFactoryWriter,
    validate=validate_llamafactory,
)
