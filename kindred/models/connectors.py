"""Tables owned by the `connectors` package (each has its Alembic migration)."""

from __future__ import annotations

__all__: list[str] = []
