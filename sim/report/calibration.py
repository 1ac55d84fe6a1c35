"""The report of a calibration's results folder (``pairsim report results/calibrate-<name>``): one self-contained HTML
page in the experiment report's style (same sections, styles, escaping, plotly.js embedded once), which says whether
the calibrated model reproduces its targets, how history matching narrowed the parameters wave by wave, what the
posterior looks like, which parameters the targets do not pin down, and how the held-out patterns fare.

Split by job like the experiment report: :mod:`~sim.report.calibration_inputs` reads the folder,
:mod:`~sim.report.calibration_figures` draws, and this module assembles the sections and writes the page."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd

from sim.report.calibration_figures import (
    acceptance_figure,
    contraction_figure,
    format_spread,
    format_statistic,
    implausibility_figure,
    marginals_figure,
    pairs_figure,
    statistic_words,
    target_figure,
)
from sim.report.calibration_inputs import CalibrationInput, is_calibration_folder, load_calibration_input
from sim.report.page import Section, overview_section, render_page, write_page
from sim.report.styles import _text

NOT_PINNED = "not pinned down by the targets"


def _number(value: object) -> str:
    """A parameter value or a diagnostic, whose unit the folder does not record: four significant figures."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return "—" if pd.isna(number) else f"{number:.4g}"


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """An HTML table of cells already escaped; the columns in ``numeric`` right-aligned."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="number">{cell}</td>' if i in numeric else f"<td>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f'<table class="data"><tr>{head}</tr>{body}</table>'


# --------------------------------------------------------------------------- targets and validation


def _check_runs(data: CalibrationInput) -> str:
    check = data.table("posterior_check.parquet")
    return f"{len(check)} runs" if check is not None else "runs"


def _pattern_section(data: CalibrationInput, title: str, patterns: dict[str, dict], table_file: str, key: str) -> Section:
    """A figure of the simulated values under the posterior against the observed ones, and the table of ``table_file``
    (targets.csv or validation.csv, whose first column is ``key``)."""
    section = Section(title)
    notes = []
    check = data.table("posterior_check.parquet")
    if check is None:
        notes.append(data.missing("posterior_check.parquet"))
    else:
        what = "target" if key == "target" else "held-out pattern"
        figure = target_figure(check, patterns, f"{title}: simulated under the posterior against observed", what)
        section.figures.append((figure, _pattern_caption(data, key)))
    table = data.table(table_file)
    if table is None:
        notes.append(data.missing(table_file))
    else:
        section.table_html = _pattern_table(table, patterns, key)
    section.note = " ".join(notes)
    return section


def _pattern_caption(data: CalibrationInput, key: str) -> str:
    used = (
        "the targets the calibration fitted"
        if key == "target"
        else "the held-out patterns, which the calibration never used in fitting: an honest test of the calibrated model"
    )
    return (
        f"One row for each of {used}. The black diamond is the observed value with its 95 % interval (±1.96 standard "
        f"deviations of the observation). The box and dots are the model's values in the posterior check: {_check_runs(data)}, "
        "one at each of the first posterior draws, with seeds never used in fitting, so the spread holds both what we do "
        "not know about the parameters and the run-to-run noise. Everything is in observation standard deviations from the "
        "observed value, so patterns in yuan and in percent share one axis; the table gives them in their own units. A box "
        "around the diamond: the calibrated model reproduces the pattern. A box off to one side: it does not, whatever the "
        "parameters within their priors."
    )


def _pattern_table(table: pd.DataFrame, patterns: dict[str, dict], key: str) -> str:
    """The folder's targets.csv or validation.csv in each statistic's unit (as numbers where the manifest lacks it)."""
    header = [
        key,
        "statistic",
        "observed (± sd)",
        "simulated median [5 %, 95 %]",
        "observed within the 90 % range",
        "z",
        "source",
    ]
    rows = []
    for row in table.itertuples(index=False):
        name = str(getattr(row, key))
        statistic = patterns.get(name, {}).get("statistic")
        value = partial(format_statistic, statistic=statistic) if statistic else _number
        spread = partial(format_spread, statistic=statistic) if statistic else _number
        rows.append(
            [
                _text(name),
                _text(statistic_words(statistic)) if statistic else "not in the manifest",
                f"{value(row.observed)} (± {spread(row.sd)})",
                f"{value(row.median)} [{value(row.low)}, {value(row.high)}]",
                "inside" if row.inside else "<b>outside</b>",
                _number(row.z),
                _text(row.source),
            ]
        )
    return _table(header, rows, numeric={2, 3, 5})


def targets_section(data: CalibrationInput) -> Section:
    return _pattern_section(data, "Targets", data.targets, "targets.csv", "target")


def validation_section(data: CalibrationInput) -> Section:
    if not data.held_out:
        return Section("Validation", note="The calibration names no held-out patterns, so nothing was left to validate against.")
    return _pattern_section(data, "Validation", data.held_out, "validation.csv", "pattern")


# --------------------------------------------------------------------------- waves


def waves_section(data: CalibrationInput) -> Section:
    section = Section("Implausibility per wave")
    notes = []
    summary, waves = data.table("wave_summary.csv"), data.table("waves.parquet")
    if summary is None:
        notes.append(data.missing("wave_summary.csv"))
    else:
        caption = (
            "History matching rules out, wave by wave, the parameter values that cannot reproduce the targets. Each wave "
            "runs the model at its design points (drawn from what the previous wave kept); a point is plausible when every "
            "target's simulated mean is within the cutoff of the observed value. After each wave, emulators (Gaussian "
            "processes fitted to every run so far) judge the whole parameter space, and the second bar is the share of it "
            "not ruled out yet (NROY). A shrinking NROY share means the targets are narrowing the parameters."
        )
        section.figures.append((acceptance_figure(summary), caption))
    if waves is None:
        notes.append(data.missing("waves.parquet"))
    else:
        caption = (
            "A design point's implausibility for a target is the distance between its simulated mean and the observed value, "
            "in standard deviations of everything that separates them (the observation's uncertainty and one run's "
            f"run-to-run noise). Each dot is a design point at its largest implausibility over the targets; below the dashed "
            f"cutoff ({data.cutoff:g}, the three-sigma rule) it is plausible. Later waves are drawn from the space earlier "
            "waves kept, so their points should sit lower."
        )
        section.figures.append((implausibility_figure(waves, data.cutoff), caption))
    emulators = data.table("emulator_diagnostics.csv")
    if emulators is None:
        notes.append(data.missing("emulator_diagnostics.csv"))
    else:
        section.table_html = _emulator_table(emulators)
    section.note = " ".join(notes)
    return section


def _emulator_table(emulators: pd.DataFrame) -> str:
    """Each target's emulator: how well it predicts runs it was not fitted to, and its length-scale per parameter."""
    scores = [column for column in emulators.columns if column != "target" and not column.startswith("ls:")]
    scales = [column for column in emulators.columns if column.startswith("ls:")]
    header = ["target", *[_text(column) for column in scores], *[f"length-scale of {_text(column[3:])}" for column in scales]]
    rows = [[_text(row["target"]), *[_number(row[column]) for column in [*scores, *scales]]] for _, row in emulators.iterrows()]
    explanation = (
        '<p class="caption">The emulators behind the implausibility: R² near 1 means an emulator predicts runs it was not '
        "fitted to; a length-scale is how far (in the unit cube, where each prior spans 0 to 1) a parameter must move to "
        "change the target much, so a large one means the parameter hardly moves that target.</p>"
    )
    return explanation + _table(header, rows, numeric=set(range(1, len(header))))


# --------------------------------------------------------------------------- parameters


def _table_or_note(data: CalibrationInput, name: str, section: Section) -> pd.DataFrame | None:
    """The folder's table ``name``, or None with the section's note saying it is missing (a calibration stopped early)."""
    table = data.table(name)
    if table is None:
        section.note = data.missing(name)
    return table


def parameters_section(data: CalibrationInput) -> Section:
    section = Section("Parameters")
    if (posterior := _table_or_note(data, "posterior.parquet", section)) is None:
        return section
    caption = (
        f"Grey: each parameter's prior, the range the calibration file allows ({len(posterior):,} posterior draws against "
        "20,000 prior draws through the same quantile function the calibration samples with). Blue: its posterior, the "
        "values that reproduce the targets. A blue histogram as wide as the grey one means the targets say little about "
        "that parameter."
    )
    section.figures.append((marginals_figure(data.priors, posterior), caption))
    if len(data.parameters) >= 2:
        caption = (
            "Each dot is one posterior draw, for every pair of parameters. A diagonal ridge means the targets fix a "
            "combination of the two rather than each: raising one and lowering the other reproduces them as well. Drag to "
            "select draws in one panel and see them in the others."
        )
        section.figures.append((pairs_figure(posterior, data.parameters), caption))
    return section


def identifiability_section(data: CalibrationInput) -> Section:
    section = Section("Identifiability")
    if (table := _table_or_note(data, "identifiability.csv", section)) is None:
        return section
    caption = (
        "Posterior contraction: how much the targets narrowed each parameter, from 0 (the posterior is as wide as the prior) "
        f"to 1 (pinned to one value). Below {data.identified_contraction:g} (grey bars) the parameter is {NOT_PINNED}: its "
        "value in the posterior mostly restates the prior, and policy results that depend on it carry that prior's width."
    )
    section.figures.append((contraction_figure(table, data.identified_contraction), caption))
    rows = []
    for row in table.to_dict("records"):
        prior = data.priors.get(str(row["parameter"]))
        low = row.get("prior_low", prior.low if prior else None)
        high = row.get("prior_high", prior.high if prior else None)
        rows.append(
            [
                _text(row["parameter"]),
                f"[{_number(low)}, {_number(high)}]",
                f"{_number(row['posterior_median'])} [{_number(row['posterior_low'])}, {_number(row['posterior_high'])}]",
                _number(row["contraction"]),
                "identified" if row["identified"] else f"<b>{NOT_PINNED}</b>",
                _number(row.get("median_length_scale")),
            ]
        )
    header = ["parameter", "prior range", "posterior median [5 %, 95 %]", "contraction", "verdict", "median length-scale"]
    section.table_html = _table(header, rows, numeric={1, 2, 3, 5})
    unidentified = [str(name) for name, identified in zip(table["parameter"], table["identified"], strict=True) if not identified]
    if unidentified:
        section.note = f"{', '.join(unidentified)}: {NOT_PINNED}. A calibration cannot tell their values apart; their priors carry into every comparison."
    return section


CALIBRATION_SECTIONS: list[Callable[[CalibrationInput], Section]] = [
    overview_section,  # reads only ``.overview``, which a CalibrationInput has
    targets_section,
    waves_section,
    parameters_section,
    identifiability_section,
    validation_section,
]


# --------------------------------------------------------------------------- HTML


RANGES_SAID = (
    "Ranges are central 90 % ranges (5th to 95th percentile) of posterior draws or of the posterior check's runs; "
    "observed values carry 95 % intervals."
)
"""How to read the calibration report's ranges (the experiment report's intervals are t intervals instead)."""


def render_calibration_html(data: CalibrationInput, sections: list[Section]) -> str:
    """The calibration report as one HTML document, on the experiment report's page."""
    return render_page(data.title, data.folder, RANGES_SAID, sections)


def build_calibration_report(folder: str | Path) -> str:
    """The report of the calibration folder ``folder`` as an HTML string."""
    data = load_calibration_input(folder)
    return render_calibration_html(data, [build(data) for build in CALIBRATION_SECTIONS])


def write_calibration_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Build the report of a calibration folder and write it atomically (default: ``folder/report.html``)."""
    return write_page(folder, out, build_calibration_report)


__all__ = [
    "CALIBRATION_SECTIONS",
    "CalibrationInput",
    "build_calibration_report",
    "identifiability_section",
    "is_calibration_folder",
    "load_calibration_input",
    "parameters_section",
    "render_calibration_html",
    "targets_section",
    "validation_section",
    "waves_section",
    "write_calibration_report",
]
