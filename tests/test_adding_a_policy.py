"""docs/ADDING_A_POLICY.md works as written: its code registers a university–village pairing that runs a county.

The guide's ```python blocks each follow a ``<!-- file: PATH -->`` line naming the file they
belong in. The blocks of ``sim/pairing/universities.py``, joined in order, become that module
(here only in ``sys.modules``, nothing is written under sim/); the other files' blocks run
after it, each in a fresh namespace, the script of section 5 in a folder holding the guide's
scenario: a copy of ``scenarios/small.yaml`` with the guide's YAML lines appended. Everything registered is
unregistered afterwards, so the other tests (the golden outputs above all) see pairsim as
it ships.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from sim.errors import InputError
from sim.model import PairingModel
from sim.pairing import registry
from sim.pairing.policies import distances
from sim.runner import run_model
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "ADDING_A_POLICY.md"
SMALL = ROOT / "scenarios" / "small.yaml"
MODULE = "sim.pairing.universities"
MODULE_FILE = "sim/pairing/universities.py"
SCRIPT_FILE = "run_universities.py"
SCENARIO_FILE = "scenarios/small_universities.yaml"
ENTRIES = ("university", "technician_days", "university_village")  # in registration order
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
FILE_MARK = re.compile(r"<!-- (?:file|output): (\S+) -->\s*$")


def guide_blocks(language: str) -> list[tuple[str | None, str]]:
    """(file named by the ``<!-- file: -->`` or ``<!-- output: -->`` line just above, text) of every ``language`` block, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1) != language:
            continue
        above = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = FILE_MARK.search(above)
        blocks.append((mark.group(1) if mark else None, match.group(2)))
    return blocks


def python_files() -> dict[str, str]:
    """Each file the guide's Python blocks go into, with its blocks joined in order (files in order of first mention)."""
    files: dict[str, list[str]] = {}
    for path, code in guide_blocks("python"):
        assert path is not None, f"a ```python block of {GUIDE.name} has no <!-- file: PATH --> line above it:\n{code[:200]}"
        files.setdefault(path, []).append(code)
    return {path: "\n\n".join(codes) for path, codes in files.items()}


def scenario_with_guide_policies(folder: Path) -> Path:
    """Section 4.1 done as the guide says: a copy of scenarios/small.yaml with the guide's new lines at its end.

    The lines are those of the guide's YAML block after its ``# ...`` line; the block as a whole must be valid YAML too.
    """
    (block,) = [code for _, code in guide_blocks("yaml")]
    lines = block.splitlines(keepends=True)
    (elided,) = [i for i, line in enumerate(lines) if line.strip().startswith("# ...")]
    text = SMALL.read_text(encoding="utf-8")
    path = folder / SCENARIO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n" + "".join(lines[elided + 1 :]), encoding="utf-8")
    policies = yaml.safe_load(path.read_text(encoding="utf-8"))["pairing"]["policies"]
    assert policies[-1:] == yaml.safe_load(block)["pairing"]["policies"]  # the lines continued small.yaml's list
    return path


@pytest.fixture(scope="module")
def guide_module() -> Iterator[types.ModuleType]:
    """The guide's module, imported as sim.pairing.universities (its entries registered) while the tests run."""
    source = python_files()[MODULE_FILE]
    module = types.ModuleType(MODULE)
    module.__file__ = str(GUIDE)
    sys.modules[MODULE] = module
    try:
        exec(compile(source, f"{GUIDE.name}: {MODULE_FILE}", "exec"), module.__dict__)  # noqa: S102 - the guide's own code
        yield module
    finally:
        for name in reversed(ENTRIES):
            registry.unregister(name)
        del sys.modules[MODULE]


@dataclasses.dataclass
class GuideRun:
    """What running the guide's files other than the module left: each file's namespace and what it printed."""

    namespaces: dict[str, dict[str, Any]]
    printed: dict[str, str]


@pytest.fixture(scope="module")
def guide_run(guide_module: types.ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuideRun]:
    """The guide's other files, run in order in a folder with the guide's scenario (the script of section 5 too).

    Each runs as a module of its own (pydantic looks up a class's module to finish its fields).
    """
    folder = tmp_path_factory.mktemp("guide")
    scenario_with_guide_policies(folder)
    others = [path for path in python_files() if path != MODULE_FILE]
    names = [f"_adding_a_policy_guide_{i}" for i in range(len(others))]
    run = GuideRun({}, {})
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(folder)
            for path, name in zip(others, names, strict=True):
                module = sys.modules[name] = types.ModuleType(name)
                printed = io.StringIO()
                with contextlib.redirect_stdout(printed):
                    exec(compile(python_files()[path], f"{GUIDE.name}: {path}", "exec"), module.__dict__)  # noqa: S102 - the guide's own code
                run.namespaces[path], run.printed[path] = vars(module), printed.getvalue()
        yield run
    finally:
        for name in names:
            sys.modules.pop(name, None)


def test_the_guide_registers_a_donor_kind_a_flow_and_a_policy_type(guide_module):
    assert list(registry.donor_kinds())[-1] == "university"  # after the built-in kinds: their codes do not move
    assert list(registry.flows())[-1] == "technician_days"  # moves after the built-in flows
    assert registry.policy_types()["university_village"].donor_pool == ("university",)
    assert registry.policy_types()["university_village"].settings is guide_module.UniversitySettings


def test_the_guide_scenario_runs_the_new_policy_through_ledger_and_tables(guide_module, guide_run):
    result, model = guide_run.namespaces[SCRIPT_FILE]["result"], guide_run.namespaces[SCRIPT_FILE]["model"]
    assert model.spec.horizon_years == 2

    links = result.links[result.links["policy"] == "高校+村"]
    assert len(links) == 4 and set(links["donor_kind"]) == {"university"}
    settings = model.spec.pairing.policies[-1].options
    assert isinstance(settings, guide_module.UniversitySettings) and settings.universities == 2
    per_university = links["donor"].value_counts()
    assert (per_university <= settings.technicians_per_university).all()  # one technician a village

    days = result.ledger[result.ledger["flow"] == "technician_days"]
    assert len(days) > 0 and set(days["policy"]) == {"高校+村"}  # only this policy plans technician-days
    monthly = result.monthly
    assert "technician_days" in monthly.columns
    np.testing.assert_allclose(monthly["technician_days"].iloc[1:].to_numpy(), days.groupby("step")["sent"].sum().to_numpy())
    row = result.policies.set_index("policy").loc["高校+村"]
    assert row["type"] == "university_village" and row["technician_days_sent"] == pytest.approx(days["sent"].sum())
    # A full year at full effort would be 60 days a link; formalism lowers effort, so less is sent, but not nothing.
    assert 0 < days["sent"].sum() < 4 * 60 * model.spec.horizon_years

    funds = result.ledger[(result.ledger["flow"] == "funds") & result.ledger["link"].isin(links["link"])]
    per_month = funds.merge(result.links[["link", "donor"]], on="link").groupby(["donor", "step"])["sent"].sum()
    assert (per_month <= settings.annual_budget / 12.0 + 1e-9).all()  # the fund-capacity rule binds
    assert funds["sent"].sum() > 0


def test_the_guide_flow_costs_the_universities_its_cost_rule(guide_module, guide_run):
    """The same run with a free flow costs the donors exactly the ledger's cost of the technician-days less, month by
    month; a day costs its start-year price indexed by the county's wages, so more each month as wages grow."""
    result, model = guide_run.namespaces[SCRIPT_FILE]["result"], guide_run.namespaces[SCRIPT_FILE]["model"]
    flow = registry.flows()["technician_days"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(registry.flows(), "technician_days", dataclasses.replace(flow, cost=lambda days, *_: 0.0))
        free = run_model(PairingModel(model.spec, rng=1)).monthly
    days = result.ledger[result.ledger["flow"] == "technician_days"].groupby("step")[["sent", "cost"]].sum()
    saved = (result.monthly["donor_cost"] - free["donor_cost"]).set_axis(result.monthly["step"])
    np.testing.assert_allclose(saved.loc[days.index], days["cost"], rtol=1e-12, atol=1e-6)
    per_day = days["cost"] / days["sent"]
    assert per_day.iloc[0] > guide_module.COST_PER_TECHNICIAN_DAY  # the first month's wages have already grown
    assert (per_day.diff().dropna() > 0).all()
    assert per_day.iloc[-1] == pytest.approx(guide_module.COST_PER_TECHNICIAN_DAY * model.trends.enterprise_wage_index)


def test_the_guide_shows_what_its_script_prints(guide_run):
    (shown,) = [text for path, text in guide_blocks("text") if path == SCRIPT_FILE]
    assert [line.rstrip() for line in guide_run.printed[SCRIPT_FILE].splitlines()] == [
        line.rstrip() for line in shown.splitlines()
    ]


def test_the_guide_yaml_passes_the_scenario_loader_only_while_registered(guide_module, tmp_path):
    path = scenario_with_guide_policies(tmp_path)
    policy = load_scenario(path).pairing.policies[-1]
    assert (policy.type, policy.label, policy.flows.amount("technician_days")) == ("university_village", "高校+村", 60)

    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("technician_days: 60", "technician_days: 0"), encoding="utf-8")
    with pytest.raises(InputError, match=r"pairing\.policies\[5\].*needs flows\.technician_days > 0"):
        load_scenario(path)

    entry = registry.policy_types()["university_village"]
    registry.unregister("university_village")
    try:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=r"pairing\.policies\[5\]\.type"):
            load_scenario(path)
    finally:
        registry.register_policy_type(entry)


def test_a_bad_setting_is_the_one_line_the_guide_shows(guide_module, tmp_path):
    """A misspelt setting stops the file with the line section 4.2 shows; a value its type refuses names its setting."""
    path = scenario_with_guide_policies(tmp_path)
    text = path.read_text(encoding="utf-8")
    (shown,) = [line for _, block in guide_blocks("text") for line in block.splitlines() if "unknown setting of" in line]
    path.write_text(text.replace("technicians_per_university:", "technicians_per_universty:"), encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_scenario(path)
    assert str(error.value) == shown.replace(SCENARIO_FILE, str(path))

    path.write_text(text.replace("universities: 2", "universities: 0"), encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_scenario(path)
    assert str(error.value) == f"{path}: pairing.policies[5]: settings.universities: must be greater than 0, got 0"


def run_guide_scenario(path: Path, settings: dict[str, Any]) -> tuple[PairingModel, Any]:
    """One year of the guide's scenario, seed 1, with some of its university_village policy's settings overridden."""
    overrides = {f"pairing.policies.5.settings.{name}": value for name, value in settings.items()}
    model = PairingModel(path, rng=1, overrides={"horizon_years": 1, **overrides})
    return model, run_model(model)


def test_the_settings_reach_the_builder_and_the_candidate_rule(guide_module, tmp_path):
    """Overrides of settings the file left out or gave change the universities built and whom they pair with."""
    path = scenario_with_guide_policies(tmp_path)
    model, result = run_guide_scenario(path, {"universities": 1})
    assert [university.name for university in model.organisations["university"]] == ["university 1"]
    assert set(result.links.loc[result.links["policy"] == "高校+村", "donor"]) == {"university 1"}

    # A travel penalty that outweighs any need sends each village the university nearest to it.
    model, result = run_guide_scenario(path, {"travel_penalty_per_km": 1_000.0})
    universities = model.organisations["university"]
    km = distances(model.county, np.array([university.xy for university in universities]))
    rows = {name: row for row, name in enumerate(model.village_frame["name"])}
    links = result.links[result.links["policy"] == "高校+村"]
    nearest = [universities[int(np.argmin(km[:, rows[village]]))].name for village in links["village"]]
    assert list(links["donor"]) == nearest and len(set(nearest)) == 2

    with pytest.raises(InputError, match=r"4 pairs requested but only 2 can be formed"):
        run_guide_scenario(path, {"technicians_per_university": 1})


def test_more_gain_per_day_raises_the_paired_villages_productivity(guide_module, tmp_path):
    """The flow reads each link's gain per day: with none, technician-days leave the paired villages' farms as they were."""
    path = scenario_with_guide_policies(tmp_path)
    productivity = {}
    for gain in (0.0, 0.001):
        model, result = run_guide_scenario(path, {"productivity_gain_per_day": gain})
        rows = {name: row for row, name in enumerate(model.village_frame["name"])}
        paired = [rows[village] for village in result.links.loc[result.links["policy"] == "高校+村", "village"]]
        productivity[gain] = model.county.state.productivity[paired]
    assert (productivity[0.001] > productivity[0.0]).all()


def test_policies_of_the_type_must_describe_the_same_universities(guide_module, tmp_path):
    """Two university_village policies share the county's universities: a second that describes others is refused."""
    path = scenario_with_guide_policies(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    second = {**data["pairing"]["policies"][5], "name": "高校+村 2", "pairs": 2}
    data["pairing"]["policies"].append({**second, "settings": {**second["settings"], "universities": 3}})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError) as error:
        PairingModel(path, rng=1)
    assert str(error.value) == (
        f"{path}: pairing.policies[6].settings.universities: must equal pairing.policies[5]'s 2 "
        "(university_village policies share the county's universities), got 3"
    )


def test_the_guide_module_is_clean_project_code():
    """The module as a reader would save it passes the project's linters (ruff check and format)."""
    source = python_files()[MODULE_FILE]
    ruff = Path(sys.executable).parent / "ruff"
    for command in (["check", "--quiet"], ["format", "--check", "--quiet"]):
        done = subprocess.run(
            [str(ruff), *command, "--stdin-filename", MODULE_FILE, "-"],
            input=source,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, f"ruff {command[0]} on the guide's {MODULE_FILE}:\n{done.stdout}{done.stderr}"
