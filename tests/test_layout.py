"""The floor plan: stages depend one way, one module owns the data layout, the wheel ships the
samples' JSONL but never their generator."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PIPELINES = REPO / "pipelines"

STAGES = ("ingest", "completions", "curate", "export")
"""In data-flow order: a stage may import an earlier stage, never a later one."""

# Beyond the order: export reads curated rows and the schemas, never how they were fetched.
FORBIDDEN = {("export", "ingest"), ("export", "completions"), ("curate", "ingest")}


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def stage_imports() -> set[tuple[str, str]]:
    """(stage, imported stage) for every import between two stage packages."""
    found = set()
    for stage in STAGES:
        for path in (PIPELINES / stage).rglob("*.py"):
            for module in imported_modules(path):
                parts = module.split(".")
                if parts[0] == "pipelines" and len(parts) > 1 and parts[1] in STAGES:
                    found.add((stage, parts[1]))
    return found


def test_stages_import_only_earlier_stages() -> None:
    edges = {(a, b) for a, b in stage_imports() if a != b}
    backwards = {(a, b) for a, b in edges if STAGES.index(b) > STAGES.index(a)}

    assert backwards == set()
    assert edges & FORBIDDEN == set()


def test_every_stage_has_a_face_that_names_its_public_functions() -> None:
    for stage in STAGES:
        face = (PIPELINES / stage / "__init__.py").read_text(encoding="utf-8")
        tree = ast.parse(face)
        exported = next(
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign) and node.targets[0].id == "__all__"  # type: ignore[attr-defined]
        )
        assert len(exported.elts) >= 3, stage  # type: ignore[attr-defined]


LAYOUT_MODULE = "datadir/paths.py"
"""The one module of the data-directory package (`pipelines.datadir`) that names its layout."""

LAYOUT_NAMES = {
    # The data directory's own folders and files.
    "lake",
    "artifacts",
    "LATEST",
    "raw_completions",
    "curated",
    "quarantine",
    # The names inside a version directory.
    "manifest.json",
    "README.md",
    "train.jsonl",
    "validation.jsonl",
    "eval.jsonl",
    "train.parquet",
}
TARGET_FOLDERS = ("hf", "llamafactory", "axolotl", "promptfoo", "inspect", "foundry", "preference")
"""Each export target's folder in a version directory."""
VERSION_FILE = re.compile(r"^[\w.{}/-]*\.(parquet|jsonl)$|^(" + "|".join(TARGET_FOLDERS) + ")/")
"""A file name inside a version: `<split>.parquet`, `{split}.jsonl`, `hf/…` (or a piece of one,
as an f-string holds it: `.parquet`, `llamafactory/`)."""
NOT_THE_DATA_DIRECTORY = {"sample/__init__.py", "ingest/traces.py"}
"""Modules whose file names are the package's own data (the bundled sample) or the user's (the
trace files ingest reads), not the layout."""


def string_constants(tree: ast.AST) -> list[ast.Constant]:
    """Every string constant of a module but its docstrings (prose may describe the layout)."""
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_only_the_paths_module_names_the_data_directory_layout() -> None:
    offenders = []
    for path in PIPELINES.rglob("*.py"):
        module = path.relative_to(PIPELINES).as_posix()
        if module == LAYOUT_MODULE:
            continue
        for node in string_constants(ast.parse(path.read_text(encoding="utf-8"))):
            name = node.value
            if name in LAYOUT_NAMES or (
                module not in NOT_THE_DATA_DIRECTORY and VERSION_FILE.search(name)
            ):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {name!r}")

    assert (PIPELINES / LAYOUT_MODULE).is_file()
    assert offenders == []


@pytest.mark.slow
def test_a_notebook_imports_the_face_without_dagster() -> None:
    probe = (
        "import json, sys, pipelines\n"
        "from pipelines import build_dataset_version, curate_completions, ingest_completions\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster')))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )

    assert run.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_wheel_ships_the_sample_jsonl_and_no_generator(tmp_path: Path) -> None:
    # Built from a copy: setuptools reuses an in-tree build/ directory, stale files and all.
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "distillery-data"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("distillery-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    assert {
        "pipelines/sample/stored_completions.jsonl",
        "pipelines/sample/stored_responses.jsonl",
        "pipelines/sample/conversations.jsonl",
    } <= names
    assert "pipelines/default_recipes.yaml" in names
    assert {f"pipelines/{stage}/__init__.py" for stage in STAGES} <= names
    assert "pipelines/curate/text_fields.py" in names
    assert [n for n in names if "sample_generator" in n or n.startswith("tests/")] == []
    assert [n for n in names if n.startswith("pipelines/sample/") and n.endswith(".py")] == [
        "pipelines/sample/__init__.py"
    ]
