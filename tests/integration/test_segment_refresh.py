"""The scheduled full evaluation of a person segment scans before it takes the changes lock
(profiles.segments.evaluate.prepare_full_evaluation), and what it writes under the lock never
undoes the profiles worker's newer evaluation of a profile recomputed meanwhile."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from kindred.db import unit_of_work
from kindred.models import Segment
from profiles.config import load_config
from profiles.segments import create_segment, lock_changes
from profiles.segments.evaluate import apply_full_evaluation, prepare_full_evaluation
from profiles.worker import refresh_due_segments
from tests.integration.test_profiles_pipeline import ev, feed, profile_of

pytestmark = pytest.mark.integration

RULE = {"trait": "job_title", "op": "contains_any", "value": ["Director"]}


def _people(engine: Engine) -> None:
    feed(
        engine,
        *(
            ev("identify", userId=uid, traits={"email": f"{uid}@x.example", "job_title": title})
            for uid, title in (
                ("u_kenji", "Director of Procurement"),
                ("u_ann", "Sales Director"),
                ("u_bob", "Intern"),
            )
        ),
    )


def _members(engine: Engine, segment_id: object) -> set[str]:
    with Session(engine) as session:
        rows = session.execute(
            text(
                "SELECT p.traits->>'email' FROM segment_memberships m "
                "JOIN profiles p ON p.id = m.profile_id WHERE m.segment_id = :s"
            ),
            {"s": segment_id},
        ).scalars()
        return set(rows)


def test_the_scheduled_evaluation_finds_the_members(engine: Engine) -> None:
    _people(engine)
    with unit_of_work(engine) as session:
        seg = create_segment(session, name="Directors", rules=RULE, compute=False)
    with unit_of_work(engine) as session:
        assert refresh_due_segments(session, config=load_config(session)) == 1
    assert _members(engine, seg.id) == {"u_kenji@x.example", "u_ann@x.example"}
    with Session(engine) as session:
        count, logged = session.execute(
            text(
                "SELECT s.member_count, (SELECT count(*) FROM segment_changes c "
                "WHERE c.segment_id = s.id AND c.change = 'entered') FROM segments s "
                "WHERE s.id = :s"
            ),
            {"s": seg.id},
        ).one()
    assert (count, logged) == (2, 2)


def test_a_profile_recomputed_during_the_scan_keeps_its_newer_membership(
    engine: Engine,
) -> None:
    _people(engine)
    with unit_of_work(engine) as session:
        seg = create_segment(session, name="Directors", rules=RULE, compute=True)
    assert "u_kenji@x.example" in _members(engine, seg.id)
    with unit_of_work(engine) as scan:
        segment = scan.get(Segment, seg.id)
        assert segment is not None
        prepared = prepare_full_evaluation(scan, segment=segment)
        assert prepared is not None and prepared.matched == 2
        # meanwhile (no lock held by the scan): Kenji is no director any more; the pipeline
        # recomputes him and he leaves the segment under the changes lock
        feed(engine, ev("identify", userId="u_kenji", traits={"job_title": "Retired"}))
        assert "u_kenji@x.example" not in _members(engine, seg.id)
        lock_changes(scan)
        entered, exited = apply_full_evaluation(scan, prepared=prepared, cause="test")
    # the scan saw him as a director; his newer evaluation stands
    assert (entered, exited) == (0, 0)
    assert _members(engine, seg.id) == {"u_ann@x.example"}
    assert profile_of(engine, "u_kenji").traits["job_title"] == "Retired"
