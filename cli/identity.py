"""`kindred identity ...` verbs."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True)


@app.command("dedupe")
def dedupe(
    in_path: Path = typer.Argument(..., metavar="IN.csv", help="CSV of person records"),
    out: Path = typer.Option(..., "--out", help="output CSV: id, cluster_id, confidence"),
    id_column: str | None = typer.Option(
        None, "--id-column", help="column identifying each row (guessed: id, record_id, ...)"
    ),
    mapping: list[str] | None = typer.Option(
        None,
        "--map",
        help="SOURCE_COLUMN=FIELD (repeatable); fields: first_name, middle_name, last_name, "
        "full_name, email, phone, company, job_title, address, city, postcode, country, "
        "birth_date, birth_year, birth_month, birth_day, gender. Default: guess from headers.",
    ),
    region: str = typer.Option("US", "--region", help="default phone region (ISO code)"),
) -> None:
    """Resolve a CSV of person records into clusters (one cluster id per person)."""
    import logging

    from identity.dedupe import DedupeInputError, dedupe_csv, parse_mapping

    logging.getLogger("splink").setLevel(logging.WARNING)
    console = Console(stderr=True)
    try:
        fields = parse_mapping(mapping or [])
        with console.status("starting") as status:
            summary = dedupe_csv(
                in_path,
                out,
                id_column=id_column,
                mapping=fields or None,
                default_region=region,
                progress=lambda msg: status.update(msg),
            )
    except DedupeInputError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    generic = ", ".join(f"{k}: {v}" for k, v in summary.generic_identifiers.items() if v)
    console.print(
        f"{summary.records} records -> {summary.clusters} clusters; wrote {summary.out_path}"
        + (f" (shared identifiers ignored - {generic})" if generic else "")
    )
    console.print("mapping: " + ", ".join(f"{k}={v}" for k, v in summary.mapping.items()))


@app.command("train")
def train() -> None:
    """Train the Splink model on the records in the database and make it the active model
    (versioned JSON with its training report, in the `splink_models` table)."""
    from rich.console import Console

    from identity.batch import train as train_model_in_db
    from kindred.db import unit_of_work

    console = Console(stderr=True)
    with unit_of_work() as session:
        out = train_model_in_db(session, progress=lambda m: console.print(m))
    typer.echo(json.dumps(out, indent=2, default=str))
