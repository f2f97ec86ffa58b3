"""`kindred bench ...` verbs: each prints one JSON document."""

from __future__ import annotations

import json

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("identity")
def identity(
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        help="febrl3 | febrl4 | synthetic (the single-set report), or any set of the suite: "
        "febrl1 | febrl2 | febrl3 | febrl4 | names_dob | historical | crm (with --suite, or "
        "a name only the suite has: the suite report for that set)",
        case_sensitive=False,
    ),
    suite: bool = typer.Option(
        False, "--suite", help="the evaluation suite: every set (or --dataset's), as one JSON"
    ),
    size: int | None = typer.Option(
        None, "--size", help="records of a generated set (synthetic: 100000)", min=10
    ),
    seed: int | None = typer.Option(None, "--seed", help="generator seed (generated sets)"),
    baseline: bool = typer.Option(
        True, "--baseline/--no-baseline", help="also run bare Splink on the same data"
    ),
) -> None:
    """Kindred's resolver vs bare Splink: precision/recall/F1, time and memory, as JSON."""
    from bench.identity_suite import SUITE

    name = dataset.lower() if dataset else None
    single = ("febrl3", "febrl4", "synthetic")
    if name is not None and name not in (*single, *SUITE):
        typer.echo(
            f"unknown --dataset {dataset!r}: use {', '.join(dict.fromkeys((*single, *SUITE)))}",
            err=True,
        )
        raise typer.Exit(2)
    if suite or (name is not None and name not in single):
        if name == "synthetic":
            typer.echo("--dataset synthetic is not a set of the suite", err=True)
            raise typer.Exit(2)
        from bench.identity_suite import format_table, run_suite

        doc = run_suite(
            [name] if name else SUITE,
            size=size,
            seed=11 if seed is None else seed,
            baseline=baseline,
            progress=lambda msg: typer.echo(msg, err=True),
        )
        typer.echo(format_table(doc), err=True)
        typer.echo(json.dumps(doc, indent=2, allow_nan=False))
        return
    from bench.identity import bench_identity_json

    doc = bench_identity_json(
        name or "febrl3",
        size=size or 100_000,
        seed=7 if seed is None else seed,
        baseline=baseline,
    )
    typer.echo(json.dumps(doc, indent=2))


def _worker_counts(raw: str, option: str, *, most: int) -> tuple[int, ...]:
    """``"1,2,4"`` -> (1, 2, 4); a clear error naming the option otherwise."""
    try:
        counts = tuple(int(x) for x in raw.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"{raw!r}: give worker counts like 1,2,4", param_hint=option
        ) from None
    if not counts or min(counts) < 1 or max(counts) > most:
        raise typer.BadParameter(f"worker counts must be 1..{most}", param_hint=option)
    return counts


@app.command("ingest")
def ingest(
    events: int = typer.Option(50_000, "--events", help="events sent through /v1/batch", min=100),
    latency_seconds: float = typer.Option(
        10.0, "--latency-seconds", help="duration of the 1,000 events/s latency run"
    ),
    ingest_workers: str = typer.Option(
        "1",
        "--ingest-workers",
        help="ingest worker processes (one consumer group); comma-separated for rounds: 1,2,4",
    ),
) -> None:
    """Collector -> Kafka -> Postgres throughput, event -> profile latency, kafka-python ceiling."""
    from bench.ingest import run

    counts = _worker_counts(ingest_workers, "--ingest-workers", most=8)
    doc = run(events, latency_seconds=latency_seconds, ingest_workers=counts)
    typer.echo(json.dumps(doc, indent=2))


@app.command("connectors")
def connectors(
    events: int = typer.Option(20_000, "--events", help="items parsed per connector", min=100),
) -> None:
    """Parse throughput per connector (events/s), as JSON."""
    from bench.connectors import run

    typer.echo(json.dumps(run(events=events), indent=2))


@app.command("segments")
def segments(
    profiles: int = typer.Option(1_000_000, "--profiles", help="profiles to generate", min=1000),
    events: int = typer.Option(20_000_000, "--events", help="events to generate", min=1000),
) -> None:
    """Segment creation, membership latency, export rate and page latency, as JSON."""
    from bench.segments import run

    typer.echo(json.dumps(run(profiles=profiles, events=events), indent=2))


@app.command("reads")
def reads(
    profiles: str = typer.Option(
        "1000000", "--profiles", help="profile counts, comma-separated (e.g. 100000,1000000)"
    ),
    events_per_profile: int = typer.Option(5, "--events-per-profile", min=1),
    requests: int = typer.Option(500, "--requests", help="timed requests per path", min=10),
    ingest_rate: int = typer.Option(
        0, "--ingest-rate", help="events/s posted to the collector meanwhile (0: none)", min=0
    ),
) -> None:
    """Profile by id / identifier, journey, members page and CSV export latency, as JSON."""
    from bench.reads import run

    try:
        sizes = [int(p) for p in profiles.split(",") if p.strip()]
    except ValueError:
        typer.echo(f"--profiles: expected comma-separated integers, got {profiles!r}", err=True)
        raise typer.Exit(2) from None
    if not sizes or min(sizes) < 1000:
        typer.echo("--profiles: each size must be at least 1000", err=True)
        raise typer.Exit(2)
    doc = run(
        sizes=sizes,
        events_per_profile=events_per_profile,
        requests=requests,
        ingest_rate=ingest_rate,
        progress=lambda msg: typer.echo(msg, err=True),
    )
    typer.echo(json.dumps(doc, indent=2, allow_nan=False))


@app.command("identity-stream")
def identity_stream(
    stored: int = typer.Option(100_000, "--stored", help="people stored first (2 records each)"),
    rate: int = typer.Option(1000, "--rate", help="new records per second"),
    seconds: float = typer.Option(10.0, "--seconds", help="duration of the streaming run"),
    two_stage: bool = typer.Option(False, "--two-stage", help="score leftovers in stage two"),
    agreement: bool = typer.Option(
        True, "--agreement/--no-agreement", help="then compare with `resolve --full` (slow)"
    ),
    identity_workers: int = typer.Option(
        1, "--identity-workers", min=1, max=32, help="identity workers resolving at once"
    ),
) -> None:
    """Streaming resolution: latency from commit to linked profile, with records stored."""
    from bench.identity_stream import run

    doc = run(
        stored=stored,
        rate=rate,
        seconds=seconds,
        two_stage=two_stage,
        agreement=agreement,
        identity_workers=identity_workers,
    )
    typer.echo(json.dumps(doc, indent=2))


@app.command("identity-drain")
def identity_drain(
    stored: int = typer.Option(20_000, "--stored", help="people stored first (2 records each)"),
    backlog: int = typer.Option(20_000, "--backlog", help="new records committed at once"),
    identity_workers: str = typer.Option(
        "1,2", "--identity-workers", help="comma-separated worker counts, one round each"
    ),
) -> None:
    """Identity throughput: time for N workers to resolve a backlog (records/s per N)."""
    from bench.identity_stream import drain

    counts = _worker_counts(identity_workers, "--identity-workers", most=32)
    doc = drain(stored=stored, backlog=backlog, workers=counts)
    typer.echo(json.dumps(doc, indent=2))


@app.command("identity-batch")
def identity_batch(
    people: int = typer.Option(50_000, "--people", help="people stored (about 2.2 records each)"),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="spark: also re-resolve with the stored model on duckdb and on Spark "
        "(KINDRED_SPARK_MASTER) and report both times",
    ),
) -> None:
    """`resolve --full` time from PostgreSQL vs bare Splink on the same records."""
    from bench.identity_batch import run
    from identity.spark_engine import check_engine

    try:
        check_engine(engine)
    except ValueError as exc:
        typer.echo(f"--engine: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(run(people=people, scoring_engine=engine), indent=2, default=str))


@app.command("faults")
def faults(
    events_per_second: float = typer.Option(
        100.0, "--events-per-second", help="load through the collector during every scenario"
    ),
    kills: int = typer.Option(3, "--kills", help="kills per worker scenario", min=1),
    scenarios: str = typer.Option(
        "", "--scenarios", help="comma-separated subset (default: all; see the JSON)"
    ),
    short: bool = typer.Option(
        False, "--short", help="one kill per worker, one database restart, one group stall"
    ),
) -> None:
    """Kill workers, PostgreSQL and the broker under load: lost, duplicated, recovery, as JSON."""
    from bench.faults import SCENARIOS, run

    chosen = [s.strip() for s in scenarios.split(",") if s.strip()] or None
    unknown = [s for s in chosen or [] if s not in SCENARIOS]
    if unknown:
        typer.echo(f"unknown --scenarios {unknown}: choose from {','.join(SCENARIOS)}", err=True)
        raise typer.Exit(2)
    doc = run(events_per_second=events_per_second, kills=kills, scenarios=chosen, short=short)
    typer.echo(json.dumps(doc, indent=2, allow_nan=False))
