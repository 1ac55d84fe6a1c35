"""pairsim discover: the condition per design point or posterior draw, PRIM and CART finding a planted box, the files it
writes, the report's section, and one-line errors for bad discovery settings.

The results folders here are written by hand as :class:`sim.results.ResultsStore` writes them (one Parquet file per run
and a manifest), so the planted box and the expected condition are known exactly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from sim.cli import main
from sim.discovery import FOLDER, Prepared, choose_box, discovery_text, prepare_discovery, run_discovery, write_discovery
from sim.discovery_spec import Discovery
from sim.results import ResultsStore

PLANTED = {"a": (0.6, 1.0), "b": (0.0, 0.4)}
"""The box where pairing fails in the synthetic sweep: a >= 0.6 and b <= 0.4 (c does not matter)."""
DESIGN = {"method": "lhs", "samples": 300, "levels": 4, "parameters": {name: {"low": 0.0, "high": 1.0} for name in "abc"}}


@pytest.fixture(scope="module")
def ema():
    """EMA Workbench, imported once for the module (its first import takes seconds)."""
    pytest.importorskip("ema_workbench")
    from sim.discovery import _ema

    return _ema()


def write_folder(
    folder: Path,
    parameters: pd.DataFrame,
    improvements: np.ndarray,
    discovery: dict | None = None,
    design: dict | None = DESIGN,
    arms: tuple[str, ...] = ("baseline", "all_policies"),
    draws: bool = False,
) -> Path:
    """A results folder as pairsim sweep writes it: ``improvements[point, replication]`` is how much the pairing arms
    lower the final-year Gini below the baseline's run of the same replication (the rows of ``parameters`` are the
    points, or with ``draws`` the posterior draws of a comparison whose replication r runs draw r mod draws)."""
    store = ResultsStore(folder)
    points, replications = improvements.shape
    rng = np.random.default_rng(0)
    runs = {}
    for point in range(points):
        for replication in range(replications):
            base = 0.40 + 0.01 * rng.standard_normal()  # shared by the arms of a replication: common random numbers
            for arm in arms:
                fall = 0.0 if arm == "baseline" else improvements[point, replication]
                stored_point, stored_replication = (0, point * replications + replication) if draws else (point, replication)
                run_id = f"synthetic__{arm}__p{stored_point:04d}__r{stored_replication:03d}"
                table = pd.DataFrame(
                    {
                        "run_id": run_id,
                        "scenario": "synthetic",
                        "arm": arm,
                        "point": stored_point,
                        "replication": stored_replication,
                        "seed": replication,
                        "year": [2009, 2010],
                        "step": [0, 12],
                    }
                )
                for name, value in parameters.iloc[point].items():
                    table[f"param:{name}"] = float(value)
                if draws:
                    table["draw"] = point
                table["gini"] = [base, base - fall]
                table["rural_income_pc"] = [8000.0, 8000.0 + 1e5 * fall]
                store.save_run(run_id, table)
                runs[run_id] = {"status": "finished", "arm": arm}
    manifest = {
        "experiment": "synthetic",
        "identity": "synthetic",
        "design": design if not draws else None,
        "discovery": discovery,
        "replications": replications,
        "runs": runs,
    }
    store.write_manifest(manifest)
    return folder


def planted(points: int, replications: int = 2, seed: int = 42) -> tuple[pd.DataFrame, np.ndarray]:
    """Points of a, b, c in [0, 1], and how much pairing lowers the Gini at each (by replication): 0.002 everywhere but
    inside :data:`PLANTED`, where it does nothing, plus a little noise."""
    rng = np.random.default_rng(seed)
    parameters = pd.DataFrame(rng.random((points, 3)), columns=list("abc"))
    inside = (parameters["a"] >= PLANTED["a"][0]) & (parameters["b"] <= PLANTED["b"][1])
    return parameters, np.where(inside, 0.0, 0.002)[:, None] + 0.0001 * rng.standard_normal((points, replications))


def planted_sweep(tmp_path: Path, discovery: dict | None = None, points: int = 100) -> Path:
    """A results folder of :func:`planted` points (one replication each: writing many run files takes seconds)."""
    parameters, fall = planted(points, replications=1)
    settings = discovery or {"outcome": "gini", "condition": {"fall_below": 0.001}}
    return write_folder(tmp_path / "sweep", parameters, fall, settings)


def planted_prepared(method: str = "both", points: int = 300) -> Prepared:
    """:func:`planted` points with the condition "the Gini fell by less than 0.001" computed as pairsim discover does
    (the mean over replications), without a results folder of hundreds of run files."""
    parameters, fall = planted(points)
    spec = Discovery(outcome="gini", condition={"fall_below": 0.001}, method=method)
    table = parameters.assign(point=range(points), n=2, improvement=fall.mean(axis=1))
    table["ci_low"], table["ci_high"] = table["improvement"] - 0.001, table["improvement"] + 0.001
    table["holds"] = table["improvement"] < 0.001
    return Prepared(
        folder=Path("synthetic"),
        spec=spec,
        settings_from="test",
        scenario="synthetic",
        arm="all_policies",
        reference="baseline",
        unit="design point",
        parameters=list("abc"),
        ranges={name: (0.0, 1.0) for name in "abc"},
        points=table,
    )


def test_condition_per_point_is_the_paired_mean_and_its_t_interval(tmp_path):
    improvements = np.array([[0.010, 0.011, 0.009], [0.001, -0.001, 0.0005], [0.0004, 0.0006, 0.0005]])
    parameters = pd.DataFrame({"a": [0.1, 0.5, 0.9], "b": [0.2, 0.4, 0.6], "c": [0.0, 0.0, 0.0]})
    folder = write_folder(
        tmp_path / "tiny", parameters, improvements, {"outcome": "gini", "condition": {"not_significant": True}}
    )
    prepared = prepare_discovery(folder)
    points = prepared.points
    assert list(points["point"]) == [0, 1, 2] and list(points["n"]) == [3, 3, 3]
    np.testing.assert_allclose(points["improvement"], improvements.mean(axis=1), atol=1e-12)
    for row, values in zip(points.itertuples(), improvements, strict=True):
        low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
        assert row.ci_low == pytest.approx(low, abs=1e-12) and row.ci_high == pytest.approx(high, abs=1e-12)
    assert list(points["holds"]) == [False, True, False]  # the middle point's interval reaches 0
    assert prepared.parameters == ["a", "b", "c"] and prepared.unit == "design point"
    assert prepared.arm == "all_policies" and prepared.reference == "baseline"

    below = prepare_discovery(folder, write_spec(tmp_path, {"outcome": "gini", "condition": {"fall_below": 0.001}}))
    assert list(below.points["holds"]) == [False, True, True]  # mean falls 0.01, 0.000167, 0.0005
    rising = prepare_discovery(folder, write_spec(tmp_path, {"outcome": "rural_income_pc", "condition": {"fall_below": 100}}))
    np.testing.assert_allclose(rising.points["improvement"], 1e5 * improvements.mean(axis=1))  # higher is better: arm - ref
    assert list(rising.points["holds"]) == [False, True, True]


def test_a_posterior_comparisons_condition_is_computed_per_draw_over_its_seeds(tmp_path):
    improvements = np.array([[0.004, 0.005], [0.0, 0.0002], [0.003, 0.001]])  # 3 draws x 2 seeds
    parameters = pd.DataFrame({"pairing.failure.leakage": [0.1, 0.3, 0.2], "pairing.effects.training_gain": [0.2, 0.05, 0.1]})
    folder = write_folder(
        tmp_path / "posterior", parameters, improvements, {"outcome": "gini", "condition": {"fall_below": 0.001}}, draws=True
    )
    prepared = prepare_discovery(folder)
    assert prepared.unit == "posterior draw"
    assert list(prepared.points["draw"]) == [0, 1, 2] and list(prepared.points["n"]) == [2, 2, 2]
    np.testing.assert_allclose(prepared.points["improvement"], improvements.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(prepared.points["pairing.failure.leakage"], [0.1, 0.3, 0.2])
    assert list(prepared.points["holds"]) == [False, True, False]
    assert prepared.ranges["pairing.failure.leakage"] == (0.1, 0.3)  # no design: the draws' own range


def test_prim_recovers_a_planted_box(ema):
    result = run_discovery(planted_prepared("prim"))
    assert result.threshold_met
    chosen = result.chosen
    assert chosen["coverage"] >= 0.85 and chosen["density"] >= 0.85
    box = result.prim_box.set_index("parameter")
    assert set(box.index[box["restricted"]]) == {"a", "b"}  # c does not matter and is left alone
    assert box.loc["a", "low"] == pytest.approx(0.6, abs=0.05) and box.loc["b", "high"] == pytest.approx(0.4, abs=0.05)
    peeling = result.peeling
    assert peeling["chosen"].sum() == 1 and peeling.loc[0, "mass"] == 1.0  # the trajectory starts from every point
    assert (peeling["coverage"].diff().dropna() <= 1e-12).sum() >= len(peeling) // 2  # peeling trades coverage away


def test_cart_recovers_the_planted_box_as_its_failing_leaves(ema):
    result = run_discovery(planted_prepared("cart"))
    assert result.peeling is None and result.cart_boxes is not None
    leaves = result.cart_boxes.drop_duplicates("leaf")
    assert leaves["coverage"].sum() == pytest.approx(1.0) and leaves["mass"].sum() == pytest.approx(1.0)
    failing = leaves[leaves["density"] > 0.5]
    assert failing["coverage"].sum() >= 0.9 and (failing["density"] >= 0.9).all()
    for leaf in failing["leaf"]:
        limits = result.cart_boxes[result.cart_boxes["leaf"] == leaf].set_index("parameter")
        assert limits.loc["a", "low"] >= 0.55 and limits.loc["b", "high"] <= 0.45  # inside the planted box


def test_choose_box_takes_the_most_coverage_at_the_threshold_density():
    peeling = pd.DataFrame(
        {"box": [0, 1, 2, 3], "coverage": [1.0, 0.9, 0.7, 0.5], "density": [0.3, 0.7, 0.85, 0.95], "restricted": [0, 1, 2, 2]}
    )
    assert choose_box(peeling, 0.8) == (2, True)
    assert choose_box(peeling, 0.99) == (3, False)  # none reaches it: the densest


def test_discover_prints_the_boxes_and_writes_its_files_and_the_report_draws_them(tmp_path, ema, capsys):
    folder = planted_sweep(tmp_path)
    assert main(["discover", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "PRIM" in out and "CART" in out and "coverage" in out and "density" in out and "mass" in out
    assert "a  " in out and "b  " in out  # the restricted parameters, one line each
    written = {path.name for path in (folder / FOLDER).iterdir()}
    assert written == {"points.csv", "peeling.csv", "prim_box.csv", "cart_boxes.csv", "discovery.md", "discovery.json"}
    record = json.loads((folder / FOLDER / "discovery.json").read_text(encoding="utf-8"))
    assert record["settings"]["condition"] == {"fall_below": 0.001, "not_significant": None}
    assert set(record["prim"]["restricted"]) >= {"a", "b"}
    box = pd.read_csv(folder / FOLDER / "prim_box.csv").set_index("parameter")
    assert (box.loc["a", "range_low"], box.loc["a", "range_high"]) == (0.0, 1.0)  # the design's range, from the manifest
    points = pd.read_csv(folder / FOLDER / "points.csv")
    assert len(points) == 100 and points["holds"].sum() == int(((points["a"] >= 0.6) & (points["b"] <= 0.4)).sum())

    # A later call with PRIM only removes the CART table it wrote before, and nothing it did not write.
    (folder / FOLDER / "notes.txt").write_text("mine", encoding="utf-8")
    spec = write_spec(tmp_path, {"outcome": "gini", "condition": {"fall_below": 0.001}, "method": "prim"})
    assert main(["discover", str(folder), "--spec", str(spec), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    left = {path.name for path in (folder / FOLDER).iterdir()}
    assert "cart_boxes.csv" not in left and "notes.txt" in left and "peeling.csv" in left

    from sim.report import build_report

    page = build_report(folder)
    assert "Scenario discovery" in page and "peeling trajectory" in page.lower()
    assert page.count('class="figure"') >= 2


def test_discover_writes_no_box_when_the_condition_holds_nowhere(tmp_path):
    parameters = pd.DataFrame({"a": [0.1, 0.5, 0.9]})
    folder = write_folder(
        tmp_path / "none", parameters, np.full((3, 2), 0.01), {"outcome": "gini", "condition": {"fall_below": 0.001}}
    )
    result = run_discovery(prepare_discovery(folder))  # EMA is not needed: nothing to look for
    assert result.peeling is None and result.cart_boxes is None and "no design point" in result.notes[0]
    written = {path.name for path in write_discovery(folder, result)}
    assert written == {"points.csv", "discovery.md", "discovery.json"}


def write_spec(tmp_path: Path, data: dict | str, name: str = "discovery.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(["discover", *argv])
    return code, capsys.readouterr().err.strip()


BAD_SPECS = [
    ({"outcome": "ginni", "condition": {"fall_below": 0.001}}, "outcome: unknown outcome 'ginni'; did you mean 'gini'?"),
    (
        {"outcome": "urban_income_pc", "condition": {"fall_below": 0.001}},
        "outcome: 'urban_income_pc' has no agreed better direction",
    ),
    ({"outcome": "gini", "condition": {}}, "give exactly one of 'fall_below' and 'not_significant'"),
    ({"outcome": "gini", "condition": {"fall_below": 0.001, "not_significant": True}}, "got fall_below, not_significant"),
    ({"outcome": "gini", "condition": {"not_significant": False}}, "condition.not_significant"),
    ({"outcome": "gini", "condition": {"fall_below": 0.001}, "method": "svm"}, "method"),
    ({"outcome": "gini", "condition": {"fall_below": 0.001}, "threshold": 1.5}, "threshold"),
    ({"outcome": "gini", "condition": {"fall_below": 0.001}, "peel_alpha": 0}, "peel_alpha"),
    (
        {"outcome": "gini", "condition": {"fall_below": 0.001}, "treshold": 0.5},
        "treshold: unknown key; did you mean 'threshold'?",
    ),
    (
        {"outcome": "gini", "condition": {"fall_below": 0.001}, "arm": "all_polices"},
        "arm: no arm 'all_polices'; did you mean 'all_policies'?",
    ),
    ({"outcome": "gini", "condition": {"fall_below": 0.001}, "reference": "base"}, "the arms: baseline, all_policies"),
    (
        {"outcome": "poverty_headcount", "condition": {"fall_below": 0.001}},
        "outcome: 'poverty_headcount' is not among the kept outcomes",
    ),
    ({"outcome": "gini", "condition": {"fall_below": 0.001}, "scenario": "other"}, "scenario: no scenario 'other'"),
    ("outcome: gini\ncondition: {fall_below: 0.001\n", "invalid YAML"),
    ("- gini\n", "top level must be a mapping"),
]


@pytest.mark.parametrize(("spec", "message"), BAD_SPECS)
def test_bad_discovery_files_get_one_line_and_exit_2(tmp_path, capsys, spec, message):
    parameters = pd.DataFrame({"a": [0.1, 0.5, 0.9]})
    folder = write_folder(tmp_path / "results", parameters, np.full((3, 2), 0.01))
    path = write_spec(tmp_path, spec)
    code, err = run_cli(capsys, str(folder), "--spec", str(path))
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(str(path)) and message in err, err


def test_bad_folders_and_settings_from_the_manifest_get_one_line_and_exit_2(tmp_path, capsys):
    parameters = pd.DataFrame({"a": [0.1, 0.5, 0.9]})
    spec = write_spec(tmp_path, {"outcome": "gini", "condition": {"fall_below": 0.001}})
    cases = []

    no_section = write_folder(tmp_path / "no_section", parameters, np.full((3, 2), 0.01))
    cases.append(([str(no_section)], "discovery: the experiment has no discovery section; give the settings with --spec FILE"))

    compare = write_folder(tmp_path / "compare", pd.DataFrame(index=[0]), np.full((1, 2), 0.01), design=None)
    for path in (compare / "runs").glob("*.parquet"):  # a comparison's runs carry no parameters
        table = pd.read_parquet(path)
        table.drop(columns=[c for c in table if c.startswith("param:")]).to_parquet(path)
    cases.append(([str(compare), "--spec", str(spec)], "discovery needs a sweep's design parameters or a posterior comparison's"))

    single = write_folder(
        tmp_path / "single", parameters, np.full((3, 1), 0.01), {"outcome": "gini", "condition": {"not_significant": True}}
    )
    cases.append(([str(single)], "condition.not_significant: needs at least 2 replications per design point"))

    three = write_folder(tmp_path / "three", parameters, np.full((3, 2), 0.01), arms=("baseline", "x", "y"))
    cases.append(([str(three), "--spec", str(spec)], "arm: the results hold 2 arms besides the reference (x, y); name the arm"))

    bad_manifest = write_folder(tmp_path / "bad", parameters, np.full((3, 2), 0.01), {"outcome": "gini", "condition": {}})
    cases.append(([str(bad_manifest)], "manifest.json (discovery): condition: give exactly one"))

    cases.append(([str(tmp_path / "missing"), "--spec", str(spec)], "no such folder"))
    cases.append(([str(tmp_path), "--spec", str(spec)], "not a results folder (no manifest.json)"))
    cases.append(([str(no_section), "--spec", str(tmp_path / "nope.yaml")], "discovery file not found"))
    for argv, message in cases:
        code, err = run_cli(capsys, *argv)
        assert code == 2 and len(err.splitlines()) == 1 and message in err, (argv, err)


def test_without_ema_workbench_discover_names_the_extra(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ema_workbench" else real(name, *a))
    folder = planted_sweep(tmp_path, points=5)
    code, err = run_cli(capsys, str(folder))
    assert code == 2 and err == "pairsim discover: needs EMA Workbench 3 (the discover extra): pip install '.[discover]'"


def test_an_experiments_discovery_section_is_checked_kept_in_the_manifest_and_not_in_its_identity(tmp_path):
    from sim.errors import InputError
    from sim.execute import SerialExecutor, identity, run_experiment
    from sim.experiment import load_experiment

    root = Path(__file__).resolve().parent.parent
    base = {
        "name": "tiny_discovery",
        "scenarios": [str(root / "scenarios" / "small.yaml")],
        "replications": 1,
        "horizon_years": 1,
        "arms": {"all_policies": {"policies": "all"}},
        "outcomes": ["gini"],
        "design": {"method": "random", "samples": 1, "parameters": {"pairing.failure.leakage": {"low": 0.0, "high": 0.3}}},
    }
    plain = write_spec(tmp_path, base, "plain.yaml")
    with_section = write_spec(tmp_path, {**base, "discovery": {"outcome": "gini", "condition": {"fall_below": 0.001}}}, "d.yaml")
    assert identity(load_experiment(plain)) == identity(load_experiment(with_section))
    wrong_arm = {**base, "discovery": {"outcome": "gini", "arm": "all", "condition": {"fall_below": 0.001}}}
    with pytest.raises(InputError, match="discovery.arm: no arm 'all'"):
        load_experiment(write_spec(tmp_path, wrong_arm, "wrong.yaml"))
    not_kept = {**base, "discovery": {"outcome": "urban_rural_ratio", "condition": {"fall_below": 0.001}}}
    with pytest.raises(InputError, match="discovery.outcome: 'urban_rural_ratio' is not among the kept outcomes"):
        load_experiment(write_spec(tmp_path, not_kept, "not_kept.yaml"))

    experiment = load_experiment(with_section)
    report = run_experiment(experiment, with_section, tmp_path / "out", SerialExecutor(), progress=False)
    assert report.finished == 2 and not report.failed
    manifest = ResultsStore(tmp_path / "out").read_manifest()
    assert manifest["discovery"]["condition"] == {"fall_below": 0.001, "not_significant": None}
    prepared = prepare_discovery(tmp_path / "out")  # settings read back from the manifest
    assert prepared.parameters == ["pairing.failure.leakage"] and len(prepared.points) == 1


def write_discovery_by_hand(tmp_path: Path) -> Path:
    """An experiment folder with a discovery/ folder as pairsim discover writes it, by hand (no EMA Workbench): PRIM's
    chosen box restricts ``a`` (quasi-p 0.001 at its low end) and ``b`` (quasi-p 1 at its high end: not significant)."""
    folder = write_folder(tmp_path / "results", pd.DataFrame({"a": [0.1, 0.5, 0.9], "b": [0.2, 0.4, 0.6]}), np.full((3, 2), 0.01))
    out = folder / FOLDER
    out.mkdir()
    pd.DataFrame(
        {
            "box": [0, 1],
            "coverage": [1.0, 1.0],
            "density": [0.33, 1.0],
            "mass": [1.0, 0.33],
            "restricted": [0, 2],
            "points": [3, 1],
            "holding": [1, 1],
            "chosen": [False, True],
        }
    ).to_csv(out / "peeling.csv", index=False)
    pd.DataFrame(
        {
            "parameter": ["a", "b"],
            "low": [0.5, 0.2],
            "high": [0.9, 0.45],
            "restricted": [True, True],
            "range_low": [0.1, 0.2],
            "range_high": [0.9, 0.6],
            "qp_low": [0.001, np.nan],
            "qp_high": [np.nan, 1.0],
        }
    ).to_csv(out / "prim_box.csv", index=False)
    pd.DataFrame(
        {
            "leaf": [0, 1],
            "coverage": [0.0, 1.0],
            "density": [0.0, 1.0],
            "mass": [0.67, 0.33],
            "restricted_count": [1, 1],
            "parameter": ["a", "a"],
            "low": [0.1, 0.5],
            "high": [0.5, 0.9],
            "restricted": [True, True],
            "range_low": [0.1, 0.1],
            "range_high": [0.9, 0.9],
        }
    ).to_csv(out / "cart_boxes.csv", index=False)
    record = {
        "settings": {"outcome": "gini", "condition": {"fall_below": 0.001}, "threshold": 0.8},
        "condition": "the Gini falls by less than 0.001",
        "arm": "all_policies",
        "reference": "baseline",
        "unit": "design point",
        "points": 3,
        "holding": 1,
        "prim": {"box": 1, "threshold_met": True, "coverage": 1.0, "density": 1.0, "mass": 0.33, "restricted": {}},
        "cart_leaves": 2,
        "notes": [],
        "files": ["peeling.csv", "prim_box.csv", "cart_boxes.csv", "discovery.json"],
    }
    (out / "discovery.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


def test_the_report_flags_a_box_limit_whose_quasi_p_is_not_significant(tmp_path):
    from sim.report.discovery import UNSURE, discovery_parts

    figures, _, table = discovery_parts(write_discovery_by_hand(tmp_path))
    assert len(figures) == 2 and UNSURE in figures[1][1] and UNSURE in table
    rows = dict(re.findall(r"<tr><td>(\w)</td>(.*?)</tr>", table))
    assert "not significant (quasi-p 1)" in rows["b"]  # the box keeps it, but it says so
    assert "not significant" not in rows["a"] and "0.001" in rows["a"]
    path = tmp_path / "results" / FOLDER / "prim_box.csv"
    pd.read_csv(path).assign(qp_high=[np.nan, 0.01]).to_csv(path, index=False)
    figures, _, table = discovery_parts(tmp_path / "results")
    assert UNSURE not in figures[1][1] and UNSURE not in table and "high 0.01" in table


def test_the_printed_box_flags_a_limit_whose_quasi_p_is_not_significant(ema):
    result = run_discovery(planted_prepared("prim"))
    box = result.prim_box.set_index("parameter")
    box.loc["a", ["qp_low", "qp_high"]] = [0.3, np.nan]  # as if a's low limit had been a chance cut
    box.loc["b", ["qp_low", "qp_high"]] = [np.nan, 0.0001]
    result.prim_box = box.reset_index()
    text = discovery_text(result)
    line = {line.split()[0]: line for line in text.splitlines() if line.startswith("    ")}
    assert "not significant (quasi-p 0.3)" in line["a"]
    assert "not significant" not in line["b"] and "quasi-p" in line["b"]
    assert "above 0.05" in text  # what the flag means, said once
    assert set(box.index[box["restricted"]]) >= {"a", "b"}  # the box stays as PRIM chose it


def _damage(out: Path, name: str, change) -> None:
    """Apply ``change`` to the discovery file ``name``: a table is read and written back; discovery.json's record too."""
    path = out / name
    if name.endswith(".json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        changed = change(record)
        path.write_text(changed if isinstance(changed, str) else json.dumps(changed), encoding="utf-8")
    else:
        changed = change(pd.read_csv(path))
        if changed is None:
            path.unlink()
        else:
            changed.to_csv(path, index=False)


def _without_prim(key: str):
    def change(record: dict) -> dict:
        del record["prim"][key]
        return record

    return change


DAMAGED_DISCOVERY = [
    ("discovery.json", _without_prim("coverage"), "prim.coverage: missing"),
    ("discovery.json", lambda r: {**r, "prim": {**r["prim"], "density": "high"}}, "prim.density: 'high' is not a number"),
    ("discovery.json", lambda r: {**r, "prim": [1, 2]}, "prim: [1, 2] is neither null nor a JSON object"),
    ("discovery.json", lambda r: {**r, "settings": {"threshold": "x"}}, "settings.threshold: 'x' is not a number"),
    ("discovery.json", lambda r: {**r, "notes": "a note"}, "notes: 'a note' is not an array"),
    ("discovery.json", lambda r: [r], "not a JSON object"),
    ("discovery.json", lambda r: "{not json", "not valid JSON"),
    ("prim_box.csv", lambda t: t.drop(columns="restricted"), "lacks column(s) restricted"),
    ("prim_box.csv", lambda t: t.assign(low=["low", "x"]), "column low holds values that are not numbers"),
    ("prim_box.csv", lambda t: t.assign(restricted=["yes", "maybe"]), "column restricted holds values other than True"),
    ("prim_box.csv", lambda t: t.iloc[:0], "holds no rows"),
    ("prim_box.csv", lambda t: None, "no such file"),
    ("peeling.csv", lambda t: t.drop(columns=["chosen", "coverage"]), "lacks column(s) coverage, chosen"),
    ("peeling.csv", lambda t: None, "no such file"),
    ("cart_boxes.csv", lambda t: t.drop(columns="leaf"), "lacks column(s) leaf"),
    ("cart_boxes.csv", lambda t: None, "no such file"),
]


@pytest.mark.parametrize(("name", "change", "message"), DAMAGED_DISCOVERY)
def test_a_damaged_discovery_file_is_one_line_naming_it(tmp_path, name, change, message):
    from sim.errors import InputError
    from sim.report.discovery import discovery_parts

    folder = write_discovery_by_hand(tmp_path)
    _damage(folder / FOLDER, name, change)
    with pytest.raises(InputError) as raised:
        discovery_parts(folder)
    err = str(raised.value)
    assert len(err.splitlines()) == 1 and err.startswith(str(folder / FOLDER / name)) and message in err, err


def report_cli(capsys, folder: Path) -> tuple[int, str]:
    code = main(["report", str(folder), "--out", str(folder / "report.html")])
    return code, capsys.readouterr().err.strip()


def test_pairsim_report_of_damaged_discovery_files_is_one_line_and_exit_2(tmp_path, capsys):
    from sim.report.discovery import EXPECTED

    folder = write_discovery_by_hand(tmp_path)
    _damage(folder / FOLDER, "prim_box.csv", lambda table: table.drop(columns="restricted"))
    code, err = report_cli(capsys, folder)
    assert code == 2 and err == f"{folder / FOLDER / 'prim_box.csv'}: lacks column(s) restricted; expected {EXPECTED}"

    folder = write_discovery_by_hand(tmp_path / "no_record")
    (folder / FOLDER / "discovery.json").unlink()
    code, err = report_cli(capsys, folder)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(str(folder / FOLDER / "discovery.json")) and "run pairsim discover again" in err, err
    for name in ("peeling.csv", "prim_box.csv", "cart_boxes.csv"):
        (folder / FOLDER / name).unlink()
    code, err = report_cli(capsys, folder)
    assert code == 0, err  # no discovery files at all: the report has no discovery section
