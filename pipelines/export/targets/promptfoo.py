"""`promptfoo`: a test suite of the eval split, for `promptfoo eval` (OpenAI's recommended path off
its hosted Evals API).

    promptfoo/promptfooconfig.yaml   the prompt (the conversation as sent), the model under test
                                     (the recipe's target model), the tests file
    promptfoo/tests.jsonl            one test per eval row: `vars.messages`, assertions, metadata
    promptfoo/tools/<hash>.json      each distinct tool list, offered to the model per test

Assertions come from the reference answer: a tool-call answer must call the same functions with
the same arguments (a `javascript` assertion comparing parsed JSON); a JSON answer must be JSON
(`is-json`) equal to the reference; a text answer is graded against it by a model
(`llm-rubric`), or compared exactly (`equals`) when the recipe says `eval_text_match: exact`.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
import polars_hash as plh
import yaml

from pipelines.datadir.paths import VersionLayout
from pipelines.export.lines import (
    escape_line_breaks,
    expected_output,
    input_messages,
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
from pipelines.export.targets.messages import expected_calls, tools_json

CONFIG = VersionLayout.PROMPTFOO_CONFIG
TESTS = VersionLayout.PROMPTFOO_TESTS
NO_TOOLS = "none.json"
ASSERTION_TYPES = {"javascript", "is-json", "llm-rubric", "equals"}

# promptfoo runs a multi-line `javascript` value as a function body of (output, context).
_JS_HELPERS = """const parse = (v) => { if (typeof v !== 'string') return v; try { return JSON.parse(v); } catch (e) { return undefined; } };
const canon = (v) => Array.isArray(v) ? '[' + v.map(canon).join(',') + ']' : (v && typeof v === 'object') ? '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}' : JSON.stringify(v);
"""  # noqa: E501
SAME_TOOL_CALLS = (
    _JS_HELPERS
    + """let calls = parse(output);
if (calls && !Array.isArray(calls)) calls = calls.tool_calls;
if (!Array.isArray(calls)) return false;
const made = calls.map((c) => { const f = c.function || c; return { name: f.name, arguments: parse(f.arguments) }; });
return canon(made) === canon(context.vars.expected_tool_calls);"""  # noqa: E501
)
SAME_JSON = (
    _JS_HELPERS + "return canon(parse(output)) === canon(parse(context.vars.expected_json));"
)
RUBRIC = (
    "The output gives the same answer as this reference answer (wording and style may differ;"
    " facts, numbers and conclusions may not):\n\n"
)


class PromptfooWriter(JsonlWriter):
    def __init__(self, directory: Path, context: ExportContext) -> None:
        super().__init__(directory, context)
        self.tools: dict[str, str] = {}

    def write(self, split: str, part: pl.DataFrame) -> None:
        tools = part.select(tools_json())["tools"]
        names = _tool_files(tools)
        for name, text in zip(names.to_list(), tools.to_list(), strict=True):
            self.tools.setdefault(name, text or "[]")
        frame = part.with_columns(
            expected_calls(part).alias("_calls"),
            json_answers(part).alias("_json"),
            names.alias("_tools_file"),
        )
        text_match = self.context.recipe.export.eval_text_match
        self.files.append(TESTS, _test_lines(frame, text_match=text_match))

    def close(self) -> Written:
        files = self.files.close()
        rows = dict(self.files.rows)
        tools_dir = self.directory / VersionLayout.PROMPTFOO_TOOLS
        tools_dir.mkdir(parents=True, exist_ok=True)
        self.tools.setdefault(NO_TOOLS, "[]")
        for name, text in sorted(self.tools.items()):
            (tools_dir / name).write_text(text + "\n", encoding="utf-8")
            files.append(f"{VersionLayout.PROMPTFOO_TOOLS}/{name}")
        recipe, version = self.context.recipe, self.context.version
        config = {
            "description": f"distillery {recipe.name} {version}: eval split",
            "prompts": ["{{ messages | dump }}"],
            "providers": [
                {
                    "id": f"openai:chat:{recipe.target_model}",
                    "config": {"temperature": 0, "tools": "file://tools/{{ tools_file }}"},
                }
            ],
            "tests": "file://tests.jsonl",
        }
        header = (
            "# The eval split of this dataset version as a promptfoo suite. From this directory:\n"
            "#   promptfoo eval            (the model under test below; edit `providers` to"
            " compare others)\n"
            "# Text answers are graded by `llm-rubric` (promptfoo's default grader, or"
            " `--grader`).\n"
        )
        (self.directory / CONFIG).write_text(
            header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        return Written(files=[CONFIG, *files], rows=rows)


def _tool_files(tools: pl.Series) -> pl.Series:
    """Each row's tools file name: a hash of its tool list, or `none.json`."""
    hashed = tools.to_frame("tools").select(
        pl.when(pl.col("tools").is_not_null())
        .then(plh.col("tools").chash.sha2_256().str.slice(0, 16) + ".json")
        .otherwise(pl.lit(NO_TOOLS))
    )
    return hashed.to_series().rename("tools_file")


def _test_lines(frame: pl.DataFrame, *, text_match: str) -> pl.Series:
    calls, answer_json = pl.col("_calls"), pl.col("_json")
    ideal = expected_output()
    text_assert = (
        json_object(json_member("type", pl.lit("llm-rubric")), json_member("value", RUBRIC + ideal))
        if text_match == "rubric"
        else json_object(json_member("type", pl.lit("equals")), json_member("value", ideal))
    )
    asserts = (
        pl.when(calls.is_not_null())
        .then(_assertion("javascript", SAME_TOOL_CALLS))
        .when(answer_json.is_not_null())
        .then('{"type":"is-json"},' + _assertion("javascript", SAME_JSON))
        .otherwise(text_assert)
    )
    messages = "[" + input_messages(frame, weights="none").list.join(",") + "]"
    variables = json_object(
        json_raw_member("messages", messages),
        json_member("tools_file", pl.col("_tools_file")),
        json_raw_member("expected_tool_calls", calls),
        json_member("expected_json", answer_json),
    )
    line = json_object(
        json_member("description", pl.col("id")),
        json_raw_member("vars", variables),
        json_raw_member("assert", "[" + asserts + "]"),
        json_raw_member("metadata", "{" + metadata_members() + "}"),
    )
    return escape_line_breaks(frame, line, "test")


def _assertion(kind: str, value: str) -> pl.Expr:
    return pl.lit(orjson.dumps({"type": kind, "value": value}).decode())


def validate_promptfoo(directory: Path, written: Written) -> list[Problem]:
    problems: list[Problem] = []
    try:
        config = yaml.safe_load((directory / CONFIG).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        return [Problem(CONFIG, None, "(file)", f"not readable YAML: {error}")]
    for key in ("prompts", "providers", "tests"):
        if not (isinstance(config, dict) and config.get(key)):
            problems.append(Problem(CONFIG, None, key, "missing"))
    tools_dir = directory / VersionLayout.PROMPTFOO_TOOLS
    for number, test in jsonl_objects(directory, TESTS, problems):
        variables = test.get("vars") if isinstance(test.get("vars"), dict) else {}
        messages = variables.get("messages")
        if not isinstance(messages, list) or not messages:
            problems.append(Problem(TESTS, number, "vars.messages", "must be a non-empty list"))
        elif not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
            problems.append(Problem(TESTS, number, "vars.messages", "every message needs a role"))
        tools_file = variables.get("tools_file")
        if not isinstance(tools_file, str) or not (tools_dir / tools_file).is_file():
            problems.append(Problem(TESTS, number, "vars.tools_file", f"no file {tools_file!r}"))
        assertions = test.get("assert")
        if not isinstance(assertions, list) or not assertions:
            problems.append(Problem(TESTS, number, "assert", "must be a non-empty list"))
            continue
        for index, assertion in enumerate(assertions):
            kind = assertion.get("type") if isinstance(assertion, dict) else None
            if kind not in ASSERTION_TYPES:
                problems.append(Problem(TESTS, number, f"assert[{index}].type", f"{kind!r}"))
            elif kind != "is-json" and not isinstance(assertion.get("value"), str):
                problems.append(Problem(TESTS, number, f"assert[{index}].value", "not a string"))
        if any(a.get("value") == SAME_TOOL_CALLS for a in assertions if isinstance(a, dict)) and (
            not isinstance(variables.get("expected_tool_calls"), list)
        ):
            problems.append(Problem(TESTS, number, "vars.expected_tool_calls", "missing"))
    return capped(problems)


TARGET = Target(
    name="promptfoo",
    kind="evaluation",
    summary="a promptfoo suite of the eval split: `vars.messages`, assertions from the"
    " reference answer (tool-call and JSON match, `llm-rubric` or `equals` for text)",
    usage="`cd promptfoo && npx promptfoo@0.115 eval` (the recipe's target model; `-r` to"
    " compare others)",
    splits=("eval",),
    writer=PromptfooWriter,
    validate=validate_promptfoo,
)
