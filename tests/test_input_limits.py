"""Limits on input: sizes that would not fit in memory, implausible counts and horizons, YAML merge keys and duplicate
keys, messages that show the expected shape, numbers YAML reads as text, and folders given where a file belongs.

Bad input goes through ``pairsim validate``/``run``/``compare`` in-process (``run_cli``) where the command matters:
each problem is one line ``file: field: what is expected``, exit code 2, no traceback.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_cli

import sim.model
import sim.scenario.sizing
from sim.errors import InputError
from sim.experiment import Arm, Design, Experiment, Parameter, load_experiment
from sim.model import PairingModel
from sim.scenario import (
    BYTES_PER_EXTRA_RESIDENT,
    BYTES_PER_HOUSEHOLD,
    Scenario,
    estimate_memory,
    load_scenario,
    parse_scenario,
    resolve_scenario,
)
from sim.schema import (
    CHINA_COMMUNITIES,
    CHINA_POPULATION,
    CHINA_VILLAGES,
    MAX_ENTERPRISES,
    MAX_HORIZON_YEARS,
    MAX_ORGANISATIONS,
    MAX_TOWNS,
    MAX_URBAN_SAMPLE,
    Strict,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALL = REPO_ROOT / "scenarios" / "small.yaml"
SHOUGUANG = REPO_ROOT / "scenarios" / "shouguang_2009.yaml"
SHIPPED_EXPERIMENTS = sorted(p for p in (REPO_ROOT / "experiments").glob("*.yaml") if not p.name.startswith("optimise_"))
"""The experiment files (``optimise_*.yaml`` are optimisation files, checked in tests/test_optimise_experiments.py)."""
GB = 10**9


def bad_input(*args: object) -> list[str]:
    """Run pairsim; check exit 2, no traceback, nothing on stdout; return the error lines."""
    code, out, err = run_cli(*args)
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and out == ""
    return err.strip().splitlines()


def write_yaml(path: Path, data: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def experiment_on(scenario: Path, **changes: Any) -> dict[str, Any]:
    data = {"name": "limits", "scenarios": [str(scenario)], "replications": 1, "horizon_years": 1, **changes}
    return data


@pytest.fixture
def huge_county(small_scenario_data, variant) -> dict[str, Any]:
    """small.yaml with 300 million households and 1 billion rural residents: plausible, but about 111 GB of memory."""
    return variant(
        small_scenario_data,
        {"region.villages.households": 300_000_000, "region.villages.population": 1_000_000_000, "urban.population": 300_000_000},
    )


@pytest.fixture
def eight_gigabytes(monkeypatch):
    """This machine has 8 GB, whatever it really has (so the tests do not depend on the machine they run on)."""
    monkeypatch.setattr(sim.scenario.sizing, "machine_memory", lambda: 8 * GB)


@pytest.fixture
def nothing_is_built(monkeypatch):
    """Building villages or households fails the test: a refused county must be refused before any allocation."""

    def must_not_run(*args, **kwargs):
        raise AssertionError("the county was built although it cannot fit in memory")

    monkeypatch.setattr(sim.model, "build_villages", must_not_run)
    monkeypatch.setattr(sim.model, "build_households", must_not_run)


# --------------------------------------------------------------------------- 5. sizes that do not fit in memory


def test_county_larger_than_memory_is_one_line_with_the_estimate(tmp_path, huge_county, eight_gigabytes, nothing_is_built):
    path = write_yaml(tmp_path / "huge.yaml", huge_county)
    (line,) = bad_input("validate", path)
    assert line.startswith(f"{path}: needs about ")
    match = re.search(r"needs about (\d+) GB of memory for 300,000,000 households \(.*\); this machine has 8 GB", line)
    assert match, line
    assert 100 <= int(match.group(1)) <= 120  # 300 bytes x 3e8 households + 30 bytes x 7e8 more residents + base


@pytest.mark.parametrize("command", ["run", "compare", "sweep"])
def test_memory_refusal_comes_before_running_in_every_command(tmp_path, huge_county, eight_gigabytes, nothing_is_built, command):
    scenario = write_yaml(tmp_path / "huge.yaml", huge_county)
    if command == "run":
        lines = bad_input("run", scenario, "--out", tmp_path / "out", "--quiet")
    else:
        design = {"method": "random", "samples": 2, "parameters": {"pairing.failure.leakage": {"low": 0.0, "high": 0.3}}}
        experiment = write_yaml(tmp_path / "exp.yaml", experiment_on(scenario, design=design))
        lines = bad_input(command, experiment, "--out", tmp_path / "out", "--workers", "1", "--quiet")
    assert len(lines) == 1 and "needs about" in lines[0] and "this machine has 8 GB" in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_memory_refusal_reaches_pairing_model_from_python(tmp_path, huge_county, eight_gigabytes, nothing_is_built):
    path = write_yaml(tmp_path / "huge.yaml", huge_county)
    with pytest.raises(InputError, match="needs about .* of memory"):
        PairingModel(scenario=path, rng=1)
    # the app and experiment arms change a loaded scenario with overrides: the same check
    overrides = {"region.villages.households": 300_000_000, "region.villages.population": 1_000_000_000}
    with pytest.raises(InputError, match="this machine has 8 GB"):
        PairingModel(scenario=SMALL, rng=1, overrides=overrides)


def test_memory_refusal_reaches_a_scenario_built_in_python(small_scenario_data, variant, eight_gigabytes):
    data = variant(small_scenario_data, {"region.villages.households": 300_000_000, "region.villages.population": 1_000_000_000})
    with pytest.raises(ValueError, match="needs about 111 GB of memory"):
        Scenario.model_validate(data)


def test_csv_villages_count_towards_the_memory_estimate(tmp_path, csv_scenario_data, village_rows, write_scenario, monkeypatch):
    village_rows[0].update(population=900_000_000, households=250_000_000)
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    monkeypatch.setattr(sim.scenario.sizing, "machine_memory", lambda: 8 * GB)
    with pytest.raises(InputError, match=r"for 250,001,\d{3} households"):
        load_scenario(path)
    monkeypatch.setattr(sim.scenario.sizing, "machine_memory", lambda: 1000 * GB)
    loaded = load_scenario(path)
    monkeypatch.setattr(sim.scenario.sizing, "machine_memory", lambda: 8 * GB)
    with pytest.raises(InputError, match=r"for 250,001,\d{3} households"):  # overrides (experiment arms, the app) re-check
        resolve_scenario(loaded, {"horizon_years": 2})


def test_memory_estimate_of_shouguang_is_near_its_measured_peak():
    """README's benchmark: Shouguang with pairing peaks at 314 MiB of resident memory; the estimate is of that order."""
    estimate = estimate_memory(load_scenario(SHOUGUANG))
    assert 250 * 2**20 <= estimate.total <= 500 * 2**20, estimate


def test_memory_estimate_grows_by_the_measured_bytes_per_household_and_resident():
    base = load_scenario(SMALL)
    villages = base.region.villages
    more = base.model_copy(
        update={
            "region": base.region.model_copy(
                update={"villages": villages.model_copy(update={"households": villages.households + 1000})}
            )
        }
    )
    assert estimate_memory(more).total - estimate_memory(base).total == 1000 * (BYTES_PER_HOUSEHOLD - BYTES_PER_EXTRA_RESIDENT)


def test_shipped_scenarios_fit_in_a_small_machine(monkeypatch):
    monkeypatch.setattr(sim.scenario.sizing, "machine_memory", lambda: 4 * GB)
    for path in sorted((REPO_ROOT / "scenarios").glob("*.yaml")):
        assert load_scenario(path).name


# --------------------------------------------------------------------------- 6. plausibility bounds


@pytest.mark.parametrize(
    ("dotted", "field"),
    [("urban.population", "urban.population"), ("region.villages.population", "region.villages.population")],
)
def test_population_above_chinas_is_refused_with_the_reason(tmp_path, small_scenario_data, variant, dotted, field):
    path = write_yaml(tmp_path / "s.yaml", variant(small_scenario_data, {dotted: 300_000_000_000_000}))
    (line,) = bad_input("validate", path)
    assert line == (
        f"{path}: {field}: must be at most 1,411,780,000 (China's population at the 2020 census; no county has more people), "
        "got 300,000,000,000,000"
    )


def test_rural_and_urban_together_above_chinas_population_are_refused(tmp_path, small_scenario_data, variant):
    half = CHINA_POPULATION // 2 + 1
    data = variant(
        small_scenario_data, {"region.villages.population": half, "region.villages.households": 40, "urban.population": half}
    )
    (line,) = bad_input("validate", write_yaml(tmp_path / "s.yaml", data))
    assert "s.yaml: rural (705,890,001) and urban (705,890,001) residents together are 1,411,780,002" in line
    assert "must be at most 1,411,780,000 (China's population" in line


def test_csv_village_population_above_chinas_is_refused(tmp_path, csv_scenario_data, village_rows, write_scenario):
    village_rows[2]["population"] = 2_000_000_000
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    (line,) = bad_input("validate", path)
    assert line.startswith(f"{(tmp_path / 'villages.csv').resolve()}: row 4, population: must be at most 1,411,780,000")


@pytest.mark.parametrize(
    ("dotted", "value", "field", "limit"),
    [
        ("region.villages.count", 10**12, "region.villages.count", CHINA_VILLAGES),
        ("enterprises.count", MAX_ENTERPRISES + 1, "enterprises.count", MAX_ENTERPRISES),
        ("departments.0.count", MAX_ORGANISATIONS + 1, "departments[0].count", MAX_ORGANISATIONS),
        ("communities.count", CHINA_COMMUNITIES + 1, "communities.count", CHINA_COMMUNITIES),
        ("cooperatives.0.count", MAX_ORGANISATIONS + 1, "cooperatives[0].count", MAX_ORGANISATIONS),
        ("urban.sample_households", MAX_URBAN_SAMPLE + 1, "urban.sample_households", MAX_URBAN_SAMPLE),
        ("region.towns", MAX_TOWNS + 1, "region.towns", MAX_TOWNS),
        (
            "enterprises.listed",
            [{"name": "x", "jobs": 10**15, "monthly_wage": 1500}],
            "enterprises.listed[0].jobs",
            CHINA_POPULATION,
        ),
    ],
    ids=["villages", "enterprises", "departments", "communities", "cooperatives", "urban-sample", "towns", "listed-jobs"],
)
def test_count_above_its_bound_is_refused_with_the_bound(tmp_path, small_scenario_data, variant, dotted, value, field, limit):
    path = write_yaml(tmp_path / "s.yaml", variant(small_scenario_data, {dotted: value}))
    lines = bad_input("validate", path)
    assert any(line.startswith(f"{path}: {field}: must be at most {limit:,}") for line in lines), lines


def test_count_at_its_bound_is_not_refused_for_the_bound(small_scenario_data, variant):
    data = variant(small_scenario_data, {"communities.count": CHINA_COMMUNITIES, "region.towns": MAX_TOWNS})
    assert parse_scenario(data, "s.yaml").communities.count == CHINA_COMMUNITIES


def test_horizon_above_thirty_years_is_refused_in_the_file(tmp_path, small_scenario_data, variant):
    path = write_yaml(tmp_path / "s.yaml", variant(small_scenario_data, {"horizon_years": 100}))
    (line,) = bad_input("validate", path)
    assert line.startswith(f"{path}: horizon_years: must be at most 30 (the growth trends are calibrated on one decade")
    assert line.endswith("got 100")


def test_years_option_obeys_the_same_cap(tmp_path):
    (line,) = bad_input("run", SMALL, "--years", 31, "--out", tmp_path / "out", "--quiet")
    assert "horizon_years: must be at most 30" in line and line.endswith("got 31")
    assert not (tmp_path / "out").exists()


def test_experiment_horizon_above_thirty_years_is_refused(tmp_path):
    path = write_yaml(tmp_path / "exp.yaml", experiment_on(SMALL, horizon_years=31))
    (line,) = bad_input("compare", path, "--out", tmp_path / "out", "--workers", "1", "--quiet")
    assert line.startswith(f"{path}: horizon_years: must be at most 30")


def test_horizon_override_from_python_obeys_the_cap():
    with pytest.raises(InputError, match="horizon_years: must be at most 30"):
        PairingModel(rng=1, overrides={"horizon_years": 100})


def test_thirty_years_is_accepted(small_scenario_data, variant):
    assert parse_scenario(variant(small_scenario_data, {"horizon_years": MAX_HORIZON_YEARS}), "s.yaml").months == 360
    assert load_scenario(SMALL).with_horizon(MAX_HORIZON_YEARS).horizon_years == 30


@pytest.mark.parametrize("path", SHIPPED_EXPERIMENTS, ids=[p.name for p in SHIPPED_EXPERIMENTS])
def test_shipped_experiment_still_validates(path):
    assert load_experiment(path).name


@pytest.mark.parametrize("figure", ["1,411,780,000", "585,000", "96,693", "30 years"])
def test_bounds_are_documented_with_their_sources(figure):
    for doc in (REPO_ROOT / "docs" / "ODD.md", REPO_ROOT / "scenarios" / "README.md"):
        assert figure in doc.read_text(encoding="utf-8"), f"{figure!r} not in {doc.name}"


@pytest.mark.parametrize(
    ("key", "address"),
    [("[Census 2020]", "english.www.gov.cn/archive/statistics/202105/11"), ("[MCA 2014]", "m.fbs.qq.com/read/1044028779/7")],
)
def test_the_bounds_sources_are_in_the_bibliography(key, address):
    """The bounds cite a key of docs/SOURCES.md; the bibliography gives the address."""
    sources = (REPO_ROOT / "docs" / "SOURCES.md").read_text(encoding="utf-8")
    entry = sources[sources.index(f"### {key}") :]
    assert address in entry[: entry.find("\n### ", 1)]
    assert key in (REPO_ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- 10. YAML merge keys and duplicate keys

MERGE_DEPARTMENTS = """\
departments:
  - &department {type: economic, count: 2, annual_budget: 80000, cadres: 2}
  - <<: *department
    type: agriculture
"""


def with_departments(scenario: Path, block: str) -> str:
    """The scenario's text with its departments block replaced by ``block``."""
    text = scenario.read_text(encoding="utf-8")
    return text[: text.index("departments:")] + block + text[text.index("communities:") :]


def test_yaml_merge_keys_are_accepted_in_scenarios(tmp_path, small_scenario_path, small_scenario_data):
    path = write_yaml(tmp_path / "merge.yaml", with_departments(small_scenario_path, MERGE_DEPARTMENTS))
    merged = load_scenario(path)
    assert [group.model_dump() for group in merged.departments] == [
        {"type": "economic", "count": 2, "annual_budget": 80000, "cadres": 2, "county": None},
        {"type": "agriculture", "count": 2, "annual_budget": 80000, "cadres": 2, "county": None},
    ]
    code, out, err = run_cli("validate", path)
    assert code == 0 and out.startswith("OK: "), err


def test_yaml_merge_keys_are_accepted_in_experiments(tmp_path):
    text = f"""\
name: merged
scenarios: [{SMALL}]
replications: 1
arms:
  some: &arm {{policies: [部门+村], overrides: {{pairing.failure.leakage: 0.2}}}}
  more:
    <<: *arm
    policies: all
"""
    experiment = load_experiment(write_yaml(tmp_path / "exp.yaml", text))
    assert experiment.arms["more"] == Arm(policies="all", overrides={"pairing.failure.leakage": 0.2})
    assert experiment.arms["some"].policies == ["部门+村"]


def test_duplicate_key_is_still_refused_in_scenarios(tmp_path, small_scenario_path):
    text = small_scenario_path.read_text(encoding="utf-8").replace("horizon_years: 10\n", "horizon_years: 10\nhorizon_years: 5\n")
    path = write_yaml(tmp_path / "dup.yaml", text)
    (line,) = bad_input("validate", path)
    assert re.match(rf"{re.escape(str(path))}: line \d+, column 1: invalid YAML: key 'horizon_years' appears twice", line), line


def test_duplicate_key_beside_a_merge_key_is_still_refused(tmp_path, small_scenario_path):
    path = write_yaml(tmp_path / "dup.yaml", with_departments(small_scenario_path, MERGE_DEPARTMENTS + "    type: economic\n"))
    (line,) = bad_input("validate", path)
    assert "invalid YAML: key 'type' appears twice in the same mapping" in line


def test_duplicate_key_is_still_refused_in_experiments(tmp_path):
    text = f"name: dup\nscenarios: [{SMALL}]\nreplications: 1\nreplications: 2\n"
    path = write_yaml(tmp_path / "exp.yaml", text)
    (line,) = bad_input("compare", path, "--out", tmp_path / "out", "--workers", "1", "--quiet")
    assert "invalid YAML: key 'replications' appears twice" in line


# --------------------------------------------------------------------------- 11. messages without class names


def _model_typed_paths(model: type[Strict], prefix: str = "") -> list[tuple[str, type[Strict]]]:
    """Every field path whose value is a schema block (a pydantic model), with list items as '.0'."""
    from sim.scenario.messages import _model_of

    paths = []
    for name, field in model.model_fields.items():
        inner = _model_of(field.annotation)
        if inner is None or not issubclass(inner, Strict):
            continue
        is_list = "list[" in str(field.annotation)
        path = f"{prefix}{name}.0" if is_list else f"{prefix}{name}"
        paths.append((path, inner))
        paths += _model_typed_paths(inner, f"{path}.")
    return paths


SCENARIO_BLOCKS = _model_typed_paths(Scenario)


def _set(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node: Any = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            if part not in node or node[part] is None:
                node[part] = [{}] if part in ("departments", "cooperatives", "listed", "policies", "explicit", "counties") else {}
            node = node[part]
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
    return data


def test_the_audit_covers_every_schema_block():
    covered = {cls.__name__ for _, cls in SCENARIO_BLOCKS}
    assert {
        "LogNormal",
        "CollectiveIncome",
        "Beta",
        "Region",
        "GeneratedVillages",
        "Urban",
        "Enterprise",
        "Policy",
        "Flows",
    } <= covered


@pytest.mark.parametrize(("dotted", "cls"), SCENARIO_BLOCKS, ids=[path for path, _ in SCENARIO_BLOCKS])
def test_block_given_a_number_says_what_shape_is_expected(small_scenario_data, dotted, cls):
    data = _set(small_scenario_data, dotted, 7000)
    with pytest.raises(InputError) as info:
        parse_scenario(data, "s.yaml")
    field = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", dotted)
    lines = [line for line in str(info.value).splitlines() if line.startswith(f"s.yaml: {field}: ")]
    assert lines, str(info.value)
    (line,) = lines
    assert line.endswith("got 7000") and "must be a mapping" in line, line
    assert "instance of" not in line and cls.__name__ not in line, line


def test_income_per_capita_as_a_number_shows_an_example(tmp_path, small_scenario_data, variant):
    path = write_yaml(tmp_path / "s.yaml", variant(small_scenario_data, {"region.villages.income_per_capita": 7000}))
    (line,) = bad_input("validate", path)
    assert line == f"{path}: region.villages.income_per_capita: must be a mapping like {{mean: 8000, cv: 0.4}}, got 7000"


@pytest.mark.parametrize(
    ("changes", "field", "cls"),
    [
        ({"arms": {"a": 5}}, "arms.a", Arm),
        ({"design": 5}, "design", Design),
        (
            {"design": {"method": "random", "parameters": {"pairing.failure.leakage": 5}}},
            "design.parameters.pairing.failure.leakage",
            Parameter,
        ),
    ],
    ids=["arm", "design", "parameter"],
)
def test_experiment_block_given_a_number_says_what_shape_is_expected(tmp_path, changes, field, cls):
    path = write_yaml(tmp_path / "exp.yaml", experiment_on(SMALL, **changes))
    (line,) = bad_input("compare", path, "--out", tmp_path / "out", "--workers", "1", "--quiet")
    assert line.startswith(f"{path}: {field}: must be a mapping like {cls.example}, got 5"), line
    assert cls.__name__ not in line and Experiment.__name__ not in line


@pytest.mark.parametrize(
    ("misspelt", "meant"),
    [("region.villages.populaton", "population"), ("urban.income_per_capital", "income_per_capita"), ("nme", "name")],
)
def test_misspelt_key_gives_only_the_did_you_mean_line(tmp_path, small_scenario_data, misspelt, meant):
    data = copy.deepcopy(small_scenario_data)
    *parents, key = misspelt.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[key] = node.pop(meant)
    path = write_yaml(tmp_path / "s.yaml", data)
    (line,) = bad_input("validate", path)
    assert line.startswith(f"{path}: {misspelt}: unknown key; did you mean {meant!r}?")


# --------------------------------------------------------------------------- 12. numbers YAML reads as text


@pytest.mark.parametrize(
    ("line_in_file", "field", "advice"),
    [
        ("    count: 1e12", "region.villages.count", "write 1000000000000 for a number"),
        ("  income_per_capita: 1e4", "urban.income_per_capita", "write 1.0e+4 for a number"),
        ("  income_per_capita: 1.75e4", "urban.income_per_capita", "write 1.75e+4 for a number"),
    ],
    ids=["integer", "float", "float-with-dot"],
)
def test_e_notation_read_as_text_says_how_to_write_a_number(tmp_path, small_scenario_path, line_in_file, field, advice):
    text = small_scenario_path.read_text(encoding="utf-8")
    key = line_in_file.split(":")[0] + ":"
    lines = text.splitlines()
    section = "region:" if field.startswith("region") else "urban:"
    start = lines.index(section)
    index = next(i for i in range(start, len(lines)) if lines[i].startswith(key + " "))
    lines[index] = line_in_file
    path = write_yaml(tmp_path / "s.yaml", "\n".join(lines) + "\n")
    (line,) = bad_input("validate", path)
    written = line_in_file.split(": ")[1]
    assert line == f"{path}: {field}: {written!r} is read by YAML as text, not a number; {advice}"
    suggested = advice.split()[1]
    assert isinstance(yaml.safe_load(f"x: {suggested}")["x"], int if field.endswith("count") else float)
    assert float(yaml.safe_load(f"x: {suggested}")["x"]) == float(written)


# --------------------------------------------------------------------------- 13. a folder where a file belongs


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("validate", "is a folder; expected a scenario YAML file"),
        ("run", "is a folder; expected a scenario YAML file"),
        ("compare", "is a folder; expected an experiment YAML file"),
        ("sweep", "is a folder; expected an experiment YAML file"),
    ],
)
def test_folder_given_for_a_file_says_it_is_a_folder(tmp_path, command, expected):
    folder = tmp_path / "results"
    folder.mkdir()
    (line,) = bad_input(command, folder, "--out", tmp_path / "out") if command != "validate" else bad_input(command, folder)
    assert line == f"{folder}: {expected}"


def test_scenario_entry_that_is_a_folder_says_so(tmp_path):
    path = write_yaml(tmp_path / "exp.yaml", experiment_on(tmp_path))
    (line,) = bad_input("compare", path, "--out", tmp_path / "out")
    assert line == f"{path}: scenarios[0]: is a folder, expected a scenario YAML file: {tmp_path.resolve()}"


def test_village_file_that_is_a_folder_says_so(tmp_path, csv_scenario_data, write_scenario):
    (tmp_path / "villages.csv").mkdir()
    path = write_scenario(tmp_path, csv_scenario_data)
    (line,) = bad_input("validate", path)
    assert (
        line == f"{path}: region.village_file: is a folder, expected a village CSV file: {(tmp_path / 'villages.csv').resolve()}"
    )


def test_machine_memory_is_a_containers_limit_where_one_is_set(monkeypatch, tmp_path):
    limit = tmp_path / "memory.max"
    limit.write_text("2147483648\n")
    monkeypatch.setattr(sim.scenario.sizing, "CGROUP_MEMORY_LIMIT", limit)
    assert sim.scenario.sizing.machine_memory() == 2147483648
    limit.write_text("max\n")
    assert sim.scenario.sizing.machine_memory() > 2147483648  # no limit: the machine's memory
