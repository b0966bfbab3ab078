"""Evaluation and preference targets run by their real consumers, offline: `promptfoo eval` (npm,
its `echo` provider), `inspect eval` (its `mockllm/model`), and a preference build from feedback
set through the store's metadata update API by the real `openai` SDK, checked by OpenAI's DPO line
rules and read by TRL."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines.completions import build_completions, read_completions
from pipelines.curate import curate_completions
from pipelines.export.versions import build_dataset_version
from pipelines.recipes import Recipe
from tests.conftest import openai_client
from tests.consumers import CONSUMERS, DEV_EXTRA, missing, require, require_package_dir
from tests.records import completion_record
from tests.store_process import StoreProcess
from tests.test_ingest import ingest, source_env
from tests.test_targets import trl_templates
from tests.test_targets import version as version  # a fixture

REPO = Path(__file__).resolve().parent.parent
PROMPTFOO = REPO / ".ci" / "node" / "node_modules" / ".bin" / "promptfoo"


def eval_rows(version: Path) -> list[str]:
    import polars as pl

    return pl.read_parquet(version / "eval.parquet", columns=["completion_id"])[
        "completion_id"
    ].to_list()


@pytest.mark.slow
def test_promptfoo_runs_every_eval_case_against_echo(version: Path, tmp_path: Path) -> None:
    promptfoo = os.environ.get("PROMPTFOO_BIN") or (
        str(PROMPTFOO) if PROMPTFOO.exists() else shutil.which("promptfoo")
    )
    if promptfoo is None:
        missing("promptfoo <= 0.115 from npm", CONSUMERS)
    output = tmp_path / "results.json"
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(tmp_path / "promptfoo-home"),
    }
    done = subprocess.run(
        [
            str(promptfoo),
            "eval",
            "-c",
            "promptfooconfig.yaml",
            "-r",
            "echo",
            "--grader",
            "echo",
            "--no-cache",
            "--no-progress-bar",
            "--no-table",
            "-o",
            str(output),
        ],
        cwd=version / "promptfoo",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # 100: some assertions failed (echo repeats the prompt); anything else is an error.
    assert done.returncode in (0, 100), done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(output.read_text())["results"]
    ids = [r["testCase"]["metadata"]["completion_id"] for r in results["results"]]
    assert sorted(ids) == sorted(eval_rows(version))
    assert results["stats"]["errors"] == 0
    kinds = {
        component["assertion"]["type"]
        for r in results["results"]
        for component in r["gradingResult"]["componentResults"]
    }
    assert {"javascript", "llm-rubric"} <= kinds  # tool-call matches ran, text was graded


OFFLINE_TASK = """
import importlib.util
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.model import ModelOutput, ModelUsage, get_model

spec = importlib.util.spec_from_file_location("exported", {task_path!r})
exported = importlib.util.module_from_spec(spec)
spec.loader.exec_module(exported)


def reply(input, tools, tool_choice, config):
    # Usage given, so mockllm counts no tokens itself (that needs a tiktoken table download).
    prompt = input[-1].text if input else ""
    text = "GRADE: I" if "GRADE: $LETTER" in prompt else "Default output from mockllm/model"
    output = ModelOutput.from_content(model="mockllm/model", content=text)
    output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return output


@task
def offline():
    exported_task = exported.distillery_eval()
    return Task(
        dataset=exported_task.dataset,
        solver=exported_task.solver,
        scorer=exported_task.scorer,
        model=get_model("mockllm/model", custom_outputs=reply),
    )
"""


@pytest.mark.slow
def test_inspect_eval_scores_every_sample_with_mockllm(version: Path, tmp_path: Path) -> None:
    inspect = Path(sys.executable).parent / "inspect"
    if not inspect.exists():
        missing("inspect_ai's `inspect` command", DEV_EXTRA)
    wrapper = tmp_path / "offline.py"
    wrapper.write_text(OFFLINE_TASK.format(task_path=str(version / "inspect" / "task.py")))
    logs = tmp_path / "logs"

    done = subprocess.run(
        [str(inspect), "eval", wrapper.name, "--log-dir", str(logs), "--log-format", "json"],
        cwd=tmp_path,
        env={**os.environ, "INSPECT_DISPLAY": "plain", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (log_file,) = logs.glob("*.json")
    log = json.loads(log_file.read_text())
    assert log["status"] == "success"
    samples = log["samples"]
    assert sorted(s["id"] for s in samples) == sorted(eval_rows(version))
    values = [score["value"] for s in samples for score in s["scores"].values()]
    assert len(values) == len(samples)
    assert all(value in ("C", "I") for value in values)  # every sample scored, none failed
    expects = {s["metadata"]["expects"] for s in samples}
    assert {"tool_calls", "text"} <= expects


VOCABULARY = [
    f"{stem}{n}" for stem in ("oak", "fig", "jam", "ink", "tea", "sun") for n in range(30)
]


def answers(prompt: int, count: int) -> list[dict[str, Any]]:
    """`count` stored answers to one prompt, as regenerations of it would be."""
    return [
        completion_record(
            f"chatcmpl-pref-{prompt:02d}-{answer}",
            created=1_760_000_000 + prompt * 10 + answer,
            input_messages=[
                {"role": "developer", "content": "Answer in one sentence."},
                {"role": "user", "content": question(prompt)},
            ],
            answer=answer_text(prompt, answer, count),
            metadata={"app": "namer"},
        )
        for answer in range(count)
    ]


def question(prompt: int) -> str:
    # Distinct words per prompt: prompts that near-dedup tells apart, so they spread over splits.
    words = random.Random(prompt).sample(VOCABULARY, 8)
    return f"Suggest a shop name that mentions {', '.join(words)}."


def answer_text(prompt: int, answer: int, count: int = 3) -> str:
    return f"How about 'Crumb & Crust {prompt}'? Option {answer} of {count}."


def prompt_number(question_text: str) -> int:
    """Which of the rated prompts a question is (its words are drawn per prompt)."""
    (number,) = [p for p in range(24) if question(p) == question_text]
    return number


def expected_prompt(prompt: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": question(prompt)},
    ]


def template_tokenizer(template: str) -> Any:
    """A real transformers tokenizer (a one-word vocabulary built in memory: no download)
    carrying one of the chat templates shipped in the trl wheel."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocabulary = Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>"))
    vocabulary.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=vocabulary, unk_token="<unk>", eos_token="<unk>"
    )
    tokenizer.chat_template = (trl_templates() / f"{template}.jinja").read_text(encoding="utf-8")
    return tokenizer


@pytest.mark.slow
def test_preference_pairs_from_feedback_set_through_the_sdk(
    fresh_store: StoreProcess, tmp_path: Path
) -> None:
    datasets = require("datasets", DEV_EXTRA)
    require_package_dir("trl")
    from trl.data_utils import apply_chat_template, is_conversational

    records = [record for prompt in range(24) for record in answers(prompt, 3)]
    fresh_store.import_records(records)
    client = openai_client(fresh_store)
    for prompt in range(24):
        client.chat.completions.update(f"chatcmpl-pref-{prompt:02d}-0", metadata={"rating": "up"})
        client.chat.completions.update(f"chatcmpl-pref-{prompt:02d}-1", metadata={"rating": "down"})
        # the third answer gets no feedback and pairs with nothing
    data_dir = tmp_path / "data"
    ingest(source_env(fresh_store, "openai"), data_dir)
    build_completions(data_dir)
    recipe = Recipe.model_validate(
        {
            "name": "prefs",
            # Regenerated answers to one prompt are near duplicates and one chat's branches:
            # a preference recipe keeps them all.
            "dedup": {"near": {"keep": "all"}},
            "chains": {"enabled": False},
            "export": {
                "targets": ["openai", "preference"],
                "preference": {"key": "rating"},
                "min_train_examples": 5,
            },
        }
    )
    curated = curate_completions(read_completions(data_dir), recipe)

    built = build_dataset_version(data_dir, curated.rows, recipe, curation_steps=curated.steps)

    directory = built.path / "preference"
    # OpenAI's DPO line (REFERENCE: input.messages, one preferred and one non-preferred
    # assistant message), checked against what the test stored and rated, not a checker of ours.
    seen: list[int] = []
    for split in ("train", "validation"):
        for line in (directory / "openai_dpo" / f"{split}.jsonl").read_text().splitlines():
            example = json.loads(line)
            prompt = prompt_number(example["input"]["messages"][-1]["content"])
            assert example == {
                "input": {"messages": expected_prompt(prompt)},  # developer, as system
                "preferred_output": [{"role": "assistant", "content": answer_text(prompt, 0)}],
                "non_preferred_output": [{"role": "assistant", "content": answer_text(prompt, 1)}],
            }
            seen.append(prompt)
    assert len(seen) == len(set(seen)) >= 10
    # TRL's own `apply_chat_template` (what DPOTrainer runs on each row) with the Qwen 2.5
    # template shipped in its wheel: every pair renders to the rated answers.
    trl = datasets.load_dataset(
        "parquet",
        data_files={s: str(directory / "trl" / f"{s}.parquet") for s in ("train", "eval")},
        cache_dir=str(tmp_path / "cache"),
    )
    tokenizer = template_tokenizer("qwen2_5")
    for split in ("train", "eval"):
        for row in trl[split]:
            assert is_conversational(row)
            prompt = prompt_number(row["prompt"][-1]["content"])
            rendered = apply_chat_template(row, tokenizer)
            assert rendered["prompt"] == (
                "<|im_start|>system\nAnswer in one sentence.<|im_end|>\n"
                f"<|im_start|>user\n{question(prompt)}<|im_end|>\n<|im_start|>assistant\n"
            )
            assert rendered["chosen"] == answer_text(prompt, 0) + "<|im_end|>\n"
            assert rendered["rejected"] == answer_text(prompt, 1) + "<|im_end|>\n"
    assert trl["train"].num_rows > 0
    # Pairs never straddle splits: both answers of a pair are in the pair's split.
    rows = {
        split: set(read_split_ids(built.path, split)) for split in ("train", "validation", "eval")
    }
    for split in ("train", "eval"):
        for pair in trl[split]:
            assert {pair["chosen_id"], pair["rejected_id"]} <= rows[split]


def read_split_ids(version: Path, split: str) -> list[str]:
    import polars as pl

    return pl.read_parquet(version / f"{split}.parquet", columns=["completion_id"])[
        "completion_id"
    ].to_list()
