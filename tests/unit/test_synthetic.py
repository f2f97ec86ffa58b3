"""The synthetic CDP generator: determinism, shape and the shared/conflicting ids it plants."""

from __future__ import annotations

import pandas as pd
import pytest

from samples.synthetic import STRONG_ID_COLUMNS, generate_people, to_canonical


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return generate_people(6000, seed=11)


def test_deterministic_per_seed(people: pd.DataFrame) -> None:
    assert people.equals(generate_people(6000, seed=11))
    assert not people.equals(generate_people(6000, seed=12))


def test_size_sources_and_contact_points(people: pd.DataFrame) -> None:
    assert 5000 < len(people) < 7000
    assert set(people["source"]) == {"web", "email", "crm", "ads"}
    neither = (people["email"].isna() & people["phone"].isna()).mean()
    assert neither < 0.04  # CDP sources almost always carry an email or a phone
    assert people["record_id"].is_unique


def test_crm_ids_are_strong(people: pd.DataFrame) -> None:
    crm = people.dropna(subset=["crm_id"])
    # one CRM id per person, never two ids for one person
    assert (crm.groupby("true_id")["crm_id"].nunique() == 1).all()
    assert (crm.groupby("crm_id")["true_id"].nunique() == 1).all()
    assert set(STRONG_ID_COLUMNS) <= set(people.columns)


def test_plants_shared_identifiers_and_namesakes(people: pd.DataFrame) -> None:
    frame = to_canonical(people)
    per_email = frame.dropna(subset=["email"]).groupby("email")["true_id"].nunique()
    assert (per_email > 1).sum() > 0  # household / role mailboxes
    per_phone = frame.dropna(subset=["phone"]).groupby("phone")["true_id"].nunique()
    assert (per_phone > 1).sum() > 0  # switchboards / home phones
    crm = frame.dropna(subset=["crm_id", "first_name", "last_name", "company"])
    same_name = crm.groupby(["first_name", "last_name", "company"])["crm_id"].nunique()
    assert (same_name > 1).sum() > 0  # namesakes with conflicting CRM ids
