"""`kindred dlq ...` verbs: list dead letters, replay them once the cause is fixed."""

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
