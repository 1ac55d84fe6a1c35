"""History matching's mathematics on synthetic simulators whose answers are known (no model runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.calibration.history_matching import (
    CUTOFF,
    NoPlausibleRegion,
    fit_emulators,
    identifiability,
    implausibility,
    latin_hypercube,
    next_wave_points,
    plausible,
    posterior_sample,
    stochastic_variance,
    systematic_resample,
)

TRUTH = np.array([0.3, 0.6, 0.5])
"""The toy simulator's true parameters: x0 and x1 move the targets, x2 is a dummy nothing reads."""
TARGETS = ("a", "b")
PARAMETERS = ("x0", "x1", "dummy")
NOISE_SD = 0.02
OBSERVATION_SD = 0.03


def toy_expectation(u: np.ndarray) -> np.ndarray:
    """Two smooth targets of (x0, x1); the third input is ignored."""
    return np.column_stack([u[:, 0] + u[:, 1] ** 2, np.sin(2 * u[:, 0]) - u[:, 1]])


def toy_runs(u: np.ndarray, seeds: int, rng: np.random.Generator) -> np.ndarray:
    """(points, seeds, targets) noisy runs, like a stochastic simulator."""
    expectation = toy_expectation(u)
    return expectation[:, None, :] + NOISE_SD * rng.standard_normal((len(u), seeds, len(TARGETS)))


OBSERVED = toy_expectation(TRUTH[None, :])[0]
VAR_OBS = np.full(len(TARGETS), OBSERVATION_SD**2)


def history_match(seed: int, waves: int = 3, points: int = 20, seeds: int = 2, candidates: int = 5000):
    """The waves as sim.calibration.run drives them, with the toy simulator in place of the model."""
    rng = np.random.default_rng(seed)
    design = latin_hypercube(points, len(PARAMETERS), rng)
    u_all, mean_all, var_all = [], [], []
    fractions, truth_implausibility = [], []
    for _ in range(waves):
        runs = toy_runs(design, seeds, rng)
        u_all.append(design)
        mean_all.append(runs.mean(axis=1))
        var_all.append(runs.var(axis=1, ddof=1))
        emulators = fit_emulators(np.vstack(u_all), np.vstack(mean_all), TARGETS, PARAMETERS, seed=seed)
        var_stoch = stochastic_variance(np.vstack(var_all), emulators)
        truth_implausibility.append(implausibility(*emulators.predict(TRUTH[None, :]), OBSERVED, VAR_OBS, var_stoch).max())
        design, fraction = next_wave_points(emulators, OBSERVED, VAR_OBS, var_stoch, CUTOFF, points, candidates, rng)
        fractions.append(fraction)
    posterior = posterior_sample(emulators, OBSERVED, VAR_OBS, var_stoch, CUTOFF, 1000, candidates, rng)
    return emulators, fractions, truth_implausibility, posterior


@pytest.fixture(scope="module")
def toy_calibration():
    return history_match(seed=13, points=8)  # a small first wave leaves a wide NROY for the later waves to cut


def test_the_emulator_reproduces_a_smooth_two_dimensional_function():
    rng = np.random.default_rng(1)
    u = latin_hypercube(40, 2, rng)

    def function(x):
        return np.sin(3 * x[:, 0]) + np.cos(2 * x[:, 1]) * x[:, 0]

    emulators = fit_emulators(u, function(u), ["f"])
    fresh = rng.random((500, 2))
    mean, variance = emulators.predict(fresh)
    truth = function(fresh)
    r2 = 1 - np.sum((mean[:, 0] - truth) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert r2 > 0.95
    assert emulators.loo_r2()["f"] > 0.95
    assert mean.shape == variance.shape == (500, 1) and np.all(variance >= 0)


def test_the_emulator_variance_leaves_out_the_run_to_run_noise():
    """The white-noise term is the runs' noise (found again here), and V_em at the design is far below it."""
    rng = np.random.default_rng(2)
    u = rng.random((120, 1))
    emulators = fit_emulators(u, 2 * u[:, 0] + 0.2 * rng.standard_normal(120), ["y"])
    assert 0.02 < emulators.noise_variance[0] < 0.08  # true variance 0.04
    _, variance = emulators.predict(u)
    assert np.median(variance) < 0.2 * emulators.noise_variance[0]


def test_implausibility_by_hand():
    scores = implausibility(
        mean=np.array([[1.0, 2.0], [4.0, 2.0]]),
        var_em=np.array([[0.5, 0.0], [0.0, 0.0]]),
        observed=np.array([2.0, 2.0]),
        var_obs=np.array([0.25, 1.0]),
        var_stoch=np.array([0.25, 0.0]),
    )
    np.testing.assert_allclose(scores, [[1.0, 0.0], [2 / np.sqrt(0.5), 0.0]])
    assert plausible(scores, cutoff=2.0).tolist() == [True, False]


def test_plausible_takes_the_worst_target_and_rejects_nan():
    scores = np.array([[0.5, 3.1], [2.9, 2.9], [np.nan, 0.0]])
    assert plausible(scores, cutoff=3.0).tolist() == [False, True, False]


def test_implausibility_needs_an_observation_uncertainty():
    with pytest.raises(ValueError, match="var_obs must be positive"):
        implausibility(np.zeros((1, 1)), np.zeros((1, 1)), [0.0], [0.0], [0.1])


def test_history_matching_keeps_the_truth_and_shrinks_nroy(toy_calibration):
    _, fractions, truth_implausibility, _ = toy_calibration
    assert max(truth_implausibility) <= CUTOFF
    assert fractions[-1] < 0.5 * fractions[0] < 0.25


def test_the_posterior_covers_the_truth(toy_calibration):
    _, _, _, posterior = toy_calibration
    low, high = np.quantile(posterior.u, [0.05, 0.95], axis=0)
    assert np.all((low <= TRUTH) & (TRUTH <= high)), (low, high)


def test_a_dummy_input_is_not_identified_and_the_influential_ones_are(toy_calibration):
    emulators, _, _, posterior = toy_calibration
    table = identifiability(posterior.u, PARAMETERS, emulators.length_scales).set_index("parameter")
    assert table.loc["dummy", "contraction"] < 0.2 and not table.loc["dummy", "identified"]
    assert table.loc[["x0", "x1"], "identified"].all()
    assert table.loc["dummy", "median_length_scale"] > 5 * table.loc[["x0", "x1"], "median_length_scale"].max()
    assert (table["u_low"] <= table["u_median"]).all() and (table["u_median"] <= table["u_high"]).all()


def test_the_same_seed_gives_the_same_calibration():
    first, second, other = (history_match(seed, waves=2, points=12, candidates=2000) for seed in (5, 5, 6))
    np.testing.assert_array_equal(first[3].u, second[3].u)
    assert first[1] == second[1] and first[3].ess == second[3].ess
    assert not np.array_equal(first[3].u, other[3].u)


def test_posterior_rows_are_shuffled_equal_weight_draws_of_the_candidates():
    rng = np.random.default_rng(3)
    u = latin_hypercube(30, 2, rng)
    emulators = fit_emulators(u, u[:, [0]] * 2, ["y"])
    observed, var_obs, var_stoch = np.array([1.0]), np.array([0.1**2]), np.zeros(1)
    sample = posterior_sample(emulators, observed, var_obs, var_stoch, CUTOFF, 400, 3000, np.random.default_rng(9))
    candidates = np.random.default_rng(9).random((3000, 2))  # the first (and only) batch it drew
    assert sample.candidates_drawn == 3000
    index = {tuple(row): i for i, row in enumerate(candidates)}
    rows = np.array([index[tuple(row)] for row in sample.u])
    assert len(rows) == 400 and not np.all(np.diff(rows) >= 0)  # resampled rows come out sorted; these are shuffled
    assert rows[:40].min() < np.quantile(rows, 0.2) and rows[:40].max() > np.quantile(rows, 0.8)  # a prefix spans them
    unpacked_u, ess = sample  # unpacks as the design says
    assert unpacked_u is sample.u
    assert 1 <= ess <= sample.plausible_candidates and ess > 40 and not sample.low_ess
    assert abs(np.mean(sample.u[:, 0]) - 0.5) < 0.05  # observed 1.0 = 2 x 0.5


def test_systematic_resampling_gives_each_candidate_its_share():
    weights = np.array([0.5, 0.0, 0.25, 0.125, 0.125])
    counts = np.bincount(systematic_resample(weights, 100, np.random.default_rng(4)), minlength=5)
    assert counts.sum() == 100 and counts[1] == 0
    assert np.all(np.abs(counts - 100 * weights) < 1)


class LastUniform:
    """A generator whose one uniform is the largest below 1, to put the last resampling position at the very end."""

    def random(self) -> float:
        return float(np.nextafter(1.0, 0.0))


def test_systematic_resampling_never_picks_a_zero_weight_candidate_at_the_end():
    weights = np.array([0.1] * 10 + [0.0])  # ruled out last; the weights' sum rounds to a hair below 1
    assert np.cumsum(weights)[-1] < 1.0
    assert systematic_resample(weights, 1, LastUniform())[0] == 9


def test_more_candidates_are_drawn_while_the_ess_is_low():
    rng = np.random.default_rng(5)
    u = latin_hypercube(30, 2, rng)
    emulators = fit_emulators(u, np.column_stack([u[:, 0], u[:, 1]]), ["a", "b"])
    narrow = posterior_sample(emulators, np.array([0.4, 0.7]), np.full(2, 0.01**2), np.zeros(2), CUTOFF, 1000, 2000, rng)
    assert narrow.candidates_drawn > 2000
    assert narrow.ess < narrow.plausible_candidates
    if narrow.low_ess:
        assert "treat the posterior's spread with care" in narrow.note()
    assert f"{narrow.candidates_drawn} candidates" in narrow.note()


def test_a_constant_target_and_failed_runs_do_not_stop_the_fit():
    rng = np.random.default_rng(6)
    u = rng.random((25, 2))
    y = np.column_stack([u[:, 0] + u[:, 1], np.full(25, 7.0)])
    y[[3, 11], 0] = np.nan
    emulators = fit_emulators(u, y, ["moving", "flat"], ["p", "q"])
    assert emulators.dropped == {"moving": 2, "flat": 0} and emulators.points["moving"] == 23
    assert any("2 of 25 runs" in note for note in emulators.notes)
    assert any("flat: constant (7)" in note for note in emulators.notes)
    mean, variance = emulators.predict(rng.random((10, 2)))
    assert np.all(mean[:, 1] == 7.0) and np.all(variance[:, 1] == 0.0)
    assert np.isnan(emulators.loo_r2()["flat"]) and emulators.loo_r2()["moving"] > 0.9
    assert emulators.length_scales.loc["flat"].isna().all() and list(emulators.length_scales.columns) == ["p", "q"]


def test_a_target_without_enough_finite_runs_is_named():
    y = np.full((10, 1), np.nan)
    y[:2, 0] = [1.0, 2.0]
    with pytest.raises(ValueError, match="target income: only 2 of 10 runs gave a finite statistic"):
        fit_emulators(np.random.default_rng(0).random((10, 2)), y, ["income"])


def test_no_plausible_candidate_names_the_target_out_of_reach():
    rng = np.random.default_rng(7)
    u = latin_hypercube(20, 2, rng)
    emulators = fit_emulators(u, np.column_stack([u[:, 0], u[:, 1]]), ["reachable", "unreachable"])
    observed, var_obs = np.array([0.5, 5.0]), np.full(2, 0.01)
    for draw in (
        lambda: next_wave_points(emulators, observed, var_obs, np.zeros(2), CUTOFF, 10, 1000, rng),
        lambda: posterior_sample(emulators, observed, var_obs, np.zeros(2), CUTOFF, 100, 1000, rng, max_batches=2),
    ):
        with pytest.raises(NoPlausibleRegion, match="no parameter set reproduces the targets within cutoff 3") as caught:
            draw()
        assert "unreachable: 0.0% of candidates" in str(caught.value)


def test_a_thin_nroy_is_topped_up_with_the_least_implausible_candidates():
    rng = np.random.default_rng(8)
    u = latin_hypercube(30, 1, rng)
    emulators = fit_emulators(u, u, ["y"])
    observed, var_obs = np.array([0.5]), np.array([0.001**2])
    design, fraction = next_wave_points(emulators, observed, var_obs, np.zeros(1), CUTOFF, 50, 2000, rng)
    assert len(design) == 50 and 0 < fraction * 2000 < 50
    assert np.abs(design[:, 0] - 0.5).max() < 0.05  # the top-up sits just outside NROY, not anywhere


def test_stochastic_variance_pools_the_seeds_or_falls_back_to_the_white_noise():
    rng = np.random.default_rng(9)
    u = rng.random((40, 1))
    emulators = fit_emulators(u, np.column_stack([u[:, 0] + 0.1 * rng.standard_normal(40)] * 2), ["two_seeds", "one_seed"])
    within = np.column_stack([np.full(40, 0.01), np.full(40, np.nan)])
    within[0, 0] = np.nan  # a point with one failed run
    pooled = stochastic_variance(within, emulators)
    assert pooled[0] == pytest.approx(0.01) and pooled[1] == emulators.noise_variance[1]


def test_identifiability_without_length_scales_and_at_the_threshold():
    rng = np.random.default_rng(10)
    u = np.column_stack([rng.random(4000), 0.5 + 0.05 * rng.random(4000)])
    table = identifiability(u, ["wide", "narrow"], pd.DataFrame(), threshold=0.2)
    assert table["median_length_scale"].isna().all()
    assert abs(table.loc[0, "contraction"]) < 0.1 and not table.loc[0, "identified"]
    assert table.loc[1, "contraction"] > 0.99 and table.loc[1, "identified"]


def test_points_outside_the_unit_cube_are_refused():
    with pytest.raises(ValueError, match="unit cube"):
        fit_emulators(np.array([[0.2], [1.5], [0.4]]), np.array([1.0, 2.0, 3.0]), ["y"])
