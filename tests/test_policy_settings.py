"""A policy type's own settings (``PolicyType.settings``), flows and cost rules that read them, flows that end links.

These are the registry hooks the source documents' further forms are built on (issue 14): a form keeps its numbers
in its own settings model, not in the shared ``effects``/``failure``/``governance`` blocks; a flow reads its policy's
settings per link; and a flow may end links (a merger that splits again).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import Field

from sim.errors import InputError
from sim.model import PairingModel
from sim.pairing import policies, registry
from sim.pairing.flows import FlowInputs, Moved, per_link, planned_this_month
from sim.pairing.links import REVERTED
from sim.runner import run_model
from sim.scenario import parse_scenario, resolve_scenario
from sim.schema import NonNegativeFloat, PositiveInt, Strict

SMALL = Path(__file__).resolve().parent.parent / "scenarios" / "small.yaml"


class SplitSettings(Strict):
    """The toy type's own settings."""

    split_after_months: PositiveInt = Field(6, description="months after which every link of the policy splits")
    cost_per_month: NonNegativeFloat = Field(100.0, description="yuan a linked month costs")


def run_toy(inputs: FlowInputs) -> Moved:
    """One unit a month per active link of a toy policy; links older than the setting split (REVERTED)."""
    links = inputs.links
    months = planned_this_month(links, "toy_months")
    limit = per_link(inputs, "split_after_months", default=np.inf)
    splitting = np.flatnonzero((months > 0) & (inputs.month.step - links.start_step >= limit))
    links.status[splitting] = REVERTED
    return Moved(months, {"toy_months": float(months.sum())}, ended=splitting)


@pytest.fixture
def toy_type() -> Iterator[None]:
    registry.register_flow(
        registry.Flow(
            "toy_months",
            "toy months",
            "months",
            "toy_months",
            run_toy,
            lambda sent, _effects, _economy, prices: sent * prices.setting("cost_per_month", 0.0),
        )
    )
    registry.register_policy_type(
        registry.PolicyType(
            "toy_split", "Toy split (玩具)", "#e377c2", ("village",), policies.strong_weak, settings=SplitSettings
        )
    )
    try:
        yield
    finally:
        for name in ("toy_split", "toy_months"):
            registry.unregister(name)


def scenario_data(settings: Any = None) -> dict[str, Any]:
    data = copy.deepcopy(yaml.safe_load(SMALL.read_text(encoding="utf-8")))
    data["horizon_years"] = 1
    policy: dict[str, Any] = {"type": "toy_split", "name": "toy", "pairs": 2, "flows": {"toy_months": 12}}
    if settings is not None:
        policy["settings"] = settings
    data["pairing"]["policies"].append(policy)
    return data


def test_settings_are_validated_and_filled_with_their_defaults(toy_type):
    scenario = parse_scenario(scenario_data({"split_after_months": 3}), source="toy.yaml")
    policy = scenario.pairing.policies[-1]
    assert policy.settings == {"split_after_months": 3, "cost_per_month": 100.0}  # the dump, defaults filled in
    assert policy.options == SplitSettings(split_after_months=3)
    assert parse_scenario(scenario_data(), source="toy.yaml").pairing.policies[-1].options == SplitSettings()
    assert scenario.pairing.policies[0].settings == {} and scenario.pairing.policies[0].options is None


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"split_after_month": 3},
            "settings.split_after_month: unknown setting of toy_split; did you mean 'split_after_months'?",
        ),
        ({"split_after_months": 0}, "settings.split_after_months: must be greater than 0, got 0"),
        ({"cost_per_month": "a lot"}, "settings.cost_per_month: must be a valid number, got 'a lot'"),
        ([1, 2], "settings: must be a mapping of toy_split's settings, got [1, 2]"),
    ],
)
def test_bad_settings_are_one_line_naming_the_policy_and_the_setting(toy_type, settings, expected):
    with pytest.raises(InputError) as error:
        parse_scenario(scenario_data(settings), source="toy.yaml")
    message = str(error.value)
    assert "toy.yaml" in message and "pairing.policies[5]" in message and expected in message
    assert len(message.strip().splitlines()) == 1


def test_a_type_without_settings_refuses_them():
    data = copy.deepcopy(yaml.safe_load(SMALL.read_text(encoding="utf-8")))
    data["pairing"]["policies"][0]["settings"] = {"anything": 1}
    with pytest.raises(InputError, match=r"pairing\.policies\[0\].*policy type 'city_village' takes no settings"):
        parse_scenario(data, source="toy.yaml")


def test_a_dotted_override_reaches_a_default_setting(toy_type):
    scenario = parse_scenario(scenario_data(), source="toy.yaml")
    changed = resolve_scenario(scenario, {"pairing.policies.5.settings.split_after_months": 2})
    assert changed.pairing.policies[5].options.split_after_months == 2


def test_a_flow_reads_its_policys_settings_and_ends_links(toy_type):
    scenario = parse_scenario(scenario_data({"split_after_months": 4}), source="toy.yaml")
    model = PairingModel(scenario, rng=1)
    result = run_model(model)
    toy_links = result.links[result.links["policy"] == "toy"]
    assert len(toy_links) == 2 and (toy_links["status"] == "reverted").all()
    others = result.links[result.links["policy"] != "toy"]
    assert not (others["status"] == "reverted").any()  # other policies' links have no such setting (default: never)
    toy_ledger = result.ledger[(result.ledger["flow"] == "toy_months") & result.ledger["link"].isin(toy_links["link"])]
    assert toy_ledger["step"].max() == 4  # moved in months 1-4, split at the fourth month's end
    np.testing.assert_allclose(toy_ledger["cost"], toy_ledger["sent"] * 100.0)  # the cost rule read the setting per link
    assert result.policies.set_index("policy").loc["toy", "links_reverted"] == 2
    toy_branches = {branch.index for branch in model.pairing.branches if branch.policy == "toy"}
    assert all(model.pairing.branches[index].closed_step == 4 for index in toy_branches)


def test_a_flow_carried_by_one_type_is_refused_on_another_not_silently_ignored():
    data = copy.deepcopy(yaml.safe_load(SMALL.read_text(encoding="utf-8")))
    data["pairing"]["policies"][0]["flows"]["household_assets"] = 3000  # a cadre-household flow on city_village
    with pytest.raises(InputError) as error:
        parse_scenario(data, source="toy.yaml")
    message = str(error.value)
    assert "pairing.policies[0]" in message and "flows.household_assets: moves only along cadre_household pairs" in message
    assert len(message.strip().splitlines()) == 1


def test_two_flows_feeding_one_channel_add_up(toy_type):
    """A new flow that lifts leadership while present adds to the first secretaries' lift; neither overwrites the other."""

    def lift(inputs: FlowInputs) -> Moved:
        return Moved(np.zeros(len(inputs.links)), {"toy_lift": 0.0}, influence={"leadership_bonus": 0.25})

    registry.register_flow(registry.Flow("toy_lift", "toy lift", "lifts", "toy_lift", lift, lambda sent, *_: sent))
    try:
        model = PairingModel(parse_scenario(scenario_data(), source="toy.yaml"), rng=1)
        model.step()
        # small.yaml's first secretaries (cadre_months) feed the same channel: their lift comes on top of the toy's.
        assert np.max(model.influence.leadership_bonus) > 0.25
        assert np.min(model.influence.leadership_bonus) == pytest.approx(0.25)  # villages without a cadre: the toy's alone
    finally:
        registry.unregister("toy_lift")
