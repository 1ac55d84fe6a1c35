"""docs/ODD.md must keep up with the scenario schema.

Section 9 of the ODD ("Parameters and sources") has one table row per schema field, whose
first cell is the field's YAML path in backticks (e.g. `economy.poverty_line`). This test
fails when a field is added to a schema class (in sim/scenario.py or, for the ``pairing:``
section, sim/pairing/config.py) without a row, when a row has no source, or when a numeric
default in the table no longer matches the code.
"""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

from pydantic import BaseModel

from sim.audit import documented_ranges
from sim.pairing import config as pairing_schema
from sim.pairing.registry import policy_types
from sim.scenario import schema

ODD = Path(__file__).resolve().parent.parent / "docs" / "ODD.md"

# Schema class -> the prefix of its fields' paths in the parameter table.
PREFIXES: dict[type[BaseModel], str] = {
    schema.Scenario: "",
    schema.Region: "region.",
    schema.CountyRegion: "region.counties[].",
    schema.GeneratedVillages: "region.villages.",
    schema.Households: "households.",
    schema.Urban: "urban.",
    schema.Enterprises: "enterprises.",
    schema.Enterprise: "enterprises.listed[].",
    schema.DepartmentGroup: "departments[].",
    schema.Communities: "communities.",
    schema.CooperativeGroup: "cooperatives[].",
    schema.Classification: "classification.",
    schema.Economy: "economy.",
    schema.LogNormal: "LogNormal.",
    schema.Beta: "Beta.",
    schema.CollectiveIncome: "CollectiveIncome.",
    schema.TrendPeriod: "trend_periods[].",
    schema.EconomyTrendRates: "trend_periods[].economy.",
    schema.UrbanTrendRates: "trend_periods[].urban.",
    pairing_schema.Pairing: "pairing.",
    pairing_schema.Policy: "pairing.policies[].",
    pairing_schema.Flows: "pairing.policies[].flows.",
    pairing_schema.Rounds: "pairing.policies[].rounds.",
    pairing_schema.ExplicitPair: "pairing.policies[].explicit[].",
    pairing_schema.Effects: "pairing.effects.",
    pairing_schema.FailureModes: "pairing.failure.",
    pairing_schema.Governance: "pairing.governance.",
}
# Modules whose pydantic classes are scenario schema: every class defined there needs a prefix.
SCHEMA_MODULES = (schema, pairing_schema)
# Schema classes documented elsewhere: the village CSV's columns are in section 6.
NOT_PARAMETERS = {schema.Strict}

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _parameter_rows() -> dict[str, list[str]]:
    """First cell (without backticks) -> the row's cells, for the table rows of section 9."""
    text = ODD.read_text(encoding="utf-8")
    match = re.search(r"^## 9\. Parameters and sources\n(.*?)^## ", text, flags=re.DOTALL | re.MULTILINE)
    assert match, "docs/ODD.md has no section '## 9. Parameters and sources'"
    rows = {}
    for line in match.group(1).splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        first = re.fullmatch(r"`([^`]+)`", cells[0])
        if first:
            rows[first.group(1)] = cells
    return rows


def _own_fields(cls: type[BaseModel]) -> dict:
    """Fields declared on ``cls`` itself (not inherited from a parent schema class)."""
    inherited = set()
    for base in cls.__mro__[1:]:
        inherited |= set(getattr(base, "model_fields", {}))
    return {name: field for name, field in cls.model_fields.items() if name not in inherited}


def test_parameter_table_lists_every_schema_field_with_default_and_source():
    schema_classes = {
        cls
        for module in SCHEMA_MODULES
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == module.__name__
    }
    unmapped = sorted(cls.__name__ for cls in schema_classes - set(PREFIXES) - NOT_PARAMETERS)
    assert not unmapped, f"new schema classes need a prefix here and rows in docs/ODD.md section 9: {unmapped}"

    rows = _parameter_rows()
    problems = []
    for cls, prefix in PREFIXES.items():
        for name, field in _own_fields(cls).items():
            path = prefix + name
            cells = rows.get(path)
            if cells is None:
                problems.append(f"{cls.__name__}.{name}: no row `{path}`")
                continue
            if len(cells) < 5 or not cells[4]:
                problems.append(f"`{path}`: row needs name | default | unit | meaning | source")
                continue
            default_cell = cells[1]
            if field.is_required():
                if "required" not in default_cell.lower():
                    problems.append(f"`{path}`: required in the schema, table says {default_cell!r}")
            elif isinstance(field.default, (int, float)) and not isinstance(field.default, bool):
                number = NUMBER.search(default_cell)
                if number is None or not math.isclose(float(number.group().replace(",", "")), field.default):
                    problems.append(f"`{path}`: default is {field.default!r} in the schema, table says {default_cell!r}")
    assert not problems, "docs/ODD.md parameter table is out of date:\n" + "\n".join(problems)


def settings_prefixes() -> dict[type[BaseModel], str]:
    """Each registered policy type's own settings model, with its rows' prefix ``<type>.settings.`` in section 9."""
    return {entry.settings: f"{name}.settings." for name, entry in policy_types().items() if entry.settings is not None}


def test_parameter_table_lists_every_policy_types_own_setting_with_its_default_and_range():
    """A policy type's settings (issue 14) are parameters like the schema's: a row each, default, source and range."""
    rows, ranges = _parameter_rows(), documented_ranges(ODD.read_text(encoding="utf-8"))
    problems = []
    for cls, prefix in settings_prefixes().items():
        for name, field in _own_fields(cls).items():
            path, default = prefix + name, field.default
            cells = rows.get(path)
            if cells is None or len(cells) < 5 or not cells[4]:
                problems.append(f"`{path}`: needs a row name | default | unit | meaning | source")
            elif isinstance(default, (int, float)) and not isinstance(default, bool):
                number = NUMBER.search(cells[1])
                if number is None or not math.isclose(float(number.group().replace(",", "")), default):
                    problems.append(f"`{path}`: default is {default!r} in the settings, table says {cells[1]!r}")
                elif path not in ranges or not ranges[path][0] <= default <= ranges[path][1]:
                    problems.append(f"`{path}`: default {default} needs a 'range LOW–HIGH' in its row that contains it")
    assert not problems, "docs/ODD.md section 9 needs rows for policy types' settings:\n" + "\n".join(problems)


# Schema classes whose numeric defaults are behavioural or economic numbers, each needing a prior range in its row.
RANGED_CLASSES = (
    schema.Economy,
    schema.Households,
    schema.Urban,
    schema.Classification,
    pairing_schema.Effects,
    pairing_schema.FailureModes,
    pairing_schema.Governance,
    pairing_schema.Rounds,
)
# Numeric defaults of those classes that honestly have no prior range, with the reason.
NO_RANGE = {
    # A definition, not an uncertain quantity: issue 12 fixes the national line in every scenario.
    "economy.poverty_line_2010",
    # An institutional rule quoted from [China 2022]: secretaries' three-year terms.
    "economy.leadership_term_months",
    # An institutional rule quoted from [China 2022]: a link still poor after rectification (the second poor rating) ends.
    "pairing.governance.poor_ratings_to_end",
    # A numerical setting (how many urban households are simulated), not a property of the economy.
    "urban.sample_households",
    # A scenario's choice of programme design (how often pairs are formed again), not an uncertain quantity.
    "pairing.policies[].rounds.every_months",
}


def test_every_behavioural_default_states_a_prior_range_that_contains_it():
    """Issue 12, point 3: each row gives "range LOW–HIGH", as the audit's near-zero arm reads it, around its default."""
    ranges = documented_ranges(ODD.read_text(encoding="utf-8"))
    numeric = {}
    for cls in RANGED_CLASSES:
        for name, field in _own_fields(cls).items():
            default = field.default
            if not field.is_required() and isinstance(default, (int, float)) and not isinstance(default, bool):
                numeric[PREFIXES[cls] + name] = default
    assert NO_RANGE <= set(numeric), f"exemptions that are no numeric default: {sorted(NO_RANGE - set(numeric))}"
    problems = []
    for path, default in sorted(numeric.items()):
        if path in NO_RANGE:
            if path in ranges:
                problems.append(f"`{path}`: exempted here but its row states a range {ranges[path]}; drop the exemption")
            continue
        if path not in ranges:
            problems.append(f"`{path}`: default {default} but no 'range LOW–HIGH' in its row")
        elif not ranges[path][0] <= default <= ranges[path][1]:
            problems.append(f"`{path}`: default {default} outside its range {ranges[path][0]:g}–{ranges[path][1]:g}")
    assert not problems, "docs/ODD.md section 9 needs prior ranges:\n" + "\n".join(problems)


TRACE = ODD.parent / "TRACE.md"
# The eight elements of a TRACE document (Grimm et al. 2014, docs/SOURCES.md [Grimm 2014]).
TRACE_ELEMENTS = (
    "Problem formulation",
    "Model description",
    "Data evaluation",
    "Conceptual model evaluation",
    "Implementation verification",
    "Model output verification",
    "Model analysis",
    "Model output corroboration",
)
# A Markdown link's target: [text](target), without an optional "title".
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _relative_link_targets(path: Path) -> list[str]:
    """The targets of the links in ``path`` that point into the repository (not web addresses or anchors alone)."""
    targets = LINK.findall(path.read_text(encoding="utf-8"))
    return [target for target in targets if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]


def test_trace_has_its_eight_elements_as_headings_in_order():
    headings = re.findall(r"^#{2,3} (?:\d+\.\s*)?(.+?)\s*$", TRACE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    found = [heading for heading in headings if heading.lower() in {element.lower() for element in TRACE_ELEMENTS}]
    assert [heading.lower() for heading in found] == [element.lower() for element in TRACE_ELEMENTS], (
        f"docs/TRACE.md needs the eight TRACE elements as headings, in order; found {found}"
    )


def test_every_repository_path_trace_links_to_exists():
    targets = _relative_link_targets(TRACE)
    assert len(targets) >= len(TRACE_ELEMENTS), "docs/TRACE.md should link to its evidence in the repository"
    missing = [target for target in targets if not (TRACE.parent / target.split("#")[0]).resolve().exists()]
    assert not missing, f"docs/TRACE.md links to paths that do not exist: {missing}"


def test_the_link_check_sees_a_missing_path_and_skips_web_addresses(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[a](missing.py) [b](https://example.org/x) [c](#anchor) [d](here.md#part)\n", encoding="utf-8")
    assert _relative_link_targets(page) == ["missing.py", "here.md#part"]


def test_every_test_trace_names_exists():
    named = set(re.findall(r"`(test_\w+)`", TRACE.read_text(encoding="utf-8")))
    defined = {
        name
        for path in (ODD.parent.parent / "tests").glob("test_*.py")
        for name in re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    }
    assert named, "docs/TRACE.md names no tests"
    assert not named - defined, f"docs/TRACE.md names tests that do not exist: {sorted(named - defined)}"
