"""`kindred dlq ...` verbs: list dead letters, replay them once the cause is fixed; list and
release the quarantine of records and profiles (`kindred dlq quarantine list|release`)."""

from __future__ import annotations

import json

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def dlq_list(
    source: str = typer.Option(None, "--source", help="only this source's dead letters"),
    limit: int = typer.Option(50, "--limit", min=1, help="at most this many (newest first)"),
    replayed: bool = typer.Option(False, "--replayed", help="include already replayed ones"),
) -> None:
    """List dead letters (newest first) with their reason, as JSON."""
    from ingest.dlq import list_dead_letters
    from kindred.db import unit_of_work

    with unit_of_work() as session:
        letters = list_dead_letters(session, source=source, limit=limit, include_replayed=replayed)
        rows = [letter.as_json() for letter in letters]
    typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))


@app.command("replay")
def dlq_replay(
    letter_id: int = typer.Option(None, "--id", help="replay this dead letter"),
    source: str = typer.Option(None, "--source", help="replay this source's unreplayed ones"),
    limit: int = typer.Option(1000, "--limit", min=1, help="at most this many (with --source)"),
) -> None:
    """Re-parse dead letters and republish the now-valid events to the events topic."""
    from ingest.dlq import replay_dead_letters
    from ingest.producer import EventPublisher
    from kindred.db import unit_of_work
    from kindred.errors import KindredError
    from kindred.settings import get_settings

    if (letter_id is None) == (source is None):
        typer.echo("give exactly one of --id or --source", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    publisher = EventPublisher(
        settings.resolved_kafka_bootstrap(),
        settings.events_topic,
        partitions=settings.topic_partitions,
    )
    try:
        with unit_of_work() as session:
            outcome = replay_dead_letters(
                session, publisher, letter_id=letter_id, source=source, limit=limit
            )
    except KindredError as err:
        typer.echo(err.message, err=True)
        raise typer.Exit(1) from err
    finally:
        publisher.close()
    typer.echo(json.dumps(outcome.as_json(), indent=2, ensure_ascii=False))


quarantine_app = typer.Typer(
    no_args_is_help=True,
    help="Records and profiles that failed again and again: list them, release them",
)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list(
    kind: str = typer.Option(None, "--kind", help="record or profile (default: both)"),
    limit: int = typer.Option(100, "--limit", min=1, help="at most this many (newest first)"),
    quarantined_only: bool = typer.Option(
        False, "--quarantined-only", help="leave out items still being retried"
    ),
) -> None:
    """List failing and quarantined items with their reason, as JSON."""
    from kindred.db import unit_of_work
    from kindred.quarantine import list_quarantine

    if kind not in (None, "record", "profile"):
        typer.echo("--kind is record or profile", err=True)
        raise typer.Exit(2)
    with unit_of_work() as session:
        rows = list_quarantine(session, kind=kind, limit=limit, only_quarantined=quarantined_only)
    typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))


@quarantine_app.command("release")
def quarantine_release(
    kind: str = typer.Argument(..., help="record or profile"),
    ref: str = typer.Argument(..., help="the source record id or the profile id"),
) -> None:
    """Release an item: its worker takes it again on the next pass."""
    from kindred.db import unit_of_work
    from kindred.quarantine import release_quarantine

    if kind not in ("record", "profile"):
        typer.echo("KIND is record or profile", err=True)
        raise typer.Exit(2)
    with unit_of_work() as session:
        released = release_quarantine(session, kind=kind, ref=ref)
    if not released:
        typer.echo(f"nothing in quarantine for {kind} {ref}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps({"released": {"kind": kind, "ref": ref}}))
