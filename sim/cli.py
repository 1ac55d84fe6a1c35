"""The ``pairsim`` command: run and validate scenarios.

Bad input ends with one line per problem (``file: field: what is expected``)
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import NoReturn

from sim import package_version
from sim.errors import InputError
from sim.outputs import check_writable, prepare_experiment_folder, prepare_report_file, prepare_run_folder

# The simulation, pandas, plotly and Mesa are imported inside the commands that use them: `--help` and
# a bad --out answer at once, before seconds of imports.

EXIT_BAD_INPUT = 2
DEFAULT_RESULTS = Path("results")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


class _PrintVersion(argparse.Action):
    """``--version``: looks the version up only when asked (reading package metadata costs every other command ~50 ms)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog} {package_version('pairsim')}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairsim",
        description="Simulate urban-rural pairing programmes (城乡结对共建) in a county.",
    )
    parser.add_argument("--version", action=_PrintVersion, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run one scenario and write its tables",
        description="Run a scenario to its horizon, print a start-versus-end summary and write monthly and yearly tables (Parquet and CSV).",
    )
    run.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file, e.g. scenarios/shouguang_2009.yaml")
    run.add_argument("--seed", type=_seed, default=1, help="random seed (default: 1); same seed, same results")
    run.add_argument("--years", type=_positive_int, help="horizon in years (default: the scenario's horizon_years)")
    run.add_argument("--out", type=Path, help="output folder (default: results/<scenario file name>-seed<N>)")
    run.add_argument(
        "--monthly-inequality",
        action="store_true",
        help="compute the Gini, Theil and median outcomes every month (default: at each yearly reporting point, "
        "carried between them; run.json lists those columns)",
    )
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    run.set_defaults(handler=_run)

    validate = commands.add_parser(
        "validate",
        help="check a scenario file without running it",
        description="Check a scenario YAML, its village CSV and its sizes, and print OK with a one-line summary at once, "
        "before the simulation is loaded; then build the county once, as run does first, to check that every pairing "
        "can be formed (a few seconds), and print OK with the number of joint branches. Every problem found is "
        "one line on stderr, exit code 2.",
    )
    validate.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    validate.add_argument(
        "--seed", type=_seed, default=1, help="seed for building the county once to check its pairings (default: 1)"
    )
    validate.add_argument(
        "--no-build",
        action="store_true",
        help="check the file only and stop after the first OK: pairs that cannot be formed, and unknown names in "
        "explicit pairs, are then found only by run",
    )
    validate.set_defaults(handler=_validate)

    for name, summary in (
        ("compare", "run an experiment's policy arms with common random numbers and compare them"),
        ("sweep", "run an experiment's parameter design and report sensitivity indices"),
    ):
        command = commands.add_parser(
            name, help=summary, description=f"{summary[0].upper()}{summary[1:]}. Finished runs are kept: re-running resumes."
        )
        command.add_argument(
            "experiment", metavar="EXPERIMENT", help="experiment YAML file, e.g. experiments/policy_comparison.yaml"
        )
        command.add_argument(
            "--workers", type=_positive_int, help="worker processes (default: all cores; 1 runs in this process)"
        )
        command.add_argument(
            "--dask", metavar="ADDRESS", help="run on a Dask cluster: a scheduler address, or 'local' for a LocalCluster"
        )
        command.add_argument("--out", type=Path, help="results folder (default: results/<experiment name>)")
        command.add_argument("--replications", type=_positive_int, help="replications per arm (default: the file's)")
        command.add_argument("--quiet", action="store_true", help="print nothing but errors")
        command.set_defaults(handler=_experiment, sweep=name == "sweep")

    calibrate = commands.add_parser(
        "calibrate",
        help="fit a scenario's uncertain parameters to observed targets (history matching) and score held-out patterns",
        description="Run a calibration file's waves of history matching with Gaussian-process emulators, draw the "
        "posterior sample of parameter sets, run the model at posterior draws to score each target and held-out pattern, "
        "say which parameters the targets do not identify (docs/CALIBRATION.md), and write the report (report.html, as "
        "pairsim report does). Every run is saved as it ends: "
        "re-running resumes. The quick-trial options change the method and so need their own --out folder.",
    )
    calibrate.add_argument(
        "calibration", metavar="CALIBRATION", help="calibration YAML file, e.g. calibrations/shouguang_2009.yaml"
    )
    calibrate.add_argument("--workers", type=_positive_int, help="worker processes (default: all cores; 1 runs in this process)")
    calibrate.add_argument(
        "--dask", metavar="ADDRESS", help="run on a Dask cluster: a scheduler address, or 'local' for a LocalCluster"
    )
    calibrate.add_argument("--out", type=Path, help="results folder (default: results/calibrate-<calibration name>)")
    calibrate.add_argument("--quiet", action="store_true", help="print nothing but errors")
    for key, (option, what) in METHOD_OPTIONS.items():
        calibrate.add_argument(option, type=_positive_int, dest=key, help=f"{what} (default: the file's method section)")
    calibrate.set_defaults(handler=_calibrate)

    optimise = commands.add_parser(
        "optimise",
        help="search for the pairing plan that narrows the gap most under a budget, and check it on unseen seeds",
        description="Run an optimisation file: the scenario's own plan under each shipped heuristic, then batches of plans "
        "proposed by optuna's multi-objective TPE, each assigned exactly (a mixed-integer program, HiGHS) under the budget "
        "and capacities and judged by simulation on common seeds; the Pareto front of the fall against the planned cost; "
        "the chosen plans as CSV and as scenario files of explicit pairs; and an out-of-sample check against the "
        "heuristics on seeds (and posterior draws) the search never used (docs/OPTIMISE.md). Every run is saved as it "
        "ends: re-running resumes.",
    )
    optimise.add_argument("optimisation", metavar="FILE", help="optimisation YAML file, e.g. experiments/optimise_shouguang.yaml")
    optimise.add_argument("--workers", type=_positive_int, help="worker processes (default: all cores; 1 runs in this process)")
    optimise.add_argument(
        "--dask", metavar="ADDRESS", help="run on a Dask cluster: a scheduler address, or 'local' for a LocalCluster"
    )
    optimise.add_argument("--out", type=Path, help="results folder (default: results/optimise-<name>)")
    optimise.add_argument("--quiet", action="store_true", help="print nothing but errors")
    optimise.set_defaults(handler=_optimise)

    audit = commands.add_parser(
        "audit",
        help="run the economics audit of a scenario: pairing's effects, flow by flow, with intervals",
        description="Run a scenario's no-pairing baseline, its full pairing, a near-zero variant (effects at the weak "
        "end of their documented ranges, docs/ODD.md 9) and one arm per planned flow switched off, over common random "
        "numbers; write the paired-village income effects, the county Gini and urban/rural ratio effects next to the "
        "no-pairing trend, the knock-out table, the distribution's shape and (--observed-ratio) an out-of-sample check, "
        "as CSV files and audit.md.",
    )
    audit.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file, e.g. scenarios/shouguang_2009.yaml")
    audit.add_argument("--seeds", type=_positive_int, default=20, help="seeds per arm, at least 2 (default: 20)")
    audit.add_argument("--years", type=_positive_int, default=10, help="horizon in years (default: 10)")
    audit.add_argument("--workers", type=_positive_int, help="worker processes (default: all cores; 1 runs in this process)")
    audit.add_argument("--seed", type=_seed, default=1, help="root seed the run seeds are spawned from (default: 1)")
    audit.add_argument(
        "--observed-ratio",
        type=_year_value,
        metavar="YEAR=RATIO",
        help="an observed urban/rural ratio the scenario was not fitted to, e.g. 2008=1.84: predicted with and without pairing",
    )
    audit.add_argument("--out", type=Path, help="folder for the tables (default: results/audit-<scenario file name>)")
    audit.add_argument("--quiet", action="store_true", help="print nothing but errors")
    audit.set_defaults(handler=_audit)

    discover = commands.add_parser(
        "discover",
        help="find the parameter boxes where pairing fails (scenario discovery: PRIM and CART)",
        description="Mark each design point of a sweep (or each posterior draw of a posterior comparison) where a "
        "condition holds, e.g. the Gini fell by less than 0.001 or the paired effect was not significant, and find the "
        "parameter boxes where it holds with EMA Workbench's PRIM and CART. Prints each box's coverage, density, mass and "
        "restricted parameters and writes them into RESULTS_DIR/discovery/ (pairsim report draws them). Needs the "
        "discover extra (pip install '.[discover]').",
    )
    discover.add_argument("results", metavar="RESULTS_DIR", type=Path, help="a folder written by pairsim sweep or compare")
    discover.add_argument(
        "--spec", type=Path, metavar="FILE", help="discovery YAML (default: the experiment's own discovery: section)"
    )
    discover.add_argument("--quiet", action="store_true", help="print nothing but errors")
    discover.set_defaults(handler=_discover)

    summarize = commands.add_parser(
        "summarize",
        help="print the comparisons of a results folder",
        description="Print paired differences from the baseline with 95% intervals, cost-effectiveness and, for sweeps, "
        "sensitivity indices; of a calibration folder, its saved summary (calibration.md).",
    )
    summarize.add_argument("results", metavar="RESULTS_DIR", type=Path, help="a folder written by compare, sweep or calibrate")
    summarize.set_defaults(handler=_summarize)

    report = commands.add_parser(
        "report",
        help="write an HTML report of a results folder",
        description="Write one self-contained HTML report (Plotly figures, works offline) of an experiment folder "
        "(pairsim compare or sweep), of one pairsim run output folder, or of a calibration folder (pairsim calibrate).",
    )
    report.add_argument("results", metavar="RESULTS_DIR", type=Path, help="a folder written by compare, sweep, run or calibrate")
    report.add_argument("-o", "--out", type=Path, help="the HTML file to write (default: RESULTS_DIR/report.html)")
    report.set_defaults(handler=_report)

    app = commands.add_parser(
        "app",
        help="open the interactive app (sliders, pairing network, live Gini)",
        description="Serve the Mesa/Solara app of sim/app.py: policy sliders, the pairing network and live plots of "
        "Gini and the urban/rural ratio. Needs the app extra (pip install '.[app]'). Stop it with Ctrl-C.",
    )
    app.add_argument("--port", type=_port, default=8765, help="port to serve on (default: 8765; 0 picks a free one)")
    app.add_argument("--host", default="localhost", help="address to listen on (default: localhost)")
    app.add_argument("--scenario", metavar="SCENARIO", help="scenario YAML to show (default: scenarios/small.yaml)")
    app.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    app.set_defaults(handler=_app)
    return parser


QUICK_EXIT_COMMANDS = frozenset({"run", "validate"})
"""Commands that leave nothing running (no workers, servers or threads to stop), so the program may end at once."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` and return its exit code; called with no ``argv``, as the ``pairsim`` program, it
    ends the process once ``run`` or ``validate`` has finished (see :func:`_end_process_now`)."""
    args = build_parser().parse_args(argv)
    code = _handle(args)
    if argv is None and args.command in QUICK_EXIT_COMMANDS and not _observed():
        _end_process_now(code)
    return code


def _observed() -> bool:
    """Is a profiler, tracer or coverage tool watching? They save what they gathered as the interpreter exits."""
    monitoring = sys.monitoring
    tools = (monitoring.PROFILER_ID, monitoring.DEBUGGER_ID, monitoring.COVERAGE_ID)  # cProfile registers as PROFILER
    return (
        any(monitoring.get_tool(tool) is not None for tool in tools)
        or sys.getprofile() is not None
        or sys.gettrace() is not None
        or "coverage" in sys.modules
    )


def _handle(args: argparse.Namespace) -> int:
    try:
        return args.handler(args)
    except InputError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pairsim run ... | head`: the reader left; what was to be written is written
        _silence_stdout()
        return 128 + 13  # as a shell tool killed by SIGPIPE


def _end_process_now(code: int) -> NoReturn:
    """Flush stdout and stderr and exit with ``code`` without tearing the interpreter down.

    Tearing down frees every object of the ~1,400 modules a run imports (Mesa, pandas, SciPy, pydantic), about half
    a second on the development machine, 15 % of a Shouguang run's whole process, for nothing: the tables are written
    and moved into place, and the output printed, before this is called.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left (the tables are written) or a stream closed by its owner
            pass
    os._exit(code)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so Python's flush at exit does not hit the closed pipe again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture it in memory)
        pass


def _run(args: argparse.Namespace) -> int:
    out_dir = args.out or DEFAULT_RESULTS / f"{Path(args.scenario).stem}-seed{args.seed}"
    prepare_run_folder(out_dir)  # before anything slow: a folder pairsim may not write is refused at once
    from sim.model import PairingModel
    from sim.runner import format_policies, format_summary, run_model, write_outputs
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if args.years is not None:
        scenario = scenario.with_horizon(args.years)
    say = _printer(args.quiet)
    # pairing errors surface here, before any output
    model = PairingModel(scenario=scenario, rng=args.seed, monthly_inequality=args.monthly_inequality)
    say(f"{scenario.name}: {describe(scenario)}; seed {args.seed}", file=sys.stderr)
    with _progress(scenario.months, "month", "simulating", args.quiet) as bar:
        result = run_model(model, on_month=lambda: bar.update())
    written = write_outputs(result, out_dir, scenario, str(args.scenario), args.seed)
    if written != out_dir:  # even under --quiet: the tables are not where they were asked for
        print(
            f"{out_dir}: --out: changed during the run and now holds files pairsim did not write; "
            f"it was left alone and the tables were written to {written}",
            file=sys.stderr,
        )
    say(format_summary(result.summary))
    policies = format_policies(result.policies)
    if policies:
        say(f"\nPairing over {scenario.horizon_years} years, by policy:\n{policies}")
    say(
        f"\nTables written to {written}/ (monthly, villages, summary, policies, ledger, links; .parquet and .csv;"
        " pairing_graph.graphml and .json)"
    )
    return 0


def _printer(quiet: bool):
    """``print``, or a function that prints nothing under ``--quiet`` (errors still reach stderr)."""
    return (lambda *args, **kwargs: None) if quiet else print


def _progress(total: int, unit: str, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, disable=quiet, file=sys.stderr, mininterval=0.5)


def _results_folder(args: argparse.Namespace, name: str) -> tuple[Path, Path]:
    """The results folder of a command that runs many runs (``--out``, else results/<name>) and its report's file, both
    checked before any run: a folder or report pairsim may not write is refused now, not after the runs."""
    out_dir = args.out or DEFAULT_RESULTS / name
    if args.out is None:
        prepare_experiment_folder(out_dir)  # --out was checked at once, before the imports
    report_file = out_dir / "report.html"
    prepare_report_file(report_file)
    return out_dir, report_file


def _where(args: argparse.Namespace) -> str:
    """Where the runs go, in words: a Dask cluster or a number of worker processes."""
    return f"Dask ({args.dask})" if args.dask else f"{args.workers or os.cpu_count()} worker(s)"


def _experiment(args: argparse.Namespace) -> int:
    if args.out is not None:
        prepare_experiment_folder(args.out)  # at once, before seconds of imports; the default needs the file's name
    from sim.execute import make_executor, run_experiment
    from sim.experiment import check_posterior_replications, load_experiment, run_specs
    from sim.results import ResultsStore
    from sim.summary import summarize_folder

    experiment = load_experiment(args.experiment)
    if args.replications:
        if experiment.seeds is not None and args.replications != len(experiment.seeds):
            raise InputError.single(
                "--replications",
                "",
                f"{args.experiment} names {len(experiment.seeds)} seeds, one a replication; got {args.replications}",
            )
        experiment = experiment.model_copy(update={"replications": args.replications})
        check_posterior_replications(experiment, str(args.experiment))  # as the file's own value is checked
    if args.sweep and experiment.design is None:
        raise InputError.single(str(args.experiment), "design", "pairsim sweep needs a 'design' section (method and parameters)")
    out_dir, report_file = _results_folder(args, experiment.name)
    say = _printer(args.quiet)
    where = _where(args)
    say(f"{experiment.name}: {len(run_specs(experiment))} runs on {where} -> {out_dir}/", file=sys.stderr)
    with make_executor(args.workers, args.dask) as executor:
        report = run_experiment(experiment, args.experiment, out_dir, executor, progress=not args.quiet)
    if report.interrupted:
        saved = report.already_done + report.finished
        print(f"interrupted: {saved} of {report.total} runs are saved; run the same command to resume", file=sys.stderr)
        return 130
    for run_id, error in list(report.failed.items())[:5]:
        print(f"run {run_id} failed: {error}", file=sys.stderr)
    report_written = None
    if ResultsStore(out_dir).finished():  # the report before printing: a closed stdout must not cost it
        from sim.report import write_report  # plotly: imported only when a report is written (half a second)

        report_written = write_report(out_dir, report_file)
    say(summarize_folder(out_dir))  # says so when no run has finished
    if report_written is not None:
        say(f"Report written to {report_written}", file=sys.stderr)
    if report.failed:
        print(
            f"{len(report.failed)} of {report.total} runs failed (recorded in {out_dir}/manifest.json); "
            "run the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


METHOD_OPTIONS = {
    "waves": ("--waves", "waves of history matching"),
    "points_per_wave": ("--points", "design points a wave"),
    "seeds": ("--seeds", "seeds a design point"),
    "check_draws": ("--check-draws", "posterior draws the posterior check runs"),
}
"""The method settings ``pairsim calibrate`` can change for a quick trial: each one's option and what it sets."""


def _calibrate(args: argparse.Namespace) -> int:
    if args.out is not None:
        prepare_experiment_folder(args.out)  # at once, before seconds of imports; the default needs the file's name
    from sim.calibration import load_calibration, run_calibration
    from sim.execute import make_executor

    calibration = load_calibration(args.calibration)
    changes = {key: getattr(args, key) for key in METHOD_OPTIONS if getattr(args, key) is not None}
    if changes:
        from pydantic import ValidationError

        try:
            calibration = calibration.with_method(**changes)
        except ValidationError as error:
            first = error.errors()[0]
            field = first["loc"][0] if first["loc"] else None
            given = [METHOD_OPTIONS[key][0] for key in changes]
            option = METHOD_OPTIONS[field][0] if field in changes else " ".join(given)  # a rule on settings not given
            raise InputError.single(option, "", first["msg"].removeprefix("Value error, ")) from None
    out_dir, report_file = _results_folder(args, f"calibrate-{calibration.name}")
    say = _printer(args.quiet)
    method = calibration.method
    where = _where(args)
    say(
        f"{calibration.name}: {method.waves} waves x {method.points_per_wave} points x {method.seeds} seed(s) x "
        f"{len(calibration.arms)} arm(s), then {method.check_draws} posterior-check draws, on {where} -> {out_dir}/",
        file=sys.stderr,
    )
    try:
        with make_executor(args.workers, args.dask) as executor:
            report = run_calibration(calibration, args.calibration, out_dir, executor, progress=not args.quiet)
    except KeyboardInterrupt:  # between runs (fitting the emulators): every saved run is kept
        print("interrupted; the runs saved so far are kept: run the same command to resume", file=sys.stderr)
        return 130
    stopped = _stopped_early(report, out_dir)
    if stopped is not None:
        return stopped
    from sim.report import write_calibration_report  # plotly: imported only when a report is written

    report_written = write_calibration_report(out_dir, report_file)  # a stopped calibration's report says why it stopped
    if report.stopped:
        print(f"{report.stopped}. Stopped after wave {report.waves_done}; the waves so far are in {out_dir}/", file=sys.stderr)
        say(f"Report written to {report_written}", file=sys.stderr)
        return 1
    say(report.summary)
    say(f"Results written to {out_dir}/ (calibration.md, posterior.parquet, targets.csv, validation.csv, ...)", file=sys.stderr)
    say(f"Report written to {report_written}", file=sys.stderr)
    return 0


def _optimise(args: argparse.Namespace) -> int:
    if args.out is not None:
        prepare_experiment_folder(args.out)  # at once, before seconds of imports; the default needs the file's name
    from sim.execute import make_executor
    from sim.optimise import load_optimisation, run_optimisation

    optimisation = load_optimisation(args.optimisation)
    out_dir, report_file = _results_folder(args, f"optimise-{optimisation.name}")
    say = _printer(args.quiet)
    search = optimisation.search
    where = _where(args)
    say(
        f"{optimisation.name}: {optimisation.trials} plans x {search.seeds} seeds, then {optimisation.check.plans} plan(s) "
        f"checked on {optimisation.check.seeds} unseen seeds, on {where} -> {out_dir}/",
        file=sys.stderr,
    )
    try:
        with make_executor(args.workers, args.dask) as executor:
            report = run_optimisation(optimisation, args.optimisation, out_dir, executor, progress=not args.quiet)
    except KeyboardInterrupt:  # between batches (the sampler, the plan files): every saved run is kept
        print("interrupted; the runs saved so far are kept: run the same command to resume", file=sys.stderr)
        return 130
    stopped = _stopped_early(report, out_dir)
    if stopped is not None:
        return stopped
    from sim.report import write_optimisation_report  # plotly: imported only when a report is written

    report_written = write_optimisation_report(out_dir, report_file)
    say(report.summary)
    say(f"Results written to {out_dir}/ (optimise.md, trials.parquet, front.csv, out_of_sample.csv, plans/)", file=sys.stderr)
    say(f"Report written to {report_written}", file=sys.stderr)
    return 0


def _stopped_early(report, out_dir: Path) -> int | None:
    """Say why a calibration or optimisation stopped before its end (interrupted: 130; runs failed: 1), else ``None``.
    Its counts are the runs this call set out to have, over every stage it reached."""
    if report.interrupted:
        saved = report.already_done + report.finished
        print(
            f"interrupted: {saved} of the {report.total} runs this call reached are saved; run the same command to resume",
            file=sys.stderr,
        )
        return 130
    if report.failed:
        for run_id, error in list(report.failed.items())[:5]:
            print(f"run {run_id} failed: {error}", file=sys.stderr)
        print(
            f"{len(report.failed)} runs failed (recorded in {out_dir}/manifest.json); run the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return None


def _year_value(text: str) -> tuple[int, float]:
    year, _, value = text.partition("=")
    try:
        parsed = int(year), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be YEAR=RATIO, e.g. 2008=1.84, got {text!r}") from None
    if not parsed[1] > 0:
        raise argparse.ArgumentTypeError(f"the ratio must be positive, got {parsed[1]}")
    return parsed


AUDIT_MARKER = "audit.json"


def _audit(args: argparse.Namespace) -> int:
    """Check the folder and the numbers first (one line each), then run the arms and write the tables."""
    out_dir = args.out or DEFAULT_RESULTS / f"audit-{Path(args.scenario).stem}"
    check_writable(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / AUDIT_MARKER).is_file():
        raise InputError.single(
            str(out_dir), "--out", "is not empty and is not a pairsim audit folder (no audit.json); choose a new folder"
        )
    if args.seeds < 2:
        raise InputError.single("--seeds", "", f"must be at least 2 for an interval, got {args.seeds}")
    import json

    from sim import audit
    from sim.execute import make_executor
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario).with_horizon(args.years)
    if args.observed_ratio is not None:
        year = args.observed_ratio[0]
        if not scenario.start_year < year <= scenario.start_year + args.years:
            raise InputError.single(
                "--observed-ratio",
                "",
                f"year {year} is outside the run ({scenario.start_year + 1}-{scenario.start_year + args.years})",
            )
    odd = audit.ODD_PATH.read_text(encoding="utf-8") if audit.ODD_PATH.is_file() else None
    say = _printer(args.quiet)
    say(f"{scenario.name}: {describe(scenario)}; {args.seeds} seeds from root seed {args.seed}", file=sys.stderr)
    with make_executor(args.workers) as executor:
        runs = audit.run_audit(args.scenario, executor, args.seeds, args.years, args.seed, odd, progress=not args.quiet)
    tables = audit.audit_tables(runs, args.observed_ratio)
    command = f"pairsim audit {args.scenario} --seeds {args.seeds} --years {args.years} --seed {args.seed}"
    if args.observed_ratio is not None:
        command += f" --observed-ratio {args.observed_ratio[0]}={args.observed_ratio[1]}"
    header = [f"`{command}` (pairsim {package_version('pairsim')}); arms: {', '.join(runs.arms)}."]
    if (out_dir / AUDIT_MARKER).is_file():  # an earlier audit's tables go: this one may write fewer
        for name in json.loads((out_dir / AUDIT_MARKER).read_text(encoding="utf-8")).get("files", []):
            (out_dir / Path(name).name).unlink(missing_ok=True)
    written = audit.write_tables(tables, out_dir, header)
    record = {"command": command, "seeds": args.seeds, "years": args.years, "seed": args.seed, "files": [p.name for p in written]}
    (out_dir / AUDIT_MARKER).write_text(json.dumps(record, indent=1), encoding="utf-8")
    say((out_dir / "audit.md").read_text(encoding="utf-8"))
    say(f"Tables written to {out_dir}/ ({', '.join(path.name for path in written)})", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace) -> int:
    out = args.out or args.results / "report.html"
    prepare_report_file(out)
    from sim.report import (
        is_calibration_folder,
        is_optimisation_folder,
        write_calibration_report,
        write_optimisation_report,
        write_report,
    )

    if is_optimisation_folder(args.results):
        write = write_optimisation_report
    elif is_calibration_folder(args.results):
        write = write_calibration_report
    else:
        write = write_report
    print(f"Report written to {write(args.results, out)}")
    return 0


def _discover(args: argparse.Namespace) -> int:
    """Settings and results checked first (one line each), then EMA Workbench imported (seconds) and the boxes found."""
    from sim.discovery import discovery_text, prepare_discovery, require_ema, run_discovery, write_discovery

    require_ema()
    prepared = prepare_discovery(args.results, args.spec)
    result = run_discovery(prepared)
    written = write_discovery(args.results, result)
    say = _printer(args.quiet)
    say(discovery_text(result))
    say(f"Written to {written[0].parent}/ ({', '.join(path.name for path in written)})", file=sys.stderr)
    return 0


def _summarize(args: argparse.Namespace) -> int:
    from sim.summary import summarize_folder

    if not (args.results / "manifest.json").is_file():
        raise InputError.single(
            str(args.results),
            "",
            "not a results folder (no manifest.json); expected a folder written by pairsim compare, sweep, calibrate or optimise",
        )
    from sim.report import is_calibration_folder, is_optimisation_folder

    for is_kind, name, what, command in (
        (is_calibration_folder, "calibration.md", "calibration", "calibrate"),
        (is_optimisation_folder, "optimise.md", "optimisation", "optimise"),
    ):
        if is_kind(args.results):  # its summary needs the finished search or posterior check: saved then
            summary = args.results / name
            if not summary.is_file():
                raise InputError.single(
                    str(summary),
                    "",
                    f"missing; a {what} saves its summary when it finishes: run pairsim {command} again to finish it "
                    "(or to write the summary again), or pairsim report for what the folder holds",
                )
            print(summary.read_text(encoding="utf-8").rstrip("\n"))
            return 0
    print(summarize_folder(args.results))
    return 0


APP_SCENARIO_ENV = "PAIRSIM_APP_SCENARIO"
"""Tells sim/app.py which scenario to show (the same name as ``sim.app.SCENARIO_ENV``; cli does not import the app)."""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number (0-65535), got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (0-65535), got {value}")
    return value


def _app(args: argparse.Namespace) -> int:
    """Run ``solara run sim/app.py`` in a child process with this interpreter, so the app sees this install.

    The child never outlives this process: SIGTERM or Ctrl-C stops its whole process group (sim/app_server.py).
    """
    if importlib.util.find_spec("solara") is None:
        print("pairsim app needs Solara (Mesa's visualization): pip install '.[app]'", file=sys.stderr)
        return EXIT_BAD_INPUT
    env = dict(os.environ)
    if args.scenario:
        from sim.model import PairingModel
        from sim.scenario import load_scenario

        PairingModel(scenario=load_scenario(args.scenario), rng=1)  # a bad file or pairing fails here, not inside the server
        env[APP_SCENARIO_ENV] = str(Path(args.scenario).resolve())
    check_port_free(args.host, args.port)
    command = [
        sys.executable,
        "-m",
        "solara",
        "run",
        str(Path(__file__).with_name("app.py")),
        "--port",
        str(args.port),
        "--host",
        args.host,
    ]
    # --production: no hot reload, which would rebuild every open session's county whenever a file of sim/ changes
    command.append("--production")
    if args.no_browser:
        command.append("--no-open")
    from sim import app_server  # here, like the app: only pairsim app needs it

    return app_server.serve(command, env)


def check_port_free(host: str, port: int) -> None:
    """Fail in one line before starting the server if it could not listen on ``host:port``."""
    import socket  # here: only pairsim app listens

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise InputError.single(
                f"{host}:{port}", "--port", f"cannot listen there ({error.strerror}); choose another port"
            ) from None


def _validate(args: argparse.Namespace) -> int:
    """The file's verdict first (no Mesa imported), then the pairings', which need the built county."""
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    print(f"OK: {scenario.name}: {describe(scenario)}", flush=True)
    if args.no_build:
        return 0
    from sim.model import PairingModel

    model = PairingModel(scenario=scenario, rng=args.seed)  # raises InputError for pairs that cannot be formed
    print(f"OK: pairings: {len(model.pairing.branches)} joint branches formed (county built with seed {args.seed})")
    return 0


def describe(scenario) -> str:
    """One line: size of the county and the run (``scenario``: a validated :class:`sim.scenario.Scenario`)."""
    from sim.scenario import read_village_csv

    region = scenario.region
    towns = len(region.town_names)
    counts = region.generated_counts()
    if counts is not None:
        villages, _households, people = counts
        where = f"{villages:,} villages, {people:,} rural residents"
        if region.counties is not None:
            where = f"{_count(len(region.counties), 'county', 'counties')}, {where}"
    else:
        records = read_village_csv(region.village_file)
        people = sum(record.population for record in records)
        where = f"{len(records):,} villages ({Path(region.village_file).name}), {people:,} rural residents"
    enterprises = scenario.enterprises.count + len(scenario.enterprises.listed)
    departments = sum(group.count for group in scenario.departments)
    return (
        f"{_count(towns, 'town', 'towns')}, {where}, {scenario.urban.population:,} urban residents, "
        f"{enterprises} enterprises, {departments} departments; {scenario.start_year} + {scenario.horizon_years} years"
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


if __name__ == "__main__":
    sys.exit(main())
