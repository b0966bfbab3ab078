"""`foundry`: the eval split as Azure AI Foundry evaluation data (azure-ai-evaluation's JSONL).

    foundry/eval.jsonl    {"id", "query": [chat messages], "ground_truth": "…",
                           "tool_definitions"?: [{name, description, parameters}],
                           "expected_tool_calls"?: [{type: tool_call, name, arguments: {…}}]}

`query` is the conversation up to the answer (the agent evaluators take a message list), the
answer to compare with is `ground_truth`; the model under test fills `response` when the
evaluation runs against a target.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl

from pipelines.datadir.paths import VersionLayout
from pipelines.export.lines import (
    escape_line_breaks,
    expected_output,
    input_messages,
    json_member,
    json_object,
    json_raw_member,
)
from pipelines.export.targets.base import (
    JsonlWriter,
    Problem,
    Target,
    Written,
    capped,
    jsonl_objects,
)
from pipelines.export.targets.messages import expected_calls, tools_json

FILE = VersionLayout.FOUNDRY_EVAL


class FoundryWriter(JsonlWriter):
    def write(self, split: str, part: pl.DataFrame) -> None:
        tools = part.select(tools_json())["tools"]
        distinct = tools.drop_nulls().unique().to_list()
        definitions = [_definitions(text) for text in distinct]
        calls = expected_calls(part)
        # One list of distinct calls for both sides of the mapping: `unique()` without
        # maintain_order may list them in another order each time it is called.
        distinct_calls = calls.unique(maintain_order=True).to_list()
        expected = [_foundry_calls(text) if text else None for text in distinct_calls]
        frame = part.with_columns(
            tools.replace_strict(distinct, definitions, default=None, return_dtype=pl.String).alias(
                "_definitions"
            ),
            calls.replace_strict(
                distinct_calls, expected, default=None, return_dtype=pl.String
            ).alias("_calls"),
        )
        line = json_object(
            json_member("id", pl.col("id")),
            json_raw_member(
                "query", "[" + input_messages(frame, weights="none").list.join(",") + "]"
            ),
            json_member("ground_truth", expected_output()),
            json_raw_member("tool_definitions", pl.col("_definitions")),
            json_raw_member("expected_tool_calls", pl.col("_calls")),
        )
        self.files.append(FILE, escape_line_breaks(frame, line, "row"))


def _definitions(tools_text: str) -> str:
    """OpenAI tool definitions as Foundry's `tool_definitions`: the function objects."""
    tools = orjson.loads(tools_text)
    return orjson.dumps([t.get("function", t) for t in tools if isinstance(t, dict)]).decode()


def _foundry_calls(calls_text: str) -> str:
    calls = orjson.loads(calls_text)
    return orjson.dumps(
        [{"type": "tool_call", "name": c["name"], "arguments": c["arguments"]} for c in calls]
    ).decode()


def validate_foundry(directory: Path, written: Written) -> list[Problem]:
    problems: list[Problem] = []
    for number, row in jsonl_objects(directory, FILE, problems):
        query = row.get("query")
        if not isinstance(query, list) or not query:
            problems.append(Problem(FILE, number, "query", "must be a non-empty message list"))
        elif not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in query):
            problems.append(Problem(FILE, number, "query", "every message needs a role"))
        if not isinstance(row.get("ground_truth"), str):
            problems.append(Problem(FILE, number, "ground_truth", "must be a string"))
        for index, definition in enumerate(row.get("tool_definitions") or []):
            if not isinstance(definition, dict) or not isinstance(definition.get("name"), str):
                problems.append(Problem(FILE, number, f"tool_definitions[{index}]", "needs a name"))
        for index, call in enumerate(row.get("expected_tool_calls") or []):
            if not isinstance(call, dict) or not isinstance(call.get("arguments"), dict):
                problems.append(
                    Problem(
                        FILE, number, f"expected_tool_calls[{index}].arguments", "not an object"
                    )
                )
    return capped(problems)


TARGET = Target(
    name="foundry",
    kind="evaluation",
    summary="Azure AI Foundry evaluation JSONL of the eval split (`query`, `ground_truth`,"
    " `tool_definitions`, expected tool calls)",
    usage="`azure.ai.evaluation.evaluate(data='foundry/eval.jsonl', target=…, evaluators=…)`,"
    " or upload it as a Foundry evaluation dataset",
    splits=("eval",),
    writer=FoundryWriter,
    validate=validate_foundry,
)
