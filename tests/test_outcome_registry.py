"""The outcome registry: one entry per monthly outcome, from which every outcome list is derived."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.formatting import outcome_label, unit_of
from sim.model import PairingModel
from sim.outcome_registry import (
    INCOME_SOURCES,
    LORENZ_KEYS,
    LORENZ_SHARES,
    OUTCOMES,
    UNITS,
    Outcome,
    analysed_outcomes,
    default_outcomes,
    headline_outcomes,
    pairing_outcomes,
    register_outcome,
    summary_rows,
    unregister_outcome,
)


@pytest.fixture(scope="module")
def one_month() -> tuple[PairingModel, pd.DataFrame]:
    model = PairingModel(rng=1)
    model.step()
    return model, model.model_dataframe()


def test_outcomes_are_the_monthly_tables_columns_in_order(one_month):
    _, monthly = one_month
    assert list(monthly.columns) == ["step", *OUTCOMES]
    for key, outcome in OUTCOMES.items():
        assert outcome.key == key and outcome.description


def test_pairing_outcomes_are_the_programmes(one_month):
    model, _ = one_month
    assert set(pairing_outcomes()) == {*model.pairing.outcome_keys(), "rural_income_pc_paired", "rural_income_pc_unpaired"}
    assert pairing_outcomes() == list(OUTCOMES)[-len(pairing_outcomes()) :]  # the table's last columns


def test_lorenz_points_and_income_sources_are_the_models(one_month):
    model, monthly = one_month
    assert [key for key in monthly.columns if key.startswith("lorenz_")] == list(LORENZ_KEYS)
    assert LORENZ_KEYS == tuple(f"lorenz_p{round(share * 100)}" for share in LORENZ_SHARES)
    assert tuple(model.households.income) == INCOME_SOURCES


def test_every_outcome_has_a_label_an_axis_and_a_known_unit():
    for outcome in OUTCOMES.values():
        assert outcome.label and outcome.axis, outcome.key
        assert outcome.unit in UNITS, outcome.key
        assert outcome_label(outcome.key) == outcome.label
        assert unit_of(outcome.key) == outcome.unit


def test_columns_that_are_not_outcomes_keep_their_name_and_read_as_indices():
    assert outcome_label("theil_t_within_") == "theil_t_within_"
    assert unit_of("theil_t_within_") == "index"


def test_experiments_keep_the_main_outcomes_then_the_lorenz_points():
    assert default_outcomes() == [
        "rural_income_pc",
        "urban_income_pc",
        "urban_rural_ratio",
        "gini",
        "gini_rural",
        "theil_t",
        "theil_t_between",
        "theil_between_share",
        "poverty_headcount",
        "weak_villages",
        "hollow_villages",
        *LORENZ_KEYS,
    ]


def test_analysis_studies_the_level_outcomes_in_the_tables_order():
    assert analysed_outcomes() == [
        "rural_income_pc",
        "rural_median_income_pc",
        "rural_median_to_mean",
        "rural_quintile_ratio",
        "urban_income_pc",
        "urban_rural_ratio",
        "income_gap",
        "gini",
        "gini_rural",
        "theil_t",
        "theil_t_between",
        "theil_t_within",
        "theil_between_share",
        "poverty_headcount",
        "weak_villages",
        "hollow_villages",
        "migrant_share",
        "local_jobs",
        "mean_leadership",
        "mean_collective_income",
    ]


def test_headline_outcomes_put_inequality_first():
    assert headline_outcomes() == [
        "gini",
        "theil_t",
        "theil_between_share",
        "urban_rural_ratio",
        "rural_income_pc",
        "weak_villages",
        "hollow_villages",
        "poverty_headcount",
    ]
    ranks = [outcome.headline for outcome in OUTCOMES.values() if outcome.headline is not None]
    assert sorted(ranks) == list(range(1, len(ranks) + 1))  # no two share a place, none is skipped


def test_run_summary_rows_follow_the_table_with_their_labels():
    assert summary_rows() == {
        "rural_income_pc": "Rural income per capita (yuan/yr)",
        "urban_income_pc": "Urban income per capita (yuan/yr)",
        "urban_rural_ratio": "Urban/rural income ratio",
        "gini": "Gini (all residents)",
        "theil_t": "Theil T (all residents)",
        "theil_t_between": "  between urban and rural",
        "theil_t_within": "  within urban and rural",
        "theil_between_share": "  urban/rural share of Theil T",
        "poverty_headcount": "Rural poverty headcount ratio",
        "weak_villages": "Weak villages (薄弱村)",
        "hollow_villages": "Hollow villages (空壳村)",
    }
    assert list(summary_rows()) == [key for key in OUTCOMES if key in summary_rows()]


@pytest.fixture
def toy_outcome():
    outcome = register_outcome(
        Outcome(
            "toy_sent", "toy units sent this month", "Toy units sent", "count (a month)", "count", default=True, summary="Toys"
        )
    )
    yield outcome
    unregister_outcome("toy_sent")
    assert "toy_sent" not in OUTCOMES


def test_a_registered_outcome_joins_the_table_and_the_lists_its_flags_name(toy_outcome):
    assert list(OUTCOMES)[-1] == "toy_sent"
    assert outcome_label("toy_sent") == "Toy units sent"
    assert default_outcomes()[-len(LORENZ_KEYS) - 1] == "toy_sent"  # before the Lorenz points
    assert list(summary_rows().items())[-1] == ("toy_sent", "Toys")
    assert "toy_sent" not in analysed_outcomes() and "toy_sent" not in headline_outcomes()


def test_an_outcome_is_registered_once_in_a_known_unit(toy_outcome):
    with pytest.raises(ValueError, match="'toy_sent' is already registered"):
        register_outcome(toy_outcome)
    with pytest.raises(ValueError, match="unit 'toys' is not one of"):
        register_outcome(Outcome("other_toy", "toys", "Toys", "toys", "toys"))
    assert "other_toy" not in OUTCOMES
