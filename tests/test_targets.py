"""Export targets read by their real consumers, offline: TRL's chat templates (rendered by
transformers' own renderer), `datasets`, LLaMA-Factory's and axolotl's loaders, and each target's
validator. Built from the bundled sample plus one tool call whose arguments hold quotes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from pipelines.completions.normalize import normalize_completions
from pipelines.completions.validate import validate_completions
from pipelines.curate.table import curate_completions
from pipelines.export.files import version_parts
from pipelines.export.retarget import TargetsRefused, add_targets
from pipelines.export.targets import TARGETS, ExportContext, Problem, Written, write_targets
from pipelines.export.versions import DatasetRefused, build_dataset_version, list_versions
from pipelines.recipes import TARGET_NAMES, Recipe
from pipelines.sample import SAMPLE_PATH
from tests.consumers import DEV_EXTRA, require, require_package_dir
from tests.frames import raw_frame
from tests.llamafactory_real import load_llamafactory
from tests.records import completion_record

SPLITS = ("train", "validation", "eval")
EVERY_TARGET_BUT_PREFERENCE = [name for name in TARGET_NAMES if name != "preference"]
TEMPLATES = ("llama3_1", "qwen2_5", "qwen3", "gptoss")
"""TRL's shipped templates the issue names: `tojson` (Llama 3.1, Qwen 2.5, gpt-oss) and both."""
QUOTED_ARGUMENTS = {"query": 'say "hi" to O\'Brien', "path": "C:\\temp\\new", "n": 2}


def quoted_tool_call() -> dict[str, Any]:
    """A tool-call answer whose arguments hold quotes and backslashes: double encoding shows."""
    tools = [
        {
            "type": "function",
            "function": {
                "name": "search_notes",
                "description": "Search the notes.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string"},
                        "path": {"type": "string"},
                        "n": {"type": "integer"},
                    },
                },
            },
        }
    ]
    call = {
        "id": "call_quotes",
        "type": "function",
        "function": {"name": "search_notes", "arguments": json.dumps(QUOTED_ARGUMENTS)},
    }
    return completion_record(
        "chatcmpl-quoted-arguments",
        input_messages=[{"role": "user", "content": "Find where I wrote the greeting for Sean."}],
        choices=[
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        tools=tools,
    )


@pytest.fixture(scope="module")
def version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A version of the sample (and the quoted call) with every target but `preference`."""
    records = [json.loads(line) for line in SAMPLE_PATH.read_text().splitlines()]
    records.append(quoted_tool_call())
    completions = validate_completions(normalize_completions(raw_frame(records))).completions
    recipe = Recipe.model_validate(
        {"name": "all", "export": {"targets": EVERY_TARGET_BUT_PREFERENCE}}
    )
    curated = curate_completions(completions, recipe)
    data_dir = tmp_path_factory.mktemp("data")
    built = build_dataset_version(data_dir, curated.rows, recipe, curation_steps=curated.steps)
    assert "chatcmpl-quoted-arguments" in curated.rows["id"].to_list()
    return built.path


def load_hf(version: Path, layout: str, cache: Path) -> Any:
    datasets = require("datasets", DEV_EXTRA)
    return datasets.load_dataset(
        "parquet",
        data_files={s: str(version / "hf" / layout / f"{s}.parquet") for s in SPLITS},
        cache_dir=str(cache),
    )


def trl_templates() -> Path:
    """The chat templates shipped in the `trl` wheel (CI installs it with --no-deps)."""
    return require_package_dir("trl") / "chat_templates"


def calls_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for m in messages for c in m.get("tool_calls") or []]


def test_every_target_is_registered_with_a_writer_and_a_validator() -> None:
    assert tuple(TARGETS) == TARGET_NAMES
    for target in TARGETS.values():
        assert target.splits and target.usage and target.summary


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.slow
def test_every_row_renders_through_trl_templates_with_arguments_encoded_once(
    version: Path, template: str, tmp_path: Path
) -> None:
    require("transformers", DEV_EXTRA)
    from transformers.utils.chat_template_utils import render_jinja_template

    source = (trl_templates() / f"{template}.jinja").read_text(encoding="utf-8")
    loaded = load_hf(version, "messages", tmp_path / "cache")
    rendered_rows, quoted_seen = 0, False
    for split in SPLITS:
        for row in loaded[split]:
            (text,), _ = render_jinja_template(
                [row["messages"]],
                tools=row["tools"],
                chat_template=source,
                bos_token="<s>",
                eos_token="</s>",
            )
            rendered_rows += 1
            for call in calls_of(row["messages"]):
                arguments = call["function"]["arguments"]
                assert isinstance(arguments, dict)
                once = json.dumps(arguments, ensure_ascii=False)
                assert once in text
                assert json.dumps(once, ensure_ascii=False) not in text
                quoted_seen |= arguments == QUOTED_ARGUMENTS
    assert rendered_rows == sum(loaded[s].num_rows for s in SPLITS) > 100
    assert quoted_seen


@pytest.mark.slow
def test_datasets_loads_hf_with_json_features_and_dict_arguments(
    version: Path, tmp_path: Path
) -> None:
    datasets = require("datasets", DEV_EXTRA)
    messages = load_hf(version, "messages", tmp_path / "a")
    pairs = load_hf(version, "prompt_completion", tmp_path / "b")
    manifest = json.loads((version / "manifest.json").read_text())

    assert {s: messages[s].num_rows for s in SPLITS} == {
        s: manifest["splits"][s]["rows"] for s in SPLITS
    }
    features = messages["train"].features
    assert isinstance(features["messages"].feature, datasets.Json)
    assert isinstance(features["tools"], datasets.Json)
    quoted = next(
        row
        for split in SPLITS
        for row in messages[split]
        if row["completion_id"] == "chatcmpl-quoted-arguments"
    )
    call = quoted["messages"][-1]["tool_calls"][0]
    assert call["function"]["arguments"] == QUOTED_ARGUMENTS  # a mapping, not a string
    assert set(quoted["messages"][0]) == {"role", "content"}  # no keys padded in from others
    assert quoted["tools"][0]["function"]["name"] == "search_notes"
    for row in pairs["train"]:
        assert row["completion"][-1]["role"] == "assistant"
        assert row["prompt"][-1]["role"] in ("user", "tool")


@pytest.mark.slow
def test_trl_reads_both_hf_layouts_as_conversational(version: Path, tmp_path: Path) -> None:
    trl_templates()
    from trl.data_utils import is_conversational

    for layout in ("messages", "prompt_completion"):
        row = load_hf(version, layout, tmp_path / layout)["train"][0]
        assert is_conversational(row)


@pytest.mark.slow
def test_llamafactory_converts_every_example_with_its_own_code(version: Path) -> None:
    """LLaMA-Factory's parser reads dataset_info.json, its `datasets` json loader the files, and
    its `OpenAIDatasetConverter` turns every example into prompt/response turns: a broken
    example comes out empty (and silently shrinks the dataset), so none may. Every function
    turn then goes through Qwen's function formatter and back through its extractor with the
    arguments intact (encoded once), every tool list through its tool formatter."""
    datasets = require("datasets", DEV_EXTRA)
    llamafactory = load_llamafactory()
    formatter = llamafactory.formatter
    function_turn = formatter.FunctionFormatter(slots=["{{content}}"], tool_format="qwen")
    tool_list = formatter.ToolFormatter(tool_format="qwen")
    observation_turn = formatter.StringFormatter(slots=["<tool_response>\n{{content}}\n"])
    directory = version / "llamafactory"
    names = sorted(json.loads((directory / "dataset_info.json").read_text()))
    assert names == ["all_train", "all_validation"]

    converted, functions, observations, tool_lists, thinking_off = 0, 0, 0, 0, 0
    quoted_seen = False
    for attr in llamafactory.dataset_attrs(names, directory):
        assert (attr.load_from, attr.formatting) == ("file", "openai")
        loaded = datasets.load_dataset(
            "json", data_files=str(directory / attr.dataset_name), split=attr.split
        )
        for example in loaded:
            out = llamafactory.convert(attr, example)
            turns = out["_prompt"] + out["_response"]
            assert out["_prompt"] and len(out["_response"]) == 1, llamafactory.warnings[-3:]
            assert out["_response"][0]["role"] in ("assistant", "function")
            converted += 1
            if out["_tools"]:
                (text,) = tool_list.apply(content=out["_tools"])
                assert all(
                    f'"name": "{t["function"]["name"]}"' in text for t in example_tools(example)
                )
                tool_lists += 1
            elif out["_system"].endswith("detailed thinking off"):
                thinking_off += 1
            for turn in turns:
                if turn["role"] == "function":
                    calls = json.loads(turn["content"])
                    (text,) = function_turn.apply(content=turn["content"])
                    extracted = tool_list.extract(text)
                    assert [(c.name, json.loads(c.arguments)) for c in extracted] == [
                        (c["name"], c["arguments"]) for c in calls
                    ]
                    assert all(isinstance(c["arguments"], dict) for c in calls)
                    quoted_seen |= any(c["arguments"] == QUOTED_ARGUMENTS for c in calls)
                    functions += 1
                elif turn["role"] == "observation":
                    (text,) = observation_turn.apply(content=turn["content"])
                    assert turn["content"] in text
                    observations += 1

    assert llamafactory.warnings == []  # nothing skipped, nothing malformed
    expected = sum(len(jsonl(directory / n)) for n in ("train.jsonl", "validation.jsonl"))
    assert converted == expected > 100
    assert functions > 0 and observations > 0 and tool_lists > 0 and quoted_seen
    # The converter appends "detailed thinking off" to the system prompt of every example
    # without tools: every one of them here, and the dataset card says how many.
    assert thinking_off == converted - tool_lists
    card = (version / "README.md").read_text(encoding="utf-8")
    assert f"{thinking_off:,} examples without tools" in card
    assert '"detailed thinking off"' in card


def example_tools(example: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads(example["tools"]) if example.get("tools") else []


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_axolotl_block_names_files_its_loader_reads(version: Path, tmp_path: Path) -> None:
    """Every block of datasets.yaml loaded as axolotl's `_load_from_local_path` does
    (`load_dataset(ds_type, data_files=path, split=…)`): all the split's rows, each a
    conversation ending with a role it trains on, any training flag 0 or 1. (axolotl's own
    config model imports torch: see the target's docstring.)"""
    datasets = require("datasets", DEV_EXTRA)
    config = yaml.safe_load((version / "axolotl" / "datasets.yaml").read_text())
    manifest = json.loads((version / "manifest.json").read_text())
    sections = {"datasets": "train", "test_datasets": "validation"}
    assert set(config) == set(sections)
    for section, split in sections.items():
        (block,) = config[section]
        assert block["type"] == "chat_template" and block["field_messages"] == "messages"
        loaded = datasets.load_dataset(
            block["ds_type"], data_files=str(version / block["path"]), split="train"
        )
        assert loaded.num_rows == manifest["splits"][split]["rows"] > 0
        for row in loaded:
            messages = row[block["field_messages"]]
            assert messages[-1]["role"] in block["roles_to_train"]
            assert isinstance(row[block["field_tools"]], list | None)
            flag = block.get("message_field_training")
            assert all(m.get(flag, 1) in (0, 1) for m in messages if flag)


def test_each_validator_names_file_line_and_field(tmp_path: Path, version: Path) -> None:
    # A copy of a target's files, broken on purpose: arguments as a string in llamafactory,
    # a message without a role in promptfoo.
    broken = tmp_path / "broken"
    (broken / "llamafactory").mkdir(parents=True)
    (broken / "promptfoo" / "tools").mkdir(parents=True)
    for name in ("dataset_info.json", "validation.jsonl"):
        source = version / "llamafactory" / name
        (broken / "llamafactory" / name).write_bytes(source.read_bytes())
    bad_call = {"role": "function_call", "content": json.dumps([{"name": "f", "arguments": "{}"}])}
    lines = [
        json.dumps({"messages": [{"role": "user", "content": "q"}, bad_call]}),
        json.dumps({"messages": [{"role": "assistant", "content": "a"}]}),
    ]
    (broken / "llamafactory" / "train.jsonl").write_text("\n".join(lines) + "\n")
    problems = TARGETS["llamafactory"].validate(broken, Written(files=[]))
    found = {(p.file, p.line, p.field) for p in problems}
    assert ("llamafactory/train.jsonl", 1, "messages[1].content[0].arguments") in found
    assert ("llamafactory/train.jsonl", 2, "messages") in found

    for name in ("promptfooconfig.yaml", "tests.jsonl"):
        (broken / "promptfoo" / name).write_bytes((version / "promptfoo" / name).read_bytes())
    test = json.loads((version / "promptfoo" / "tests.jsonl").read_text().splitlines()[0])
    test["vars"]["messages"] = [{"content": "no role"}]
    (broken / "promptfoo" / "tests.jsonl").write_text(json.dumps(test) + "\n")
    problems = TARGETS["promptfoo"].validate(broken, Written(files=[]))
    assert ("promptfoo/tests.jsonl", 1, "vars.messages") in {
        (p.file, p.line, p.field) for p in problems
    }
    assert "promptfoo/tests.jsonl:1: vars.tools_file" in "\n".join(map(str, problems))


@pytest.mark.slow
def test_every_target_written_passes_its_validator(version: Path) -> None:
    """Each of the version's targets, its files as the manifest lists them, through its own
    validator; and every target written again from the version's splits gives the same bytes."""
    manifest = json.loads((version / "manifest.json").read_text())

    assert set(manifest["targets"]) == set(EVERY_TARGET_BUT_PREFERENCE)
    for name, entry in manifest["targets"].items():
        assert entry["files"] and all((version / f).is_file() for f in entry["files"]), name
        written = Written(files=entry["files"], rows=entry["rows"])
        assert TARGETS[name].validate(version, written) == [], name
    parts = list(version_parts(version))
    recipe = Recipe.model_validate(manifest["recipe"])
    again_dir = version.parent / ".again"
    again = write_targets(
        again_dir,
        EVERY_TARGET_BUT_PREFERENCE,
        parts,
        ExportContext(recipe=recipe, version=version.name),
    )
    assert set(again) == set(EVERY_TARGET_BUT_PREFERENCE)
    for name, result in again.items():
        assert result.problems == [], name
        assert sorted(result.written.files) == sorted(manifest["targets"][name]["files"]), name
        for file in result.written.files:
            assert (again_dir / file).read_bytes() == (version / file).read_bytes(), file


@pytest.mark.slow
def test_a_target_added_later_keeps_the_version_id_and_lands_in_the_manifest(
    tmp_path: Path,
) -> None:
    records = [json.loads(line) for line in SAMPLE_PATH.read_text().splitlines()]
    completions = validate_completions(normalize_completions(raw_frame(records))).completions
    recipe = Recipe.model_validate({"name": "late", "export": {"targets": ["openai"]}})
    curated = curate_completions(completions, recipe)
    first = build_dataset_version(tmp_path, curated.rows, recipe)

    added = add_targets(tmp_path, "late", first.version, ["hf", "promptfoo"])

    manifest = json.loads((first.path / "manifest.json").read_text())
    assert added.added == ["hf", "promptfoo"] and added.version == first.version
    assert set(manifest["targets"]) == {"openai", "hf", "promptfoo"}
    assert "hf/messages/train.parquet" in manifest["files"]
    assert "## Targets" in (first.path / "README.md").read_text()
    assert [v.version for v in list_versions(tmp_path, "late")] == [first.version]
    # The recipe listing more targets builds the same version, which gains them.
    wider = Recipe.model_validate({"name": "late", "export": {"targets": ["openai", "oss_evals"]}})
    again = build_dataset_version(tmp_path, curated.rows, wider)
    assert (again.version, again.created) == (first.version, False)
    assert "oss_evals" in again.manifest.targets
    assert add_targets(tmp_path, "late", first.version, ["hf"]).added == []


@pytest.mark.slow
def test_a_target_the_validator_refuses_is_not_added_and_a_build_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [json.loads(line) for line in SAMPLE_PATH.read_text().splitlines()]
    completions = validate_completions(normalize_completions(raw_frame(records))).completions
    recipe = Recipe.model_validate({"name": "refused", "export": {"targets": ["openai"]}})
    curated = curate_completions(completions, recipe)
    first = build_dataset_version(tmp_path, curated.rows, recipe)
    before = (first.path / "manifest.json").read_bytes()

    def nothing_passes(directory: Path, written: Written) -> list[Problem]:
        return [Problem(written.files[0], 3, "messages[0].role", "injected")]

    monkeypatch.setitem(TARGETS, "hf", replace(TARGETS["hf"], validate=nothing_passes))
    with pytest.raises(TargetsRefused, match=r"hf/messages/train.parquet:3: messages\[0\].role"):
        add_targets(tmp_path, "refused", first.version, ["hf"])
    assert (first.path / "manifest.json").read_bytes() == before
    assert not (first.path / "hf").exists()
    with_hf = Recipe.model_validate(
        {"name": "refused", "split": {"seed": 3}, "export": {"targets": ["hf"]}}
    )
    with pytest.raises(DatasetRefused, match="targets_format"):
        build_dataset_version(tmp_path, curated.rows, with_hf)


def test_polars_reads_every_hf_file_as_text(version: Path) -> None:
    """Every hf file (both layouts, every split the manifest lists) reads in polars with its
    layout's columns, the conversations as JSON text, and the rows the manifest counts."""
    manifest = json.loads((version / "manifest.json").read_text())
    entry = manifest["targets"]["hf"]
    columns = {
        "messages": ["completion_id", "messages", "tools"],
        "prompt_completion": ["completion_id", "prompt", "completion", "tools"],
    }
    expected = {f"hf/{layout}/{s}.parquet" for layout in columns for s in SPLITS}
    assert set(entry["files"]) == expected
    for file in entry["files"]:
        layout = file.split("/")[1]
        frame = pl.read_parquet(version / file)
        assert frame.columns == columns[layout], file
        assert frame.height == entry["rows"][file] > 0, file
        split = file.rsplit("/", 1)[1].removesuffix(".parquet")
        assert frame.height == manifest["splits"][split]["rows"], file
        for column in columns[layout][1:-1]:  # the conversations: lists of JSON texts
            for texts in frame[column].to_list():
                assert texts and all(isinstance(json.loads(text), dict) for text in texts), file
        tools = frame["tools"].drop_nulls().to_list()
        assert all(isinstance(json.loads(text), list) for text in tools), file
