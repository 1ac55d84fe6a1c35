"""Scenario files: the schema of a county, reading it from YAML and CSV, one-line messages, and whether it fits in memory.

One job per module, each importing only those above it in this list:

- :mod:`~sim.scenario.messages`: pydantic errors as one-line problems (``validate_model``).
- :mod:`~sim.scenario.sizing`: the memory estimate and this machine's memory (``estimate_memory``, ``size_problem``).
- :mod:`~sim.scenario.villages`: the village CSV (``VILLAGE_COLUMNS``, ``VillageRecord``, ``read_village_csv``).
- :mod:`~sim.scenario.schema`: the pydantic models, ``LogNormal`` … ``Economy`` and ``Scenario``.
- :mod:`~sim.scenario.loading`: the YAML file, cross-checks and overrides (``load_scenario``, ``resolve_scenario``).

The public names of all five are importable from ``sim.scenario`` itself.
"""

from sim.scenario.loading import (
    DEFAULT_SCENARIO,
    load_scenario,
    parse_scenario,
    read_yaml_mapping,
    resolve_scenario,
    scenario_file,
)
from sim.scenario.messages import YAML_TEXT_NUMBER, validate_model
from sim.scenario.schema import (
    Beta,
    Classification,
    CollectiveIncome,
    Communities,
    CommunityCount,
    CooperativeCount,
    CooperativeGroup,
    DepartmentCount,
    DepartmentGroup,
    DepartmentType,
    Economy,
    Enterprise,
    EnterpriseCount,
    EnterpriseJobs,
    Enterprises,
    GeneratedVillages,
    Households,
    LogNormal,
    Region,
    Scenario,
    Urban,
    UrbanSample,
    VillageCount,
)
from sim.scenario.sizing import (
    BASE_BYTES,
    BYTES_PER_ENTERPRISE,
    BYTES_PER_EXTRA_RESIDENT,
    BYTES_PER_HOUSEHOLD,
    BYTES_PER_JOB,
    BYTES_PER_ORGANISATION,
    BYTES_PER_PAIRING_CANDIDATE,
    BYTES_PER_URBAN_SAMPLE,
    BYTES_PER_VILLAGE,
    BYTES_PER_VILLAGE_YEAR,
    CGROUP_MEMORY_LIMIT,
    MemoryEstimate,
    estimate_memory,
    format_bytes,
    machine_memory,
    size_problem,
)
from sim.scenario.villages import VILLAGE_COLUMNS, VillageRecord, read_village_csv
from sim.schema import Strict  # the base of every schema class, as before the split (tests/test_docs.py reads it here)

__all__ = [
    "BASE_BYTES",
    "BYTES_PER_ENTERPRISE",
    "BYTES_PER_EXTRA_RESIDENT",
    "BYTES_PER_HOUSEHOLD",
    "BYTES_PER_JOB",
    "BYTES_PER_ORGANISATION",
    "BYTES_PER_PAIRING_CANDIDATE",
    "BYTES_PER_URBAN_SAMPLE",
    "BYTES_PER_VILLAGE",
    "BYTES_PER_VILLAGE_YEAR",
    "CGROUP_MEMORY_LIMIT",
    "DEFAULT_SCENARIO",
    "VILLAGE_COLUMNS",
    "YAML_TEXT_NUMBER",
    "Beta",
    "Classification",
    "CollectiveIncome",
    "Communities",
    "CommunityCount",
    "CooperativeCount",
    "CooperativeGroup",
    "DepartmentCount",
    "DepartmentGroup",
    "DepartmentType",
    "Economy",
    "Enterprise",
    "EnterpriseCount",
    "EnterpriseJobs",
    "Enterprises",
    "GeneratedVillages",
    "Households",
    "LogNormal",
    "MemoryEstimate",
    "Region",
    "Scenario",
    "Strict",
    "Urban",
    "UrbanSample",
    "VillageCount",
    "VillageRecord",
    "estimate_memory",
    "format_bytes",
    "load_scenario",
    "machine_memory",
    "parse_scenario",
    "read_village_csv",
    "read_yaml_mapping",
    "resolve_scenario",
    "scenario_file",
    "size_problem",
    "validate_model",
]
