"""Dataset versions: leakage, files that check and round-trip, manifest, idempotence, atomicity."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.completions.normalize import normalize_completions
from pipelines.completions.validate import validate_completions
from pipelines.curate.table import curate_completions
from pipelines.export import files as version_files
from pipelines.export.line_check import check_fine_tuning_lines
from pipelines.export.versions import (
    DatasetRefused,
    build_dataset_version,
    diff_versions,
    latest_version,
    list_versions,
)
from pipelines.recipes import Recipe
from pipelines.sample import SAMPLE_PATH
from tests.consumers import DEV_EXTRA, require
from tests.frames import completions_frame, raw_frame
from tests.records import completion_record


@pytest.fixture(scope="module")
def sample_completions() -> pl.DataFrame:
    records = [json.loads(line) for line in SAMPLE_PATH.read_text().splitlines()]
    return validate_completions(normalize_completions(raw_frame(records))).completions


def publish(data_dir: Path, completions: pl.DataFrame, recipe: Recipe):
    curated = curate_completions(completions, recipe)
    return build_dataset_version(data_dir, curated.rows, recipe, curation_steps=curated.steps)


def question(i: int, text: str, **extra: Any) -> dict[str, Any]:
    return completion_record(
        f"q{i:03d}",
        created=1_760_000_000 + i,
        input_messages=[{"role": "user", "content": text}],
        answer=f"Answer {i}.",
        **extra,
    )


def planted_records() -> list[dict[str, Any]]:
    """60 distinct questions, plus exact and near copies and users with several conversations."""
    vocabulary = [f"{stem}{n}" for stem in ("tax", "rust", "sql", "tea", "jazz") for n in range(40)]
    records = [
        question(i, " ".join(random.Random(i).sample(vocabulary, 9)) + " matters")
        for i in range(60)
    ]
    for i in range(60, 70):  # exact copies of q000..q009 (same text and answer)
        original = records[i - 60]
        copy = json.loads(json.dumps(original))
        copy.update(id=f"q{i:03d}", created=original["created"] + 1000)
        records.append(copy)
    for i in range(70, 80):  # near copies: one word changed
        base = records[i - 50]["input_messages"][0]["content"]
        records.append(question(i, base.replace("matters", "counts")))
    for i in range(80, 110):  # ten users with three conversations each
        records.append(
            question(i, f"Plan a trip to city {i} in spring", metadata={"user_id": f"u{i % 10}"})
        )
    return records


@pytest.mark.slow
def test_duplicates_and_groups_never_straddle_splits(tmp_path: Path) -> None:
    completions = completions_frame(planted_records())
    keep_all = Recipe.model_validate(
        {"name": "r", "dedup": {"exact": {"enabled": True}, "near": {"keep": "all"}}}
    )
    by_user = Recipe.model_validate(
        {"name": "u", "dedup": {"near": {"keep": "all"}}, "split": {"group_by": "metadata.user_id"}}
    )

    clustered = publish(tmp_path, completions, keep_all)
    grouped = publish(tmp_path, completions, by_user)

    rows = _split_rows(clustered.path)
    near = rows.filter(pl.col("completion_id").is_in([f"q{i:03d}" for i in range(20, 30)]))
    for i in range(70, 80):
        twin = rows.filter(pl.col("completion_id") == f"q{i:03d}")["split"].item()
        assert twin == near.filter(pl.col("completion_id") == f"q{i - 50:03d}")["split"].item()
    assert rows.group_by("cluster_id").agg(pl.col("split").n_unique())["split"].max() == 1
    assert "q000" not in rows["completion_id"].to_list()  # the newer exact copy (q060) survives
    assert "q060" in rows["completion_id"].to_list()
    users = _split_rows(grouped.path).join(
        completions.select(
            pl.col("id").alias("completion_id"),
            pl.col("metadata").list.first().struct.field("value").alias("user"),
        ),
        on="completion_id",
    )
    assert (
        users.drop_nulls("user").group_by("user").agg(pl.col("split").n_unique())["split"].max()
        == 1
    )
    assert all(check.passed for check in clustered.checks + grouped.checks)


def _has_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False


def _split_rows(path: Path) -> pl.DataFrame:
    return pl.concat(
        pl.read_parquet(path / f"{split}.parquet", columns=["completion_id", "cluster_id", "split"])
        for split in ("train", "validation", "eval")
    )


def _present(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not None and v != []}


def _expected_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call["function"]
    return {
        "id": call["id"],
        "type": call["type"],
        "function": {"name": function["name"], "arguments": function["arguments"]},
    }


def _expected_input(message: dict[str, Any], *, fine_tuning: bool) -> dict[str, Any]:
    """A stored input message (the messages endpoint's record) as REFERENCE.md's training line
    has it: text or its parts, no null keys, arguments a JSON string, `developer` as `system`
    (an eval's input keeps the stored role)."""
    stored = _present(message)
    expected: dict[str, Any] = {"role": stored["role"]}
    if fine_tuning and stored["role"] == "developer":
        expected["role"] = "system"
    content = stored.get("content_parts") or stored.get("content")
    if content is not None:
        expected["content"] = content
    for key in ("name", "tool_call_id"):
        if key in stored:
            expected[key] = stored[key]
    if "tool_calls" in stored:
        expected["tool_calls"] = [_expected_call(call) for call in stored["tool_calls"]]
    return expected


def _expected_line(record: dict[str, Any]) -> dict[str, Any]:
    """The fine-tuning line of a raw stored record: its input messages, then choice 0."""
    output = _present(record["choices"][0]["message"])
    answer: dict[str, Any] = {"role": "assistant"}
    text = output.get("content", output.get("refusal"))
    if text is not None:
        answer["content"] = text
    if "tool_calls" in output:
        answer["tool_calls"] = [_expected_call(call) for call in output["tool_calls"]]
    messages = [_expected_input(m, fine_tuning=True) for m in record["input_messages"]]
    line: dict[str, Any] = {"messages": [*messages, answer]}
    if record.get("tools"):
        line["tools"] = record["tools"]
    return line


def _expected_ideal(record: dict[str, Any]) -> str | list[dict[str, Any]]:
    """What an eval expects of a raw record: its text, else its tool calls (compared parsed),
    else its refusal."""
    output = _present(record["choices"][0]["message"])
    if "content" in output:
        return output["content"]
    if "tool_calls" in output:
        return [_expected_call(call) for call in output["tool_calls"]]
    return output["refusal"]


@pytest.mark.slow
def test_every_line_checks_and_round_trips_to_its_completion(
    tmp_path: Path, sample_completions: pl.DataFrame
) -> None:
    recipe = Recipe.model_validate(
        {"name": "plain", "redact": {"mode": "off"}, "export": {"targets": ["openai", "oss_evals"]}}
    )
    version = publish(tmp_path, sample_completions, recipe)

    # Expected values come from the bundled sample's raw records, not from the code that wrote.
    raw = {r["id"]: r for r in map(json.loads, SAMPLE_PATH.read_text().splitlines())}
    for split in ("train", "validation"):
        lines = (version.path / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        ids = pl.read_parquet(version.path / f"{split}.parquet")["completion_id"].to_list()
        assert len(lines) == len(ids) > 0
        assert check_fine_tuning_lines(lines).ok
        for line, completion_id in zip(lines, ids, strict=True):
            assert json.loads(line) == _expected_line(raw[completion_id])
    evals = pl.read_parquet(version.path / "eval.parquet", columns=["completion_id", "line"])
    oss = (version.path / "eval.openai-evals.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(oss) == evals.height > 0
    kinds = set()
    for item_line, (completion_id, line) in zip(oss, evals.iter_rows(), strict=True):
        record = raw[completion_id]
        assert json.loads(line) == _expected_line(record)
        item = json.loads(item_line)
        expected = _expected_ideal(record)
        ideal = json.loads(item["ideal"]) if isinstance(expected, list) else item["ideal"]
        assert ideal == expected
        assert item["input"] == [
            _expected_input(m, fine_tuning=False) for m in record["input_messages"]
        ]
        kinds.add(type(expected))
    assert kinds == {str, list}  # text answers and a tool-call answer both checked


def test_datasets_loads_the_parquet_splits(
    tmp_path: Path, sample_completions: pl.DataFrame
) -> None:
    datasets = require("datasets", DEV_EXTRA)
    version = publish(tmp_path, sample_completions, Recipe(name="default"))

    loaded = datasets.load_dataset(
        "parquet",
        data_files={s: str(version.path / f"{s}.parquet") for s in ("train", "validation", "eval")},
        cache_dir=str(tmp_path / "hf-cache"),
    )

    manifest = version.manifest
    assert {s: loaded[s].num_rows for s in loaded} == {
        s: manifest.splits[s].rows for s in ("train", "validation", "eval")
    }
    first = loaded["train"][0]
    assert {"completion_id", "cluster_id", "split", "messages", "output", "line"} <= set(first)
    assert first["output"]["role"] == "assistant"
    example = json.loads(first["line"])["messages"]
    assert len(example) == len(first["messages"]) + 1
    assert example[-1]["content"] == (first["output"]["content"] or first["output"]["refusal"])
    # The Parquet keeps the stored role; the line writes `developer` as `system`.
    stored_role = first["messages"][0]["role"]
    line_role = json.loads(first["line"])["messages"][0]["role"]
    assert line_role == ("system" if stored_role == "developer" else stored_role)


def test_manifest_hashes_match_the_files_and_nothing_secret_is_in_it(
    tmp_path: Path, sample_completions: pl.DataFrame
) -> None:
    version = publish(tmp_path, sample_completions, Recipe(name="default"))

    manifest = json.loads((version.path / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        content = (version.path / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
    on_disk = {str(p.relative_to(version.path)) for p in version.path.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"manifest.json"}
    assert set(manifest["targets"]) == {"openai", "hf", "promptfoo"}  # the default targets
    for entry in manifest["targets"].values():
        assert set(entry["files"]) <= set(manifest["files"])
    assert manifest["version"] == version.version == latest_version(tmp_path, "default")
    assert sum(s["rows"] for s in manifest["splits"].values()) > 100
    assert {"near_duplicate", "exact_duplicate", "finish_reason"} <= set(
        manifest["drops_by_reason"]
    )
    assert "sk-" not in json.dumps(manifest)


@pytest.mark.slow
def test_the_same_inputs_give_the_same_version_and_write_nothing(
    tmp_path: Path, sample_completions: pl.DataFrame
) -> None:
    first = publish(tmp_path, sample_completions, Recipe(name="default"))
    before = sorted(p.name for p in (tmp_path / "artifacts" / "default").iterdir())

    again = publish(tmp_path, sample_completions, Recipe(name="default"))

    assert (again.version, again.created, first.created) == (first.version, False, True)
    assert sorted(p.name for p in (tmp_path / "artifacts" / "default").iterdir()) == before
    changed = publish(
        tmp_path,
        sample_completions,
        Recipe.model_validate({"name": "default", "split": {"seed": 9}}),
    )
    assert changed.version != first.version


@pytest.mark.slow
def test_a_failure_midway_leaves_no_version_and_latest_unchanged(
    tmp_path: Path, sample_completions: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = publish(tmp_path, sample_completions, Recipe(name="default"))
    opened = []
    original = version_files._parquet_writer

    def fail_on_second_split(path, schema):
        # Called on the writer thread, once train's files are on disk.
        opened.append(path.name)
        if len(opened) == 2:
            raise OSError("disk full (injected)")
        return original(path, schema)

    monkeypatch.setattr(version_files, "_parquet_writer", fail_on_second_split)
    with pytest.raises(OSError, match="injected"):
        publish(
            tmp_path,
            sample_completions,
            Recipe.model_validate({"name": "default", "split": {"seed": 5}}),
        )

    assert opened == ["train.parquet", "validation.parquet"]
    root = tmp_path / "artifacts" / "default"
    assert sorted(p.name for p in root.iterdir()) == sorted(["LATEST", first.version])
    assert latest_version(tmp_path, "default") == first.version


def test_a_failure_building_lines_leaves_no_version(
    tmp_path: Path, sample_completions: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This time the main thread fails (building eval lines), with train and validation written
    # and the writer thread possibly still busy: it is joined, then the staging directory goes.
    real_lines = version_files.fine_tuning_lines

    def fail(rows: pl.DataFrame, **options: Any) -> pl.Series:
        if rows["split"].unique().to_list() == ["eval"]:
            raise MemoryError("out of memory (injected)")
        return real_lines(rows, **options)

    monkeypatch.setattr(version_files, "fine_tuning_lines", fail)
    with pytest.raises(MemoryError, match="injected"):
        publish(tmp_path, sample_completions, Recipe(name="default"))

    root = tmp_path / "artifacts" / "default"
    assert [p.name for p in root.iterdir()] == []
    assert latest_version(tmp_path, "default") is None


def test_fewer_than_ten_examples_refuses_to_publish(tmp_path: Path) -> None:
    completions = completions_frame(
        [question(i, f"Distinct question {i} about {i * 7}") for i in range(8)]
    )

    with pytest.raises(DatasetRefused) as refused:
        publish(tmp_path, completions, Recipe(name="tiny"))

    assert "only 6 training examples; fine-tuning needs at least 10" in str(refused.value)
    assert not (tmp_path / "artifacts" / "tiny").exists() or not [
        p for p in (tmp_path / "artifacts" / "tiny").iterdir()
    ]


@pytest.mark.slow
def test_list_and_diff_versions(tmp_path: Path) -> None:
    records = planted_records()
    recipe = Recipe(name="default")
    first = publish(tmp_path, completions_frame(records[:60]), recipe)
    changed = json.loads(json.dumps(records[5]))
    changed["choices"][0]["message"]["content"] = "A better answer."
    second = publish(
        tmp_path,
        completions_frame([*records[:5], changed, *records[6:60], *records[80:90]]),
        recipe,
    )

    assert [v.version for v in list_versions(tmp_path, "default")] == [
        first.version,
        second.version,
    ]
    diff = diff_versions(tmp_path, "default", first.version, second.version)
    added = sum(len(d["added"]) for d in diff.values())
    assert added == 10
    assert sum(len(d["removed"]) for d in diff.values()) == 0
    assert [i for d in diff.values() for i in d["changed"]] == ["q005"]


def test_a_line_the_format_checker_faults_refuses_to_publish(tmp_path: Path) -> None:
    # Stored weights pass through with train_on="all"; a weight of 2 is not one OpenAI takes.
    records = [question(i, f"Distinct question {i} about {i * 7}") for i in range(30)]
    records[3]["input_messages"] = [
        {"role": "user", "content": "First try?"},
        {"role": "assistant", "content": "Earlier answer.", "weight": 2},
        {"role": "user", "content": "Again, distinct question 3?"},
    ]

    with pytest.raises(DatasetRefused) as refused:
        publish(tmp_path, completions_frame(records), Recipe(name="weights"))

    checks = {check.name: check for check in refused.value.checks}
    assert not checks["fine_tuning_format"].passed
    assert checks["fine_tuning_format"].metadata["errors_invalid_weight"] == 1
    assert "weight must be 0 or 1, not 2" in str(refused.value)
    root = tmp_path / "artifacts" / "weights"
    assert not root.exists() or [p.name for p in root.iterdir()] == []
