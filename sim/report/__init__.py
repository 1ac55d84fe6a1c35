"""One self-contained HTML report of a results folder (what ``pairsim report`` writes).

Reads either an experiment's folder (``runs/*.parquet`` + ``manifest.json``, from
``pairsim compare``/``sweep``) or one ``pairsim run`` output folder, and draws
the figures a policy researcher sends to colleagues: outcomes over time with
95 % bands, effects against the baseline, Lorenz curves, the Theil split, weak
and hollow villages, who funds whom, cost-effectiveness, the pairing network
and sensitivity indices; or a calibration's folder (``pairsim calibrate``), whose report is
:mod:`~sim.report.calibration`'s; or an optimisation's folder (``pairsim optimise``), whose report is
:mod:`~sim.report.optimise`'s. plotly.js is embedded once, so the file works offline.
Every piece of text that comes from a scenario or experiment file is escaped.

Several scenarios are never pooled: each (scenario, arm) gets its own trace, named
"scenario · arm", coloured by arm and dashed (or marked) by scenario. A sweep's
design points are pooled on purpose (only the sensitivity indices need them apart),
and the captions say so.

Split by job: :mod:`~sim.report.inputs` reads a folder, :mod:`~sim.report.styles` says how traces look,
:mod:`~sim.report.figures` draws, :mod:`~sim.report.page` assembles the sections and writes the HTML.
The names below are the public ones (the notebooks draw the report's figures with them).
"""

from sim.report.calibration import (
    CalibrationInput,
    build_calibration_report,
    is_calibration_folder,
    load_calibration_input,
    write_calibration_report,
)
from sim.report.figures import (
    RECIPIENT_CLASSES,
    cost_figure,
    forest_figure,
    lorenz_figure,
    network_figure,
    sankey_figure,
    sensitivity_figure,
    theil_figure,
    time_series_figure,
)
from sim.report.inputs import RUN_ARM, ReportInput, load_report_input
from sim.report.optimise import (
    OptimisationInput,
    build_optimisation_report,
    is_optimisation_folder,
    load_optimisation_input,
    write_optimisation_report,
)
from sim.report.page import (
    SECTIONS,
    TIME_SERIES,
    Section,
    build_report,
    cost_section,
    flows_section,
    forest_section,
    lorenz_section,
    network_section,
    overview_section,
    render_html,
    sensitivity_section,
    theil_section,
    time_series_section,
    villages_section,
    write_report,
)
from sim.report.styles import COLOURS, DASHES, JOINT_BRANCH, SYMBOLS, NodeKind, Styles, node_kinds

__all__ = [
    "COLOURS",
    "DASHES",
    "JOINT_BRANCH",
    "RECIPIENT_CLASSES",
    "RUN_ARM",
    "SECTIONS",
    "SYMBOLS",
    "TIME_SERIES",
    "CalibrationInput",
    "NodeKind",
    "OptimisationInput",
    "ReportInput",
    "Section",
    "Styles",
    "build_calibration_report",
    "build_optimisation_report",
    "build_report",
    "cost_figure",
    "cost_section",
    "flows_section",
    "forest_figure",
    "forest_section",
    "is_calibration_folder",
    "is_optimisation_folder",
    "load_calibration_input",
    "load_optimisation_input",
    "load_report_input",
    "lorenz_figure",
    "lorenz_section",
    "network_figure",
    "network_section",
    "node_kinds",
    "overview_section",
    "render_html",
    "sankey_figure",
    "sensitivity_figure",
    "sensitivity_section",
    "theil_figure",
    "theil_section",
    "time_series_figure",
    "time_series_section",
    "villages_section",
    "write_calibration_report",
    "write_optimisation_report",
    "write_report",
]
