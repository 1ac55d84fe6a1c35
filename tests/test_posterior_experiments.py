"""Experiments driven by a posterior sample (issue 13, point 8): ``parameters: {posterior: FILE, draws: N}``.

A hand-made posterior of two small.yaml parameters drives a two-arm comparison (3 draws x 2 seeds, one year): every
arm's replication r runs draw r mod 3 with the same seed, the runs say which draw they ran, the summary and the report
split each effect's interval into parameter uncertainty and noise and say whether each arm's ranking holds. The
variance split and the ranking are checked on synthetic tables with known answers; bad posterior files are one-line
errors with exit code 2, as for any experiment file.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_cli

from sim import analysis
from sim.execute import SerialExecutor, identity, run_experiment, run_one
from sim.experiment import BASELINE, load_experiment, posterior_draws, run_specs
from sim.outcome_registry import OUTCOMES, Outcome, register_outcome, unregister_outcome
from sim.report import build_report, load_report_input
from sim.report.page import uncertainty_section
from sim.results import load_results
from sim.summary import summarize_folder

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALL = REPO_ROOT / "scenarios" / "small.yaml"
LEAKAGE, GROWTH = "pairing.failure.leakage", "economy.farm_productivity_growth"
POSTERIOR_VALUES = {LEAKAGE: [0.05, 0.20, 0.35, 0.10, 0.30], GROWTH: [0.10, 0.13, 0.16, 0.12, 0.15]}


def write_posterior(folder: Path, columns: dict[str, list[Any]] | None = None, name: str = "posterior.parquet") -> Path:
    """A posterior file as pairsim calibrate writes it: draw, one column per parameter, equal weights."""
    columns = POSTERIOR_VALUES if columns is None else columns
    rows = len(next(iter(columns.values())))
    frame = pd.DataFrame({"draw": range(rows), **columns, "weight": [1.0 / rows] * rows})
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / name)
    return folder / name


def posterior_experiment(**changes: Any) -> dict[str, Any]:
    """Two arms of small.yaml over 3 posterior draws x 2 seeds, one year; ``changes`` replace top-level keys."""
    data: dict[str, Any] = {
        "name": "posterior_tiny",
        "scenarios": [str(SMALL)],
        "seed": 11,
        "replications": 6,
        "horizon_years": 1,
        "arms": {"city_village": {"policies": ["部门+村"]}, "everything": {"policies": "all"}},
        "parameters": {"posterior": "posterior.parquet", "draws": 3},
    }
    data.update(changes)
    return data


def write_experiment(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> dict[str, Path]:
    """The posterior experiment run once by ``pairsim compare`` (18 one-year runs of small.yaml)."""
    folder = tmp_path_factory.mktemp("posterior")
    write_posterior(folder)
    path = write_experiment(folder, posterior_experiment())
    out_dir = folder / "out"
    code, out, err = run_cli("compare", path, "--workers", "1", "--out", out_dir, "--quiet")
    assert code == 0, (out, err)
    return {"path": path, "out": out_dir}


# --------------------------------------------------------------------------- runs


def test_every_arm_runs_the_same_draw_and_seed_in_each_replication(tmp_path):
    write_posterior(tmp_path)
    experiment = load_experiment(write_experiment(tmp_path, posterior_experiment()))
    specs = run_specs(experiment)
    assert len(specs) == 3 * 6
    by_replication: dict[int, list] = {}
    for spec in specs:
        by_replication.setdefault(spec.replication, []).append(spec)
    for replication, group in by_replication.items():
        assert [spec.arm for spec in group] == [BASELINE, "city_village", "everything"]
        assert {spec.draw for spec in group} == {replication % 3}
        assert len({spec.seed for spec in group}) == 1
        expected = {name: values[replication % 3] for name, values in POSTERIOR_VALUES.items()}
        for spec in group:
            assert spec.parameters == pytest.approx(expected)
            assert {name: spec.overrides[name] for name in expected} == pytest.approx(expected)
    assert len({group[0].seed for group in by_replication.values()}) == 6, "each replication has its own seed"


def test_runs_write_their_draw_and_parameters(compared):
    results = load_results(compared["out"])
    assert (results["draw"] == results["replication"] % 3).all()
    for name, values in POSTERIOR_VALUES.items():
        assert np.allclose(results[f"param:{name}"], np.take(values, results["draw"]))


def test_a_run_without_a_posterior_has_no_draw_column(tmp_path):
    experiment = load_experiment(write_experiment(tmp_path, posterior_experiment(parameters=None, replications=1)))
    (spec, *_) = run_specs(experiment)
    assert spec.draw is None
    assert "draw" not in run_one(spec).columns


def test_a_second_call_runs_nothing(compared):
    experiment = load_experiment(compared["path"])
    report = run_experiment(experiment, compared["path"], compared["out"], SerialExecutor(), progress=False)
    assert (report.already_done, report.finished, report.failed) == (18, 0, {})


def test_the_posterior_contents_join_the_identity(tmp_path):
    write_posterior(tmp_path)
    experiment = load_experiment(write_experiment(tmp_path, posterior_experiment()))
    moved = tmp_path / "elsewhere" / "same.parquet"
    moved.parent.mkdir()
    shutil.copy(experiment.parameters.posterior, moved)
    changed = write_posterior(tmp_path, {**POSTERIOR_VALUES, LEAKAGE: [0.06, 0.2, 0.35, 0.1, 0.3]}, "changed.parquet")

    def pointing_at(path: Path):
        return experiment.model_copy(update={"parameters": experiment.parameters.model_copy(update={"posterior": str(path)})})

    assert identity(pointing_at(moved)) == identity(experiment), "where the file lies does not matter"
    assert identity(pointing_at(changed)) != identity(experiment), "what it holds does"


def test_unequal_weights_are_resampled(tmp_path):
    frame = pd.DataFrame({LEAKAGE: [0.05, 0.2, 0.35], GROWTH: [0.1, 0.13, 0.16], "weight": [0.0, 1.0, 0.0]})
    frame.to_parquet(tmp_path / "posterior.parquet")
    experiment = load_experiment(write_experiment(tmp_path, posterior_experiment()))
    draws = posterior_draws(experiment)
    assert len(draws) == 3 and (draws[LEAKAGE] == 0.2).all() and (draws[GROWTH] == 0.13).all()


class LastUniformGenerator:
    """numpy's generator, except that its first uniform is the largest below 1: the last resampling position then lies
    past a cumulative sum of the weights that rounding left a hair below 1."""

    def __init__(self, *args: Any) -> None:
        self.rng = np.random.Generator(np.random.PCG64(*args))
        self.first = True

    def random(self, *args: Any) -> Any:
        if self.first and not args:
            self.first = False
            return float(np.nextafter(1.0, 0.0))
        return self.rng.random(*args)

    def permutation(self, *args: Any) -> Any:
        return self.rng.permutation(*args)


def test_resampling_never_picks_a_last_row_of_weight_zero(tmp_path, monkeypatch):
    weights = [0.1] * 10 + [0.0]
    assert np.cumsum(weights)[-1] < 1.0
    values = [0.01 * (i + 1) for i in range(10)] + [0.35]
    pd.DataFrame({LEAKAGE: values, GROWTH: [0.12] * 11, "weight": weights}).to_parquet(tmp_path / "posterior.parquet")
    experiment = load_experiment(write_experiment(tmp_path, posterior_experiment()))
    monkeypatch.setattr(np.random, "default_rng", LastUniformGenerator)
    draws = posterior_draws(experiment)
    assert len(draws) == 3 and 0.35 not in set(draws[LEAKAGE]), "the ruled-out last row was drawn"


def test_summary_and_report_split_the_intervals_and_judge_the_ranking(compared):
    text = summarize_folder(compared["out"])
    assert "3 posterior draws x 2 seeds" in text and "± parameters" in text and "± noise" in text
    assert "keeps rank" in text and "holds" in text
    html = build_report(compared["out"])
    assert "Parameter uncertainty and the ranking of arms" in html and "3 posterior draws from posterior.parquet" in html
    data = load_report_input(compared["out"])
    section = uncertainty_section(data)
    assert len(section.figures) == 2 and "one draw, 95% range" in section.table_html
    without = dataclasses.replace(data, results=data.results.drop(columns="draw"))
    assert uncertainty_section(without) is None, "an experiment without a posterior has no such section"


# --------------------------------------------------------------------------- the variance split


def synthetic(effects: np.ndarray, arm: str = "pairing", baseline_values: np.ndarray | None = None) -> pd.DataFrame:
    """Results of a posterior experiment whose arm differs from the baseline by ``effects`` (draws x seeds)."""
    draws, seeds = effects.shape
    base = np.zeros(effects.shape) if baseline_values is None else baseline_values
    rows = []
    for i in range(draws):
        for s in range(seeds):
            r = i * seeds + s
            for name, value in ((BASELINE, base[i, s]), (arm, base[i, s] + effects[i, s])):
                rows.append(
                    {"run_id": f"{name}{r}", "scenario": "county", "arm": name, "point": 0, "replication": r, "draw": i}
                    | {"year": 2020, "gini": value}
                )
    return pd.DataFrame(rows)


def test_known_components_are_recovered():
    rng = np.random.default_rng(7)
    draws, seeds, var_param, var_noise = 600, 4, 4.0, 9.0
    effects = 1.5 + rng.normal(0, np.sqrt(var_param), (draws, 1)) + rng.normal(0, np.sqrt(var_noise), (draws, seeds))
    (row,) = analysis.posterior_differences(synthetic(effects), outcomes="gini").to_dict("records")
    assert (row["draws"], row["seeds"], row["n"]) == (draws, seeds, draws * seeds)
    assert row["var_parameter"] == pytest.approx(var_param, rel=0.2)
    assert row["var_noise"] == pytest.approx(var_noise, rel=0.1)
    assert row["std_error"] == pytest.approx(np.sqrt((var_param + var_noise / seeds) / draws), rel=0.1)
    assert abs(row["difference"] - 1.5) < 3 * row["std_error"]
    expected_share = var_param / (var_param + var_noise / seeds)
    assert row["share_parameter"] == pytest.approx(expected_share, abs=0.08)


def test_the_formulas_on_a_table_small_enough_to_check_by_hand():
    effects = np.array([[1.0, 3.0], [4.0, 6.0], [7.0, 9.0]])  # draw means 2, 5, 8; each seed 1 from its draw's mean
    (row,) = analysis.posterior_differences(synthetic(effects), outcomes="gini").to_dict("records")
    ms_within = 6 * 1.0 / (6 - 3)  # six deviations of 1, N - D = 3 degrees of freedom
    ms_between = 2 * (9 + 0 + 9) / (3 - 1)  # S (mean_i - 5)^2 summed over draws, D - 1 = 2
    assert row["difference"] == 5.0
    assert row["var_noise"] == pytest.approx(ms_within)
    assert row["var_parameter"] == pytest.approx((ms_between - ms_within) / 2)
    assert row["std_error"] == pytest.approx(np.sqrt(ms_between / 6))
    assert row["ci_high"] - row["difference"] == pytest.approx(4.302653 * np.sqrt(ms_between / 6), rel=1e-5)  # t(0.975, 2)
    half = row["range_high"] - row["difference"]
    assert half == pytest.approx(np.hypot(row["half_width_parameter"], row["half_width_noise"]))
    assert row["half_width_noise"] == pytest.approx(1.959964 * np.sqrt(ms_within / 2), rel=1e-5)


def test_no_parameter_variance_when_the_draws_do_not_matter():
    rng = np.random.default_rng(3)
    spread = np.array([-2.0, -1.0, 1.0, 2.0])
    effects = 0.5 + np.array([rng.permutation(spread) for _ in range(20)])  # every draw has the same mean
    (row,) = analysis.posterior_differences(synthetic(effects), outcomes="gini").to_dict("records")
    assert row["var_parameter"] == 0.0 and row["share_parameter"] == 0.0 and row["half_width_parameter"] == 0.0
    assert row["var_noise"] > 0

    noisy = 0.5 + rng.normal(0, 1.0, (400, 4))  # pure noise: any parameter variance found is small
    (row,) = analysis.posterior_differences(synthetic(noisy), outcomes="gini").to_dict("records")
    assert row["var_parameter"] < 0.05 * row["var_noise"]


def test_the_split_needs_a_draw_column():
    with pytest.raises(ValueError, match="draw"):
        analysis.posterior_differences(synthetic(np.ones((2, 2))).drop(columns="draw"), outcomes="gini")


# --------------------------------------------------------------------------- ranking robustness


def ranked_arms(per_draw: dict[str, list[float]], outcome: str = "gini") -> pd.DataFrame:
    """Results of a posterior experiment with two seeds per draw whose paired effects are both the given one."""
    return noisy_arms({arm: np.repeat(np.asarray(effects)[:, None], 2, axis=1) for arm, effects in per_draw.items()}, outcome)


def noisy_arms(per_run: dict[str, np.ndarray], outcome: str = "gini") -> pd.DataFrame:
    """Results of a posterior experiment whose arms differ from a baseline of 10 by the given effects (draws x seeds)."""
    draws, seeds = next(iter(per_run.values())).shape
    rows = []
    for i in range(draws):
        for s in range(seeds):
            r = seeds * i + s
            rows.append({"run_id": f"base{r}", "arm": BASELINE, "replication": r, "draw": i, outcome: 10.0})
            rows += [
                {"run_id": f"{arm}{r}", "arm": arm, "replication": r, "draw": i, outcome: 10.0 + effects[i, s]}
                for arm, effects in per_run.items()
            ]
    return pd.DataFrame(rows).assign(scenario="county", point=0, year=2020)


def test_ranking_holds_for_an_arm_that_keeps_its_place_and_not_for_those_that_swap():
    swaps = [True, False, False, True, False, False, False, True, False, False]  # 3 of 10 draws swap b and c
    table = ranking_robustness_of(
        {
            "a": [-3.0] * 10,  # lowers the Gini most in every draw
            "b": [-1.0 if not swap else -0.5 for swap in swaps],
            "c": [-0.5 if not swap else -1.0 for swap in swaps],
        }
    )
    assert list(table["arm"]) == ["a", "b", "c"] and list(table["rank"]) == [1, 2, 3]
    assert list(table["share_keeps_rank"]) == pytest.approx([1.0, 0.7, 0.7])
    assert list(table["share_best"]) == pytest.approx([1.0, 0.0, 0.0])
    assert list(table["holds"]) == [True, False, False]
    assert list(table["share_improves"]) == pytest.approx([1.0, 1.0, 1.0])
    assert (table["draws"] == 10).all()


def ranking_robustness_of(per_draw: dict[str, list[float]], outcome: str = "gini") -> pd.DataFrame:
    return analysis.ranking_robustness(ranked_arms(per_draw, outcome), outcome=outcome)


def reviewers_case(rng: np.random.Generator) -> pd.DataFrame:
    """No parameter variance at all: two arms lower the Gini by 1.0 and 0.8 in every draw, each run with noise of sd 0.5,
    50 draws x 2 seeds. Ranked on the mean of its two seeds, the arms swapped in about a third of the draws."""
    return noisy_arms({arm: effect + rng.normal(0, 0.5, (50, 2)) for arm, effect in (("a", -1.0), ("b", -0.8))})


def test_noise_alone_does_not_break_a_ranking():
    rng = np.random.default_rng(13)
    tables = [analysis.ranking_robustness(reviewers_case(rng)) for _ in range(20)]
    split = analysis.posterior_differences(reviewers_case(np.random.default_rng(13)), outcomes="gini")
    assert split["share_parameter"].max() < 0.5, "the case is noise-dominated"
    # The estimated parameter variance is above zero by chance in about half the tables, so some noise survives the
    # shrinkage; ranked on the raw two-seed means the ranking held in none of these tables (mean share about 0.66).
    assert all(list(table["arm"]) == ["a", "b"] for table in tables)
    assert np.mean([table["share_keeps_rank"].min() for table in tables]) > 0.9
    assert sum(table["holds"].all() for table in tables) >= 14


def test_noise_is_shrunk_out_entirely_when_the_draws_do_not_differ():
    rng = np.random.default_rng(3)
    spread = np.array([-0.5, 0.5])  # every draw's mean effect is exactly the arm's: no parameter variance
    effects = {arm: effect + np.array([rng.permutation(spread) for _ in range(40)]) for arm, effect in (("a", -1.0), ("b", -0.8))}
    table = analysis.ranking_robustness(noisy_arms(effects))
    assert list(table["share_keeps_rank"]) == [1.0, 1.0] and table["holds"].all()


def test_reversals_driven_by_the_parameters_still_break_a_ranking():
    rng = np.random.default_rng(17)
    swapped = rng.permutation(np.arange(50) < 15)[:, None]  # 30 % of the draws reverse the two arms
    effects = {
        "a": np.where(swapped, -0.5, -1.0) + rng.normal(0, 0.05, (50, 2)),
        "b": np.where(swapped, -1.0, -0.5) + rng.normal(0, 0.05, (50, 2)),
    }
    table = analysis.ranking_robustness(noisy_arms(effects))
    assert list(table["share_keeps_rank"]) == pytest.approx([0.7, 0.7], abs=0.04)
    assert not table["holds"].any()


def test_ranking_follows_the_outcome_direction():
    effects = {"raises": [100.0, 80.0, 120.0], "lowers": [-50.0, -20.0, -10.0]}
    income = ranking_robustness_of(effects, "rural_income_pc")
    gini = ranking_robustness_of(effects, "gini")
    assert list(income["arm"]) == ["raises", "lowers"] and list(income["share_improves"]) == [1.0, 0.0]
    assert list(gini["arm"]) == ["lowers", "raises"] and list(gini["share_improves"]) == [1.0, 0.0]
    with pytest.raises(ValueError, match="no agreed better direction"):
        analysis.better_direction("urban_income_pc")


def test_the_better_direction_is_the_registrys():
    lower = ["gini", "gini_rural", "theil_t", "theil_t_between", "theil_t_within", "theil_between_share"]
    lower += ["urban_rural_ratio", "income_gap", "rural_quintile_ratio", "poverty_headcount", "weak_villages", "hollow_villages"]
    higher = ["rural_income_pc", "rural_median_income_pc", "rural_median_to_mean", "mean_collective_income", "local_jobs"]
    higher += [key for key in OUTCOMES if key.startswith("lorenz_p")]
    higher += ["villager_satisfaction"]  # not a gap measure, but arms are ranked on it with more better
    assert {key: analysis.better_direction(key) for key in lower + higher} == {key: -1 for key in lower} | {
        key: 1 for key in higher
    }
    assert sorted(key for key, outcome in OUTCOMES.items() if outcome.better) == sorted(lower + higher)
    register_outcome(Outcome("toy_queue", "people waiting", "Queue", "count (people)", "count", better="lower"))
    try:
        assert analysis.better_direction("toy_queue") == -1
    finally:
        unregister_outcome("toy_queue")
    with pytest.raises(ValueError, match="better must be 'lower', 'higher' or None"):
        register_outcome(Outcome("toy_queue", "people waiting", "Queue", "count (people)", "count", better="shorter"))  # type: ignore[arg-type]
    assert "toy_queue" not in OUTCOMES


# --------------------------------------------------------------------------- bad input


def expect_one_line(tmp_path: Path, data: dict[str, Any], *extra: object) -> str:
    """Run compare on the experiment: exit 2, no traceback, one error line naming the file; returns that line."""
    path = write_experiment(tmp_path, data)
    code, out, err = run_cli("compare", path, "--out", tmp_path / "out", "--workers", "1", "--quiet", *extra)
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{path}: "), lines
    return lines[0]


def test_a_missing_posterior_file(tmp_path):
    line = expect_one_line(tmp_path, posterior_experiment())
    assert "parameters.posterior: file not found" in line and str(tmp_path / "posterior.parquet") in line


def test_a_file_that_is_not_parquet(tmp_path):
    (tmp_path / "posterior.parquet").write_text("draw,weight\n0,1\n", encoding="utf-8")
    assert "is not a readable Parquet table" in expect_one_line(tmp_path, posterior_experiment())


def test_a_posterior_without_weights(tmp_path):
    pd.DataFrame(POSTERIOR_VALUES).to_parquet(tmp_path / "posterior.parquet")
    assert "has no 'weight' column" in expect_one_line(tmp_path, posterior_experiment())


def test_an_unknown_parameter_path(tmp_path):
    write_posterior(tmp_path, {**POSTERIOR_VALUES, "pairing.failure.leakag": [0.1] * 5})
    line = expect_one_line(tmp_path, posterior_experiment())
    assert "parameters.posterior (column pairing.failure.leakag)" in line and "leakage" in line  # did you mean


def test_a_value_out_of_range(tmp_path):
    write_posterior(tmp_path, {**POSTERIOR_VALUES, LEAKAGE: [0.1, 0.2, 1.5, 0.1, 0.1]})
    line = expect_one_line(tmp_path, posterior_experiment())
    assert f"parameters.posterior (column {LEAKAGE}): must be less than or equal to 1, got 1.5 (in scenario" in line


def test_a_value_that_is_not_a_number(tmp_path):
    write_posterior(tmp_path, {**POSTERIOR_VALUES, LEAKAGE: [0.1, float("nan"), 0.2, 0.1, 0.1]})
    assert f"column {LEAKAGE} holds a value that is not a finite number" in expect_one_line(tmp_path, posterior_experiment())


@pytest.mark.parametrize("replications", [7, 3])
def test_replications_must_give_every_draw_the_same_two_or_more_seeds(tmp_path, replications):
    write_posterior(tmp_path)
    line = expect_one_line(tmp_path, posterior_experiment(replications=replications))
    assert "replications: must be a multiple of parameters.draws (3) and at least 6" in line
    assert f"got {replications}" in line


def test_the_replications_option_is_checked_too(tmp_path):
    write_posterior(tmp_path)
    path = write_experiment(tmp_path, posterior_experiment())
    code, _out, err = run_cli("compare", path, "--out", tmp_path / "out", "--workers", "1", "--quiet", "--replications", "4")
    assert code == 2 and "Traceback" not in err
    assert "replications: must be a multiple of parameters.draws (3)" in err and len(err.strip().splitlines()) == 1


def test_more_draws_than_the_posterior_has(tmp_path):
    write_posterior(tmp_path)
    data = posterior_experiment(replications=12, parameters={"posterior": "posterior.parquet", "draws": 6})
    assert "parameters.draws: 6 is more than the 5 draws in" in expect_one_line(tmp_path, data)


def test_design_and_posterior_together(tmp_path):
    write_posterior(tmp_path)
    design = {"method": "random", "samples": 2, "parameters": {LEAKAGE: {"low": 0.0, "high": 0.3}}}
    line = expect_one_line(tmp_path, posterior_experiment(design=design))
    assert "parameters: give either 'design'" in line
