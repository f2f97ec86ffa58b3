"""The generic-identifier decision (identity.guardrail): a typo, a nickname, a blank or
swapped names are one person; households, role mailboxes, switchboards and namesakes with
different CRM ids are several."""

from __future__ import annotations

import pandas as pd

from identity.clustering import find_generic_identifiers
from identity.guardrail import (
    BATCH_POLICY,
    STREAMING_POLICY,
    GuardrailPolicy,
    Holder,
    group_persons,
    judge,
    same_person_name,
)


def _h(first: str | None, last: str | None = None, *ids: tuple[str, str]) -> Holder:
    return Holder(first=first, last=last, strong=tuple(ids))


class TestOnePerson:
    def test_a_first_name_typo_is_one_person(self) -> None:
        for a, b in (("catherine", "cathrine"), ("michael", "micheal"), ("ann", "anh")):
            v = judge("email", "x@y.com", [_h(a, "lee"), _h(b, "lee")])
            assert not v.generic, (a, b)

    def test_a_blank_is_not_a_different_name(self) -> None:
        v = judge("email", "x@y.com", [_h("ann", "lee"), _h(None, "lee"), _h(None, None)])
        assert not v.generic and v.persons == 1

    def test_swapped_first_and_last_names_are_one_person(self) -> None:
        assert same_person_name(("ann", "lee"), ("lee", "ann"))
        v = judge("email", "x@y.com", [_h("ann", "lee"), _h("lee", "ann"), _h("lee", None)])
        assert not v.generic

    def test_nicknames_initials_and_prefixes_are_one_person(self) -> None:
        holders = [_h("william", "smith"), _h("bill", "smith"), _h("w", "smith")]
        assert not judge("email", "x@y.com", holders).generic
        holders = [_h("chris", "wu"), _h("christopher", "wu")]
        assert not judge("email", "x@y.com", holders).generic

    def test_a_typo_of_a_typo_is_still_one_person(self) -> None:
        # single linkage: jon~john~johnny although jon and johnny are far apart
        assert len(group_persons([("jon", "ray"), ("john", "ray"), ("johnny", "ray")])) == 1

    def test_a_partial_name_never_bridges_two_people(self) -> None:
        # "? lee" agrees with both Ann Lee and Bob Lee, but does not make them one person
        v = judge("email", "lee@y.com", [_h("ann", "lee"), _h(None, "lee"), _h("bob", "lee")])
        assert v.generic and v.persons == 2


class TestSeveralPeople:
    def test_a_household_mailbox(self) -> None:
        v = judge("email", "lee.family@gmail.com", [_h("ann", "lee"), _h("bob", "lee")])
        assert v.generic
        assert v.codes == ("distinct_first_name",)
        assert v.reason == "2 dissimilar names: ann lee / bob lee"

    def test_a_switchboard_with_two_davids(self) -> None:
        v = judge("phone", "+14155550000", [_h("david", "miller"), _h("david", "selworth")])
        assert v.generic and v.codes == ("distinct_last_name",)

    def test_namesakes_with_different_crm_ids(self) -> None:
        holders = [_h("kim", "park", ("crm_id", "12")), _h("kim", "park", ("crm_id", "99"))]
        v = judge("phone", "+14155550001", holders)
        assert v.generic and v.persons == 1
        assert v.reason == "conflicting crm_id: 12 / 99"
        # the streaming resolver keeps them apart with cannot-links instead
        assert not judge("phone", "+14155550001", holders, STREAMING_POLICY).generic

    def test_a_role_mailbox_even_for_one_person(self) -> None:
        v = judge("email", "info@acme.io", [_h("zoe", "kim")])
        assert v.generic and v.reason == "role mailbox info@"
        assert not judge("email", "info@acme.io", [_h("zoe", "kim")], STREAMING_POLICY).generic

    def test_counts(self) -> None:
        holders = [_h("ann", "lee")] * 5
        policy = GuardrailPolicy(max_records=4)
        assert judge("phone", "+1", holders, policy).reason == "5 records (more than 4)"
        many = [_h(f"name{i:03d}x", f"sur{i:03d}y") for i in range(12)]
        tight = GuardrailPolicy(max_spellings=10)
        assert judge("phone", "+1", many, tight).reason == "12 distinct names on 12 records"

    def test_every_reason_is_reported(self) -> None:
        holders = [_h("ann", "lee", ("crm_id", "1")), _h("bob", "stone", ("crm_id", "2"))]
        v = judge("email", "sales@acme.io", holders, BATCH_POLICY)
        assert v.reason == (
            "2 dissimilar names: ann lee / bob stone; conflicting crm_id: 1 / 2; "
            "role mailbox sales@"
        )
        assert v.codes == ("distinct_first_name", "several_crm_id", "role_mailbox")

    def test_streaming_needs_three_people(self) -> None:
        two = [_h("ann", "lee"), _h("bob", "lee")]
        assert not judge("email", "f@x.io", two, STREAMING_POLICY).generic
        assert judge("email", "f@x.io", [*two, _h("carla", None)], STREAMING_POLICY).generic


class TestFrame:
    def test_typos_keep_their_email_and_households_lose_theirs(self) -> None:
        frame = pd.DataFrame(
            {
                "unique_id": list("abcdefg"),
                "first_name": ["maria", "mraia", None, "garcia", "ann", "bob", "ann"],
                "last_name": ["garcia", "garcia", "garcia", "maria", "lee", "lee", "lee"],
                "email": ["m@x.io"] * 4 + ["lee@x.io"] * 3,
                "crm_id": [None] * 7,
            }
        )
        found = find_generic_identifiers(frame, columns=["email"], strong_columns=["crm_id"])
        assert set(found["email"]) == {"lee@x.io"}
        assert found["email"]["lee@x.io"].reason == "2 dissimilar names: ann lee / bob lee"

    def test_nothing_shared(self) -> None:
        frame = pd.DataFrame({"unique_id": ["a"], "first_name": ["ann"], "email": ["a@x.io"]})
        assert find_generic_identifiers(frame, columns=["email", "phone"]) == {"email": {}}
