"""All ORM models, imported here so that Alembic's env.py (and everyone else) has one place.

Each module holds the tables of the package that owns them: ``ingest`` (sources, events,
source records, account records, touchpoints, dead letters, consumer offsets), ``identity``
(identifiers, profiles and record links, accounts, Splink models, overrides), ``profiles``
(segments, rollups, settings), ``connectors``, ``privacy``, ``ops`` (heartbeats, quarantine),
``ratelimit`` and ``security`` (API keys). ``base`` holds what they share.

Vocabulary:
- *event*: one canonical event as received (unique per source + message id).
- *source record*: what one source knows about one person (unique per source + record key),
  with its latest traits and the identifiers that can link it to other records.
- *profile*: a unified person; ``record_links`` maps every source record to one profile.
  A profile merged into another keeps its row with ``merged_into`` set, so old ids still answer.
- *account record*: what group calls said about one account key (group id, CRM company id),
  written by ingest; identity turns account records into accounts.
- *account*: a company (B2B), found through ``account_keys`` (group id, CRM company id, domain).
"""

from kindred.models.connectors import (
    ConnectorDeadLetter,
)
from kindred.models.identity import (
    Account,
    AccountKey,
    AccountLink,
    GenericIdentifier,
    Identifier,
    IdentityChange,
    IdentityOverride,
    Profile,
    RecordLink,
    SplinkModel,
)
from kindred.models.ingest import (
    AccountRecord,
    ConsumerOffset,
    DeadLetter,
    Event,
    Source,
    SourceRecord,
    Touchpoint,
)
from kindred.models.ops import (
    Quarantine,
    WorkerHeartbeat,
)
from kindred.models.privacy import (
    PrivacyRequest,
    Suppression,
    SuppressionCount,
)
from kindred.models.profiles import (
    AccountComputed,
    DashboardSnapshot,
    ProfilesCursor,
    ProfilesSetting,
    Segment,
    SegmentAccountMember,
    SegmentChange,
    SegmentMembership,
)
from kindred.models.ratelimit import (
    RateLimitBucket,
)
from kindred.models.security import (
    ApiKey,
)

__all__ = [
    "Account",
    "AccountComputed",
    "AccountKey",
    "AccountLink",
    "AccountRecord",
    "ApiKey",
    "ConnectorDeadLetter",
    "ConsumerOffset",
    "DashboardSnapshot",
    "DeadLetter",
    "Event",
    "GenericIdentifier",
    "Identifier",
    "IdentityChange",
    "IdentityOverride",
    "PrivacyRequest",
    "Profile",
    "ProfilesCursor",
    "ProfilesSetting",
    "Quarantine",
    "RateLimitBucket",
    "RecordLink",
    "Segment",
    "SegmentAccountMember",
    "SegmentChange",
    "SegmentMembership",
    "Source",
    "SourceRecord",
    "SplinkModel",
    "Suppression",
    "SuppressionCount",
    "Touchpoint",
    "WorkerHeartbeat",
]
