"""Tables owned by the `profiles` package (each has its Alembic migration)."""

from __future__ import annotations

__all__: list[str] = []
