"""Tables owned by the `identity` package (each has its Alembic migration)."""

from __future__ import annotations

__all__: list[str] = []
