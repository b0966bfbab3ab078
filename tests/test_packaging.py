"""The house rules: one distribution, dagster only in `assets`, one pinned dagster family, and the
workspace pointer that both `dagster` and `dg` read."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.mark.slow
def test_pipelines_and_schemas_import_without_dagster() -> None:
    # A fresh interpreter imports every module under pipelines/ and schemas/, as a notebook would.
    probe = """
import importlib, json, pkgutil, sys
import pipelines, schemas
for package in (pipelines, schemas):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0].startswith("dagster"))))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd="/", check=True
    )

    assert json.loads(result.stdout) == []


@pytest.mark.slow
def test_the_three_packages_resolve_inside_this_repo() -> None:
    probe = (
        "import json, assets, pipelines, schemas;"
        "print(json.dumps([m.__file__ for m in (assets, pipelines, schemas)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd="/", check=True
    )

    for path in json.loads(result.stdout):
        assert Path(path).resolve().is_relative_to(REPO)


def test_dagster_family_is_pinned_to_one_patch_release() -> None:
    requirements = pyproject()["project"]["dependencies"]
    dagster = [r for r in requirements if re.match(r"dagster(-[\w-]+)?\b", r)]
    pins = {re.fullmatch(r"[\w-]+==(\d+\.\d+\.\d+)", r).group(1) for r in dagster}  # type: ignore[union-attr]

    assert {"dagster", "dagster-webserver"} <= {r.split("==")[0] for r in dagster}
    assert len(pins) == 1


def test_pyproject_leaves_the_code_location_to_workspace_yaml() -> None:
    tool = pyproject().get("tool", {})
    assert "dagster" not in tool and "dg" not in tool

    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    (location,) = workspace["load_from"]
    assert location["python_module"] == {
        "module_name": "assets.definitions",
        "attribute": "defs",
    }


def test_definitions_load() -> None:
    import dagster as dg

    from assets.definitions import defs

    dg.Definitions.validate_loadable(defs)
