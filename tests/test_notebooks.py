"""The student notebooks in experiments/notebooks/ run top to bottom and are committed without outputs.

Each notebook is executed with nbclient in a fresh kernel of this interpreter (the
project's virtual environment), with ``PAIRSIM_NOTEBOOK_QUICK=1`` so that it shrinks its
years, replications and samples. Temporary files the notebooks write go to pytest's
``tmp_path`` (``TMPDIR``), so nothing is left behind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "experiments" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = {"01_quickstart.ipynb", "02_parameter_sweep.ipynb", "03_policy_comparison.ipynb"}
PLOTLY = "application/vnd.plotly.v1+json"
CELL_TIMEOUT_S = 180


def test_the_notebooks_are_there() -> None:
    assert EXPECTED <= {path.name for path in NOTEBOOKS}


def _kernel_here(folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec that runs this interpreter, found first (JUPYTER_PATH), whatever kernels the user has installed."""
    spec = folder / "kernels" / "pairsim-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "pairsim tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(folder))
    return "pairsim-test"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIRSIM_NOTEBOOK_QUICK", "1")  # the kernel inherits this process's environment
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    kernel = _kernel_here(tmp_path / "jupyter", monkeypatch)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent)}},  # run in the notebook's folder, as Jupyter does
    )
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}")
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    figures = [output for output in outputs if PLOTLY in output.get("data", {})]
    assert figures, f"{path.name} drew no Plotly figure"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_saved_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing"
    assert "widgets" not in notebook.metadata, f"{path.name}: saved widget state; clear it before committing"
