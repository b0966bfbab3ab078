"""The one rule for optional consumers (trl, LLaMA-Factory, `datasets`, promptfoo, …): a test
that needs one fails under CI, whose `.ci/run` installs them all, and is skipped elsewhere with
the command that installs it. A missing consumer never passes silently in CI."""

from __future__ import annotations

import importlib
import os
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType

import pytest

CONSUMERS = "bash .ci/install-consumers.sh"
DEV_EXTRA = "pip install -e '.[dev]'"


def missing(what: str, install: str) -> None:
    """Fail under `CI`, skip elsewhere, naming what is missing and how to install it."""
    message = f"this test needs {what} ({install})"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require(module: str, install: str = CONSUMERS) -> ModuleType:
    """Import `module`, or fail under CI / skip elsewhere naming `install`."""
    if find_spec(module) is None:
        missing(f"the `{module}` package", install)
    return importlib.import_module(module)


def require_package_dir(package: str, install: str = CONSUMERS) -> Path:
    """The installed folder of `package`, found without importing it: trl and LLaMA-Factory
    import torch from their `__init__`, and CI installs them with --no-deps (no torch) to
    read their files and torch-free modules."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        missing(f"the `{package}` wheel", install)
    return Path(spec.submodule_search_locations[0])
