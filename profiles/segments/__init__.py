"""Segments: definitions, membership (full and incremental), members, exports and changes.

The public face of the package; the modules behind it:

- ``definitions``: validate, create (compute or estimate), read, list, delete;
- ``evaluate``: set-based membership for everyone or some profiles, removal of gone ones;
- ``members``: member pages (keyset cursor) and CSV/NDJSON exports;
- ``changes``: the entered/exited feed and one person's segments;
- ``repository``: their SQL, and the changes lock that keeps change ids visible in order.
"""

from __future__ import annotations

from profiles.segments.changes import (
    changes_after,
    changes_since,
    profile_segments,
    recent_changes,
    size_history,
)
from profiles.segments.definitions import (
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
)
from profiles.segments.evaluate import evaluate_for_profiles, evaluate_segment, remove_profiles
from profiles.segments.members import export_members, members_page
from profiles.segments.repository import due_segments, lock_changes

__all__ = [
    "changes_after",
    "changes_since",
    "create_segment",
    "delete_segment",
    "due_segments",
    "evaluate_for_profiles",
    "evaluate_segment",
    "export_members",
    "get_segment",
    "list_segments",
    "lock_changes",
    "members_page",
    "profile_segments",
    "recent_changes",
    "remove_profiles",
    "size_history",
]
