"""The optimiser: the pairing plan that narrows the gap most under a budget (docs/OPTIMISE.md).

An optimisation file (:mod:`sim.optimise.spec`) names the levers; the assignment layer (:mod:`sim.optimise.assignment`)
turns one choice of them into explicit pairs, exactly, on a county; the outer search (:mod:`sim.optimise.search`)
proposes choices and learns from their simulated effects; :mod:`sim.optimise.run` runs it all on an executor, and
:mod:`sim.optimise.outputs` writes the front, the plans and the out-of-sample check.
"""

from sim.optimise.spec import Optimisation, load_optimisation


def run_optimisation(*args, **kwargs):
    """:func:`sim.optimise.run.run_optimisation`, imported when called (it loads the model; validating a file does not)."""
    from sim.optimise.run import run_optimisation as run

    return run(*args, **kwargs)


__all__ = ["Optimisation", "load_optimisation", "run_optimisation"]
