"""`kindred privacy ...` verbs: erase, suppress and unsuppress a person; list the requests."""

from __future__ import annotations

import getpass
import json
import uuid

import typer

app = typer.Typer(no_args_is_help=True)

IDENTIFIER = typer.Option(None, "--identifier", help="TYPE:VALUE, e.g. email:ann@example.com")
PROFILE = typer.Option(None, "--profile-id", help="a profile id (merged-away ids too)")


def _run(kind: str, identifier: str | None, profile_id: str | None) -> None:
    from ingest.suppression import suppression_keys
    from kindred.db import unit_of_work
    from kindred.errors import KindredError
    from kindred.settings import get_settings
    from profiles.privacy import submit_request

    if (identifier is None) == (profile_id is None):
        typer.echo("give exactly one of --identifier or --profile-id", err=True)
        raise typer.Exit(2)
    try:
        pid = uuid.UUID(profile_id) if profile_id else None
    except ValueError as err:
        typer.echo(f"not a profile id: {profile_id}", err=True)
        raise typer.Exit(2) from err
    try:
        with unit_of_work() as session:
            view = submit_request(
                session,
                type=kind,
                keys=suppression_keys(get_settings()),
                requested_by=f"cli:{getpass.getuser()}",
                identifier=identifier,
                profile_id=pid,
            )
            result = view.as_json()
    except KindredError as err:
        typer.echo(err.message, err=True)
        raise typer.Exit(1) from err
    typer.echo(json.dumps(result, indent=2))


@app.command("erase")
def erase(identifier: str = IDENTIFIER, profile_id: str = PROFILE) -> None:
    """Erase a person everywhere (the whole cluster). A replay of their old messages would
    bring them back: use `suppress --delete` to also keep them out."""
    _run("delete", identifier, profile_id)


@app.command("suppress")
def suppress(
    identifier: str = IDENTIFIER,
    profile_id: str = PROFILE,
    delete: bool = typer.Option(False, "--delete", help="also erase the person"),
) -> None:
    """Drop, from now on, every event carrying the person's identifiers (keyed hashes only)."""
    _run("suppress_with_delete" if delete else "suppress", identifier, profile_id)


@app.command("unsuppress")
def unsuppress(identifier: str = IDENTIFIER, profile_id: str = PROFILE) -> None:
    """Let events carrying these identifiers in again."""
    _run("unsuppress", identifier, profile_id)


@app.command("list")
def privacy_list(limit: int = typer.Option(50, "--limit", min=1)) -> None:
    """The privacy requests (newest first) and the events dropped per source, as JSON."""
    from ingest.suppression import dropped_counts
    from kindred.db import unit_of_work
    from profiles.privacy import list_requests

    with unit_of_work() as session:
        rows = [v.as_json() for v in list_requests(session, limit=limit)]
        dropped = dropped_counts(session)
    typer.echo(json.dumps({"requests": rows, "suppressed_events": dropped}, indent=2))
