"""The report of an optimisation's results folder (``pairsim report results/optimise-<name>``): one self-contained HTML
page in the experiment report's style (same sections, styles, escaping, plotly.js embedded once) that shows the
search's front with the shipped heuristics marked, a map of each checked plan's pairs, and whether the checked plans
beat the heuristics on seeds the search never used.

It reads only the folder (docs/OPTIMISE.md lists its files). A search still running, or killed, has written only some
of them: each missing file becomes a note saying when ``pairsim optimise`` writes it, never an error; a damaged or
foreign file is one line of bad input naming it, as for experiments. The figures are
:mod:`~sim.report.optimise_figures`'."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from sim import package_version
from sim.errors import InputError
from sim.experiment import BASELINE
from sim.formatting import format_interval, format_outcome, outcome_label, unit_of
from sim.report.folder_files import is_kind_folder, read_kind_manifest, read_table
from sim.report.inputs import (
    modified_time,
    read_failures_as_input,
    utc_now_text,
    versions_text,
)
from sim.report.optimise_figures import (
    against_name,
    front_figure,
    out_of_sample_figure,
    plan_map_figure,
    plan_name,
    verdict_kind,
)
from sim.report.page import Section, overview_section, render_page, write_page
from sim.report.styles import _text

KIND = "optimisation"
"""The manifest's ``kind`` that marks an optimisation's folder."""

MANIFEST = "the manifest.json that pairsim optimise writes"
OPTIMISATION_FILES = ("trials.parquet", "front.csv", "out_of_sample.csv", "plans/villages.parquet")
"""Files only an optimisation writes: a folder with one of them and a manifest that cannot be read is a damaged
optimisation, and its error says so."""

AT_THE_END = "once the out-of-sample check has finished"
TABLES: dict[str, tuple[str, list[str], str]] = {
    "trials.parquet": ("the trials table that pairsim optimise writes", ["trial", "cost", "on_front"], AT_THE_END),
    "reference.csv": ("the heuristics' table that pairsim optimise writes", ["arm", "cost"], AT_THE_END),
    "front.csv": ("the Pareto front that pairsim optimise writes", ["trial", "checked"], AT_THE_END),
    "out_of_sample.csv": (
        "the out-of-sample check that pairsim optimise writes",
        ["plan", "against", "outcome", "difference", "low", "high", "n", "share_better", "verdict"],
        AT_THE_END,
    ),
    "plans/villages.parquet": (
        "the villages of the plans' county that pairsim optimise writes",
        ["village", "x_km", "y_km", "weak"],
        "once the search has finished and its plans are chosen",
    ),
}
"""Each table of the folder: what it is (for errors), the columns the report reads, and when it is written."""

PLAN_COLUMNS = ["donor", "village", "type", "village_x_km", "village_y_km", "donor_x_km", "donor_y_km"]
PLAN = "a plan table that pairsim optimise writes (plans/<trial>.csv)"

STAGES = {"reference": "reference runs", "search": "search runs", "check": "out-of-sample runs"}
"""The folder's runs by stage, as their ids begin (a search run's id is ``t<trial>__s<k>``)."""


# --------------------------------------------------------------------------- reading the folder


@dataclass
class OptimisationInput:
    """An optimisation's folder, read once: the manifest, each table (``None`` where the folder lacks it, with the reason
    in ``missing``) and the checked plans' tables by plan name (``t0007``)."""

    folder: Path
    manifest: dict
    title: str
    overview: list[tuple[str, str]]  # (label, plain text), escaped when rendered
    falls: list[str]  # the objectives' outcomes; the first draws the front
    tables: dict[str, pd.DataFrame | None]
    missing: dict[str, str]
    plans: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: str | None = None

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    @property
    def settings(self) -> dict:
        settings = self.manifest.get("settings")
        return settings if isinstance(settings, dict) else {}

    @property
    def checked(self) -> list[str]:
        """The plans checked out of sample: the front's checked rows, else every plan file the folder holds."""
        front = self.table("front.csv")
        if front is None:
            return list(self.plans)
        return [plan_name(trial) for trial in front.loc[front["checked"], "trial"]]

    @property
    def statistic(self) -> str:
        return str(self.settings.get("objectives", {}).get("statistic", "mean"))


def is_optimisation_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds an optimisation (its manifest says so, or a damaged manifest sits beside an
    optimisation's own files): ``pairsim report`` then draws the optimisation report."""
    return is_kind_folder(folder, KIND, OPTIMISATION_FILES)


def load_optimisation_input(folder: str | Path) -> OptimisationInput:
    """Read an optimisation's folder; a damaged manifest or table is bad input (one line naming the file)."""
    folder = Path(folder)
    manifest = _read_manifest(folder / "manifest.json")
    tables: dict[str, pd.DataFrame | None] = {}
    missing: dict[str, str] = {}
    for name, (expected, columns, when) in TABLES.items():
        path = folder / name
        if path.is_file():
            tables[name] = _booleans(read_table(path, expected, columns))
        else:
            tables[name] = None
            missing[name] = f"{name} is not in this folder (pairsim optimise writes it {when}; {_progress(manifest)})"
    trials = tables["trials.parquet"]
    if trials is not None and not any(column.startswith("fall:") for column in trials.columns):
        raise InputError.single(
            str(folder / "trials.parquet"), "", f"has no fall:<outcome> column; expected {TABLES['trials.parquet'][0]}"
        )
    summary_path = folder / "optimise.md"
    data = OptimisationInput(
        folder=folder,
        manifest=manifest,
        title=f"Optimisation {manifest.get('optimisation', folder.name)}",
        overview=[],
        falls=_falls(manifest, trials),
        tables=tables,
        missing=missing,
        plans={path.stem: _booleans(read_table(path, PLAN, PLAN_COLUMNS)) for path in sorted((folder / "plans").glob("t*.csv"))},
    )
    if summary_path.is_file():
        with read_failures_as_input(summary_path, "the summary that pairsim optimise writes", "not readable text"):
            data.summary = summary_path.read_text(encoding="utf-8")
    else:
        missing["optimise.md"] = (
            f"optimise.md is not in this folder (pairsim optimise writes it {AT_THE_END}; {_progress(manifest)})"
        )
    data.overview = _overview(data)
    return data


def _read_manifest(path: Path) -> dict:
    types = {
        "optimisation": str,
        "description": str,
        "optimisation_file": str,
        "scenario": str,
        "scenario_name": str,
        "settings": dict,
        "trials": dict,
        "runs": dict,
        "seconds": dict,
        "versions": dict,
    }
    return read_kind_manifest(path, MANIFEST, KIND, types)


def _booleans(table: pd.DataFrame) -> pd.DataFrame:
    """``on_front``, ``checked`` and ``weak`` as booleans, whether a CSV spelled them True/False or 1/0."""
    for column in ("on_front", "checked", "weak"):
        if column in table.columns and table[column].dtype != bool:
            table[column] = table[column].astype(str).str.strip().str.lower().isin({"true", "1", "1.0", "yes"})
    return table


def _falls(manifest: dict, trials: pd.DataFrame | None) -> list[str]:
    """The objectives' outcomes, as the settings order them; the trials table's own where they disagree."""
    settings = manifest.get("settings", {})
    named = settings.get("objectives", {}).get("falls", []) if isinstance(settings, dict) else []
    if trials is None:
        return [str(name) for name in named]
    present = [column.removeprefix("fall:") for column in trials.columns if column.startswith("fall:")]
    return [name for name in named if name in present] + [name for name in present if name not in named]


def _planned_trials(manifest: dict) -> int | None:
    """How many plans the file asks the search to try (the settings' own rule), or None where they cannot be read."""
    from sim.optimise.spec import Optimisation

    try:
        return Optimisation.model_validate(manifest.get("settings", {})).trials
    except (ValidationError, TypeError, ValueError):
        return None


def _stage(run_id: str) -> str:
    prefix = run_id.split("__", 1)[0]
    return prefix if prefix in ("reference", "check") else "search"


def _progress(manifest: dict) -> str:
    """How far the optimisation got: finished, or the plans proposed so far and the runs saved in each stage."""
    if manifest.get("finished") is True:
        return "the optimisation has finished"
    planned = _planned_trials(manifest)
    proposed = len(manifest.get("trials", {}))
    plans = f"{proposed} of {planned} plans proposed" if planned is not None else f"{proposed} plans proposed"
    counts = {stage: [0, 0] for stage in STAGES}
    for run_id, record in manifest.get("runs", {}).items():
        count = counts[_stage(run_id)]
        count[1] += 1
        count[0] += record.get("status") == "finished"
    runs = ", ".join(f"{STAGES[stage]} {done} of {total} saved" for stage, (done, total) in counts.items() if total)
    return f"not finished: {plans}{'; ' + runs if runs else ''}; run pairsim optimise again to go on"


# --------------------------------------------------------------------------- the overview


def _overview(data: OptimisationInput) -> list[tuple[str, str]]:
    """The overview table, from the folder alone (never the optimisation or scenario files, which may have changed)."""
    manifest, settings = data.manifest, data.settings
    statuses = pd.Series([run.get("status", "pending") for run in manifest.get("runs", {}).values()], dtype=object)
    budget = settings.get("budget", {})
    search, check = settings.get("search", {}), settings.get("check", {})
    rows = [
        ("Optimisation", str(manifest.get("optimisation", data.folder.name))),
        ("Description", manifest.get("description") or "—"),
        ("Scenario", f"{manifest.get('scenario_name', '—')} ({manifest.get('scenario', '—')})"),
        ("Optimisation file", _file(manifest)),
        ("Budget", _budget(budget)),
        ("Policies searched", _policies(settings)),
        ("Objectives", _objectives(data)),
        ("Search", _search(search, manifest)),
        ("Out-of-sample check", _check(check)),
        (
            "Posterior",
            "calibrated posterior draws (the check uses draws the search never saw)" if settings.get("posterior") else "none",
        ),
        ("Progress", _progress(manifest)),
        ("Runs", ", ".join(f"{count} {status}" for status, count in statuses.value_counts().items()) or "none yet"),
        ("Time", _seconds(manifest.get("seconds", {}))),
        ("Seed", str(settings.get("seed", "—"))),
        ("Package versions", versions_text(manifest.get("versions", {}))),
        ("Results written", modified_time(data.folder / "manifest.json")),
        ("Report built", f"{utc_now_text()} with pairsim {package_version('pairsim')}"),
    ]
    return rows


def _file(manifest: dict) -> str:
    digest = manifest.get("optimisation_sha256")
    return f"{manifest.get('optimisation_file', '—')}" + (f" (sha256 {digest[:12]}…)" if isinstance(digest, str) else "")


def yuan(value: float) -> str:
    return f"{value / 1e6:,.2f} M yuan" if abs(value) >= 1e6 else f"{value:,.0f} yuan"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _budget(budget: dict) -> str:
    amount = _number(budget.get("yuan_per_year"))
    if amount is None:
        return "—"
    parts = [f"{yuan(amount)} a year, planned at start-year prices"]
    if budget.get("max_policies_per_village") is not None:
        most = budget["max_policies_per_village"]
        parts.append(f"at most {most} {'policy' if most == 1 else 'policies'} a village")
    if budget.get("donor_funds_limit"):
        parts.append("each donor's planned funds within what it can give")
    return "; ".join(parts)


def _policies(settings: dict) -> str:
    policies = settings.get("levers", {}).get("policies", [])
    names = [
        f"{policy.get('name') or policy.get('type')} ({policy.get('type')})" for policy in policies if isinstance(policy, dict)
    ]
    weights = list(settings.get("levers", {}).get("targeting", {}))
    text = ", ".join(names) or "—"
    return text + (f"; targeting weights {', '.join(weights)}" if weights else "")


STATISTIC_WORDS = {"mean": "mean", "quantile": "low quantile", "regret": "minus the mean regret against the best heuristic"}


def _statistic_words(data: OptimisationInput) -> str:
    """The objective's statistic over seeds in words: "mean", "10% quantile", ..."""
    if data.statistic == "quantile":
        return f"{data.settings.get('objectives', {}).get('quantile', 0.1):.0%} quantile"
    return STATISTIC_WORDS.get(data.statistic, data.statistic)


def _objectives(data: OptimisationInput) -> str:
    falls = ", ".join(outcome_label(name) for name in data.falls) or "—"
    return f"the final-year fall from no pairing of {falls} ({_statistic_words(data)} over seeds), and the planned cost"


def _search(search: dict, manifest: dict) -> str:
    if not search:
        return "—"
    planned = _planned_trials(manifest)
    plans = f"{planned} plans, " if planned is not None else ""
    return (
        f"{search.get('sampler', '—')} sampler; {plans}{search.get('simulations', '—')} simulations, "
        f"{search.get('seeds', '—')} seeds a plan (common random numbers), batches of {search.get('batch', '—')}"
    )


def _check(check: dict) -> str:
    if not check:
        return "—"
    heuristics = ", ".join(f"h-{name}" for name in check.get("heuristics", [])) or "—"
    return f"{check.get('plans', '—')} plans of the front on {check.get('seeds', '—')} unseen seeds, against {heuristics} and no pairing"


def _seconds(seconds: dict) -> str:
    parts = [f"{name} {float(value):,.1f} s" for name, value in seconds.items() if _number(value) is not None]
    total = sum(float(value) for value in seconds.values() if _number(value) is not None)
    return f"{', '.join(parts)}; total {total / 60:,.1f} min" if parts else "—"


# --------------------------------------------------------------------------- the summary


def markdown_html(text: str) -> str:
    """The summary's Markdown as HTML: headings (two levels below the page's), paragraphs, lists, pipe tables,
    ``**bold**`` and ``code``; every piece of text escaped."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{' '.join(_inline(line) for line in paragraph)}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
            items.clear()
        if table:
            out.append(_markdown_table(table))
            table.clear()

    for line in text.splitlines():
        stripped = line.strip()
        heading = re.match(r"(#{1,6})\s+(.*)", stripped)
        item = re.match(r"[-*]\s+(.*)", stripped)
        if stripped.startswith("|"):
            if not table:
                flush()
            table.append(stripped)
        elif not stripped:
            flush()
        elif heading:
            flush()
            level = min(len(heading.group(1)) + 2, 6)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            if paragraph or table:
                flush()
            items.append(item.group(1))
        else:
            if items or table:
                flush()
            paragraph.append(stripped)
    flush()
    return '<div class="summary">' + "\n".join(out) + "</div>"


def _inline(text: str) -> str:
    escaped = _text(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _markdown_table(lines: list[str]) -> str:
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    rows = [row for row in rows if not all(re.fullmatch(r":?-+:?", cell) for cell in row if cell)]
    if not rows:
        return ""
    head = "".join(f"<th>{_inline(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>" for row in rows[1:])
    return f'<table class="data"><tr>{head}</tr>{body}</table>'


def summary_section(data: OptimisationInput) -> Section:
    if data.summary is None:
        return Section("Summary", note=data.missing["optimise.md"])
    return Section("Summary", table_html=markdown_html(data.summary))


# --------------------------------------------------------------------------- the front


def _seeds(data: OptimisationInput) -> str:
    seeds = data.settings.get("search", {}).get("seeds")
    draws = " and posterior draws" if data.settings.get("posterior") else ""
    return f"{seeds} search seeds{draws}" if seeds is not None else f"the search seeds{draws}"


def front_section(data: OptimisationInput) -> Section:
    title = "The front"
    trials = data.table("trials.parquet")
    if trials is None:
        return Section(
            title, note=f"The search has not finished, so there is no front to draw yet: {data.missing['trials.parquet']}."
        )
    fall = f"fall:{data.falls[0]}"
    front = data.table("front.csv")
    checked = [int(trial) for trial in front.loc[front["checked"], "trial"]] if front is not None else []
    budget = _number(data.settings.get("budget", {}).get("yuan_per_year"))
    regret = data.statistic == "regret"
    figure = front_figure(trials, data.table("reference.csv"), fall, checked, budget, zero_is_no_pairing=not regret)
    label = outcome_label(data.falls[0])
    statistic = _statistic_words(data)
    caption = (
        f"Each grey dot is one of the {len(trials)} plans the search tried: its planned donor cost a year (what the "
        "assignment plans, at start-year prices) against the fall of "
        f"{_text(label)} from the no-pairing run in the final year ({_text(statistic)} over the {_seeds(data)}, the same "
        "for every plan: common random numbers). The blue step line is the Pareto front: no plan tried narrows it more "
        "for less money; between two of its points, the cheaper one is the best plan found for that budget. Ringed and "
        "named: the plans checked out of sample below. Marked with their own symbols: the scenario's own plan matched "
        "by each shipped heuristic (h-greedy: need rank; h-typed: Xiuzhou's typed rule; h-random: chance) on the same "
        "seeds. The best of many plans looks better on the seeds it was picked on than it is (the optimiser's curse): the "
        "out-of-sample check judges the checked plans on seeds they were not chosen on."
    )
    if regret:
        caption += " The objective is minus the mean regret against the best heuristic of each seed: 0 means as good as it."
    notes = [data.missing[name] for name in ("reference.csv", "front.csv") if name in data.missing]
    return Section(title, figures=[(figure, caption)], note=" ".join(notes))


# --------------------------------------------------------------------------- the maps


def maps_section(data: OptimisationInput) -> Section:
    title = "The checked plans' pairs"
    section = Section(title)
    if not data.plans:
        section.note = (
            "No plan files yet: pairsim optimise writes plans/<trial>.csv for each checked plan once the search has "
            f"finished ({_progress(data.manifest)})."
        )
        return section
    villages = data.table("plans/villages.parquet")
    trials = data.table("trials.parquet")
    notes = [data.missing["plans/villages.parquet"]] if villages is None else []
    for name in data.checked:
        plan = data.plans.get(name)
        if plan is None:
            notes.append(f"plans/{name}.csv is not in this folder.")
            continue
        cost = float(plan["planned_cost"].sum()) if "planned_cost" in plan.columns else None
        what = f"{len(plan)} links" + (f", planned {yuan(cost)} a year" if cost is not None else "")
        figure = plan_map_figure(plan, villages, f"Plan {name}: who pairs with whom ({what})")
        section.figures.append((figure, _map_caption(data, name, plan, trials)))
    return section


def _map_caption(data: OptimisationInput, name: str, plan: pd.DataFrame, trials: pd.DataFrame | None) -> str:
    unplaced = plan[plan[["donor_x_km", "donor_y_km"]].isna().any(axis=1)]["donor"].nunique()
    text = (
        f"Plan {name} on the county of the first search seed, where its plan file plans/{name}.csv and scenario "
        f"plans/{name}.yaml were formed (pairsim run plans/{name}.yaml reproduces it). Grey dots: every village; ringed dark grey: "
        "weak villages (薄弱村), paired or not. Coloured dots: the villages the plan pairs, coloured by policy type as everywhere in "
        "pairsim; squares: their donors, coloured by kind, each joined to its villages by a line. Hover a village for its "
        "donor, the benefit estimate that chose the link and its planned cost."
    )
    if unplaced:
        text += f" {unplaced} donor(s) have no place on the map (no coordinates in the plan); their villages are drawn, no line."
    return text


# --------------------------------------------------------------------------- out of sample


def out_of_sample_section(data: OptimisationInput) -> Section:
    title = "Out of sample: the checked plans against the heuristics"
    table = data.table("out_of_sample.csv")
    if table is None:
        return Section(title, note=data.missing["out_of_sample.csv"])
    if table.empty:
        return Section(title, note="out_of_sample.csv holds no rows: no plan was checked.")
    outcomes = [name for name in data.falls if (table["outcome"] == name).any()]
    outcomes += [name for name in pd.unique(table["outcome"]) if name not in outcomes]
    seeds = data.settings.get("check", {}).get("seeds")
    draws = " and posterior draws" if data.settings.get("posterior") else ""
    caption = (
        f"Each checked plan run on {seeds if seeds is not None else 'the check'} seeds{draws} the search never used, "
        "beside no pairing and the scenario's own plan under each heuristic, with the same random numbers. Each dot is "
        "the mean paired difference of the final-year fall (the plan's minus the other's; against no pairing, the plan's "
        "own fall), the bar its 95 % t interval over those seeds. Right of the dotted line the plan narrows the gap more. "
        "Green: better (the whole interval above zero); grey: not better, no clear difference; red: worse. Hover for the "
        "share of seeds in which the plan's fall was larger."
    )
    section = Section(title, figures=[(out_of_sample_figure(table, outcomes), caption)], table_html=_check_table(table))
    section.note = _not_better(table, data.falls[0] if data.falls else outcomes[0])
    return section


def _not_better(table: pd.DataFrame, outcome: str) -> str:
    """Said plainly: each checked plan the first objective does not find better than a heuristic out of sample."""
    rows = table[(table["outcome"] == outcome) & (table["against"] != BASELINE)]
    failing = rows[rows["verdict"].map(verdict_kind) != "better"]
    if failing.empty:
        return ""
    parts = [
        f"{plan} against {', '.join(f'{against_name(a)} ({verdict_kind(v)})' for a, v in zip(part['against'], part['verdict'], strict=True))}"
        for plan, part in failing.groupby("plan", sort=False)
    ]
    return (
        f"Not better out of sample in {outcome_label(outcome)}: {'; '.join(parts)}. On seeds the search never used, these "
        "plans do not narrow it clearly more than those heuristics do."
    )


def _check_table(table: pd.DataFrame) -> str:
    header = ["plan", "against", "outcome", "difference in the fall [95 % CI]", "plan's fall larger", "n", "verdict"]
    rows = []
    for _, row in table.iterrows():
        outcome = str(row["outcome"])
        difference = format_outcome(row["difference"], outcome, difference=True)
        interval = format_interval(row["low"], row["high"], unit_of(outcome), difference=True)
        verdict = _text(row["verdict"])
        rows.append(
            [
                _text(row["plan"]),
                _text(against_name(row["against"])),
                _text(outcome_label(outcome)),
                f"{difference} {interval}",
                f"{row['share_better']:.0%}" if pd.notna(row["share_better"]) else "—",
                f"{int(row['n'])}",
                f"<b>{verdict}</b>" if verdict_kind(row["verdict"]) == "better" else verdict,
            ]
        )
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="number">{cell}</td>' if i in (3, 4, 5) else f"<td>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f'<table class="data"><tr>{head}</tr>{body}</table>'


OPTIMISATION_SECTIONS: list[Callable[[OptimisationInput], Section]] = [
    overview_section,  # reads only ``.overview``, which an OptimisationInput has
    summary_section,
    front_section,
    maps_section,
    out_of_sample_section,
]


# --------------------------------------------------------------------------- HTML


INTERVALS_SAID = (
    "The front's values are over the search's seeds; the out-of-sample intervals are paired 95 % t intervals over seeds "
    "the search never used."
)


def build_optimisation_report(folder: str | Path) -> str:
    """The report of the optimisation folder ``folder`` as an HTML string."""
    data = load_optimisation_input(folder)
    return render_page(
        data.title, data.folder, html.escape(INTERVALS_SAID, quote=False), [build(data) for build in OPTIMISATION_SECTIONS]
    )


def write_optimisation_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Build the report of an optimisation folder and write it atomically (default: ``folder/report.html``)."""
    return write_page(folder, out, build_optimisation_report)


__all__ = [
    "OPTIMISATION_SECTIONS",
    "OptimisationInput",
    "build_optimisation_report",
    "front_section",
    "is_optimisation_folder",
    "load_optimisation_input",
    "maps_section",
    "markdown_html",
    "out_of_sample_section",
    "summary_section",
    "write_optimisation_report",
]
