"""Will a scenario fit? Its memory estimate from the validated counts, this machine's memory, and the refusal message.

Nothing here imports the schema: :class:`~sim.scenario.schema.Scenario` calls :func:`size_problem` while it validates.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from sim.pairing.registry import CountyCounts, policy_types
from sim.schema import CHINA_POPULATION, POPULATION_REASON


class ScenarioCounts(Protocol):
    """The parts of a :class:`~sim.scenario.schema.Scenario` the estimate reads (the schema imports this module)."""

    horizon_years: int
    region: Any
    urban: Any
    enterprises: Any
    departments: list[Any]
    communities: Any
    cooperatives: list[Any]
    pairing: Any


BASE_BYTES = 200 * 2**20
"""The interpreter with numpy, pandas and Mesa loaded (README: small.yaml peaks at 178 MiB of resident memory)."""
BYTES_PER_HOUSEHOLD = 300
BYTES_PER_EXTRA_RESIDENT = 30
BYTES_PER_VILLAGE = 2_500
BYTES_PER_VILLAGE_YEAR = 260
BYTES_PER_ENTERPRISE = 5_000
BYTES_PER_JOB = 15
BYTES_PER_ORGANISATION = 300
BYTES_PER_URBAN_SAMPLE = 60
BYTES_PER_PAIRING_CANDIDATE = 110


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a scenario needs to run, in total and by what drives it (for the message when it does not fit)."""

    total: int
    parts: dict[str, int]
    households: int


def estimate_memory(scenario: ScenarioCounts, rural: tuple[int, int, int] | None = None) -> MemoryEstimate:
    """Roughly the most memory a run of ``scenario`` needs at once, from its validated counts alone (nothing is built).

    ``rural`` is (villages, households, residents) when the villages come from a CSV; generated villages give their own.

    The figures per unit were measured, not guessed: the peak of ``tracemalloc`` (which numpy reports its arrays to)
    while building ``PairingModel`` for ``scenarios/shouguang_2009.yaml`` (975 villages, 212,000 households, 700,000
    rural residents, 400 enterprises, 4,000 sampled urban households) and stepping it 24 months, then again with one
    count changed at a time (Python 3.12.1, numpy 2.5.5, 2026-11-30, on the shared 2-core development machine):

    - Shouguang without pairing: 65.5 MB. Households and residents doubled: 126.6 MB, so 288 bytes a household
      (``BYTES_PER_HOUSEHOLD`` = 300). The households' arrays, income parts, 12-month history and each month's
      temporaries; the peak is while the county is built, not later.
    - Residents x 28 (20 M) at the same households: 634.4 MB, so 29.5 bytes for each resident beyond the first of
      their household (placing residents in households makes three arrays of that length; 30).
    - Villages x 4: 72.7 MB, 2,490 bytes a village (2,500): the village table, its Mesa agent and per-village state.
      The yearly village records add about 260 bytes a village a year (16 columns of 8 bytes, twice while the yearly
      tables are joined; computed, not measured).
    - Jobs per enterprise x 4: 68.2 MB, 12.6 bytes a job (15): hiring draws three candidates per opening.
      Enterprises x 4: 74.0 MB, 7,100 bytes an enterprise, 4,800 of it besides its jobs (5,000).
    - 20,000 communities: 70.8 MB, 265 bytes per department, community or cooperative (300).
    - 100,000 sampled urban households: 70.3 MB, 51 bytes each (60).
    - Typed city-village pairing over 3,900 villages and 2,110 donors: 974.9 MB against 73.4 MB without, 110 bytes
      per donor-village candidate of the matching (greedy or random). ``optimal`` matching (networkx) needs more per
      candidate; it was not measured, as it is slow long before memory runs out (over 10 minutes at 300,000).

    Peaks of different stages are added rather than overlapped, so the total is on the high side; resident memory
    adds the allocator's overhead on top of tracemalloc's count, which ``BASE_BYTES`` covers for small counties.

    Checked against whole runs (``benchmarks/bench_scale.py``: Shouguang with every count times k, peak resident
    memory of a fresh process, 2 years, 2026-11-30, after village-enterprise candidates were listed): k = 1 peaks at
    237 MiB (estimate 284), k = 4 at 451 MiB (543), k = 16 at 1,257 MiB (1,815), k = 64 (13.6 M households) at
    6,103 MiB (10,560): about 470 bytes per household at scale, counting its residents, its share of a village
    (1/217) and of the jobs (0.33), and pairing. The estimate stays above every measured peak. Village-enterprise
    candidates are now only the villages within reach of each donor (listed by ``sim.geometry.within``; counted by
    ``policies.village_enterprise_cells``), so they grow with the county; city-village and industry-chain pairing
    still score their donors against their candidate villages, which grows with the square of the pairs.
    """
    n_villages, households, residents = rural or _generated_rural(scenario) or (0, 0, 0)
    enterprises = scenario.enterprises.count + len(scenario.enterprises.listed)
    jobs = scenario.enterprises.count * scenario.enterprises.jobs.mean + sum(e.jobs for e in scenario.enterprises.listed)
    departments = sum(group.count for group in scenario.departments)
    cooperatives = sum(group.count for group in scenario.cooperatives)
    organisations = departments + scenario.communities.count + cooperatives
    parts = {
        "households": BYTES_PER_HOUSEHOLD * households,
        "rural residents": BYTES_PER_EXTRA_RESIDENT * max(residents - households, 0),
        "villages": (BYTES_PER_VILLAGE + BYTES_PER_VILLAGE_YEAR * (scenario.horizon_years + 1)) * n_villages,
        "enterprise jobs": int(BYTES_PER_ENTERPRISE * enterprises + BYTES_PER_JOB * jobs),
        "departments, communities and cooperatives": BYTES_PER_ORGANISATION * organisations,
        "urban sample": BYTES_PER_URBAN_SAMPLE * scenario.urban.sample_households,
        "pairing candidates": BYTES_PER_PAIRING_CANDIDATE
        * _pairing_candidates(scenario, n_villages, departments=departments, cooperatives=cooperatives, enterprises=enterprises),
    }
    return MemoryEstimate(BASE_BYTES + sum(parts.values()), parts, households)


def _generated_rural(scenario: ScenarioCounts) -> tuple[int, int, int] | None:
    """(villages, households, residents) of generated villages, every county's; None when they come from a CSV."""
    return scenario.region.generated_counts()


def _pairing_candidates(scenario: ScenarioCounts, villages: int, *, departments: int, cooperatives: int, enterprises: int) -> int:
    """The largest donor-by-village score matrix any one policy builds (policies are set up one after another).

    Each policy type's registry entry knows the size of its own (``candidate_cells``); a type that does not say is
    bounded by every organisation against every village. A policy that names its counties counts only theirs.
    """
    everywhere = CountyCounts(
        villages, departments, scenario.communities.count, enterprises, cooperatives, area_km2=scenario.region.area_km2
    )
    largest = 0
    for policy in scenario.pairing.policies:
        counts = _counts_in(scenario, everywhere, policy.donor_counties, policy.recipient_counties)
        pairs = min(policy.pairs or len(policy.explicit), counts.villages)
        rule = policy_types()[policy.type].candidate_cells
        cells = rule(policy, pairs, counts) if rule is not None else counts.organisations * counts.villages
        largest = max(largest, cells)
    return largest


def _counts_in(
    scenario: ScenarioCounts, everywhere: CountyCounts, donor_counties: list[str] | None, recipient_counties: list[str] | None
) -> CountyCounts:
    """The organisations of ``donor_counties`` and the villages of ``recipient_counties`` (``None``: all of them).

    Generated enterprises without a county sit in random towns, so their expected share (by towns) is counted;
    cooperatives follow their industry's villages and are all counted.
    """
    region = scenario.region
    if region.counties is None or (donor_counties is None and recipient_counties is None):
        return everywhere
    villages, area = everywhere.villages, everywhere.area_km2
    if recipient_counties is not None:
        villages = sum(county.villages.count for county in region.counties if county.name in recipient_counties)
        area = math.fsum(county.area_km2 for county in region.counties if county.name in recipient_counties)
    if donor_counties is None:
        return replace(everywhere, villages=villages, area_km2=area)
    first = region.counties[0].name

    def sits_in(county: str | None) -> bool:
        return (county or first) in donor_counties

    towns = region.county_towns()
    town_share = sum(len(towns[name]) for name in donor_counties if name in towns) / len(region.town_names)
    generated = scenario.enterprises.count
    if scenario.enterprises.county is None:
        generated = math.ceil(generated * town_share)
    elif not sits_in(scenario.enterprises.county):
        generated = 0
    listed = sum(1 for enterprise in scenario.enterprises.listed if sits_in(enterprise.county))
    return CountyCounts(
        villages=villages,
        departments=sum(group.count for group in scenario.departments if sits_in(group.county)),
        communities=scenario.communities.count if sits_in(scenario.communities.county) else 0,
        enterprises=generated + listed,
        cooperatives=everywhere.cooperatives,
        area_km2=area,
    )


CGROUP_MEMORY_LIMIT = Path("/sys/fs/cgroup/memory.max")
"""A container's or batch job's memory limit (cgroup v2): lower than the machine's memory where it is set."""


def machine_memory() -> int:
    """The memory this process may use, in bytes: the machine's (``os.sysconf``), or a container's lower limit; 0 if unknown."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        physical = 0
    try:
        limit = int(CGROUP_MEMORY_LIMIT.read_text().strip())  # 'max' (no limit) is not a number
    except (OSError, ValueError):
        return physical
    return min(physical, limit) if physical else limit


def format_bytes(size: float) -> str:
    """'3.2 TB', '24 GB', '512 MB': decimal units, two significant figures below 10."""
    unit, scale = next(((unit, scale) for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9)) if size >= scale), ("MB", 1e6))
    value = size / scale
    return f"{value:.2g} {unit}" if value < 10 else f"{value:.0f} {unit}"


def size_problem(scenario: ScenarioCounts, rural: tuple[int, int, int] | None = None) -> str | None:
    """Why the county cannot be run: more people than China, or arrays that would not fit in this machine's memory.

    Uses the validated counts only, so it answers before anything is allocated. ``rural`` is (villages, households,
    residents) of a village CSV; without it, generated villages give their own (a CSV scenario without it: no rural part).
    """
    rural = rural or _generated_rural(scenario)
    if rural is not None and rural[2] + scenario.urban.population > CHINA_POPULATION:
        together = rural[2] + scenario.urban.population
        return (
            f"rural ({rural[2]:,}) and urban ({scenario.urban.population:,}) residents together are {together:,}; "
            f"must be at most {CHINA_POPULATION:,} ({POPULATION_REASON})"
        )
    estimate = estimate_memory(scenario, rural)
    available = machine_memory()
    if available and estimate.total > available:
        biggest = sorted(estimate.parts.items(), key=lambda item: -item[1])
        drivers = [f"{name} {format_bytes(size)}" for name, size in biggest if size >= estimate.total / 10]
        return (
            f"needs about {format_bytes(estimate.total)} of memory for {estimate.households:,} households "
            f"({', '.join(drivers)}); this machine has {format_bytes(available)}: lower the counts or use a larger machine"
        )
    return None
