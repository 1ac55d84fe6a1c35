"""Counties inside one scenario, cross-county pairing, and the Zhejiang 2020 province scenario.

A small three-county region (two richer coastal counties and a poorer mountain one) checks how counties are
read, laid out and seated, that a policy's ``donor_counties`` and ``recipient_counties`` hold for every link,
and that cross-county links keep the ledger's balance and the matching's capacities like any other. The
province scenario is checked to validate quickly and, in the slow tests, to build and run a month.
"""

from __future__ import annotations

import copy
import math
import resource
import time
from pathlib import Path

import numpy as np
import pytest

from sim.errors import InputError
from sim.model import PairingModel
from sim.pairing.registry import donor_kinds
from sim.region import county_origins
from sim.scenario import BYTES_PER_HOUSEHOLD, estimate_memory, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
ZHEJIANG = ROOT / "scenarios" / "zhejiang_2020.yaml"


def villages(count: int, income: float, collective: float) -> dict:
    return {
        "count": count,
        "population": count * 600,
        "households": count * 200,
        "income_per_capita": {"mean": income, "cv": 0.2},
        "collective_income": {"mean": collective, "cv": 1.0},
    }


THREE_COUNTIES = {
    "name": "three counties",
    "region": {
        "name": "a small province",
        "counties": [
            {"name": "海城市", "towns": ["东港", "西港"], "area_km2": 600, "villages": villages(12, 30000, 400000)},
            {"name": "湾县", "towns": 2, "area_km2": 500, "villages": villages(10, 26000, 250000)},
            {"name": "山县", "towns": 3, "area_km2": 1500, "villages": villages(30, 12000, 60000)},
        ],
    },
    "urban": {"population": 80000, "income_per_capita": 50000, "sample_households": 500},
    "enterprises": {"count": 20, "jobs": {"mean": 40, "cv": 0.5}},
    "departments": [
        {"type": "economic", "count": 4, "annual_budget": 200000},  # the first county, 海城市
        {"type": "agriculture", "count": 3, "county": "湾县", "annual_budget": 150000},
        {"type": "party_mass", "count": 2, "county": "山县"},
    ],
    "communities": {"count": 2, "county": "湾县"},
    "pairing": {
        "policies": [
            {
                "type": "mountain_sea",
                "name": "山海协作",
                "pairs": 8,
                "donor_counties": ["海城市", "湾县"],
                "recipient_counties": ["山县"],
                "flows": {"funds": 90000, "trainees": 20, "jobs": 5},
            },
            {
                "type": "city_village",
                "pairs": 3,
                "donors_per_pair": 2,
                "donor_counties": ["海城市"],
                "recipient_counties": ["湾县"],
                "flows": {"funds": 40000},
            },
            {
                "type": "strong_weak",
                "pairs": 2,
                "donor_counties": ["湾县"],
                "recipient_counties": ["山县"],
                "flows": {"funds": 20000},
            },
        ]
    },
}


def scenario_with(**changes) -> dict:
    data = copy.deepcopy(THREE_COUNTIES)
    data.update(changes)
    return data


def problems(data: dict) -> list[str]:
    with pytest.raises(InputError) as info:
        parse_scenario(data, "p.yaml")
    return str(info.value).splitlines()


@pytest.fixture(scope="module")
def province() -> PairingModel:
    model = PairingModel(parse_scenario(THREE_COUNTIES, "p.yaml"), rng=5)
    for _ in range(6):
        model.step()
    return model


# --------------------------------------------------------------------------- reading counties


def test_counties_give_the_regions_towns_area_and_seat():
    region = parse_scenario(THREE_COUNTIES).region
    assert region.county_names == ["海城市", "湾县", "山县"]
    assert region.town_names[:4] == ["海城市 东港", "海城市 西港", "湾县 town 1", "湾县 town 2"]
    assert len(region.town_names) == 7 and region.area_km2 == 2600
    assert region.seat_of(None) == "海城市 东港" and region.seat_of("山县") == "山县 town 1"
    assert region.generated_counts() == (52, 52 * 200, 52 * 600)
    assert region.town_named("西港") == "海城市 西港" and region.town_named("town 2", "山县") == "山县 town 2"
    assert region.town_named("西港", "山县") is None


def test_a_single_county_region_is_one_county_named_as_the_region(small_scenario_path):
    region = load_scenario(small_scenario_path).region
    assert region.county_names == [region.name]
    assert region.county_towns() == {region.name: region.town_names}
    assert region.seat_of(None) == region.seat_of(region.name) == region.town_names[0]


def test_a_multi_county_scenario_survives_overrides_and_another_horizon():
    scenario = parse_scenario(THREE_COUNTIES, "p.yaml")
    assert scenario.with_horizon(3).region == scenario.region
    again = parse_scenario(scenario.model_dump(), "dump")
    assert again == scenario


def test_memory_estimate_counts_every_countys_households():
    scenario = parse_scenario(THREE_COUNTIES)
    assert estimate_memory(scenario).parts["households"] == BYTES_PER_HOUSEHOLD * 52 * 200


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"region.villages": villages(5, 9000, 1000)}, "region", "give exactly one of 'villages'"),
        ({"region.towns": 3}, "region", "give each county's towns in region.counties"),
        ({"region.area_km2": 50.0}, "region", "give each county's area_km2 in region.counties"),
        ({"region.counties.1.name": "海城市"}, "region.counties", "county names must be unique; repeated: 海城市"),
        ({"region.counties": []}, "region.counties", "must list at least one county"),
        (
            {"region.counties.1.towns": 6000, "region.counties.2.towns": 6000},
            "region",
            "must have at most 10,000 towns in all its counties, got 12,002",
        ),
        ({"region.counties.2.towns": ["a", "a"]}, "region.counties[2]", "town names must be unique"),
        ({"region.counties.2.villages": 7}, "region.counties[2].villages", "must be a mapping"),
        ({"departments.1.county": "湾"}, "departments[1].county", "no county named '湾' in the region"),
        ({"communities.county": "山区"}, "communities.county", "no county named '山区'"),
        ({"enterprises.county": "海成市"}, "enterprises.county", "did you mean '海城市'?"),
        (
            {"pairing.policies.0.recipient_counties": ["山县", "山乡"]},
            "pairing.policies[0].recipient_counties[1]",
            "no county named '山乡' in the region",
        ),
        (
            {"pairing.policies.0.donor_counties": ["海城市", "海城市"]},
            "pairing.policies[0].donor_counties",
            "names a county twice",
        ),
        ({"pairing.policies.0.donor_counties": []}, "pairing.policies[0].donor_counties", "must name at least one county"),
        ({"pairing.policies.0.donor_counties": None}, "pairing.policies[0]", "mountain_sea needs donor_counties"),
        (
            {"pairing.policies.0.donor_counties": ["海城市", "山县"]},
            "pairing.policies[0]",
            "山县 is both a donor and a recipient county",
        ),
    ],
)
def test_bad_counties_are_one_line_naming_the_field(change, field, message):
    data = copy.deepcopy(THREE_COUNTIES)
    for dotted, value in change.items():
        *path, last = dotted.split(".")
        node = data
        for part in path:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[int(last) if isinstance(node, list) else last] = value
    lines = problems(data)
    assert any(line.startswith(f"p.yaml: {field}: ") and message in line for line in lines), lines


def test_a_listed_enterprise_names_a_town_of_its_own_county():
    listed = [{"name": "茶厂", "jobs": 30, "monthly_wage": 3000, "county": "山县", "town": "东港"}]
    (line,) = problems(scenario_with(enterprises={"listed": listed}))
    assert line == "p.yaml: enterprises.listed[0].town: town '东港' of enterprise '茶厂' is not in the towns of county '山县'"
    listed[0]["town"] = "town 3"
    model = PairingModel(parse_scenario(scenario_with(enterprises={"listed": listed}, pairing={})), rng=1)
    assert model.enterprises[-1].town == "山县 town 3"


# --------------------------------------------------------------------------- the map and the seats


def test_each_county_draws_its_villages_on_its_own_block(province):
    frame = province.village_frame
    assert frame["county"].value_counts().to_dict() == {"山县": 30, "海城市": 12, "湾县": 10}
    for county in province.spec.region.counties:
        mine = frame[frame["county"] == county.name]
        assert mine["town"].str.startswith(f"{county.name} ").all()
        income = np.average(mine["income_per_capita"], weights=mine["population"])
        assert income == pytest.approx(county.villages.income_per_capita.mean, rel=1e-9)
    origins = county_origins(province.spec.region)
    cell = math.sqrt(1500)  # the largest county's side
    assert origins.tolist() == [[0.0, 0.0], [cell, 0.0], [0.0, cell]]
    centres = frame.groupby("county")[["x_km", "y_km"]].mean()
    for k, county in enumerate(province.spec.region.counties):
        side = math.sqrt(county.area_km2)
        assert np.all(np.abs(centres.loc[county.name].to_numpy() - (origins[k] + side / 2)) < side / 2)


def test_departments_and_communities_sit_in_their_countys_seat(province):
    seats = {department.town for department in province.departments}
    assert seats == {"海城市 东港", "湾县 town 1", "山县 town 1"}
    assert [d.town for d in province.departments[:4]] == ["海城市 东港"] * 4  # no county: the first county's seat
    assert {community.town for community in province.communities} == {"湾县 town 1"}


# --------------------------------------------------------------------------- cross-county pairing


def test_every_link_keeps_to_its_policys_counties(province):
    links, county = province.pairing.links, province.pairing.county
    kinds = {kind.code: kind.name for kind in donor_kinds().values()}
    village_county = province.village_frame["county"].to_numpy()
    for index, policy in enumerate(province.spec.pairing.policies):
        rows = np.flatnonzero(links.policy == index)
        assert len(rows) == policy.pairs * policy.donors_per_pair
        donors = [
            province.organisations_of(kinds[int(k)])[int(i)] for k, i in zip(links.donor_kind[rows], links.donor_index[rows])
        ]
        assert set(county.counties_of(donors)) <= set(policy.donor_counties)
        assert set(village_county[links.village[rows]]) <= set(policy.recipient_counties)
    mountain_sea = np.flatnonzero(links.policy == 0)
    assert set(links.donor_kind[mountain_sea]) <= {donor_kinds()["department"].code, donor_kinds()["enterprise"].code}


def test_cross_county_matching_keeps_the_capacities_and_serves_the_neediest_first(province):
    links = province.pairing.links
    for index, policy in enumerate(province.spec.pairing.policies):
        rows = np.flatnonzero(links.policy == index)
        per_village = np.bincount(links.village[rows])
        assert set(per_village[per_village > 0]) == {policy.donors_per_pair}  # one branch per village, its donors
        pairs = set(zip(links.donor_kind[rows].tolist(), links.donor_index[rows].tolist(), links.village[rows].tolist()))
        assert len(pairs) == len(rows)  # a donor and a village are linked at most once
    branches = [branch for branch in province.pairing.branches if branch.policy == "山海协作"]
    assert len(branches) == 8 and all(len(branch.villages) == 1 for branch in branches)
    donors = [donor.node_id for branch in branches for donor in branch.donors]
    assert len(donors) == len(set(donors))  # 8 links over many donors: spread, one each


def test_cross_county_links_keep_the_ledger_balance(province):
    ledger = province.pairing.ledger.frame()
    monthly = province.model_dataframe().set_index("step")
    leakage = province.spec.pairing.failure.leakage
    sent, lost, received = (ledger[column].to_numpy(float) for column in ("sent", "lost", "received"))
    assert np.all(np.abs(sent - lost - received) <= 1e-9) and np.all(received >= 0)
    funds = (ledger["flow"] == "funds").to_numpy()
    assert funds.any() and np.all(lost[~funds] == 0.0)
    np.testing.assert_allclose(lost[funds], sent[funds] * leakage, rtol=1e-12, atol=1e-9)
    cross = np.isin(ledger["policy"].to_numpy(), [0, 1, 2])
    assert sent[funds & cross].sum() > 0
    by_step = ledger[funds].groupby("step")["sent"].sum().reindex(monthly.index, fill_value=0.0)
    np.testing.assert_allclose(monthly["funds_sent"], by_step, rtol=1e-9, atol=1e-6)
    # What the donors gave cost them: funds yuan for yuan, trainees at the training cost (departments and
    # enterprises lose no farm output), plus the strong villages' lost output.
    effects = province.spec.pairing.effects
    paid = monthly["funds_sent"] + monthly["trainees"] * effects.training_cost
    assert np.all(monthly["donor_cost"] >= paid - 1e-6)
    budgets = ledger[funds & (ledger["policy"] == 1).to_numpy()]
    per_donor = budgets.groupby([province.pairing.links.donor_index[budgets["link"].to_numpy()], budgets["step"]])["sent"].sum()
    assert (per_donor <= 200000 / 12 * (1 + 1e-12)).all()  # a department never gives more than its budget


def test_a_named_pair_across_the_policys_counties_is_refused():
    data = scenario_with()
    data["pairing"]["policies"][1] = {
        "type": "city_village",
        "explicit": [{"donor": "economic department 1", "village": "海城市 东港 village 1"}],
        "donor_counties": ["海城市"],
        "recipient_counties": ["湾县"],
    }
    with pytest.raises(InputError) as info:
        PairingModel(parse_scenario(data, "p.yaml"), rng=1)
    (line,) = str(info.value).splitlines()
    assert line.startswith(
        "scenario 'three counties': pairing.policies[1].explicit[0].village: '海城市 东港 village 1' is in '海城市'"
    )
    assert "not in the policy's recipient_counties (湾县)" in line


def test_a_policy_without_donors_in_its_counties_says_so():
    data = scenario_with()
    data["pairing"]["policies"] = [
        {"type": "cadre_dispatch", "pairs": 2, "donor_counties": ["湾县"], "flows": {"cadre_months": 12}}
    ]
    data["departments"] = [{"type": "economic", "count": 2}]
    with pytest.raises(InputError) as info:
        PairingModel(parse_scenario(data, "p.yaml"), rng=1)
    assert str(info.value) == (
        "scenario 'three counties': pairing.policies[0]: cadre_dispatch needs donors, but the scenario has none of the right kind in 湾县"
    )


# --------------------------------------------------------------------------- Zhejiang 2020


def test_zhejiang_validates_at_the_provinces_scale():
    scenario = load_scenario(ZHEJIANG)
    villages, _households, residents = scenario.region.generated_counts()
    assert villages == 20_000 and residents == 17_969_123  # census 2020 rural residents
    assert len(scenario.region.counties) == 11 and len(scenario.region.town_names) == 1_365
    weighted = sum(c.villages.population * c.villages.income_per_capita.mean for c in scenario.region.counties) / residents
    assert weighted == pytest.approx(31_930, abs=5)  # the province's rural income
    assert scenario.urban.population == 46_598_465 and scenario.urban.income_per_capita == 62_699
    assert scenario.start_year == 2020 and scenario.horizon_years == 10
    (policy,) = scenario.pairing.policies
    assert policy.type == "mountain_sea" and policy.recipient_counties == ["衢州市", "丽水市"]
    assert estimate_memory(scenario).total < 6 * 2**30


def test_a_county_named_in_a_one_county_scenario_says_it_has_none(tmp_path, small_scenario_path):
    import yaml

    data = yaml.safe_load(small_scenario_path.read_text(encoding="utf-8"))
    data["departments"][0]["county"] = "山县"
    with pytest.raises(
        InputError, match=r"departments\[0\]\.county: no county named '山县': this scenario has no region.counties"
    ):
        parse_scenario(data, source="test scenario")


def test_pairsim_validate_describes_the_province_by_its_counties(capsys):
    from sim.cli import main

    assert main(["validate", str(ZHEJIANG), "--no-build"]) == 0
    out = capsys.readouterr().out
    assert "11 counties, 20,000 villages, 17,969,123 rural residents" in out and "1,365 towns" in out


@pytest.mark.slow
def test_zhejiang_builds_and_runs_a_month():
    """About 50-90 s and 2.4 GiB of resident memory (2026-11-30, the shared 2-core machine, busy): building hires 2 million workers."""
    start = time.perf_counter()
    model = PairingModel(ZHEJIANG, rng=1)
    model.step()
    elapsed = time.perf_counter() - start
    outcomes = model.model_dataframe().iloc[0]
    assert outcomes["rural_income_pc"] == pytest.approx(31_930, rel=0.03)
    assert outcomes["urban_rural_ratio"] == pytest.approx(1.96, abs=0.05)
    assert len(model.villages) == 20_000 and len(model.pairing.branches) == 1_500
    assert set(model.village_frame["county"][model.pairing.links.village]) <= {"衢州市", "丽水市"}
    assert model.model_dataframe()["funds_sent"].iloc[1] > 0
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    assert peak_gib < 6, f"peak resident memory {peak_gib:.1f} GiB"
    print(f"Zhejiang: build and one month {elapsed:.0f} s, peak {peak_gib:.2f} GiB")
