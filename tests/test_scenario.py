"""Tests for sim.scenario: one clear message per class of bad input, and the schema's helpers.

Every bad-input test asserts the rendered :class:`InputError` text names the file, the
dotted field path and what was expected (and, where there is one, what was given).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from sim.errors import InputError, Problem
from sim.scenario import (
    Beta,
    Classification,
    Communities,
    Economy,
    Households,
    LogNormal,
    Region,
    Scenario,
    load_scenario,
    parse_scenario,
    read_village_csv,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_SCENARIOS = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))


# --------------------------------------------------------------------------- helpers


def load_error(path: Path) -> str:
    """The rendered InputError text for loading ``path`` (fails the test if it loads)."""
    with pytest.raises(InputError) as info:
        load_scenario(path)
    text = str(info.value)
    assert "Traceback" not in text
    assert text == text.strip(), f"message has leading/trailing whitespace: {text!r}"
    return text


def assert_problem(text: str, source: Path | str, field: str, *fragments: str, lines: int = 1) -> None:
    """``text`` has ``lines`` lines, each starting with the file; one says ``file: field: ...fragments``."""
    source = str(source)
    got_lines = text.splitlines()
    assert len(got_lines) == lines, f"expected {lines} line(s), got {got_lines}"
    for line in got_lines:
        assert line.startswith(f"{source}: "), f"line does not start with the file name: {line!r}"
    prefix = f"{source}: {field}: " if field else f"{source}: "
    matching = [line for line in got_lines if line.startswith(prefix)]
    assert matching, f"no line starts with {prefix!r}: {got_lines}"
    for fragment in fragments:
        assert any(fragment in line for line in matching), f"{fragment!r} not in {matching}"


def csv_path_of(yaml_path: Path, name: str = "villages.csv") -> Path:
    """The CSV path as the loader reports it (resolved beside the YAML)."""
    return (yaml_path.parent / name).resolve()


# --------------------------------------------------------------------------- InputError itself


def test_input_error_renders_file_field_and_message():
    error = InputError("a.yaml", [Problem("x.y", "must be 1"), Problem("", "file is empty")])
    assert str(error) == "a.yaml: x.y: must be 1\na.yaml: file is empty"
    assert str(InputError.single("b.yaml", "z", "bad")) == "b.yaml: z: bad"
    assert isinstance(error, Exception)


# --------------------------------------------------------------------------- YAML file level


@pytest.mark.parametrize(
    ("replacement", "column", "problem"),
    [
        ("horizon_years: 10: 5", 18, "mapping values are not allowed here"),
        ("\thorizon_years: 10", 1, "cannot start any token"),
    ],
    ids=["mapping-in-value", "tab-indent"],
)
def test_yaml_syntax_error_names_line(tmp_path, write_scenario, small_scenario_path, replacement, column, problem):
    lines = small_scenario_path.read_text(encoding="utf-8").splitlines()
    index = lines.index("horizon_years: 10")
    lines[index] = replacement
    path = write_scenario(tmp_path, "\n".join(lines) + "\n")
    text = load_error(path)
    assert_problem(text, path, f"line {index + 1}, column {column}", "invalid YAML", problem)


def test_yaml_syntax_error_in_flow_mapping(tmp_path, write_scenario):
    path = write_scenario(tmp_path, "name: x\nregion: {towns: 2\nurban: 3\n")
    text = load_error(path)
    assert "invalid YAML" in text
    assert text.startswith(f"{path}: line ")


@pytest.mark.parametrize(
    "content", ["", "\n\n", "# only a comment\n", "---\n"], ids=["empty", "blank-lines", "comment", "document-marker"]
)
def test_empty_file(tmp_path, write_scenario, content):
    path = write_scenario(tmp_path, content)
    text = load_error(path)
    assert_problem(text, path, "", "file is empty", "expected a mapping", "'name'", "'region'", "'urban'")


@pytest.mark.parametrize(("content", "kind"), [("- a\n- b\n", "list"), ("just words\n", "str"), ("42\n", "int")])
def test_top_level_not_a_mapping(tmp_path, write_scenario, content, kind):
    path = write_scenario(tmp_path, content)
    text = load_error(path)
    assert_problem(text, path, "", "top level must be a mapping", f"got a {kind}")


def test_scenario_file_not_found(tmp_path):
    path = tmp_path / "nope.yaml"
    text = load_error(path)
    assert_problem(text, path, "", "scenario file not found")


def test_scenario_file_not_utf8(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: Caf\u00e9\n".encode("latin-1"))
    text = load_error(path)
    assert_problem(text, path, "", "not UTF-8")


# --------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("dotted", "value", "field", "expected"),
    [
        ("region.villages.count", "many", "region.villages.count", "must be a valid integer"),
        ("urban.income_per_capita", "lots", "urban.income_per_capita", "must be a valid number"),
        ("name", 123, "name", "must be a valid string"),
        ("urban", "x", "urban", "must be a mapping like {population: 320000, income_per_capita: 17811}"),
        ("departments", {"type": "economic"}, "departments", "must be a valid list"),
        (
            "departments.0.type",
            "partymass",
            "departments[0].type",
            "must be 'party_mass', 'political_legal', 'economic' or 'agriculture'",
        ),
    ],
    ids=["count-string", "income-string", "name-int", "urban-string", "departments-mapping", "department-type"],
)
def test_wrong_type(tmp_path, write_scenario, small_scenario_data, variant, dotted, value, field, expected):
    path = write_scenario(tmp_path, variant(small_scenario_data, {dotted: value}))
    text = load_error(path)
    assert_problem(text, path, field, expected, f"got {value!r}")


# --------------------------------------------------------------------------- out of range


@pytest.mark.parametrize(
    ("dotted", "value", "field", "expected"),
    [
        ("region.villages.count", -3, "region.villages.count", "must be a positive integer, got -3"),
        ("region.villages.count", 0, "region.villages.count", "must be a positive integer, got 0"),
        ("urban.population", -5, "urban.population", "must be a positive integer, got -5"),
        ("departments.0.count", 0, "departments[0].count", "must be a positive integer, got 0"),
        ("enterprises.count", -1, "enterprises.count", "must be greater than or equal to 0, got -1"),
    ],
    ids=["villages-count-negative", "villages-count-zero", "urban-population", "department-count", "enterprises-count"],
)
def test_negative_or_zero_count(tmp_path, write_scenario, small_scenario_data, variant, dotted, value, field, expected):
    path = write_scenario(tmp_path, variant(small_scenario_data, {dotted: value}))
    assert_problem(load_error(path), path, field, expected)


def test_negative_count_message_matches_issue_example(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.count": -3}))
    assert load_error(path) == f"{path}: region.villages.count: must be a positive integer, got -3"


@pytest.mark.parametrize(
    ("dotted", "value", "field"),
    [
        ("households.able_worker_share", 1.5, "households.able_worker_share"),
        ("economy.remittance_share", 1.5, "economy.remittance_share"),
        ("region.villages.collective_income.zero_share", 1.2, "region.villages.collective_income.zero_share"),
        ("region.villages.industries.grain", 1.5, "region.villages.industries.grain"),
        ("cooperatives.0.price_premium", 2, "cooperatives[0].price_premium"),
    ],
)
def test_share_above_one(tmp_path, write_scenario, small_scenario_data, variant, dotted, value, field):
    path = write_scenario(tmp_path, variant(small_scenario_data, {dotted: value}))
    assert_problem(load_error(path), path, field, f"must be less than or equal to 1, got {value!r}")


@pytest.mark.parametrize(
    ("dotted", "value", "field"),
    [
        ("economy.return_rate", -0.1, "economy.return_rate"),
        ("economy.migration_max_rate", -0.01, "economy.migration_max_rate"),
        ("region.villages.collective_income.zero_share", -0.1, "region.villages.collective_income.zero_share"),
        ("households.initial_migrant_share", -0.2, "households.initial_migrant_share"),
    ],
)
def test_probability_below_zero(tmp_path, write_scenario, small_scenario_data, variant, dotted, value, field):
    path = write_scenario(tmp_path, variant(small_scenario_data, {dotted: value}))
    assert_problem(load_error(path), path, field, f"must be greater than or equal to 0, got {value!r}")


def test_other_bounds(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"start_year": 1800, "economy.transfer_growth": 2}))
    text = load_error(path)
    assert_problem(text, path, "start_year", "must be greater than or equal to 1949, got 1800", lines=2)
    assert_problem(text, path, "economy.transfer_growth", "must be less than or equal to 1, got 2", lines=2)


def test_several_problems_one_line_each(tmp_path, write_scenario, small_scenario_data, variant):
    data = variant(small_scenario_data, {"region.villages.count": -3, "economy.remittance_share": 1.5, "urbn": 1})
    path = write_scenario(tmp_path, data)
    text = load_error(path)
    assert_problem(text, path, "region.villages.count", "must be a positive integer, got -3", lines=3)
    assert_problem(text, path, "economy.remittance_share", "got 1.5", lines=3)
    assert_problem(text, path, "urbn", "unknown key", lines=3)


# --------------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("dotted", "field", "hint"),
    [
        ("urbn", "urbn", "urban"),
        ("urban.populaton", "urban.populaton", "population"),
        ("region.villages.populaton", "region.villages.populaton", "population"),
        ("economy.remitance_share", "economy.remitance_share", "remittance_share"),
        ("departments.0.cadre", "departments[0].cadre", "cadres"),
        ("region.villages.income_per_capita.cvv", "region.villages.income_per_capita.cvv", "cv"),
    ],
)
def test_unknown_key_with_hint(tmp_path, write_scenario, small_scenario_data, variant, dotted, field, hint):
    # The misspelt key is added beside the real one, so the typo is the only problem.
    path = write_scenario(tmp_path, variant(small_scenario_data, {dotted: 1}))
    text = load_error(path)
    assert_problem(text, path, field, "unknown key", f"did you mean {hint!r}?", "allowed: ")


def test_misspelt_required_key_gives_only_the_did_you_mean_line(tmp_path, write_scenario, small_scenario_data):
    data = dict(small_scenario_data)
    data["urbn"] = data.pop("urban")
    path = write_scenario(tmp_path, data)
    text = load_error(path)
    assert_problem(text, path, "urbn", "did you mean 'urban'?")
    assert "required field is missing" not in text


@pytest.mark.parametrize(("dotted", "field"), [("xyzzy", "xyzzy"), ("urban.qqq", "urban.qqq")])
def test_unknown_key_without_close_match(tmp_path, write_scenario, small_scenario_data, variant, dotted, field):
    path = write_scenario(tmp_path, variant(small_scenario_data, {dotted: 1}))
    text = load_error(path)
    assert_problem(text, path, field, "unknown key", "allowed: ")
    assert "did you mean" not in text


# --------------------------------------------------------------------------- required and consistency


@pytest.mark.parametrize(
    "dotted", ["name", "urban", "region", "urban.population", "urban.income_per_capita", "region.villages.collective_income"]
)
def test_missing_required_field(tmp_path, write_scenario, small_scenario_data, variant, dotted):
    path = write_scenario(tmp_path, variant(small_scenario_data, {dotted: variant.DELETE}))
    assert_problem(load_error(path), path, dotted, "required field is missing")


def test_industry_shares_must_sum_to_one(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.industries": {"grain": 0.5, "fruit": 0.3}}))
    assert_problem(load_error(path), path, "region.villages.industries", "industry shares must sum to 1, got 0.8")


def test_sector_shares_must_sum_to_one(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"enterprises.sectors": {"manufacturing": 0.7, "food": 0.7}}))
    assert_problem(load_error(path), path, "enterprises.sectors", "sector shares must sum to 1, got 1.4")


def test_households_cannot_exceed_population(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.households": 40000}))
    assert_problem(load_error(path), path, "region.villages", "households (40000) cannot exceed population (32000)")


def test_households_at_least_one_per_village(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.count": 20000}))
    assert_problem(load_error(path), path, "region.villages", "at least one per village", "20000 villages")


def test_beta_sd_too_large(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.leadership": {"mean": 0.5, "sd": 0.6}}))
    assert_problem(
        load_error(path), path, "region.villages.leadership", "sd must be below sqrt(mean*(1-mean)) = 0.500", "got 0.6"
    )


def test_beta_mean_must_be_inside_unit_interval(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.leadership": {"mean": 1.2}}))
    assert_problem(load_error(path), path, "region.villages.leadership.mean", "must be less than 1, got 1.2")


def test_hollow_threshold_above_weak(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"classification.hollow_collective_income": 1e6}))
    assert_problem(load_error(path), path, "classification", "hollow_collective_income must not exceed weak_collective_income")


def test_town_names_must_be_unique(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.towns": ["a", "b", "a"]}))
    assert_problem(load_error(path), path, "region", "town names must be unique")


@pytest.mark.parametrize("which", ["both", "neither"])
def test_exactly_one_village_source(tmp_path, write_scenario, small_scenario_data, variant, village_rows, which):
    change = {"region.village_file": "villages.csv"} if which == "both" else {"region.villages": variant.DELETE}
    path = write_scenario(tmp_path, variant(small_scenario_data, change), csv=village_rows)
    assert_problem(load_error(path), path, "region", "give exactly one of 'villages'", "'village_file'", "or 'counties'")


LISTED_IN_UNKNOWN_TOWN = [{"name": "蔬菜加工厂", "jobs": 50, "monthly_wage": 1400, "town": "北城镇"}]


def test_listed_enterprise_in_unknown_town_message(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"enterprises.listed": LISTED_IN_UNKNOWN_TOWN}))
    text = load_error(path)
    assert text.startswith(f"{path}: ")
    assert "'蔬菜加工厂'" in text and "'北城镇'" in text and "not in region.towns" in text


def test_listed_enterprise_in_unknown_town_names_field(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"enterprises.listed": LISTED_IN_UNKNOWN_TOWN}))
    assert_problem(load_error(path), path, "enterprises.listed[0].town", "'北城镇'", "not in region.towns")


def test_listed_enterprise_in_known_town_loads(tmp_path, write_scenario, small_scenario_data, variant):
    listed = [{"name": "蔬菜加工厂", "jobs": 50, "monthly_wage": 1400, "town": "东城镇"}]
    scenario = load_scenario(write_scenario(tmp_path, variant(small_scenario_data, {"enterprises.listed": listed})))
    assert scenario.enterprises.listed[0].town == "东城镇"
    assert scenario.enterprises.listed[0].sector == "manufacturing"


# --------------------------------------------------------------------------- edge cases found in review


def test_towns_negative_gives_one_clean_message(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.towns": -2}))
    text = load_error(path)
    assert "constrained-int" not in text
    assert_problem(text, path, "region.towns", "got -2")


def test_boolean_count_is_rejected(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.count": True}))
    assert_problem(load_error(path), path, "region.villages.count", "got True")


def test_infinite_value_is_rejected(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.income_per_capita.mean": math.inf}))
    assert_problem(load_error(path), path, "region.villages.income_per_capita.mean", "got inf")


def test_float_field_says_number_not_integer(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"urban.income_per_capita": -5}))
    assert_problem(load_error(path), path, "urban.income_per_capita", "must be a positive number, got -5")


def test_fractional_count_says_got_once(tmp_path, write_scenario, small_scenario_data, variant):
    path = write_scenario(tmp_path, variant(small_scenario_data, {"region.villages.count": 2.5}))
    text = load_error(path)
    assert_problem(text, path, "region.villages.count", "must be a valid integer", "2.5")
    message = text[len(f"{path}: ") :]
    assert message.count("got") == 1, message


# --------------------------------------------------------------------------- village CSV


def test_valid_csv_scenario_loads(tmp_path, write_scenario, csv_scenario_data, village_rows):
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    scenario = load_scenario(path)
    assert scenario.region.villages is None
    assert Path(scenario.region.village_file) == csv_path_of(path)
    records = read_village_csv(scenario.region.village_file)
    assert [r.name for r in records] == [row["name"] for row in village_rows]
    assert records[0].population == 700 and records[0].collective_income == 0
    assert {r.town for r in records} == set(csv_scenario_data["region"]["towns"])


def test_csv_with_utf8_bom_loads(tmp_path, write_scenario, csv_scenario_data, village_rows, village_csv):
    path = write_scenario(tmp_path, csv_scenario_data, csv="\ufeff" + village_csv(village_rows))
    assert load_scenario(path).region.village_file is not None


def test_csv_file_missing(tmp_path, write_scenario, csv_scenario_data, variant):
    path = write_scenario(tmp_path, variant(csv_scenario_data, {"region.village_file": "nope.csv"}))
    assert_problem(load_error(path), path, "region.village_file", "file not found", str(csv_path_of(path, "nope.csv")))


def test_csv_missing_column(tmp_path, write_scenario, csv_scenario_data, village_rows):
    rows = [{k: v for k, v in row.items() if k != "y_km"} for row in village_rows]
    path = write_scenario(tmp_path, csv_scenario_data, csv=rows)
    assert_problem(load_error(path), csv_path_of(path), "columns", "missing y_km", "expected the columns name, town, population")


def test_csv_unknown_column(tmp_path, write_scenario, csv_scenario_data, village_rows):
    rows = [{**row, "remarks": "x"} for row in village_rows]
    path = write_scenario(tmp_path, csv_scenario_data, csv=rows)
    assert_problem(load_error(path), csv_path_of(path), "columns", "unknown column 'remarks'")


def test_csv_misspelt_column_is_named(tmp_path, write_scenario, csv_scenario_data, village_rows):
    rows = [{("y_kmm" if k == "y_km" else k): v for k, v in row.items()} for row in village_rows]
    path = write_scenario(tmp_path, csv_scenario_data, csv=rows)
    text = load_error(path)
    assert "y_kmm" in text and "did you mean 'y_km'" in text


@pytest.mark.parametrize(
    ("row_index", "column", "value", "expected"),
    [
        (1, "population", "lots", "must be a positive integer, got 'lots'"),
        (0, "population", "-3", "must be a positive integer, got '-3'"),
        (2, "households", "", "must be a positive integer, got ''"),
        (0, "leadership", "1.5", "must be a number in [0, 1], got '1.5'"),
        (3, "income_per_capita", "abc", "must be a positive number (yuan a year), got 'abc'"),
        (4, "collective_income", "-1", "must be a non-negative number (yuan a year), got '-1'"),
        (5, "x_km", "east", "must be a number, got 'east'"),
    ],
    ids=[
        "population-text",
        "population-negative",
        "households-blank",
        "leadership-1.5",
        "income-text",
        "collective-negative",
        "x-text",
    ],
)
def test_csv_bad_cell_names_row_and_column(
    tmp_path, write_scenario, csv_scenario_data, village_rows, row_index, column, value, expected
):
    village_rows[row_index][column] = value
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    # CSV row numbers count the header as row 1, so the first village is row 2.
    assert_problem(load_error(path), csv_path_of(path), f"row {row_index + 2}, {column}", expected)


def test_csv_households_above_population(tmp_path, write_scenario, csv_scenario_data, village_rows):
    village_rows[1]["households"] = 5000
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    assert_problem(load_error(path), csv_path_of(path), "row 3", "households (5000) cannot exceed population (750)")


def test_csv_several_bad_rows_reported(tmp_path, write_scenario, csv_scenario_data, village_rows):
    village_rows[0]["leadership"] = "2"
    village_rows[4]["population"] = "x"
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    text = load_error(path)
    assert_problem(text, csv_path_of(path), "row 2, leadership", "got '2'", lines=2)
    assert_problem(text, csv_path_of(path), "row 6, population", "got 'x'", lines=2)


@pytest.mark.parametrize(("town", "hint"), [("北城镇", None), ("西河", "西河镇")], ids=["no-hint", "hint"])
def test_csv_town_not_in_region(tmp_path, write_scenario, csv_scenario_data, village_rows, town, hint):
    village_rows[2]["town"] = town
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    text = load_error(path)
    assert_problem(text, csv_path_of(path), "row 4, town", f"town {town!r} is not in region.towns")
    if hint:
        assert f"did you mean {hint!r}?" in text


def test_csv_duplicate_village_names(tmp_path, write_scenario, csv_scenario_data, village_rows):
    village_rows[3]["name"] = village_rows[0]["name"]
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    assert_problem(load_error(path), csv_path_of(path), "name", "village names must be unique", "repeated: 村1")


def test_csv_header_only(tmp_path, write_scenario, csv_scenario_data, village_csv):
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_csv([]))
    assert_problem(load_error(path), csv_path_of(path), "", "has a header but no villages")


def test_csv_completely_empty(tmp_path, write_scenario, csv_scenario_data):
    path = write_scenario(tmp_path, csv_scenario_data, csv="")
    assert_problem(load_error(path), csv_path_of(path), "", "cannot read as CSV")


def test_csv_ragged_row_is_one_clean_line(tmp_path, write_scenario, csv_scenario_data, village_rows, village_csv):
    text_csv = village_csv(village_rows[:2]) + "a,b,c,d,e,f,g,h,i,j,k,l\n"
    path = write_scenario(tmp_path, csv_scenario_data, csv=text_csv)
    assert_problem(load_error(path), csv_path_of(path), "", "cannot read as CSV", "line 4")


@pytest.mark.parametrize(("column", "value"), [("x_km", "nan"), ("income_per_capita", "inf")])
def test_csv_non_finite_numbers_rejected(tmp_path, write_scenario, csv_scenario_data, village_rows, column, value):
    village_rows[0][column] = value
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    assert_problem(load_error(path), csv_path_of(path), f"row 2, {column}", f"got {value!r}")


def test_csv_edited_file_is_read_again(tmp_path, write_scenario, csv_scenario_data, village_rows):
    path = write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    load_scenario(path)
    village_rows[0]["leadership"] = "7"
    write_scenario(tmp_path, csv_scenario_data, csv=village_rows)
    csv_file = csv_path_of(path)
    stat = csv_file.stat()
    os.utime(csv_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))  # make sure the mtime moved
    assert_problem(load_error(path), csv_file, "row 2, leadership", "got '7'")


# --------------------------------------------------------------------------- shipped scenarios


@pytest.mark.parametrize("path", SHIPPED_SCENARIOS, ids=[p.name for p in SHIPPED_SCENARIOS])
def test_shipped_scenario_validates(path):
    scenario = load_scenario(path)
    assert scenario.name
    assert scenario.months == 12 * scenario.horizon_years


def test_small_scenario_is_shipped():
    assert REPO_ROOT / "scenarios" / "small.yaml" in SHIPPED_SCENARIOS


# --------------------------------------------------------------------------- positive: defaults and helpers


def test_defaults_filled(small_scenario_path):
    scenario = load_scenario(small_scenario_path)
    assert scenario.households == Households()
    assert scenario.households.able_worker_share == 0.55
    economy_defaults = Economy()
    given = scenario.economy.model_fields_set  # small gives its trends (scripts/fit_trends.py) and nothing else
    assert given and all(field.endswith("_growth") for field in given)
    assert all(
        getattr(scenario.economy, field) == getattr(economy_defaults, field)
        for field in Economy.model_fields
        if field not in given
    )
    assert scenario.economy.remittance_share == 0.6
    assert scenario.classification == Classification()
    assert scenario.enterprises.hire_radius_km == 15.0
    assert scenario.enterprises.listed == []
    assert scenario.communities.count == 1 and scenario.communities.annual_budget == Communities().annual_budget
    assert scenario.urban.household_size == 2.9
    assert scenario.urban.wage_growth_sd == 0.02
    assert scenario.cooperatives[0].kind == "cooperative" and scenario.cooperatives[0].price_premium == 0.03
    assert scenario.region.villages.collective_income.zero_share == 0.1
    assert scenario.region.town_names == ["东城镇", "西河镇", "南山乡"]


def test_minimal_scenario_gets_every_default():
    data = {
        "name": "minimal",
        "region": {
            "villages": {
                "count": 3,
                "population": 300,
                "households": 100,
                "income_per_capita": {"mean": 5000},
                "collective_income": {"mean": 1000},
            }
        },
        "urban": {"population": 1000, "income_per_capita": 12000},
    }
    scenario = parse_scenario(data, "minimal.yaml")
    assert scenario.description == ""
    assert scenario.start_year == 2009 and scenario.horizon_years == 10 and scenario.months == 120
    assert scenario.region.name == "county" and scenario.region.town_names == ["town 1"]
    assert scenario.region.area_km2 == 1000.0 and scenario.region.village_file is None
    villages = scenario.region.villages
    assert villages.income_per_capita.cv == 0.5
    assert villages.leadership == Beta(mean=0.55, sd=0.15)
    assert villages.industries == {"grain": 1.0}
    assert scenario.departments == [] and scenario.cooperatives == []
    assert scenario.enterprises.count == 0 and scenario.enterprises.sectors == {"manufacturing": 1.0}
    assert scenario.urban.sample_households == 4000


def test_parse_matches_load(small_scenario_path, small_scenario_data):
    assert parse_scenario(small_scenario_data, str(small_scenario_path)) == load_scenario(small_scenario_path)


def test_towns_as_count_are_named():
    region_data = {"name": "x", "towns": 3, "villages": None, "village_file": "v.csv"}
    assert Region.model_validate(region_data).town_names == ["town 1", "town 2", "town 3"]


def test_with_horizon(small_scenario_path):
    scenario = load_scenario(small_scenario_path)
    shorter = scenario.with_horizon(2)
    assert isinstance(shorter, Scenario)
    assert shorter.horizon_years == 2 and shorter.months == 24
    assert scenario.horizon_years == 10 and scenario.months == 120  # the original is unchanged
    assert shorter.model_dump(exclude={"horizon_years"}) == scenario.model_dump(exclude={"horizon_years"})


@pytest.mark.parametrize("years", [0, 101])
def test_with_horizon_validates(small_scenario_path, years):
    scenario = load_scenario(small_scenario_path)
    with pytest.raises((InputError, ValueError)):
        scenario.with_horizon(years)


def test_scenario_is_frozen(small_scenario_path):
    scenario = load_scenario(small_scenario_path)
    with pytest.raises(ValidationError):  # pydantic refuses changes to frozen instances
        scenario.horizon_years = 3


@pytest.mark.parametrize(("mean", "cv"), [(8274, 0.35), (120_000, 0.8), (1500, 0.2)])
def test_lognormal_mu_sigma_reproduce_mean(mean, cv):
    dist = LogNormal(mean=mean, cv=cv)
    sample = np.random.default_rng(20240601).lognormal(dist.mu, dist.sigma, size=400_000)
    assert sample.mean() == pytest.approx(mean, rel=0.02)
    assert sample.std() / sample.mean() == pytest.approx(cv, rel=0.05)
    # and analytically
    assert math.exp(dist.mu + dist.sigma**2 / 2) == pytest.approx(mean, rel=1e-12)
    assert math.sqrt(math.exp(dist.sigma**2) - 1) == pytest.approx(cv, rel=1e-12)


def test_lognormal_zero_cv_is_a_point():
    dist = LogNormal(mean=500, cv=0)
    assert dist.sigma == 0
    assert math.exp(dist.mu) == pytest.approx(500)


@pytest.mark.parametrize(("mean", "sd"), [(0.55, 0.15), (0.2, 0.05), (0.9, 0.25), (0.5, 0.49)])
def test_beta_alpha_beta_reproduce_mean_and_sd(mean, sd):
    a, b = Beta(mean=mean, sd=sd).alpha_beta
    assert a > 0 and b > 0
    assert a / (a + b) == pytest.approx(mean, rel=1e-12)
    variance = a * b / ((a + b) ** 2 * (a + b + 1))
    assert math.sqrt(variance) == pytest.approx(sd, rel=1e-12)


def test_beta_zero_sd_is_a_point():
    assert Beta(mean=0.4, sd=0).alpha_beta == (math.inf, math.inf)


def test_yaml_round_trip_of_small_data(tmp_path, write_scenario, small_scenario_data, small_scenario_path):
    """write_scenario (a shared fixture) writes YAML that loads to the same scenario as the original."""
    path = write_scenario(tmp_path, small_scenario_data)
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == small_scenario_data
    assert load_scenario(path) == load_scenario(small_scenario_path)


def test_misspelt_choice_gets_a_hint(tmp_path, write_scenario, small_scenario_data, variant):
    """A value outside a fixed set of choices (a policy type) names the choices and the closest one."""
    path = write_scenario(tmp_path, variant(small_scenario_data, {"pairing.policies.0.type": "city_vilage"}))
    assert_problem(
        load_error(path), path, "pairing.policies[0].type", "'city_village'", "got 'city_vilage'", "did you mean 'city_village'?"
    )
