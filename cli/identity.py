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
        "full_name, email, phone, company, job_title, street_number, address, address_2, city, "
        "postcode, state, country, birth_date, birth_year, birth_month, birth_day, "
        "birth_place, occupation, gender, national_id. Default: guess from the headers "
        "(English, German, French, Spanish, Italian, Portuguese, Dutch, Russian synonyms).",
    ),
    region: str = typer.Option("US", "--region", help="default phone region (ISO code)"),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="least match probability for a model link (default: derived from the model)",
    ),
    explain: Path | None = typer.Option(
        None, "--explain", help="write one JSON line per scored pair (probability, weights)"
    ),
    delimiter: str | None = typer.Option(
        None, "--delimiter", help="field separator (default: sniffed among , ; tab |)"
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="file encoding (default: BOM, UTF-8, else detected)"
    ),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="where pairs are scored: duckdb (in process) or spark (KINDRED_SPARK_MASTER, "
        "default local[2]; see docs/spark.md)",
    ),
) -> None:
    """Resolve a CSV of person records into clusters (one cluster id per person). Prints
    what each column was used as, and which were ignored, to stderr; the summary as JSON to
    stdout."""
    import logging

    from identity.dedupe_file import DedupeInputError, dedupe_csv, parse_mapping

    logging.getLogger("splink").setLevel(logging.WARNING)
    console = Console(stderr=True, soft_wrap=True)  # paths and reasons stay whole
    try:
        fields = parse_mapping(mapping or [])
        with console.status("starting") as status:
            summary = dedupe_csv(
                in_path,
                out,
                id_column=id_column,
                mapping=fields or None,
                default_region=region,
                threshold=threshold,
                explain_path=explain,
                delimiter=delimiter,
                encoding=encoding,
                progress=lambda msg: status.update(msg),
                engine=engine,
            )
    except DedupeInputError as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from exc
    generic = ", ".join(f"{k}: {v}" for k, v in summary.generic_identifiers.items() if v)
    console.print(
        f"{summary.records} records -> {summary.clusters} clusters; wrote {summary.out_path}"
        + (f" (shared identifiers ignored - {generic})" if generic else ""),
        markup=False,
    )
    shown = "tab" if summary.delimiter == "\t" else repr(summary.delimiter)
    console.print(
        f"read as {summary.encoding}, delimiter {shown}; id column {summary.id_column!r}; "
        f"match threshold {summary.threshold}",
        markup=False,
    )
    for use in summary.used:
        how = f"compared as {', '.join(use.compared)}" if use.compared else "not compared"
        part = f", {use.partial} with date parts only" if use.partial else ""
        console.print(
            f"  used    {use.column!r} as {use.field}: {use.filled} usable{part}; {how}",
            markup=False,
        )
    for ign in summary.ignored:
        console.print(f"  ignored {ign['column']!r}: {ign['reason']}", markup=False)
    if summary.explain_path:
        console.print(f"{summary.explained_pairs} pairs explained in {summary.explain_path}")
    typer.echo(json.dumps(summary.as_json(), ensure_ascii=False, default=str))


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
