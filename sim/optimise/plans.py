"""Plans as pairsim's own inputs: the assignment's table turned into explicit pairs, and written out to re-run.

An optimised plan is only useful if it can be inspected and re-run without the optimiser. :func:`explicit_policies`
turns the plan table of :func:`sim.optimise.assignment.assign` into the scenario's ``pairing.policies`` entries that
name every pair (``explicit:``); :func:`write_plan` writes the table as a CSV and, beside it, a complete scenario YAML
(the base scenario with every override of the run applied) that ``pairsim run`` and ``pairsim compare`` take as is and
that reproduces the optimiser's run of that plan bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.optimise.assignment import PLAN_COLUMNS, Choice
from sim.optimise.spec import template_fields
from sim.outputs import write_atomically
from sim.scenario import Scenario, read_yaml_mapping
from sim.scenario.loading import set_path

FIRST_COLUMNS = ["donor", "village", "label", "policy", "type"]
"""The plan CSV opens with who pairs with whom under which policy, then the planned flows, then the rest."""


def explicit_policies(plan: pd.DataFrame, choice: Choice, scenario: Scenario | None = None) -> list[dict[str, Any]]:
    """The ``pairing.policies`` entries that reproduce ``plan``: one per policy of ``choice`` with at least one link, its
    pairs named (``explicit``), its planned flows and ``donors_per_pair``; policies with no link are left out.

    With ``scenario``, each entry also takes the counties and settings of the scenario's policy of the same label (or
    type), as :func:`~sim.optimise.assignment.assign` did when it chose the links. ``typed`` is left out: named pairs
    ignore it.
    """
    policies = []
    for index, policy in enumerate(choice.policies):
        links = plan[plan["policy"] == index]
        if links.empty:
            continue
        policies.append(
            {
                "type": policy.lever.type,
                "name": policy.lever.label,
                "explicit": [
                    {"donor": str(donor), "village": str(village)}
                    for donor, village in zip(links["donor"], links["village"], strict=True)
                ],
                "flows": {name: float(amount) for name, amount in policy.flows.items()},
                "donors_per_pair": int(policy.lever.donors_per_pair),
                **template_fields(scenario, policy.lever),
            }
        )
    return policies


def plan_overrides(plan: pd.DataFrame, choice: Choice, scenario: Scenario | None = None) -> dict[str, Any]:
    """The scenario overrides that run ``plan`` in place of the scenario's own policies."""
    return {"pairing.policies": explicit_policies(plan, choice, scenario)}


def plan_table(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan with its columns in the CSV's order: :data:`FIRST_COLUMNS`, the ``flow:`` columns, then the rest."""
    flows = [column for column in plan.columns if column.startswith("flow:")]
    rest = [column for column in PLAN_COLUMNS if column not in FIRST_COLUMNS]
    others = [column for column in plan.columns if column not in {*FIRST_COLUMNS, *flows, *rest}]
    return plan[[*FIRST_COLUMNS, *flows, *rest, *others]]


class _PlainDumper(yaml.SafeDumper):
    """YAML without anchors and aliases: a scenario file people read and edit."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def scenario_with_overrides(scenario_path: str | Path, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The base scenario YAML's own mapping with every dotted override applied, and its village file made absolute so
    the result may be written anywhere."""
    scenario_path = Path(scenario_path).resolve()
    data = read_yaml_mapping(scenario_path)
    source = f"overrides {sorted(overrides)}"
    for dotted, value in overrides.items():
        set_path(data, dotted, _plain(value), source)
    region = data.get("region")
    if isinstance(region, dict) and isinstance(region.get("village_file"), str):
        region["village_file"] = str((scenario_path.parent / region["village_file"]).resolve())
    return data


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python ones, at any depth (YAML writes only plain data)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def write_plan(
    folder: str | Path,
    stem: str,
    plan: pd.DataFrame,
    scenario_path: str | Path,
    overrides: Mapping[str, Any],
    seed: int,
    *,
    optimisation: str | None = None,
    trial: int | str | None = None,
) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` (the plan), ``<stem>.yaml`` (a scenario that runs it) and ``<stem>.compare.yaml`` (an
    experiment that runs it against no pairing on its seed) into ``folder``, each atomically.

    ``overrides`` are the run's whole overrides (the plan's explicit policies, the horizon, a posterior draw's
    parameters); the YAML is the base scenario with all of them applied, so ``pairsim run <yaml> --seed <seed>``
    reproduces the run. ``optimisation`` and ``trial`` name it in the file's header.
    """
    folder = Path(folder)
    csv_path, yaml_path = folder / f"{stem}.csv", folder / f"{stem}.yaml"
    table = plan_table(plan)
    write_atomically(csv_path, lambda path: table.to_csv(path, index=False, encoding="utf-8"))
    data = scenario_with_overrides(scenario_path, overrides)
    which = f"trial {trial}" if trial is not None else f"plan {stem}"
    of = f" of optimisation {optimisation}" if optimisation else ""
    compare_path = folder / f"{stem}.compare.yaml"
    header = (
        f"# {which}{of}, seed {seed}: {len(plan)} pairs named below (pairing.policies, explicit), the plan in {csv_path.name}.\n"
        f"# Written by pairsim optimise from {Path(scenario_path).resolve()} with the run's overrides applied.\n"
        f"# It reproduces that run bit for bit: pairsim run {yaml_path.name} --seed {seed}\n"
        f"# The pairs are villages of seed {seed}'s county (a generated county differs by seed), so other seeds cannot\n"
        f"# run it; pairsim compare {compare_path.name} runs it against no pairing on its seed.\n"
    )
    text = header + yaml.dump(data, Dumper=_PlainDumper, allow_unicode=True, sort_keys=False, width=130)
    write_atomically(yaml_path, lambda path: path.write_text(text, encoding="utf-8"))
    experiment = {
        "name": f"{optimisation or 'plan'}-{stem}",
        "description": f"{which}{of} against no pairing, on the seed whose county it names",
        "scenarios": [yaml_path.name],
        "seeds": [int(seed)],
        "arms": {"plan": {"policies": "all"}},
    }
    compare_text = f"# pairsim compare {compare_path.name}: {which}{of} against no pairing on seed {seed}.\n" + yaml.dump(
        experiment, Dumper=_PlainDumper, allow_unicode=True, sort_keys=False, width=130
    )
    write_atomically(compare_path, lambda path: path.write_text(compare_text, encoding="utf-8"))
    return csv_path, yaml_path


__all__ = ["FIRST_COLUMNS", "explicit_policies", "plan_overrides", "plan_table", "scenario_with_overrides", "write_plan"]
