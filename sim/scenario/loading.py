"""Reading a scenario: its YAML (duplicate keys refused), its village CSV, cross-checks, and dotted overrides."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.errors import InputError, Problem, did_you_mean, require_file
from sim.scenario.messages import validate_model
from sim.scenario.schema import Scenario
from sim.scenario.sizing import size_problem
from sim.scenario.villages import VillageRecord, _rural_counts, read_village_csv


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML (and its village CSV, if any).

    Raises :class:`InputError` with one line per problem: ``file: field: message``.
    """
    path = Path(path)
    source = str(path)
    require_file(path, "scenario", "a scenario YAML file")
    data = read_yaml_mapping(path)
    scenario = parse_scenario(data, source)
    if scenario.region.village_file is not None:
        csv_path = (path.parent / scenario.region.village_file).resolve()
        if csv_path.is_dir():
            raise InputError.single(source, "region.village_file", f"is a folder, expected a village CSV file: {csv_path}")
        if not csv_path.is_file():
            raise InputError.single(source, "region.village_file", f"file not found: {csv_path}")
        records = read_village_csv(csv_path)
        _check_village_towns(records, scenario, str(csv_path))
        region = scenario.region.model_copy(update={"village_file": str(csv_path)})
        scenario = scenario.model_copy(update={"region": region})
        problem = size_problem(scenario, _rural_counts(records))  # the schema could not check it: the CSV was not found yet
        if problem is not None:
            raise InputError.single(source, "", problem)
    return scenario.from_source(source)


def _check_village_towns(records: Iterable[VillageRecord], scenario: Scenario, source: str) -> None:
    towns = set(scenario.region.town_names)
    for row_number, record in enumerate(records, start=2):
        if record.town not in towns:
            raise InputError.single(
                source,
                f"row {row_number}, town",
                f"town {record.town!r} is not in region.towns{did_you_mean(record.town, towns)}",
            )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key given twice (PyYAML silently keeps the last).

    Merge keys (``<<: *defaults``, YAML's way to reuse a block) are valid: the merged keys are defaults that the
    mapping's own keys override, as in YAML; only a key written twice in the mapping itself is an error.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<': merged by SafeLoader.flatten_mapping below
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in the same mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError.single(source, "", "is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = exc.problem or exc.context or "syntax error"
        raise InputError.single(source, where, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError.single(source, "", f"invalid YAML: {exc}") from None
    if data is None:
        raise InputError.single(source, "", "file is empty; expected a mapping with at least 'name', 'region' and 'urban'")
    if not isinstance(data, dict):
        raise InputError.single(source, "", f"top level must be a mapping of keys to values, got a {type(data).__name__}")
    return data


def parse_scenario(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a mapping (as read from YAML) into a :class:`Scenario`, including cross-references."""
    scenario = validate_model(Scenario, data, source)
    problems = _place_problems(scenario)
    if problems:
        raise InputError(source, problems)
    return scenario


def _place_problems(scenario: Scenario) -> list[Problem]:
    """Every county and town an organisation or a policy names must be one of the region's, one line each."""
    region = scenario.region
    counties = region.county_names
    problems: list[Problem] = []

    def check_county(field: str, county: str | None) -> bool:
        if county is None or county in counties:
            return True
        if region.counties is None:  # a one-county scenario: its county is the region
            problems.append(
                Problem(
                    field, f"no county named {county!r}: this scenario has no region.counties; its one county is {counties[0]!r}"
                )
            )
        else:
            problems.append(Problem(field, f"no county named {county!r} in the region{did_you_mean(county, counties)}"))
        return False

    for i, group in enumerate(scenario.departments):
        check_county(f"departments[{i}].county", group.county)
    check_county("communities.county", scenario.communities.county)
    check_county("enterprises.county", scenario.enterprises.county)
    for i, enterprise in enumerate(scenario.enterprises.listed):
        known = check_county(f"enterprises.listed[{i}].county", enterprise.county)
        if known and enterprise.town is not None and region.town_named(enterprise.town, enterprise.county) is None:
            county = enterprise.county or counties[0]
            where = "region.towns" if region.counties is None else f"the towns of county {county!r}"
            towns = region.listed_towns(enterprise.county)
            problems.append(
                Problem(
                    f"enterprises.listed[{i}].town",
                    f"town {enterprise.town!r} of enterprise {enterprise.name!r} is not in {where}"
                    f"{did_you_mean(enterprise.town, towns)}",
                )
            )
    for i, policy in enumerate(scenario.pairing.policies):
        for side in ("donor_counties", "recipient_counties"):
            for j, county in enumerate(getattr(policy, side) or []):
                check_county(f"pairing.policies[{i}].{side}[{j}]", county)
    return problems


DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "small.yaml"
"""The built-in small teaching county, used when no scenario is given."""


def scenario_file(source: str, field: str, folder: Path, name: str) -> Path:
    """The scenario YAML that ``field`` of the file ``source`` names, relative to that file's ``folder``: absolute, and
    checked to be a file (bad input otherwise), so experiments, calibrations and optimisations find it alike."""
    path = (folder / name).resolve()
    if path.is_dir():
        raise InputError.single(source, field, f"is a folder, expected a scenario YAML file: {path}")
    if not path.is_file():
        raise InputError.single(source, field, f"file not found: {path}")
    return path


def resolve_scenario(scenario: Scenario | str | Path | None, overrides: dict[str, Any] | None = None) -> Scenario:
    """A validated scenario from an object, a YAML path, or the built-in small default.

    ``overrides`` maps dotted field paths to new values, e.g.
    ``{"economy.remittance_share": 0.6, "horizon_years": 2}``; the result is
    validated again, so an override can never smuggle in a bad value.
    """
    if scenario is None:
        scenario = load_scenario(DEFAULT_SCENARIO)
    elif not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if not overrides:
        return scenario
    data = scenario.model_dump()
    source = f"overrides {sorted(overrides)}"
    for dotted, value in overrides.items():
        value = value.item() if isinstance(value, np.generic) else value  # numpy scalars from sweeps
        set_path(data, dotted, value, source)
    return parse_scenario(data, source=source)


def set_path(data: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    """Set ``a.b.0.c`` inside nested dicts and lists (numbers index lists)."""
    keys = dotted.split(".")
    target: Any = data
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(target, list):
            if not key.isdigit() or int(key) >= len(target):
                raise InputError.single(source, dotted, f"{key!r} is not an index of a list of {len(target)}")
            key = int(key)
        elif not isinstance(target, dict):
            raise InputError.single(source, dotted, f"cannot go inside a {type(target).__name__} value at {key!r}")
        if last:
            target[key] = value
        else:
            target = target.setdefault(key, {}) if isinstance(target, dict) else target[key]
