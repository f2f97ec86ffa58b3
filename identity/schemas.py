"""The shapes identity answers with (the API returns them as they are)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


# one merge or split of the identity graph, with its cause and evidence
class ChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    profile_id: uuid.UUID
    other_profile_id: uuid.UUID | None
    cause: str
    evidence: dict[str, Any]
    created_at: datetime
    # the change in plain words (``identity.explain.change_summary``)
    summary: str = ""


class ChangeFeed(BaseModel):
    items: list[ChangeOut]
    next_after: int
    # newest first: the ``before`` of the next page (None on the last page)
    next_before: int | None = None
