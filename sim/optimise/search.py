"""The outer search: optuna proposes lever values, the simulations judge them, the Pareto front keeps the best.

A trial's levers are flat named numbers (``pairs:<label>``, ``flow:<label>:<flow>``, ``typed:<label>``,
``weight:<name>``): optuna's parameter names, the runs' ``param:`` columns and the trials table's columns alike.
The sampler is seeded and asked for whole batches in a fixed order, so the same file proposes the same plans
whatever executor runs them, and a resumed search proposes again exactly what it proposed before the kill.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.experiment import BASELINE
from sim.optimise.assignment import Choice, PolicyChoice
from sim.optimise.spec import Optimisation

if TYPE_CHECKING:
    import optuna

COST = "cost"
"""The objective every search minimises: the plan's planned donor cost, yuan a year."""


def fall_column(outcome: str) -> str:
    """The trials table's column of one outcome's fall (the statistic over seeds and draws)."""
    return f"fall:{outcome}"


def lever_names(optimisation: Optimisation) -> list[str]:
    """Every lever's flat name, fixed ones included, in the file's order."""
    names = []
    for policy in optimisation.levers.policies:
        names.append(f"pairs:{policy.label}")
        names += [f"flow:{policy.label}:{flow}" for flow in policy.flows]
        if policy.typed != "never":
            names.append(f"typed:{policy.label}")
    return names + [f"weight:{name}" for name in optimisation.levers.targeting]


def suggest(trial: optuna.Trial, optimisation: Optimisation) -> dict[str, float]:
    """One trial's lever values: the ranges are suggested to optuna, fixed levers are recorded as they are."""
    values: dict[str, float] = {}

    def number(name: str, lever, integer: bool = False) -> None:
        span = lever
        if span.fixed:
            values[name] = span.low
        elif integer:
            values[name] = float(trial.suggest_int(name, int(span.low), int(span.high)))
        else:
            values[name] = trial.suggest_float(name, span.low, span.high)

    for policy in optimisation.levers.policies:
        number(f"pairs:{policy.label}", policy.pairs, integer=True)
        for flow, lever in policy.flows.items():
            number(f"flow:{policy.label}:{flow}", lever)
        if policy.typed == "search":
            values[f"typed:{policy.label}"] = float(trial.suggest_categorical(f"typed:{policy.label}", [0, 1]))
        elif policy.typed == "always":
            values[f"typed:{policy.label}"] = 1.0
    for name, lever in optimisation.levers.targeting.items():
        number(f"weight:{name}", lever)
    return values


def choice_from(optimisation: Optimisation, values: dict[str, float]) -> Choice:
    """The assignment layer's view of one trial's lever values."""
    policies = tuple(
        PolicyChoice(
            lever=policy,
            pairs=int(values[f"pairs:{policy.label}"]),
            flows={flow: float(values[f"flow:{policy.label}:{flow}"]) for flow in policy.flows},
            typed=bool(values.get(f"typed:{policy.label}", 0.0)),
        )
        for policy in optimisation.levers.policies
    )
    return Choice(policies=policies, weights={name: float(values[f"weight:{name}"]) for name in optimisation.levers.targeting})


def new_study(optimisation: Optimisation) -> optuna.Study:
    """A fresh in-memory study: maximise each fall, minimise the cost. Seeded, so replaying the saved runs' objectives
    through it in the same order proposes the same plans again (that is how a killed search resumes)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if optimisation.search.sampler == "random":
            sampler = optuna.samplers.RandomSampler(seed=optimisation.seed)
        else:
            startup = max(optimisation.search.batch, min(10, optimisation.trials // 3))
            sampler = optuna.samplers.TPESampler(
                seed=optimisation.seed, multivariate=True, constant_liar=True, n_startup_trials=startup
            )
    directions = ["maximize"] * len(optimisation.objectives.falls) + ["minimize"]
    return optuna.create_study(directions=directions, sampler=sampler)


def falls(outcomes: pd.DataFrame, baseline: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Each outcome's final-year fall from the no-pairing run of the same seed, positive = better.

    ``outcomes`` and ``baseline`` hold one row per run, indexed by its seed's number ``k`` among the stage's seeds (with
    a posterior, its seed and draw), with a column per outcome. For an outcome
    where higher is better (rural income), the fall is the rise, so every objective is maximised.
    """
    from sim.analysis import better_direction

    sign = pd.Series({name: -float(better_direction(name)) for name in names})
    return (baseline[names] - outcomes.loc[baseline.index, names]) * sign


def summarise(fall: pd.DataFrame, best_heuristic: pd.DataFrame, optimisation: Optimisation) -> pd.Series:
    """The objective value of each outcome over seeds: the mean fall, a low quantile of it, or minus the mean regret
    against the best heuristic of the same seed and draw (``best_heuristic``: that heuristic's fall, indexed like ``fall``)."""
    objectives = optimisation.objectives
    if objectives.statistic == "mean":
        return fall.mean()
    if objectives.statistic == "quantile":
        return fall.quantile(objectives.quantile)
    regret = (best_heuristic.loc[fall.index, fall.columns] - fall).clip(lower=0.0)
    return -regret.mean()


def best_heuristic(reference: dict[str, pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """Seed by seed (index ``k``), the largest fall any heuristic reached (the yardstick of regret)."""
    baseline = reference[BASELINE]
    heuristic = [falls(final, baseline, names) for arm, final in reference.items() if arm != BASELINE]
    return pd.concat(heuristic).groupby(level=0).max()


def pareto_front(effect: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Which points no other point beats on both a larger effect and a lower cost (ties kept once: the first)."""
    effect, cost = np.asarray(effect, float), np.asarray(cost, float)
    order = np.lexsort((-effect, cost))  # cheapest first, the larger effect first among equal costs
    on_front = np.zeros(effect.size, dtype=bool)
    best = -np.inf
    for i in order:
        if effect[i] > best:
            on_front[i] = True
            best = effect[i]
    return on_front


__all__ = [
    "COST",
    "best_heuristic",
    "choice_from",
    "fall_column",
    "falls",
    "lever_names",
    "new_study",
    "pareto_front",
    "suggest",
    "summarise",
]
