"""Which accounts are one company (``identity.accounts.group_accounts``), without a database."""

from __future__ import annotations

import uuid

from identity.accounts import group_accounts

A, B, C, D = (uuid.UUID(int=i) for i in range(1, 5))


def doms(*values: str) -> frozenset[str]:
    return frozenset(values)


class TestSameDomainOrName:
    def test_a_shared_domain_joins_whatever_the_names(self) -> None:
        groups, ambiguous = group_accounts(
            [(A, doms("acme.com"), "acme"), (B, doms("acme.com"), "acme widgets")], ambiguous=set()
        )
        assert groups == [[A, B]] and ambiguous == set()

    def test_a_shared_name_joins_an_account_without_a_domain(self) -> None:
        groups, _ = group_accounts(
            [(A, doms(), "acme"), (B, doms("acme.com"), "acme"), (C, doms(), "other")],
            ambiguous=set(),
        )
        assert groups == [[A, B], [C]]

    def test_groups_keep_the_oldest_first(self) -> None:
        groups, _ = group_accounts(
            [(C, doms("x.io"), None), (A, doms(), "x"), (B, doms("x.io"), "x")], ambiguous=set()
        )
        assert groups == [[C, A, B]]


class TestDifferentDomainsNeverJoin:
    def test_one_name_two_domains_is_two_companies_and_an_ambiguous_name(self) -> None:
        groups, ambiguous = group_accounts(
            [
                (A, doms("orbitrobotics.io"), "orbit robotics"),
                (B, doms("orbitrobotics.com"), "orbit robotics"),
                (C, doms(), "orbit robotics"),  # which of the two? neither
            ],
            ambiguous=set(),
        )
        assert groups == [[A], [B], [C]] and ambiguous == {"orbit robotics"}

    def test_a_name_known_ambiguous_joins_nothing(self) -> None:
        groups, ambiguous = group_accounts(
            [(A, doms("a.io"), "orbit"), (B, doms(), "orbit")], ambiguous={"orbit"}
        )
        assert groups == [[A], [B]] and ambiguous == set()

    def test_an_account_of_two_domains_joins_neither_company(self) -> None:
        # a group key two companies share: its account once held a.io, now says b.io
        groups, _ = group_accounts(
            [(A, doms("a.io", "b.io"), None), (B, doms("b.io"), None), (C, doms("a.io"), None)],
            ambiguous=set(),
        )
        assert groups == [[A], [B], [C]]

    def test_a_chain_through_names_stops_at_a_second_domain(self) -> None:
        groups, ambiguous = group_accounts(
            [
                (A, doms("a.io"), "alpha"),
                (B, doms(), "alpha"),
                (C, doms(), "beta"),
                (D, doms("b.io"), "beta"),
            ],
            ambiguous=set(),
        )
        assert groups == [[A, B], [C, D]] and ambiguous == set()

    def test_an_account_that_cannot_join_does_not_keep_the_others_apart(self) -> None:
        groups, _ = group_accounts(
            [(A, doms("a.io", "b.io"), None), (B, doms("b.io"), None), (C, doms("b.io"), None)],
            ambiguous=set(),
        )
        assert groups == [[A], [B, C]]
