"""What the model modules share. The declarative base itself is ``kindred.db.Base`` (its
``MetaData`` carries the naming convention); each owning package's tables live in their own
module of ``kindred.models``."""

from __future__ import annotations

from typing import Any

#: the Python side of a JSONB object column
JsonDict = dict[str, Any]
