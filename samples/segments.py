"""The demo's ready-made playbook segments, one per segmentation question of the seeds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kindred.models import Segment
from profiles.config import DECISION_MAKER_TITLES, load_config
from profiles.materialise import refresh_accounts
from profiles.schemas import SegmentOut
from profiles.segments import create_segment

DEMO_SEGMENTS: list[dict[str, Any]] = [
    {
        "name": "Hot leads at manufacturing companies with 50-500 employees",
        "description": "Lead score >= 40 at manufacturing accounts of 50 to 500 employees.",
        "rules": {
            "all": [
                {"computed": "lead_score", "op": "gte", "value": 40},
                {"account": "industry", "op": "eq", "value": "manufacturing"},
                {"account": "employees", "op": "between", "value": [50, 500]},
            ]
        },
    },
    {
        "name": "Webinar attendees without a demo",
        "description": "Attended a webinar, never requested a demo.",
        "rules": {
            "all": [
                {"event": "Webinar Attended"},
                {"event": "Demo Requested", "never": True},
            ]
        },
    },
    {
        "name": "Customers inactive > 12 months",
        "description": "Bought before, no purchase for more than 12 months.",
        "rules": {"computed": "lifecycle", "op": "eq", "value": "inactive"},
    },
    {
        "name": "Decision makers at key accounts",
        "description": "Senior titles at the accounts that bring 80% of revenue.",
        "rules": {
            "all": [
                {"trait": "job_title", "op": "contains_any", "value": list(DECISION_MAKER_TITLES)},
                {"account_computed": "key_account", "op": "eq", "value": True},
            ]
        },
    },
    {
        "name": "Stuck in consideration",
        "description": "In the consideration stage for longer than its limit.",
        "rules": {
            "all": [
                {"computed": "journey_stage", "op": "eq", "value": "consideration"},
                {"computed": "stuck", "op": "eq", "value": True},
            ]
        },
    },
    {
        "name": "Complaints past their deadline",
        "description": "At least one open complaint past its response deadline.",
        "rules": {"computed": "overdue_complaints", "op": "gte", "value": 1},
    },
    {
        "name": "Lapsing customers reachable by email",
        "description": "Lapsing customers who consent to email.",
        "consent": "email",
        "rules": {"computed": "lifecycle", "op": "in", "value": ["lapsing"]},
    },
    {
        "name": "Engaged accounts",
        "description": "Accounts with at least two contacts who interacted in the last 90 days.",
        "level": "account",
        "rules": {
            "contacts": {
                "computed": "lead_score.last_interaction_at",
                "op": "within_last_days",
                "value": 90,
            },
            "count": {"op": "gte", "value": 2},
        },
    },
]


def create_demo_segments(session: Session, *, compute: bool = True) -> list[SegmentOut]:
    """The ready-made playbook segments of the demo (existing names are left alone). Account
    rollups are refreshed first so that key-account segments have members right away."""
    refresh_accounts(session, config=load_config(session))
    existing = set(session.execute(select(Segment.name)).scalars())
    created = []
    for spec in DEMO_SEGMENTS:
        if spec["name"] in existing:
            continue
        created.append(
            create_segment(
                session,
                name=spec["name"],
                rules=spec["rules"],
                level=spec.get("level", "person"),
                description=spec.get("description"),
                consent=spec.get("consent"),
                compute=compute,
            )
        )
    return created
