"""Tests for experiment files (sim.experiment): validation, common random numbers, designs, shipped files.

Bad experiment files go through ``sim.cli.main(["compare", path])`` like a user would: exit
code 2, one line per problem naming the file and the field, no traceback, nothing written.
Nothing here runs the model except the last check of the shipped sensitivity parameters
(which only builds scenarios).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from sim.cli import main
from sim.errors import InputError
from sim.experiment import (
    BASELINE,
    Design,
    Experiment,
    design_points,
    expected_rows,
    load_experiment,
    replication_seeds,
    run_specs,
    salib_problem,
)
from sim.outcome_registry import default_outcomes
from sim.scenario import resolve_scenario

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALL = REPO_ROOT / "scenarios" / "small.yaml"
SMALL_POLICIES = ["部门+村", "村企", "强村+弱村", "产业链", "第一书记"]
POLICY_COMPARISON = REPO_ROOT / "experiments" / "policy_comparison.yaml"
SENSITIVITY = REPO_ROOT / "experiments" / "sensitivity.yaml"


# --------------------------------------------------------------------------- helpers


def write_experiment(folder: Path, data: dict[str, Any] | str, name: str = "exp.yaml") -> Path:
    """Write an experiment YAML (a dict, or text as is) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def small_experiment(**changes: Any) -> dict[str, Any]:
    """A valid experiment dict on small.yaml (absolute path); ``changes`` replace top-level keys."""
    data: dict[str, Any] = {
        "name": "tiny",
        "scenarios": [str(SMALL)],
        "seed": 5,
        "replications": 2,
        "horizon_years": 1,
        "arms": {"city_village": {"policies": ["部门+村"]}, "everything": {"policies": "all"}},
    }
    data.update(changes)
    return data


@pytest.fixture
def cli(capsys):
    """``cli(*args) -> (exit_code, stdout, stderr)``, running sim.cli.main in-process."""

    def invoke(*args: object) -> tuple[int, str, str]:
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def expect_bad_input(cli, tmp_path: Path, data: dict[str, Any] | str, *, command: str = "compare") -> tuple[Path, list[str]]:
    """Run ``command`` on the experiment; check exit 2, no traceback, nothing written; return its error lines."""
    path = write_experiment(tmp_path, data)
    out_dir = tmp_path / "out"
    code, out, err = cli(command, path, "--out", out_dir, "--workers", "1", "--quiet")
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert out == ""
    assert not out_dir.exists(), "bad input must not write anything"
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "expected at least one error line"
    for line in lines:
        assert line.startswith(f"{path}: "), f"error line does not name the file: {line!r}"
    return path, lines


# --------------------------------------------------------------------------- validation


def test_valid_small_experiment_loads_and_resolves_scenario_paths(tmp_path):
    path = write_experiment(tmp_path, small_experiment())
    experiment = load_experiment(path)
    assert experiment.scenarios == [str(SMALL.resolve())]
    assert list(experiment.all_arms) == [BASELINE, "city_village", "everything"]
    assert experiment.all_arms[BASELINE].policies == []
    assert experiment.outcomes == default_outcomes()


def test_scenario_path_is_relative_to_the_experiment_file(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "county.yaml").write_text(SMALL.read_text(encoding="utf-8"), encoding="utf-8")
    path = write_experiment(folder, small_experiment(scenarios=["../scenarios/county.yaml"]))
    monkeypatch.chdir(REPO_ROOT)  # somewhere else than the experiment's folder
    experiment = load_experiment(path)
    assert experiment.scenarios == [str((tmp_path / "scenarios" / "county.yaml").resolve())]


def test_unknown_key_suggests_the_right_one(cli, tmp_path):
    data = small_experiment()
    data["replication"] = data.pop("replications")
    path, lines = expect_bad_input(cli, tmp_path, data)
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: replication: unknown key")
    assert "did you mean 'replications'" in lines[0]


def test_unknown_outcome_is_named(cli, tmp_path):
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(outcomes=["gini", "ginni"]))
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: outcomes: ")
    assert "'ginni'" in lines[0] and "did you mean 'gini'" in lines[0]


def test_arm_with_a_policy_the_scenario_lacks_lists_the_scenarios_policies(cli, tmp_path):
    data = small_experiment(arms={"pairs": {"policies": ["部门+村", "城乡联建"]}})
    path, lines = expect_bad_input(cli, tmp_path, data)
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: arms.pairs.policies: ")
    assert "城乡联建" in lines[0]
    for label in SMALL_POLICIES:
        assert label in lines[0]


def test_arm_called_baseline_is_refused(cli, tmp_path):
    _, lines = expect_bad_input(cli, tmp_path, small_experiment(arms={"baseline": {"policies": "all"}}))
    assert len(lines) == 1
    assert "'baseline'" in lines[0] and "baseline: false" in lines[0]


def test_no_arms_without_baseline_is_refused(cli, tmp_path):
    _, lines = expect_bad_input(cli, tmp_path, small_experiment(arms={}, baseline=False))
    assert len(lines) == 1
    assert "no arms" in lines[0]


@pytest.mark.parametrize(
    "changes",
    [{"arms": {"baseline": {"policies": "all"}}}, {"arms": {}, "baseline": False}],
    ids=["arm-called-baseline", "no-arms"],
)
def test_arm_problems_name_the_arms_field(cli, tmp_path, changes):
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(**changes))
    assert lines[0].startswith(f"{path}: arms")


def test_missing_scenario_file(cli, tmp_path):
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(scenarios=[str(SMALL), "no_such_county.yaml"]))
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: scenarios[1]: ")
    assert "not found" in lines[0] and "no_such_county.yaml" in lines[0]


def test_missing_experiment_file(cli, tmp_path):
    code, _out, err = cli("compare", tmp_path / "absent.yaml", "--out", tmp_path / "out")
    assert code == 2
    assert "Traceback" not in err
    assert str(tmp_path / "absent.yaml") in err and "not found" in err
    assert not (tmp_path / "out").exists()


def test_zero_replications(cli, tmp_path):
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(replications=0))
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: replications: ")


@pytest.mark.parametrize("low, high", [(0.3, 0.3), (0.4, 0.1)])
def test_design_low_not_below_high(cli, tmp_path, low, high):
    design = {"method": "lhs", "samples": 4, "parameters": {"pairing.failure.leakage": {"low": low, "high": high}}}
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(design=design))
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: design.parameters.pairing.failure.leakage: ")
    assert "low" in lines[0] and "high" in lines[0]


def test_design_parameter_without_range_or_values(cli, tmp_path):
    design = {"method": "grid", "parameters": {"pairing.failure.leakage": {"low": 0.1}}}
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(design=design))
    assert lines[0].startswith(f"{path}: design.parameters.pairing.failure.leakage")


def test_several_problems_give_one_line_each(cli, tmp_path):
    data = small_experiment(replications=0, outcomes=["ginni"])
    data["sead"] = 3
    path, lines = expect_bad_input(cli, tmp_path, data)
    assert len(lines) == 3
    joined = "\n".join(lines)
    for field in ("replications", "outcomes", "sead"):
        assert f"{path}: {field}: " in joined


def test_sweep_needs_a_design(cli, tmp_path):
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(), command="sweep")
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: design: ")


def test_sobol_parameter_with_only_values_names_the_file(cli, tmp_path):
    design = {"method": "sobol", "samples": 2, "parameters": {"pairing.failure.leakage": {"values": [0.1, 0.2]}}}
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(design=design), command="sweep")
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: design.parameters.pairing.failure.leakage: ")


def test_sobol_parameter_with_only_values_is_bad_input(cli, tmp_path):
    """Exit 2, no traceback, nothing written."""
    design = {"method": "sobol", "samples": 2, "parameters": {"pairing.failure.leakage": {"values": [0.1, 0.2]}}}
    path = write_experiment(tmp_path, small_experiment(design=design))
    code, _out, err = cli("sweep", path, "--out", tmp_path / "out", "--workers", "1", "--quiet")
    assert code == 2
    assert "Traceback" not in err
    assert "design.parameters.pairing.failure.leakage" in err and "'low' and 'high'" in err
    assert not (tmp_path / "out").exists()


def test_misspelt_override_path_is_bad_input(cli, tmp_path):
    data = small_experiment(arms={"leaky": {"policies": "all", "overrides": {"pairing.failure.leakag": 0.3}}})
    path, lines = expect_bad_input(cli, tmp_path, data)
    assert lines[0].startswith(f"{path}: arms.leaky.overrides")
    assert "did you mean 'leakage'" in lines[0]


def test_every_bad_override_and_design_value_is_reported_at_load(cli, tmp_path):
    design = {"method": "lhs", "samples": 4, "parameters": {"pairing.failure.leakage": {"low": 0.0, "high": 1.5}}}
    arms = {"typo": {"policies": "all", "overrides": {"pairing.failure.leakag": 0.3, "economy.nonsense": 1}}}
    _path, lines = expect_bad_input(cli, tmp_path, small_experiment(arms=arms, design=design), command="sweep")
    fields = [line.split(": ")[1] for line in lines]
    assert fields == [
        "arms.typo.overrides.pairing.failure.leakag",
        "arms.typo.overrides.economy.nonsense",
        "design.parameters.pairing.failure.leakage",
    ]
    assert "1.5" in lines[2]


@pytest.mark.parametrize("name", ["a/b", ".hidden", "with space"])
def test_arm_names_must_be_usable_in_file_names(cli, tmp_path, name):
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(arms={name: {"policies": "all"}}))
    assert lines == [f"{path}: arms: arm name {name!r} may hold only letters, digits, '_', '-' and '.' (it names result files)"]


def test_chinese_arm_names_are_fine(tmp_path):
    path = write_experiment(tmp_path, small_experiment(arms={"城乡联建": {"policies": "all"}}))
    assert "城乡联建" in load_experiment(path).all_arms


def test_bad_input_via_load_experiment_is_an_input_error(tmp_path):
    path = write_experiment(tmp_path, small_experiment(replications=0))
    with pytest.raises(InputError) as caught:
        load_experiment(path)
    assert caught.value.source == str(path)
    assert [problem.field for problem in caught.value.problems] == ["replications"]


# --------------------------------------------------------------------------- seeds (common random numbers)


def grid_experiment(replications: int = 3) -> Experiment:
    return Experiment(
        name="crn",
        scenarios=[str(SMALL)],
        seed=42,
        replications=replications,
        horizon_years=2,
        arms={"one": {"policies": ["部门+村"]}, "all": {"policies": "all", "overrides": {"pairing.failure.leakage": 0.2}}},
        design={
            "method": "grid",
            "levels": 2,
            "parameters": {
                "pairing.effects.training_gain": {"low": 0.0, "high": 0.2},
                "pairing.failure.formalism": {"values": [0.0, 0.05]},
            },
        },
    )


def test_replication_r_has_one_seed_in_every_arm_and_point():
    experiment = grid_experiment()
    specs = run_specs(experiment)
    seeds = replication_seeds(experiment.seed, experiment.replications)
    assert len(specs) == 3 * 4 * 3  # arms (with baseline) x grid points x replications
    by_replication: dict[int, set[int]] = {}
    for spec in specs:
        by_replication.setdefault(spec.replication, set()).add(spec.seed)
        assert spec.seed == seeds[spec.replication]
    assert all(len(found) == 1 for found in by_replication.values())
    assert len(set(seeds)) == len(seeds), "replications must differ"
    cells = {(spec.arm, spec.point) for spec in specs}
    assert len(cells) == 12


def test_replication_seeds_extend_as_a_prefix():
    for root in (0, 1, 2009, 2**31):
        ten = replication_seeds(root, 10)
        assert ten[:5] == replication_seeds(root, 5)
        assert len(set(ten)) == 10
        assert all(isinstance(seed, int) and seed < 2**32 for seed in ten)  # drawn as uint32
    assert replication_seeds(1, 3) == [1641411168, 1454127163, 2749604155]  # recorded results depend on this stream
    assert replication_seeds(1, 5) != replication_seeds(2, 5)
    assert replication_seeds(7, 3) == replication_seeds(7, 3)


def test_more_replications_extend_the_same_runs():
    few = {spec.run_id: spec for spec in run_specs(grid_experiment(2))}
    many = {spec.run_id: spec for spec in run_specs(grid_experiment(5))}
    assert set(few) < set(many)
    for run_id, spec in few.items():
        assert many[run_id] == spec


def test_run_specs_carry_overrides_policies_and_parameters():
    experiment = grid_experiment(1)
    specs = run_specs(experiment)
    assert len({spec.run_id for spec in specs}) == len(specs) == expected_rows(experiment)
    points = design_points(experiment.design, experiment.seed)
    for spec in specs:
        assert spec.scenario == str(SMALL)
        assert spec.overrides["horizon_years"] == 2
        expected = {name: float(value) for name, value in points.loc[spec.point].items()}
        assert spec.parameters == expected
        for name, value in expected.items():
            assert spec.overrides[name] == value
        assert spec.outcomes == tuple(default_outcomes())
        assert spec.run_id == f"small__{spec.arm}__p{spec.point:04d}__r{spec.replication:03d}"
    keep = {spec.arm: spec.keep_policies for spec in specs}
    assert keep == {BASELINE: (), "one": ("部门+村",), "all": None}
    leak = {spec.arm: spec.overrides.get("pairing.failure.leakage") for spec in specs}
    assert leak == {BASELINE: None, "one": None, "all": 0.2}
    # stable order: scenario, arm (baseline first), point, replication
    order = [(list(experiment.all_arms).index(s.arm), s.point, s.replication) for s in specs]
    assert order == sorted(order)


def test_experiment_without_design_has_one_point():
    experiment = Experiment(name="x", scenarios=[str(SMALL)], replications=4)
    points = design_points(None, 1)
    assert len(points) == 1 and list(points.columns) == []
    specs = run_specs(experiment)
    assert {spec.point for spec in specs} == {0}
    assert all(spec.parameters == {} for spec in specs)
    assert len(specs) == 4 == expected_rows(experiment)
    assert "horizon_years" not in specs[0].overrides


# --------------------------------------------------------------------------- designs

BOUNDS = {"a": (0.0, 0.3), "b": (0.2, 1.0), "c": (-1.0, 5.0)}


def design(method: str, k: int = 3, **extra: Any) -> Design:
    parameters = {name: {"low": low, "high": high} for name, (low, high) in list(BOUNDS.items())[:k]}
    return Design(method=method, parameters=parameters, **extra)


@pytest.mark.parametrize("method", ["random", "lhs", "sobol", "morris"])
def test_sampled_designs_are_deterministic_and_within_bounds(method):
    spec = design(method, samples=8)
    first = design_points(spec, 3)
    pd.testing.assert_frame_equal(first, design_points(spec, 3))
    assert list(first.columns) == ["a", "b", "c"]
    assert first.index.name == "point" and list(first.index) == list(range(len(first)))
    for name, (low, high) in BOUNDS.items():
        assert first[name].between(low, high).all(), name
    assert first.notna().all().all()
    other = design_points(spec, 4)
    assert not first.equals(other), "another seed should give other points"


def test_random_and_lhs_give_samples_points():
    assert len(design_points(design("random", samples=11), 1)) == 11
    lhs = design_points(design("lhs", samples=10), 1)
    assert len(lhs) == 10
    # a Latin hypercube hits every one of the 10 strata of each parameter once
    for name, (low, high) in BOUNDS.items():
        strata = np.floor((lhs[name] - low) / (high - low) * 10).clip(0, 9)
        assert sorted(strata.astype(int)) == list(range(10))


@pytest.mark.parametrize("n, k", [(8, 3), (4, 2), (16, 1)])
def test_sobol_gives_n_times_k_plus_2_points(n, k):
    points = design_points(design("sobol", k=k, samples=n), 1)
    assert len(points) == n * (k + 2)


@pytest.mark.parametrize("n, k", [(4, 2), (6, 3)])
def test_morris_gives_n_times_k_plus_1_points_on_the_grid(n, k):
    levels = 4
    points = design_points(design("morris", k=k, samples=n, levels=levels), 1)
    assert len(points) == n * (k + 1)
    for name, (low, high) in list(BOUNDS.items())[:k]:
        scaled = (points[name] - low) / (high - low) * (levels - 1)
        assert np.allclose(scaled, np.round(scaled)), "Morris points lie on the level grid"
    # consecutive rows of a trajectory differ in exactly one parameter
    values = points.to_numpy()
    for start in range(0, len(values), k + 1):
        block = values[start : start + k + 1]
        changed = (~np.isclose(np.diff(block, axis=0), 0)).sum(axis=1)
        assert list(changed) == [1] * k


def test_grid_is_the_product_of_levels():
    spec = Design(
        method="grid",
        levels=3,
        parameters={"a": {"low": 0.0, "high": 1.0}, "b": {"values": [10.0, 20.0]}, "c": {"low": 2.0, "high": 4.0}},
    )
    points = design_points(spec, 1)
    assert len(points) == 3 * 2 * 3
    expected = set(itertools.product([0.0, 0.5, 1.0], [10.0, 20.0], [2.0, 3.0, 4.0]))
    assert {tuple(row) for row in points.itertuples(index=False)} == expected
    pd.testing.assert_frame_equal(points, design_points(spec, 99), check_like=False)  # a grid ignores the seed


def test_design_point_count_matches_expected_rows():
    experiment = Experiment(name="x", scenarios=[str(SMALL)], replications=3, design=design("morris", k=2, samples=4))
    assert expected_rows(experiment) == 1 * 1 * 12 * 3 == len(run_specs(experiment))


DISTRIBUTIONS = {
    "triangular": {"low": 0.0, "high": 0.6, "distribution": "triangular", "mode": 0.1},
    "truncnormal": {"low": 0.0, "high": 1.0, "distribution": "truncnormal", "mean": 0.2, "sd": 0.1},
}


@pytest.mark.parametrize("method", ["random", "lhs", "sobol", "morris"])
def test_distributions_keep_the_design_structure_and_their_bounds(method):
    """A distribution maps the same unit samples through its (monotone) quantile function: ranks are unchanged."""
    uniform = design_points(
        Design(method=method, samples=64, parameters={"x": {"low": 0.0, "high": 1.0}, "y": {"low": 0.0, "high": 1.0}}), 5
    )
    shaped = design_points(
        Design(method=method, samples=64, parameters={"x": DISTRIBUTIONS["triangular"], "y": DISTRIBUTIONS["truncnormal"]}), 5
    )
    assert len(shaped) == len(uniform)
    for column, spec in zip(["x", "y"], DISTRIBUTIONS.values(), strict=True):
        assert shaped[column].between(spec["low"], spec["high"]).all()
        np.testing.assert_array_equal(shaped[column].rank(method="dense"), uniform[column].rank(method="dense"))


def test_distributions_have_their_shape():
    points = design_points(
        Design(method="lhs", samples=2000, parameters={"x": DISTRIBUTIONS["triangular"], "y": DISTRIBUTIONS["truncnormal"]}), 1
    )
    assert points["x"].mean() == pytest.approx((0.0 + 0.1 + 0.6) / 3, abs=0.005)  # the triangular mean
    assert points["x"].median() < points["x"].mean()  # skewed right by its low mode
    truncated = stats.truncnorm(-2.0, 8.0, loc=0.2, scale=0.1)  # 0 and 1 are 2 and 8 sd from the mean
    assert points["y"].mean() == pytest.approx(truncated.mean(), abs=0.002)
    assert points["y"].std() == pytest.approx(truncated.std(), rel=0.02)
    assert points["y"].std() < 0.1  # truncation narrows it


@pytest.mark.parametrize(
    "parameter, message",
    [
        ({"values": [0.1, 0.2], "distribution": "triangular", "mode": 0.1}, "needs 'low' and 'high', not 'values'"),
        ({"low": 0.0, "high": 0.5, "distribution": "triangular", "mode": 0.7}, "mode must lie within [low, high]"),
        ({"low": 0.0, "high": 0.5, "distribution": "triangular"}, "'mode' is needed by a triangular distribution"),
        ({"low": 0.0, "high": 0.5, "distribution": "truncnormal", "mean": 0.2}, "'sd' is needed by a truncnormal distribution"),
        ({"low": 0.0, "high": 0.5, "mean": 0.2}, "'mean' does not belong to a uniform distribution"),
        ({"low": 0.0, "high": 0.5, "distribution": "truncnormal", "mean": 0.2, "sd": 0}, "sd: must be a positive number, got 0"),
        ({"low": 0.0, "high": 0.5, "distribution": "normal"}, "distribution"),
    ],
)
def test_bad_distributions_are_bad_input(cli, tmp_path, parameter, message):
    design_data = {"method": "lhs", "samples": 4, "parameters": {"pairing.failure.leakage": parameter}}
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(design=design_data), command="sweep")
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: design.parameters.pairing.failure.leakage")
    assert message in lines[0]


def test_a_grid_over_a_distribution_is_bad_input(cli, tmp_path):
    design_data = {"method": "grid", "parameters": {"pairing.failure.leakage": DISTRIBUTIONS["triangular"]}}
    path, lines = expect_bad_input(cli, tmp_path, small_experiment(design=design_data), command="sweep")
    expected = "grid designs take ranges or values; a triangular distribution needs random, lhs, sobol or morris"
    assert lines == [f"{path}: design.parameters.pairing.failure.leakage: {expected}"]


def test_salib_problem_of_a_design():
    problem = salib_problem(design("sobol", k=2))
    assert problem == {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 0.3], [0.2, 1.0]]}


# --------------------------------------------------------------------------- shipped experiments


def test_policy_comparison_validates_and_expands():
    experiment = load_experiment(POLICY_COMPARISON)
    assert experiment.scenarios == [str((REPO_ROOT / "scenarios" / "shouguang_2009.yaml").resolve())]
    arms = experiment.all_arms
    assert len(arms) == 6 and next(iter(arms)) == BASELINE
    assert experiment.replications >= 30
    assert experiment.horizon_years == 10
    assert experiment.design is None
    specs = run_specs(experiment)
    assert len(specs) == 6 * experiment.replications == expected_rows(experiment)
    assert len(specs) >= 180
    per_arm = pd.Series([spec.arm for spec in specs]).value_counts()
    assert (per_arm == experiment.replications).all()
    # each single-policy arm keeps a different one of the four Shouguang types; all_four keeps all
    singles = [arm.policies for name, arm in experiment.arms.items() if arm.policies != "all"]
    assert len(singles) == 4 and all(len(kept) == 1 for kept in singles)
    assert len({kept[0] for kept in singles}) == 4
    assert any(arm.policies == "all" for arm in experiment.arms.values())


def test_sensitivity_validates_and_is_a_sobol_design_over_pairing_parameters():
    experiment = load_experiment(SENSITIVITY)
    assert experiment.scenarios == [str(SMALL.resolve())]
    spec = experiment.design
    assert spec is not None and spec.method == "sobol"
    names = list(spec.parameters)
    assert any(name.startswith("pairing.effects.") for name in names)
    assert any(name.startswith("pairing.failure.") for name in names)
    assert all(name.startswith(("pairing.effects.", "pairing.failure.")) for name in names)
    k = len(names)
    points = design_points(spec, experiment.seed)
    assert len(points) == spec.samples * (k + 2)
    for name, parameter in spec.parameters.items():
        assert parameter.low is not None and parameter.high is not None
        assert points[name].between(parameter.low, parameter.high).all()
    assert len(run_specs(experiment)) == len(experiment.all_arms) * len(points) * experiment.replications


def test_sensitivity_parameters_are_valid_scenario_overrides():
    """Every swept path exists in small.yaml's scenario and accepts both ends of its range."""
    experiment = load_experiment(SENSITIVITY)
    for end in ("low", "high"):
        overrides = {name: getattr(parameter, end) for name, parameter in experiment.design.parameters.items()}
        scenario = resolve_scenario(SMALL, overrides)
        data = scenario.model_dump()
        for name, value in overrides.items():
            node: Any = data
            for part in name.split("."):
                node = node[part]
            assert node == pytest.approx(value), name


def test_two_scenarios_with_one_file_name_are_refused(tmp_path):
    """Run ids and saved graphs are named by a scenario's file stem, so two scenarios may not share one."""
    small = (Path(__file__).resolve().parent.parent / "scenarios" / "small.yaml").read_text(encoding="utf-8")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "county.yaml").write_text(small, encoding="utf-8")
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text("name: twins\nscenarios: [a/county.yaml, b/county.yaml]\nreplications: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"scenarios\[1\].*same file name"):
        load_experiment(experiment)


# --------------------------------------------------------------------------- a run's own seeds


def test_named_seeds_are_the_replications_seeds_in_every_arm(tmp_path):
    data = small_experiment(seeds=[17, 4])
    del data["replications"]
    experiment = load_experiment(write_experiment(tmp_path, data))
    assert experiment.replications == 2
    specs = run_specs(experiment)
    assert {(spec.replication, spec.seed) for spec in specs} == {(0, 17), (1, 4)}
    assert len(specs) == 2 * len(experiment.all_arms)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seeds": [1, 2], "replications": 3}, "replications: 3, but seeds names 2"),
        ({"seeds": [1, 1]}, "names a seed twice"),
        ({"seeds": []}, "name at least one seed"),
    ],
)
def test_named_seeds_that_do_not_fit_are_one_line(cli, tmp_path, changes, message):
    data = small_experiment(**changes)
    if "replications" not in changes:
        del data["replications"]
    _, lines = expect_bad_input(cli, tmp_path, data)
    assert len(lines) == 1 and message in lines[0], lines


def test_named_seeds_refuse_another_replication_count_on_the_command_line(cli, tmp_path):
    data = small_experiment(seeds=[3])
    del data["replications"]
    path = write_experiment(tmp_path, data)
    code, _, err = cli("compare", path, "--replications", "2", "--out", tmp_path / "out", "--quiet")
    assert code == 2 and err.strip() == f"--replications: {path} names 1 seeds, one a replication; got 2"


def test_a_file_without_named_seeds_keeps_its_identity():
    from sim.execute import identity

    experiment = load_experiment(POLICY_COMPARISON)
    assert "seeds" not in yaml.safe_load(POLICY_COMPARISON.read_text(encoding="utf-8"))
    assert identity(experiment) == identity(experiment.model_copy(update={"seeds": None}))
    assert identity(experiment) != identity(experiment.model_copy(update={"seeds": list(range(30))}))
