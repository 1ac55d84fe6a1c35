"""The student notebooks in experiments/notebooks/ run top to bottom, clean up after themselves
and are committed without outputs.

Each notebook is executed with nbclient in a fresh kernel of this interpreter (the project's
virtual environment), with ``PAIRSIM_NOTEBOOK_QUICK=1`` so that it shrinks its years,
replications and samples, and with ``TMPDIR`` pointing at a fresh, empty folder: whatever a
notebook leaves there is a temporary folder it did not remove.

The kernel is started with CurveZMQ transport encryption (``KernelManager.transport_encryption``),
as ipykernel asks: over plain TCP it prints "Kernel is running over TCP without encryption" to
its stderr when it starts, which is noise to a student and a real warning on a shared machine.
Its stderr goes to a file so the tests can check that the warning is gone.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets.config import Config

from sim import analysis
from sim.execute import make_executor, run_experiment
from sim.experiment import Experiment, design_points, load_experiment, salib_problem

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO / "experiments" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = {"01_quickstart.ipynb", "02_parameter_sweep.ipynb", "03_policy_comparison.ipynb", "04_economics_audit.ipynb"}
WITH_TEMPORARY_FOLDER = ["02_parameter_sweep.ipynb", "03_policy_comparison.ipynb"]
PLOTLY = "application/vnd.plotly.v1+json"
CELL_TIMEOUT_S = 180
PLAIN_TCP_WARNING = "without encryption"  # ipykernel.kernelapp: "Kernel is running over TCP without encryption."


def test_the_notebooks_are_there() -> None:
    assert EXPECTED <= {path.name for path in NOTEBOOKS}


# --------------------------------------------------------------------------- executing a notebook


@dataclass
class Execution:
    """What one execution of a notebook did."""

    notebook: nbformat.NotebookNode
    error: str | None  # the failing cell's error, None when every cell ran
    encrypted: bool  # the kernel was given CurveZMQ keys
    kernel_stderr: str  # everything the kernel process printed to its stderr (its console)
    temp_after_last_cell: list[str] | None  # TMPDIR's contents once the last cell ran (None: it never ran)
    temp_after_shutdown: list[str]  # TMPDIR's contents once the kernel stopped

    def outputs(self) -> list[nbformat.NotebookNode]:
        return [output for cell in self.notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def _kernel_spec(folder: Path) -> str:
    """A kernel spec that runs this interpreter, found first (JUPYTER_PATH), whatever kernels the user has installed.

    Like ipykernel's own spec it declares CurveZMQ support, so ``transport_encryption="auto"`` would encrypt too.
    """
    spec = folder / "kernels" / "pairsim-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {
        "argv": argv,
        "display_name": "pairsim tests",
        "language": "python",
        "metadata": {"supported_encryption": ["curve"]},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return "pairsim-test"


def _listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def execute(
    notebook: nbformat.NotebookNode, work: Path, monkeypatch: pytest.MonkeyPatch, transport_encryption: str = "required"
) -> Execution:
    """Run ``notebook`` in quick mode in a fresh kernel, with TMPDIR, Jupyter's folders and the kernel's stderr under ``work``.

    ``transport_encryption="required"`` makes jupyter_client give the kernel CurveZMQ keys (and fail
    if it cannot); "disabled" is what a plain NotebookClient (and jupyter_client's default) does.
    """
    scratch = work / "tmp"
    scratch.mkdir(parents=True)
    monkeypatch.setenv("PAIRSIM_NOTEBOOK_QUICK", "1")  # the kernel inherits this process's environment
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("JUPYTER_PATH", str(work / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(work / "runtime"))  # connection files, not in the user's home
    kernel = _kernel_spec(work / "jupyter")
    seen: dict[str, object] = {"encrypted": False, "after_last_cell": None}
    last = max(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")

    def started(notebook: nbformat.NotebookNode) -> None:
        seen["encrypted"] = client.km is not None and client.km.curve_secretkey is not None

    def cell_done(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        if cell_index == last:  # the kernel still runs: only the notebook's own clean-up can have emptied TMPDIR
            seen["after_last_cell"] = _listing(scratch)

    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        kernel_name=kernel,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},  # run in the notebooks' folder, as Jupyter does
        config=Config({"KernelManager": {"transport_encryption": transport_encryption}}),
        on_notebook_start=started,
        on_cell_executed=cell_done,
    )
    error = None
    stderr_file = work / "kernel-stderr.txt"
    with stderr_file.open("wb") as stderr:
        try:
            client.execute(stderr=stderr)  # passed on to the kernel's Popen
        except CellExecutionError as failure:
            error = str(failure)
    return Execution(
        notebook=notebook,
        error=error,
        encrypted=bool(seen["encrypted"]),
        kernel_stderr=stderr_file.read_text(encoding="utf-8", errors="replace"),
        temp_after_last_cell=seen["after_last_cell"],  # type: ignore[arg-type]
        temp_after_shutdown=_listing(scratch),
    )


def with_settings(notebook: nbformat.NotebookNode, **settings: str) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with a cell that sets ``settings`` right after its parameters cell (as papermill does)."""
    copy = nbformat.from_dict(json.loads(json.dumps(notebook)))
    index = next(i for i, cell in enumerate(copy.cells) if "parameters" in cell.metadata.get("tags", []))
    source = "\n".join(f"{name} = {value!r}" for name, value in settings.items())
    copy.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return copy


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> SHA-256 of its bytes)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def executed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Execution, dict]]:
    """Each notebook executed once, as committed; with the notebooks' folder before and after."""
    path: Path = request.param
    before = _snapshot(NOTEBOOKS_DIR)
    with pytest.MonkeyPatch.context() as monkeypatch:
        execution = execute(nbformat.read(path, as_version=4), tmp_path_factory.mktemp(path.stem), monkeypatch)
    yield path, execution, {"before": before, "after": _snapshot(NOTEBOOKS_DIR)}


# --------------------------------------------------------------------------- the notebooks as committed


@pytest.mark.slow
def test_notebook_runs_top_to_bottom_and_draws_plotly_figures(executed: tuple[Path, Execution, dict]) -> None:
    path, execution, _ = executed
    assert execution.error is None, f"{path.name} failed:\n{execution.error}\nkernel stderr:\n{execution.kernel_stderr[-3000:]}"
    assert not [output for output in execution.outputs() if output.output_type == "error"]
    figures = [output for output in execution.outputs() if PLOTLY in output.get("data", {})]
    assert figures, f"{path.name} drew no Plotly figure"


@pytest.mark.slow
def test_notebook_removes_its_temporary_folders_in_its_last_cell(executed: tuple[Path, Execution, dict]) -> None:
    path, execution, _ = executed
    assert execution.temp_after_last_cell == [], (
        f"{path.name} left in the temp dir after its last cell: {execution.temp_after_last_cell}"
    )
    assert execution.temp_after_shutdown == [], f"{path.name} left in the temp dir: {execution.temp_after_shutdown}"


@pytest.mark.slow
def test_notebook_writes_nothing_into_the_notebooks_folder(executed: tuple[Path, Execution, dict]) -> None:
    path, _, folder = executed
    assert folder["after"] == folder["before"], f"{path.name} changed experiments/notebooks/"


@pytest.mark.slow
def test_notebook_kernel_is_encrypted_and_shows_no_plain_tcp_warning(executed: tuple[Path, Execution, dict]) -> None:
    path, execution, _ = executed
    assert execution.encrypted, "the kernel was started without CurveZMQ keys"
    assert PLAIN_TCP_WARNING not in execution.kernel_stderr
    shown = [json.dumps(output) for output in execution.outputs()]
    assert not [text for text in shown if PLAIN_TCP_WARNING in text], f"{path.name} shows the plain-TCP warning"


@pytest.mark.slow
def test_an_unencrypted_kernel_prints_the_plain_tcp_warning_where_the_tests_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: without encryption the warning does reach the kernel's stderr."""
    execution = execute(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), tmp_path, monkeypatch, "disabled")
    assert execution.error is None
    assert not execution.encrypted
    assert PLAIN_TCP_WARNING in execution.kernel_stderr


# --------------------------------------------------------------------------- temporary folders and other people's folders


@pytest.mark.slow
@pytest.mark.parametrize("name", WITH_TEMPORARY_FOLDER, ids=[Path(name).stem for name in WITH_TEMPORARY_FOLDER])
def test_a_failing_cell_still_leaves_no_temporary_folder_behind(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A student's mistake right after the notebook made its temporary folder: the folder goes when the kernel stops."""
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    makes_folder = next(i for i, cell in enumerate(notebook.cells) if "TemporaryDirectory(" in "".join(cell.source))
    notebook.cells.insert(makes_folder + 1, nbformat.v4.new_code_cell('raise RuntimeError("a mistake in a cell")'))
    execution = execute(notebook, tmp_path, monkeypatch)
    assert execution.error is not None and "a mistake in a cell" in execution.error
    assert execution.temp_after_last_cell is None  # the notebook's own clean-up never ran
    assert execution.temp_after_shutdown == [], f"{name} left in the temp dir: {execution.temp_after_shutdown}"


@pytest.fixture
def results_folder(tmp_path: Path) -> Path:
    """A small comparison made by the experiment runner, as `pairsim compare` would: baseline and all policies."""
    experiment_file = tmp_path / "given.yaml"
    experiment = {
        "name": "given",
        "scenarios": [str(REPO / "scenarios" / "small.yaml")],
        "seed": 3,
        "replications": 3,
        "horizon_years": 2,
        "arms": {"all_policies": {"policies": "all"}},
    }
    experiment_file.write_text(yaml.safe_dump(experiment), encoding="utf-8")
    folder = tmp_path / "given"
    with make_executor(workers=1) as executor:
        run_experiment(load_experiment(experiment_file), experiment_file, folder, executor, progress=False)
    return folder


@pytest.mark.slow
def test_policy_comparison_reads_a_given_results_folder_without_writing_into_it(
    results_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(results_folder)
    report_file = tmp_path / "saved" / "comparison.html"
    notebook = with_settings(
        nbformat.read(NOTEBOOKS_DIR / "03_policy_comparison.ipynb", as_version=4),
        RESULTS_DIR=str(results_folder),
        REPORT_FILE=str(report_file),
    )
    execution = execute(notebook, tmp_path / "run", monkeypatch)
    assert execution.error is None, execution.error
    assert _snapshot(results_folder) == before, "notebook 03 wrote into a results folder it did not create"
    assert report_file.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")  # the report goes where asked
    assert execution.temp_after_shutdown == []


# --------------------------------------------------------------------------- notebook 02's reading of the Sobol indices

FAILURE_RANGES = {
    "pairing.failure.leakage": {"low": 0.0, "high": 0.5},
    "pairing.failure.dependency": {"low": 0.0, "high": 1.0},
    "pairing.failure.elite_capture": {"low": 0.0, "high": 0.6},
}


def _sweep_results(outcome_of, samples: int = 64, replications: int = 2) -> tuple[Experiment, pd.DataFrame]:
    """A made-up sweep over notebook 02's parameters: final-year rows with ``outcome_of(x, seed_luck, rng)`` as both outcomes."""
    experiment = Experiment.model_validate(
        {
            "name": "made_up",
            "scenarios": ["small.yaml"],
            "seed": 7,
            "replications": replications,
            "baseline": False,
            "arms": {"all_policies": {"policies": "all"}},
            "design": {"method": "sobol", "samples": samples, "parameters": FAILURE_RANGES},
        }
    )
    points = design_points(experiment.design, experiment.seed)
    rng = np.random.default_rng(0)
    seed_luck = rng.normal(size=replications)  # luck a replication's seed brings to every point (common random numbers)
    rows = []
    for point, x in points.iterrows():
        values = {name.removeprefix("pairing.failure."): value for name, value in x.items()}
        for replication in range(replications):
            row = {"run_id": f"p{point}r{replication}", "scenario": "small", "arm": "all_policies", "point": point}
            row |= {"replication": replication, "year": 2014}
            row |= {
                "gini": outcome_of(values, seed_luck[replication], rng),
                "urban_rural_ratio": outcome_of(values, seed_luck[replication], rng),
            }
            rows.append(row)
    return experiment, pd.DataFrame(rows)


def _indices_cell(experiment: Experiment, results: pd.DataFrame) -> pd.DataFrame:
    """Run notebook 02's cell that computes and flags the indices on ``results``; its ``indices`` table, by parameter."""
    notebook = nbformat.read(NOTEBOOKS_DIR / "02_parameter_sweep.ipynb", as_version=4)
    source = next(cell.source for cell in notebook.cells if cell.cell_type == "code" and "def luck_share" in cell.source)
    namespace = {"analysis": analysis, "pd": pd, "salib_problem": salib_problem, "experiment": experiment, "results": results}
    exec(source, namespace)  # noqa: S102 - the notebook's own code, on made-up results
    return namespace["indices"]


def test_sweep_notebook_flags_an_index_as_distinguishable_only_when_its_interval_clears_zero_or_luck() -> None:
    experiment, results = _sweep_results(lambda x, seed_luck, rng: 2 * x["leakage"] + seed_luck + 0.05 * rng.normal())
    indices = _indices_cell(experiment, results)
    for outcome, table in indices.groupby("outcome"):
        table = table.set_index("parameter")
        assert table["luck"].iloc[0] < 0.05, outcome  # the seeds' common luck cancels; little is left
        assert table.loc["leakage", "S1 distinguishable from 0?"] == "yes"
        assert table.loc["leakage", "ST distinguishable from luck?"] == "yes"
        for other in ("dependency", "elite_capture"):  # no effect at all: their intervals hold 0 (S1) and the luck (ST)
            assert (
                table.loc[other, "S1"] - table.loc[other, "S1_conf"] <= 0 <= table.loc[other, "S1"] + table.loc[other, "S1_conf"]
            )
            assert table.loc[other, "S1 distinguishable from 0?"] == "no"
            assert table.loc[other, "ST distinguishable from luck?"] == "no"


def test_sweep_notebook_measures_pure_luck_as_luck_and_distinguishes_nothing() -> None:
    experiment, results = _sweep_results(lambda x, seed_luck, rng: rng.normal())
    indices = _indices_cell(experiment, results)
    assert indices["luck"].between(0.7, 1.3).all()  # every bit of the variance between points is luck
    assert (indices["ST distinguishable from luck?"] == "no").all()
    assert (indices["ST"] > indices["S1"]).all()  # ST takes the luck in, S1 does not


def _load_convergence_study():
    spec = importlib.util.spec_from_file_location("sobol_convergence", REPO / "benchmarks" / "sobol_convergence.py")
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    return study


def test_convergence_study_measures_luck_as_notebook_02_does() -> None:
    experiment, results = _sweep_results(lambda x, seed_luck, rng: x["dependency"] + seed_luck + 0.3 * rng.normal())
    indices = _indices_cell(experiment, results)
    assert _load_convergence_study().luck_share(results, "gini") == pytest.approx(indices["luck"].iloc[0])


def test_convergence_study_sweeps_what_notebook_02_sweeps() -> None:
    """The figures quoted in notebook 02 come from benchmarks/sobol_convergence.py: same seed, parameters and ranges."""
    notebook = nbformat.read(NOTEBOOKS_DIR / "02_parameter_sweep.ipynb", as_version=4)
    source = next(cell.source for cell in notebook.cells if cell.cell_type == "code" and '"notebook_sweep"' in cell.source)
    literal = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in ("seed", "parameters", "outcomes", "arms"):
                    literal[key.value] = ast.literal_eval(value)
    study = _load_convergence_study().sweep(32)
    assert literal == {name: study[name] if name != "parameters" else study["design"]["parameters"] for name in literal}
    assert set(literal) == {"seed", "parameters", "outcomes", "arms"}


# --------------------------------------------------------------------------- the committed files


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
