"""`kindred segments ...` verbs: list, create, demo segments, recompute, configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(no_args_is_help=True)


def _print(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, default=str))


@app.command("list")
def list_cmd() -> None:
    """All segments with their size, computed_at and lag, as JSON."""
    from kindred.db import unit_of_work
    from profiles.segments import list_segments

    with unit_of_work() as session:
        _print([v.model_dump() for v in list_segments(session)])


@app.command("create")
def create_cmd(
    name: str = typer.Argument(..., help="unique segment name"),
    rules_file: Path = typer.Argument(..., help="JSON file with the rule (docs/segments.md)"),
    level: str = typer.Option("person", help="person | account"),
    consent: str | None = typer.Option(None, help="email | sms | ads"),
) -> None:
    """Validate, create and compute a segment."""
    from kindred.db import unit_of_work
    from kindred.errors import KindredError
    from profiles.segments import create_segment

    try:
        rules = json.loads(rules_file.read_text(encoding="utf-8"))
        with unit_of_work() as session:
            view = create_segment(session, name=name, rules=rules, level=level, consent=consent)
    except (OSError, ValueError) as err:
        typer.echo(f"cannot read {rules_file}: {err}", err=True)
        raise typer.Exit(2) from err
    except KindredError as err:
        typer.echo(err.message, err=True)
        if err.details:
            _print(err.details)
        raise typer.Exit(1) from err
    _print(view.model_dump())


@app.command("demo")
def demo_cmd() -> None:
    """Create the ready-made playbook segments (hot leads, webinar without demo, ...)."""
    from kindred.db import unit_of_work
    from samples.segments import create_demo_segments

    with unit_of_work() as session:
        _print(
            [
                {"id": v.id, "name": v.name, "members": v.member_count}
                for v in create_demo_segments(session)
            ]
        )


@app.command("recompute")
def recompute_cmd() -> None:
    """Mark every profile stale (the profiles worker recomputes traits and membership) and
    refresh the account rollups now."""
    from kindred.db import unit_of_work
    from profiles.config import load_config
    from profiles.materialise import mark_all_stale, refresh_accounts

    with unit_of_work() as session:
        n = mark_all_stale(session)
        accounts = refresh_accounts(session, config=load_config(session))
    _print({"profiles_marked_stale": n, "accounts_refreshed": accounts})


@app.command("config")
def config_cmd(
    set_file: Path | None = typer.Option(
        None, "--set", help="JSON file {section: value} replacing whole sections"
    ),
) -> None:
    """Show (or replace sections of) the profiles configuration: source priority, lead-score
    rules, lifecycle windows, journey rules, complaint deadlines, churn weights, counters."""
    from kindred.db import unit_of_work
    from kindred.errors import KindredError
    from profiles.config import load_config, save_config

    try:
        with unit_of_work() as session:
            if set_file is not None:
                config = save_config(
                    session, sections=json.loads(set_file.read_text(encoding="utf-8"))
                )
            else:
                config = load_config(session)
    except KindredError as err:
        typer.echo(err.message, err=True)
        raise typer.Exit(1) from err
    _print(config.model_dump(mode="json"))
