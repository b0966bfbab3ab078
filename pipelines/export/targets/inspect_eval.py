"""`inspect_ai`: the eval split as inspect_ai samples, and a task that runs them.

    inspect/eval.jsonl    one Sample per eval row: `input` (chat messages in inspect's shape:
                          assistant tool calls `{id, function, arguments: {…}, type}`), `target`
                          (the reference answer), `metadata` (what to compare, the tools offered)
    inspect/task.py       `inspect eval inspect/task.py --model <provider>/<model>`

The task offers each sample's stored tools (as stubs: they are never executed), generates once,
and scores: a tool-call answer matches when it calls the same functions with the same arguments;
a JSON answer when it parses to the same value; a text answer by `model_graded_fact` (`rubric`,
the default) or exact `match` (`-T text_match=exact`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import polars as pl

from pipelines.datadir.paths import VersionLayout
from pipelines.export.lines import (
    escape_line_breaks,
    expected_output,
    json_member,
    json_object,
    json_raw_member,
    metadata_members,
)
from pipelines.export.targets.answers import json_answers
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
    expected_calls,
    tools_json,
)

SAMPLES = VersionLayout.INSPECT_SAMPLES
TASK = VersionLayout.INSPECT_TASK
ROLES = ("system", "user", "assistant", "tool")
EXPECTS = ("tool_calls", "json", "text")

TASK_SOURCE = """\
\"\"\"The eval split of distillery dataset version {version} (recipe {recipe}) as an inspect task.

    inspect eval task.py --model openai/{target_model}
    inspect eval task.py --model <provider>/<model> -T text_match=exact
\"\"\"

import json
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import json_dataset
from inspect_ai.scorer import (
    CORRECT,
    INCORRECT,
    Score,
    accuracy,
    match,
    model_graded_fact,
    scorer,
    stderr,
)
from inspect_ai.solver import generate, solver
from inspect_ai.tool import ToolDef, ToolParams


def _stub(name):
    async def execute(**arguments):
        return f"{{name}} is not executed in this evaluation"

    return execute


def _parameters(schema):
    # inspect wants a description on every parameter; stored schemas often have none.
    schema = dict(schema or {{"type": "object"}})
    schema["properties"] = {{
        name: {{"description": name, **(spec or {{}})}}
        for name, spec in (schema.get("properties") or {{}}).items()
    }}
    return ToolParams.model_validate(schema)


@solver
def offer_stored_tools():
    \"\"\"Offer the sample's stored tool definitions (stubs: only the calls are scored).\"\"\"

    async def solve(state, generate):
        state.tools = [
            ToolDef(
                _stub(tool["function"]["name"]),
                name=tool["function"]["name"],
                description=tool["function"].get("description") or tool["function"]["name"],
                parameters=_parameters(tool["function"].get("parameters")),
            ).as_tool()
            for tool in state.metadata.get("tools") or []
        ]
        return state

    return solve


def _canonical(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@scorer(metrics=[accuracy(), stderr()])
def reference_answer(text_match: str = "{text_match}"):
    \"\"\"Tool calls and JSON answers must match the reference; text is graded or matched.\"\"\"
    text_scorer = model_graded_fact() if text_match == "rubric" else match(location="exact")

    async def score(state, target):
        expects = state.metadata.get("expects")
        if expects == "tool_calls":
            made = [
                {{"name": call.function, "arguments": call.arguments}}
                for call in state.output.message.tool_calls or []
            ]
            same = _canonical(made) == _canonical(json.loads(target.text))
            return Score(value=CORRECT if same else INCORRECT, answer=_canonical(made))
        if expects == "json":
            try:
                same = _canonical(json.loads(state.output.completion)) == _canonical(
                    json.loads(target.text)
                )
            except ValueError:
                same = False
            return Score(value=CORRECT if same else INCORRECT, answer=state.output.completion)
        return await text_scorer(state, target)

    return score


@task
def distillery_eval(text_match: str = "{text_match}"):
    return Task(
        dataset=json_dataset(str(Path(__file__).parent / "{samples}")),
        solver=[offer_stored_tools(), generate(tool_calls="none")],
        scorer=reference_answer(text_match),
    )
"""


class InspectWriter(JsonlWriter):
    style = MessageStyle(tool_calls="inspect", content_always=True)

    def __init__(self, directory: Path, context: ExportContext) -> None:
        super().__init__(directory, context)
        self.counts: Counter[str] = Counter()

    def write(self, split: str, part: pl.DataFrame) -> None:
        built = conversations(part, self.style)
        self.counts.update(built.counts())
        frame = part.with_columns(
            built.prompt.alias("_input"),
            expected_calls(part).alias("_calls"),
            json_answers(part).alias("_json"),
            part.select(tools_json())["tools"].alias("_tools"),
        )
        calls, answer_json = pl.col("_calls"), pl.col("_json")
        expects = (
            pl.when(calls.is_not_null())
            .then(pl.lit("tool_calls"))
            .when(answer_json.is_not_null())
            .then(pl.lit("json"))
            .otherwise(pl.lit("text"))
        )
        metadata = (
            "{"
            + pl.concat_str(
                [
                    json_member("expects", expects),
                    json_raw_member("tools", pl.col("_tools")),
                    metadata_members(),
                ],
                separator=",",
                ignore_nulls=True,
            )
            + "}"
        )
        line = json_object(
            json_member("id", pl.col("id")),
            json_raw_member("input", "[" + pl.col("_input").list.join(",") + "]"),
            json_member("target", pl.coalesce(calls, expected_output())),
            json_raw_member("metadata", metadata),
        )
        self.files.append(SAMPLES, escape_line_breaks(frame, line, "sample"))

    def close(self) -> Written:
        files = self.files.close()
        recipe = self.context.recipe
        source = TASK_SOURCE.format(
            version=self.context.version,
            recipe=recipe.name,
            target_model=recipe.target_model,
            text_match=recipe.export.eval_text_match,
            samples=Path(SAMPLES).name,
        )
        (self.directory / TASK).write_text(source, encoding="utf-8")
        return Written(
            files=[*files, TASK], rows=dict(self.files.rows), notes=conversation_notes(self.counts)
        )


def validate_inspect(directory: Path, written: Written) -> list[Problem]:
    """inspect's Sample rules: `input` messages of its four roles with string content, tool calls
    `{id, function, arguments: {…}}`, a string `target`; what the task's scorer reads."""
    problems: list[Problem] = []
    for number, sample in jsonl_objects(directory, SAMPLES, problems):
        messages = sample.get("input")
        if not isinstance(messages, list) or not messages:
            problems.append(Problem(SAMPLES, number, "input", "must be a non-empty list"))
            messages = []
        for index, message in enumerate(messages):
            at = f"input[{index}]"
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                problems.append(Problem(SAMPLES, number, f"{at}.role", f"not one of {ROLES}"))
                continue
            if not isinstance(message.get("content"), str):
                problems.append(Problem(SAMPLES, number, f"{at}.content", "must be a string"))
            for k, call in enumerate(message.get("tool_calls") or []):
                if not (
                    isinstance(call, dict)
                    and isinstance(call.get("id"), str)
                    and isinstance(call.get("function"), str)
                    and isinstance(call.get("arguments"), dict)
                ):
                    problems.append(
                        Problem(
                            SAMPLES,
                            number,
                            f"{at}.tool_calls[{k}]",
                            "needs id, function (a name) and arguments (an object)",
                        )
                    )
        target = sample.get("target")
        expects = (sample.get("metadata") or {}).get("expects")
        if not isinstance(target, str):
            problems.append(Problem(SAMPLES, number, "target", "must be a string"))
        elif expects not in EXPECTS:
            problems.append(Problem(SAMPLES, number, "metadata.expects", f"not one of {EXPECTS}"))
        elif expects == "tool_calls" and not isinstance(_loads(target), list):
            problems.append(Problem(SAMPLES, number, "target", "not a JSON list of tool calls"))
    return capped(problems)


def _loads(text: str) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


TARGET = Target(
    name="inspect_ai",
    kind="evaluation",
    summary="inspect_ai samples of the eval split (input messages, target, tool calls in"
    " inspect's shape) and a ready task",
    usage="`inspect eval inspect/task.py --model openai/<model>`",
    splits=("eval",),
    writer=InspectWriter,
    validate=validate_inspect,
)
