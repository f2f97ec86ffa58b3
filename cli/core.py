"""Infrastructure verbs: infra, migrate."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from kindred import infra as infra_mod
from kindred import migrate as migrate_mod
from kindred.settings import get_settings

err = Console(stderr=True)
infra_app = typer.Typer(no_args_is_help=True, help="Embedded PostgreSQL and Kafka broker")


@infra_app.command("up")
def infra_up() -> None:
    """Start the embedded PostgreSQL and broker (harmless when already running)."""
    status = infra_mod.up(get_settings())
    typer.echo(json.dumps(status.as_dict(), indent=2))


@infra_app.command("down")
def infra_down() -> None:
    """Stop what `infra up` started, and nothing else."""
    typer.echo(json.dumps({"stopped": infra_mod.down(get_settings())}, indent=2))


@infra_app.command("status")
def infra_status() -> None:
    """Show where the database and broker are and whether they answer."""
    typer.echo(json.dumps(infra_mod.status(get_settings()).as_dict(), indent=2))


def migrate() -> None:
    """Apply every Alembic migration to the configured database."""
    url = get_settings().resolved_database_url()
    migrate_mod.upgrade(url)
    err.print(f"[green]database at head[/green] ({url.rsplit('@', 1)[-1]})")


def register(app: typer.Typer) -> None:
    app.add_typer(infra_app, name="infra")
    app.command("migrate")(migrate)
