"""The example notebook runs top to bottom on the bundled sample, without Dagster, and is
committed without outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets import default

from pipelines.datadir.paths import data_dir_from_env

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"


class ThisInterpreterKernelManager(AsyncKernelManager):
    """Starts ipykernel's built-in `python3` spec, which runs `sys.executable`: the interpreter
    running the tests, with distillery installed. With no kernel directories to search, a stray
    user-level `python3` kernelspec pointing at another Python cannot be picked instead, and no
    `ipykernel install` step is needed."""

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[])

    @default("transport_encryption")
    def _transport_encryption_default(self) -> str:
        # ipykernel warns into the cell output when it talks plain TCP; CurveZMQ keys silence it.
        return "auto"


def stream_text(cell: nbformat.NotebookNode, name: str) -> str:
    return "".join(
        output["text"]
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream" and output["name"] == name
    )


def test_notebook_is_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)

    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    assert [cell.id for cell in code_cells if cell.outputs or cell.execution_count] == []
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("start", [".", "notebooks", "tests/bench"])
def test_the_notebook_uses_the_jobs_data_directory_wherever_it_starts(
    start: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The setup cell alone, run where a kernel started in `start` would run it.
    monkeypatch.delenv("DISTILLERY_DATA_DIR", raising=False)
    cwd = NOTEBOOK.parents[1] / start
    monkeypatch.chdir(cwd)
    setup = nbformat.read(NOTEBOOK, as_version=4).cells[1]
    names: dict[str, object] = {}

    exec(compile(setup.source, "setup cell", "exec"), names)

    # What `distillery build` writes to on the sample, run from the project's folder (README).
    assert names["DATA_DIR"] == NOTEBOOK.parents[1] / data_dir_from_env({})


@pytest.mark.slow
def test_notebook_runs_on_the_sample_without_dagster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this process's environment: no credentials, so the notebook reads the
    # bundled sample, and the bundled recipes, whatever the developer's shell has set.
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "AZURE_OPENAI_", "DISTILLERY_")):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DISTILLERY_DATA_DIR", str(data_dir))
    # Keep IPython's profile and the kernel's connection file out of the home directory.
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    # Raises CellExecutionError, naming the cell, at the first cell that fails.
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        kernel_manager_class=ThisInterpreterKernelManager,
        resources={"metadata": {"path": str(workdir)}},
    ).execute()

    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    ]
    assert errors == []
    assert stream_text(notebook.cells[-1], "stdout").strip() == "dagster imported: False"
    artifacts = data_dir / "artifacts" / "default"
    latest = (artifacts / "LATEST").read_text(encoding="utf-8").strip()
    manifest = json.loads((artifacts / latest / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == latest
    assert manifest["splits"]["train"]["rows"] >= manifest["recipe"]["export"]["min_train_examples"]
    # Everything went to DISTILLERY_DATA_DIR, nothing to the kernel's working directory.
    assert list(workdir.iterdir()) == []
