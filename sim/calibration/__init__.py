"""Calibration: fit a scenario's uncertain parameters to observed targets by history matching (issue 13).

``load_calibration`` reads and validates a calibration file (calibrations/*.yaml); ``run_calibration`` runs its waves,
posterior and posterior check on an executor and writes the results folder; the method itself, pure functions on
arrays, is in :mod:`sim.calibration.history_matching`.
"""

from sim.calibration.history_matching import (
    Emulators,
    NoPlausibleRegion,
    fit_emulators,
    identifiability,
    implausibility,
    next_wave_points,
    plausible,
    posterior_sample,
)
from sim.calibration.run import CalibrationReport, run_calibration
from sim.calibration.spec import Calibration, Method, Statistic, Target, load_calibration

__all__ = [
    "Calibration",
    "CalibrationReport",
    "Emulators",
    "Method",
    "NoPlausibleRegion",
    "Statistic",
    "Target",
    "fit_emulators",
    "identifiability",
    "implausibility",
    "load_calibration",
    "next_wave_points",
    "plausible",
    "posterior_sample",
    "run_calibration",
]
