"""Merge/split history, record links and why-not reasons in plain words
(``identity.explain``): every cause and evidence shape the resolvers store."""

from __future__ import annotations

import pytest

from identity.explain import (
    GenericInfo,
    WordsContext,
    change_summary,
    describe_blocked,
    describe_conflict,
    record_summary,
    why_not_reason_summary,
    why_not_summary,
)

RAW = ("[{", "{'", '{"', "[]", "blocked", "None")


def _plain(text: str) -> None:
    assert text, "empty summary"
    for raw in RAW:
        assert raw not in text, f"{raw!r} in {text!r}"


def test_shared_identifier_merge_names_the_identifier() -> None:
    ctx = WordsContext(
        shared_by_record={
            7: [
                {"type": "email", "value": "kenji@northwind.example", "record_id": 3},
                {"type": "override", "value": "must_link", "record_id": 3},
            ]
        }
    )
    text = change_summary("merge", "shared_identifier", {"records": [7]}, ctx)
    assert text == (
        "Merged because the records share email kenji@northwind.example "
        "(deterministic rule shared_identifier)"
    )


def test_shared_identifier_merge_without_link_evidence_still_says_why() -> None:
    text = change_summary("merge", "shared_identifier", {"records": [7, 8]})
    assert "records 7 and 8" in text and "shared_identifier" in text
    _plain(text)
    forced = WordsContext(shared_by_record={7: [{"type": "override", "record_id": 3}]})
    assert "must-link" in change_summary("merge", "shared_identifier", {"records": [7]}, forced)


def test_manual_merge_and_split_name_ops_and_the_reason() -> None:
    merged = change_summary("merge", "manual_merge", {"reason": "same person", "by": "ops-key"})
    assert merged == "Merged by ops (by ops-key, reason: same person)"
    split = change_summary(
        "split", "manual_split", {"records": [4, 5], "reason": None, "by": "alice"}
    )
    assert split == "Split by ops (by alice, no reason given): records 4 and 5 moved off"


def test_splink_merge_gives_probability_and_weight() -> None:
    text = change_summary(
        "merge",
        "splink",
        {
            "record": 11,
            "type": "splink",
            "value": 0.987654,
            "record_id": 9,
            "match_weight": 7.25,
            "model_version": "m3",
        },
    )
    assert text == (
        "Merged by the matching model (model m3): record 11 matches record 9 with "
        "probability 98.8%, match weight 7.25"
    )


def test_generic_split_names_the_identifier_and_the_people() -> None:
    info = GenericInfo("email", "info@acme.example", "3 dissimilar names: a b / c d / e f", 3, 4)
    ctx = WordsContext(generic_by_record={5: [info], 6: [info]})
    text = change_summary("split", "generic_identifier", {"records": [5, 6]}, ctx)
    assert text == (
        "Split because the email info@acme.example turned out to be generic (shared by 3 "
        "different people; 3 dissimilar names: a b / c d / e f): records 5 and 6 moved off"
    )
    unknown = change_summary("split", "generic_identifier", {"records": [5]})
    assert "generic" in unknown and "record 5 moved off" in unknown
    assert "No evidence" not in unknown


def test_empty_blocked_lists_are_not_printed() -> None:
    for kind, cause in (("create", "new_record"), ("split", "split")):
        text = change_summary(kind, cause, {"records": [1], "blocked": []})
        _plain(text)
        assert "Not merged" not in text


def test_blocked_links_are_sentences() -> None:
    blocked = {
        "type": "crm_contact_id",
        "value": "hubspot:12",
        "record_id": 40,
        "reason": "conflicting crm_contact_id: 12 vs 99",
    }
    text = change_summary("create", "new_record", {"records": [41], "blocked": [blocked]})
    assert text == (
        "New profile for record 41. Not merged on CRM contact id hubspot:12 shared with record "
        "40: they carry different CRM contact ids (12 vs 99) and a person has one"
    )
    model = describe_blocked(
        {"type": "splink", "value": 0.91, "record_id": 3, "reason": "conflicting override: a vs b"}
    )
    assert model == (
        "Not merged on a model match with record 3 (probability 91.0%): ops split these "
        "records apart (a cannot-link)"
    )
    assert describe_conflict("ops cannot-link") == "ops split these records apart (a cannot-link)"
    assert describe_conflict("") == "no reason recorded"


def test_batch_resolution_and_unknown_causes() -> None:
    assert change_summary("merge", "batch_resolution", {"records_moved": 3}) == (
        "Merged by a full re-resolution (kindred resolve --full): 3 records moved here"
    )
    assert "full re-resolution" in change_summary("split", "batch_resolution", {"records": [1]})
    assert "full re-resolution" in change_summary("create", "batch_resolution", {"records": [1]})
    many = change_summary("split", "something_new", {"records": list(range(1, 31))})
    assert "(30 in all)" in many and "something_new" in many
    _plain(change_summary("move", "odd", {}))


@pytest.mark.parametrize(
    ("rule", "evidence", "expected"),
    [
        ("new_record", {"shared": []}, "Started the profile"),
        (
            "shared_identifier",
            {"shared": [{"type": "phone", "value": "+12125550114", "record_id": 2}]},
            "Linked by phone +12125550114 shared with record 2",
        ),
        (
            "splink",
            {"shared": [{"type": "splink", "value": 0.95, "record_id": 2, "match_weight": 5}]},
            "Linked by a model match with record 2 (probability 95.0%, match weight 5)",
        ),
        ("manual_split", {"reason": "two people", "by": "bo"}, "Moved here by an ops split"),
        ("split", {}, "Split off its earlier profile"),
    ],
)
def test_record_summaries(rule: str, evidence: dict[str, object], expected: str) -> None:
    text = record_summary(rule, evidence)
    assert text.startswith(expected), text
    _plain(text)


def test_why_not_reasons_in_words() -> None:
    generic = {
        ("phone", "+12125550100"): GenericInfo(
            "phone", "+12125550100", "14 dissimilar names: ...", 14, 20
        )
    }
    reasons = [
        {"kind": "conflicting_ids", "id_type": "user_id", "a": ["u1"], "b": ["u2"]},
        {"kind": "generic_identifier", "type": "phone", "value": "+12125550100"},
        {"kind": "ops_cannot_link", "override_id": 5, "records": [1, 2]},
        {"kind": "no_evidence", "message": "x"},
    ]
    for r in reasons:
        r["summary"] = why_not_reason_summary(r, generic)
    words = [str(r["summary"]) for r in reasons]
    assert words[0] == "They carry different user ids (u1 vs u2) and a person has one"
    assert words[1].startswith("Not merged on phone +12125550100: both hold it")
    assert "shared by 14 different people" in words[1]
    assert words[2] == "Ops split record 1 from record 2 (cannot-link 5)"
    assert words[3].startswith("Nothing connects them")
    summary = why_not_summary(False, reasons)
    assert summary.startswith("Not merged. They carry different user ids")
    _plain(summary)
    assert why_not_summary(True, []).startswith("They are one profile")
