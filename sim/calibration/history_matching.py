"""History matching with Gaussian-process emulators, then an emulator-based posterior (issue 13's method).

Pure functions on arrays: no model runs and no files (``sim.calibration.run`` does those). The method follows Vernon,
Goldstein & Bower (2010, Bayesian Analysis 5(4)) and Andrianakis et al. (2015, PLoS Comput Biol): run the simulator on a
design, emulate each target statistic with a Gaussian process, rule out the parameter sets whose emulated statistic is
too far from the observation given every known source of uncertainty, and spend the next wave's runs only in what is
left (the "not ruled out yet" region, NROY).

Everything works in the unit cube [0, 1]^k. Each parameter's prior is a bounded distribution with a quantile function
(``sim.experiment.Parameter.from_unit``), so the prior is uniform on the cube: Latin hypercubes and uniform candidates
need no knowledge of the distributions, importance weights need no prior density, and the emulators' length-scales are
comparable across parameters whatever their units (a length-scale far above 1 means the target barely changes over the
whole prior range).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.linalg import cho_solve
from scipy.optimize import minimize
from scipy.stats import qmc
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel
from threadpoolctl import threadpool_limits

from sim.draws import systematic_resample

CUTOFF = 3.0
"""Pukelsheim's (1994) three-sigma rule: any unimodal distribution keeps at least 95 % of its mass within 3 sd."""

MIN_POINTS = 3
"""Fewest finite runs a target needs before a Gaussian process can say anything about it."""

LENGTH_SCALE_BOUNDS = (1e-2, 1e2)
"""In unit-cube units: 0.01 resolves a hundredth of a prior range; 100 is a flat response over the whole range."""

NOISE_LEVEL_BOUNDS = (1e-8, 10.0)
"""White-noise variance as a share of the target's variance over the design (normalize_y): from almost none to all."""

PREDICT_CHUNK = 10_000
"""Candidates predicted at once: the cross-covariance is chunk x training points, a few MB at most."""

BLAS_THREADS = 1
"""Linear algebra threads while fitting and predicting: the matrices are a few hundred rows, too small to gain from
threads, and on a busy machine (simulator runs on every core) threaded BLAS made a fit ten times slower."""

LIKELIHOOD_TOLERANCE = 1e-5
"""L-BFGS-B stops when the log marginal likelihood improves by less than this relative amount per step. scipy's
default (2.2e-9) took twice the evaluations to move the optimum by under 0.3 log-likelihood units on 200 points."""

PRIOR_UNIT_VARIANCE = 1.0 / 12.0
"""Variance of a uniform variable on [0, 1]: the prior variance of every parameter in the unit cube."""


class NoPlausibleRegion(Exception):
    """The emulators rule out every candidate: no parameter set reproduces all targets within the cutoff.

    Raised instead of returning an empty design, so the caller stops the waves, writes what exists and prints why.
    """


class TooFewFiniteRuns(ValueError):
    """A target whose statistic is finite in fewer than :data:`MIN_POINTS` runs (e.g. a relative effect over a
    baseline of 0): no emulator can be fitted to it. ``target`` names it, so the caller can point at its entry."""

    def __init__(self, target: str, finite: int, runs: int) -> None:
        super().__init__(
            f"target {target}: only {finite} of {runs} runs gave a finite statistic; its emulator needs {MIN_POINTS}"
        )
        self.target, self.finite, self.runs = target, finite, runs


def latin_hypercube(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Wave 1's design: ``n`` points in [0, 1]^k, each parameter's range cut into ``n`` strata hit once each, so even a
    small first wave sees every part of every parameter's prior range."""
    return qmc.LatinHypercube(d=k, seed=rng).random(n)  # seed=, not rng=: scipy >= 1.11 (pyproject) knows only seed


def _kernel(k: int) -> Kernel:
    """Signal variance x ARD Matern 5/2 + white noise.

    Matern 5/2 rather than the squared exponential: twice differentiable responses, without the squared exponential's
    assumption of infinite smoothness, which makes it overconfident between design points (Stein 1999). One length-scale
    per parameter (ARD) both fits better and tells which parameters matter. The white-noise term absorbs the simulator's
    run-to-run noise, so the GP's mean is a smooth estimate of the expected statistic rather than an interpolant of noise.
    """
    signal = ConstantKernel(1.0, (1e-3, 1e3))
    matern = Matern(length_scale=np.full(k, 0.5), length_scale_bounds=LENGTH_SCALE_BOUNDS, nu=2.5)
    return signal * matern + WhiteKernel(noise_level=0.1, noise_level_bounds=NOISE_LEVEL_BOUNDS)


def _optimise_hyperparameters(objective, initial_theta: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
    """scikit-learn's own L-BFGS-B search, with a tolerance suited to hyperparameters (see LIKELIHOOD_TOLERANCE)."""
    result = minimize(
        objective, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds, options={"ftol": LIKELIHOOD_TOLERANCE}
    )
    return result.x, result.fun


@dataclass
class Emulators:
    """One Gaussian process per target, fitted on unit-cube inputs. A target that was constant over every run is
    emulated by that constant with no uncertainty (a GP cannot be fitted to zero variance, and nothing is unknown)."""

    targets: tuple[str, ...]
    parameters: tuple[str, ...]
    models: list[GaussianProcessRegressor | float]
    noise_variance: np.ndarray
    """Per target, the fitted white-noise variance in the statistic's units: the run-to-run noise of one run as the
    emulator sees it (V_stoch when each point ran with one seed, so no within-point variance exists)."""
    points: dict[str, int]
    dropped: dict[str, int]
    notes: list[str] = field(default_factory=list)
    """Plain sentences for the caller to print: dropped runs, constant targets."""

    def predict(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Emulated mean and variance of each target at each point: two (m, t) arrays.

        The variance is that of the expected statistic (the GP's latent function), without the white-noise term: the
        run-to-run noise enters the implausibility once, as V_stoch, and counting it here too would double it.
        """
        u = _unit_points(u, len(self.parameters), "u")
        mean = np.empty((len(u), len(self.targets)))
        variance = np.zeros_like(mean)
        for j, model in enumerate(self.models):
            if isinstance(model, float):
                mean[:, j] = model
                continue
            for start in range(0, len(u), PREDICT_CHUNK):
                chunk = slice(start, start + PREDICT_CHUNK)
                with threadpool_limits(BLAS_THREADS):
                    mean[chunk, j], sd = model.predict(u[chunk], return_std=True)
                variance[chunk, j] = np.maximum(sd**2 - self.noise_variance[j], 0.0)
        return mean, variance

    @property
    def length_scales(self) -> pd.DataFrame:
        """Fitted Matern length-scales, target x parameter, in unit-cube units; NaN for a constant target."""
        rows = [
            model.kernel_.k1.k2.length_scale if not isinstance(model, float) else np.full(len(self.parameters), np.nan)
            for model in self.models
        ]
        frame = pd.DataFrame(
            np.atleast_2d(np.asarray(rows, dtype=float)), index=list(self.targets), columns=list(self.parameters)
        )
        frame.index.name = "target"
        return frame

    def loo_r2(self) -> pd.Series:
        """Leave-one-out R^2 of each target's emulator, with the fitted kernel held fixed.

        Computed in closed form (Rasmussen & Williams 2006, eq. 5.12: the held-out residual is alpha_i / [K^-1]_ii), which
        equals refitting without each point at the same hyperparameters, for the price of one matrix inverse. It scores
        the prediction of single noisy runs, so a noisy target's R^2 is capped by the share of its variance that the
        parameters explain. NaN for a constant target (nothing to explain).
        """
        scores = {}
        for name, model in zip(self.targets, self.models, strict=True):
            if isinstance(model, float):
                scores[name] = np.nan
                continue
            inverse = cho_solve((model.L_, True), np.eye(len(model.L_)))
            residual = np.ravel(model.alpha_) / np.diag(inverse)
            normalised = np.ravel(model.y_train_)
            normalised = (normalised - normalised.mean()) / normalised.std()
            scores[name] = 1.0 - np.sum(residual**2) / np.sum(normalised**2)
        return pd.Series(scores, name="loo_r2").rename_axis("target")


def fit_emulators(
    u: np.ndarray,
    y: np.ndarray,
    targets: Sequence[str],
    parameters: Sequence[str] | None = None,
    *,
    restarts: int = 2,
    seed: int = 0,
) -> Emulators:
    """Fit one Gaussian process per target on every run so far: ``u`` (n, k) unit-cube points, ``y`` (n, t) statistics.

    Rows with a NaN statistic (a failed run, or a statistic undefined in it) are dropped for that target only, and
    counted in ``notes``. The optimiser restarts ``restarts`` times from random hyperparameters (seeded, so the fit is
    reproducible) because the ARD likelihood has local optima, e.g. one that explains everything as noise.
    """
    u = _unit_points(u, None, "u")
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[0] != len(u) or y.shape[1] != len(targets):
        raise ValueError(f"y has shape {y.shape}, expected ({len(u)}, {len(targets)}): one row per point, one column per target")
    names = tuple(parameters) if parameters is not None else tuple(f"u{i}" for i in range(u.shape[1]))
    if len(names) != u.shape[1]:
        raise ValueError(f"{len(names)} parameter names for {u.shape[1]} columns of u")
    models: list[GaussianProcessRegressor | float] = []
    noise, points, dropped, notes = [], {}, {}, []
    for j, target in enumerate(targets):
        finite = np.isfinite(y[:, j])
        points[target], dropped[target] = int(finite.sum()), int((~finite).sum())
        if dropped[target]:
            notes.append(f"target {target}: {dropped[target]} of {len(u)} runs gave no finite statistic and were left out")
        if points[target] < MIN_POINTS:
            raise TooFewFiniteRuns(target, points[target], len(u))
        values = y[finite, j]
        if np.ptp(values) <= 1e-12 * max(1.0, abs(values[0])):
            models.append(float(values[0]))
            noise.append(0.0)
            notes.append(f"target {target}: constant ({values[0]:g}) over all {points[target]} runs, emulated exactly (V_em = 0)")
            continue
        model = GaussianProcessRegressor(
            _kernel(u.shape[1]),
            optimizer=_optimise_hyperparameters,
            normalize_y=True,
            n_restarts_optimizer=restarts,
            random_state=seed + j,
        )
        with warnings.catch_warnings(), threadpool_limits(BLAS_THREADS):
            # A length-scale at its upper bound is a finding (the parameter does not matter), not a failure.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(u[finite], values)
        models.append(model)
        noise.append(model.kernel_.k2.noise_level * values.std() ** 2)  # normalize_y divides by this same std
    return Emulators(tuple(targets), names, models, np.asarray(noise), points, dropped, notes)


def implausibility(
    mean: np.ndarray, var_em: np.ndarray, observed: np.ndarray, var_obs: np.ndarray, var_stoch: np.ndarray
) -> np.ndarray:
    """I_j(x) = |z_j - m_j(x)| / sqrt(V_obs_j + V_em_j(x) + V_stoch_j), for (m, t) means and variances.

    The distance of the emulated statistic from the observation in units of every uncertainty that could explain it:
    the observation's error, the emulator's ignorance at x, and the simulator's run-to-run noise (one run's, since the
    world is one realisation). A NaN mean gives NaN, which :func:`plausible` treats as implausible.
    """
    mean, var_em = np.atleast_2d(mean).astype(float), np.atleast_2d(var_em).astype(float)
    observed, var_obs, var_stoch = (np.asarray(a, dtype=float) for a in (observed, var_obs, var_stoch))
    if np.any(var_obs <= 0):
        raise ValueError("var_obs must be positive: every target needs an observation uncertainty")
    if np.any(var_em < 0) or np.any(var_stoch < 0):
        raise ValueError("var_em and var_stoch must be non-negative")
    return np.abs(observed - mean) / np.sqrt(var_obs + var_em + var_stoch)


def plausible(implausibilities: np.ndarray, cutoff: float = CUTOFF) -> np.ndarray:
    """Non-implausible points (m,): every target within the cutoff.

    The maximum over targets rather than, say, the second largest: with a handful of targets, each chosen because it
    matters, one badly missed target is reason enough to rule a parameter set out (Vernon et al. 2010 use the second
    or third largest only with many correlated outputs).
    """
    implausibilities = np.asarray(implausibilities, dtype=float)
    if implausibilities.ndim != 2:
        raise ValueError(f"implausibilities must be (points, targets), got shape {implausibilities.shape}")
    with np.errstate(invalid="ignore"):
        return np.max(implausibilities, axis=1) <= cutoff


def stochastic_variance(within_point_variance: np.ndarray, emulators: Emulators) -> np.ndarray:
    """V_stoch per target (t,): the within-point variance over seeds pooled over the design points (their mean, since
    every point ran the same number of seeds), or the emulator's fitted white noise where no point had two finite
    runs (one seed per point)."""
    within = np.atleast_2d(np.asarray(within_point_variance, dtype=float))
    counted = np.isfinite(within).sum(axis=0)
    pooled = np.where(counted > 0, np.nansum(within, axis=0) / np.maximum(counted, 1), np.nan)
    return np.where(np.isfinite(pooled), pooled, emulators.noise_variance)


def _why_none(implausibilities: np.ndarray, targets: Sequence[str], cutoff: float) -> str:
    """Say which targets no candidate reaches, so the user knows which observation (or prior range) to look at."""
    within = np.mean(implausibilities <= cutoff, axis=0)
    smallest = np.nanmin(implausibilities, axis=0)
    per_target = "; ".join(
        f"{name}: {share:.1%} of candidates within it alone, smallest implausibility {low:.2f}"
        for name, share, low in zip(targets, within, smallest, strict=True)
    )
    return (
        f"no parameter set reproduces the targets within cutoff {cutoff:g}: none of {len(implausibilities)} candidates has "
        f"every target within it ({per_target})"
    )


def next_wave_points(
    emulators: Emulators,
    observed: np.ndarray,
    var_obs: np.ndarray,
    var_stoch: np.ndarray,
    cutoff: float,
    n: int,
    candidates: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, float]:
    """The next wave's ``n`` design points and the NROY fraction (share of ``candidates`` uniform points kept).

    A random subset of the non-implausible candidates, so the wave covers NROY evenly. If fewer than ``n`` are
    plausible, all of them plus the least implausible of the rest: the runs there still teach the emulators where the
    boundary is. Raises :class:`NoPlausibleRegion` when no candidate is plausible.
    """
    points = rng.random((candidates, len(emulators.parameters)))
    scores = implausibility(*emulators.predict(points), observed, var_obs, var_stoch)
    keep = plausible(scores, cutoff)
    if not keep.any():
        raise NoPlausibleRegion(_why_none(scores, emulators.targets, cutoff))
    kept = np.flatnonzero(keep)
    if len(kept) >= n:
        chosen = rng.choice(kept, size=n, replace=False)
    else:
        ruled_out_order = np.argsort(np.where(keep, np.inf, np.max(scores, axis=1)), kind="stable")
        chosen = np.concatenate([kept, ruled_out_order[: n - len(kept)]])
    return points[chosen], len(kept) / candidates


@dataclass(frozen=True)
class PosteriorSample:
    """Equal-weight posterior draws in the unit cube, shuffled, with what the importance sample behind them was worth.

    Unpacks as ``u, ess = posterior_sample(...)``.
    """

    u: np.ndarray
    ess: float
    """Effective sample size of the weighted candidates, 1 / sum(w^2): how many independent draws they are worth."""
    candidates_drawn: int
    plausible_candidates: int

    def __iter__(self) -> Iterator:
        return iter((self.u, self.ess))

    @property
    def low_ess(self) -> bool:
        """Fewer effective candidates than a tenth of the draws: many rows repeat few points, so the posterior's spread
        (and every contraction) is estimated from little."""
        return self.ess < len(self.u) / 10

    def note(self) -> str:
        """One sentence for the summary."""
        text = (
            f"posterior: {len(self.u)} draws resampled from {self.candidates_drawn} candidates "
            f"({self.plausible_candidates} plausible), effective sample size {self.ess:.0f}"
        )
        return text + (
            " - below a tenth of the draws even after drawing more: treat the posterior's spread with care"
            if self.low_ess
            else ""
        )


def posterior_sample(
    emulators: Emulators,
    observed: np.ndarray,
    var_obs: np.ndarray,
    var_stoch: np.ndarray,
    cutoff: float,
    size: int,
    candidates: int,
    rng: np.random.Generator,
    max_batches: int = 10,
) -> PosteriorSample:
    """Importance-sample the emulator-based posterior and resample it to ``size`` shuffled equal-weight rows.

    Candidates are uniform on the cube (the prior), weighted by the Gaussian likelihood of every target with the same
    variance as the implausibility (V_obs + V_em + V_stoch), and zero where the last emulators rule them out, so the
    posterior never strays outside NROY where the emulators were not trained. Weights are computed in logs (a product
    of narrow likelihoods underflows). While the effective sample size is below size/10, another batch of
    ``candidates`` is drawn, up to ``max_batches`` batches. Rows are shuffled so that any prefix is a random sample
    (the posterior check and posterior experiments take the first rows).
    """
    k = len(emulators.parameters)
    drawn, log_weights = [], []
    weights, ess = None, 0.0
    for _ in range(max(max_batches, 1)):
        points = rng.random((candidates, k))
        mean, var_em = emulators.predict(points)
        scores = implausibility(mean, var_em, observed, var_obs, var_stoch)
        total_variance = np.asarray(var_obs) + var_em + np.asarray(var_stoch)
        log_likelihood = -0.5 * np.sum(scores**2 + np.log(2 * np.pi * total_variance), axis=1)
        drawn.append(points)
        log_weights.append(np.where(plausible(scores, cutoff), log_likelihood, -np.inf))
        all_log = np.concatenate(log_weights)
        if np.isfinite(all_log).any():
            weights = np.exp(all_log - np.max(all_log))
            weights /= weights.sum()
            ess = 1.0 / np.sum(weights**2)
            if ess >= size / 10:
                break
    if weights is None:
        raise NoPlausibleRegion(_why_none(scores, emulators.targets, cutoff))
    rows = systematic_resample(weights, size, rng)[rng.permutation(size)]
    return PosteriorSample(np.concatenate(drawn)[rows], float(ess), len(weights), int(np.isfinite(all_log).sum()))


def identifiability(
    u_post: np.ndarray, parameters: Sequence[str], length_scales: pd.DataFrame | None = None, threshold: float = 0.2
) -> pd.DataFrame:
    """Which parameters the targets pin down (Carrella 2021: some will not be).

    Contraction = 1 - var_post(u) / var_prior(u) in the unit cube (prior variance 1/12): 0 when the targets leave the
    prior as it was, 1 when they fix the value. Below ``threshold`` the parameter is "not identified by the targets".
    The median over targets of the emulators' length-scale supports the verdict: a long one means no target responds
    to the parameter, a short one with low contraction means targets respond but trade it off against others. The
    posterior's 5 / 50 / 95 % quantiles are in unit-cube coordinates; the caller maps them through each prior's quantile
    function (monotone, so quantiles map to quantiles).
    """
    u_post = _unit_points(u_post, len(parameters), "u_post")
    contraction = 1.0 - np.var(u_post, axis=0) / PRIOR_UNIT_VARIANCE
    low, median, high = np.quantile(u_post, [0.05, 0.5, 0.95], axis=0)
    if length_scales is not None and not length_scales.empty:
        scales = [float(length_scales[name].median()) if name in length_scales else np.nan for name in parameters]
    else:
        scales = [np.nan] * len(parameters)
    return pd.DataFrame(
        {
            "parameter": list(parameters),
            "u_median": median,
            "u_low": low,
            "u_high": high,
            "contraction": contraction,
            "identified": contraction >= threshold,
            "median_length_scale": scales,
        }
    )


def _unit_points(u: np.ndarray, k: int | None, name: str) -> np.ndarray:
    """Points as a float (m, k) array inside the unit cube; a wrong shape or a point outside is a caller's bug."""
    u = np.asarray(u, dtype=float)
    if u.ndim != 2 or (k is not None and u.shape[1] != k):
        raise ValueError(f"{name} must be (points, {k if k is not None else 'parameters'}), got shape {u.shape}")
    if not np.all((u >= 0.0) & (u <= 1.0)):
        raise ValueError(f"{name} must lie in the unit cube [0, 1]^k (map values there with each prior's quantile function)")
    return u
