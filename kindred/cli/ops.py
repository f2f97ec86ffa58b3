"""Operational verbs (serve, worker, keys, sources, import, resolve, demo)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled in as the verbs are built."""
