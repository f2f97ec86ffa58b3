"""All ORM models, imported here so that Alembic's env.py (and everyone else) has one place.

The core tables live in ``base``; each domain adds its own tables in its own module.
"""

from kindred.models.base import (
    Account,
    AccountKey,
    ApiKey,
    DeadLetter,
    Event,
    GenericIdentifier,
    Identifier,
    IdentityChange,
    Profile,
    RecordLink,
    Segment,
    SegmentChange,
    SegmentMembership,
    Source,
    SourceRecord,
    SplinkModel,
    Touchpoint,
)
from kindred.models.connectors import *  # noqa: F403
from kindred.models.identity import *  # noqa: F403
from kindred.models.ops import *  # noqa: F403
from kindred.models.privacy import *  # noqa: F403
from kindred.models.profiles import *  # noqa: F403
from kindred.models.ratelimit import *  # noqa: F403

__all__ = [
    "Account",
    "AccountKey",
    "ApiKey",
    "DeadLetter",
    "Event",
    "GenericIdentifier",
    "Identifier",
    "IdentityChange",
    "Profile",
    "RecordLink",
    "Segment",
    "SegmentChange",
    "SegmentMembership",
    "Source",
    "SourceRecord",
    "SplinkModel",
    "Touchpoint",
]
