"""`kindred bench segments` (filled in by its issue)."""

from __future__ import annotations

from typing import Any


def run(**options: Any) -> dict[str, Any]:
    raise NotImplementedError("kindred bench segments is not implemented yet")
