"""Operational verbs: serve, worker, keys, sources, import, resolve."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import Progress

from kindred.db import get_engine, unit_of_work
from kindred.errors import KindredError
from kindred.security import KeyOut
from kindred.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kindred.settings import Settings

err = Console(stderr=True)
secrets_app = typer.Typer(no_args_is_help=True, help="Secrets encrypted at rest")
keys_app = typer.Typer(no_args_is_help=True, help="API keys for the read/admin API")
sources_app = typer.Typer(no_args_is_help=True, help="Sources (connector instances)")


def _logging() -> None:
    logging.basicConfig(
        level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def serve(
    host: str = typer.Option(None, help="default: KINDRED_API_HOST"),
    port: int = typer.Option(None, help="default: KINDRED_API_PORT"),
) -> None:
    """Serve the HTTP API (collector, webhooks, profiles, UI)."""
    import uvicorn

    from api.app import create_app
    from ingest.producer import EventPublisher

    settings = get_settings()
    # Both follow the embedded services if `kindred infra up` had to move them to new ports.
    publisher = EventPublisher(
        settings.kafka_bootstrap or settings.resolved_kafka_bootstrap,
        settings.events_topic,
        partitions=settings.topic_partitions,
    )
    uvicorn.run(
        create_app(settings, engine=get_engine(), publisher=publisher),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="warning",
    )


def worker(
    kind: str = typer.Argument(..., help="ingest | identity | profiles"),
    concurrency: int = typer.Option(
        1,
        "--concurrency",
        min=1,
        max=64,
        help="identity only: this many workers, each in its own process (they claim disjoint"
        " records and lock only the profiles they touch)",
    ),
) -> None:
    """Run one worker until SIGTERM/Ctrl-C (finishes the current batch first)."""
    _logging()
    from cli.runtime import identity_worker, ingest_worker, profiles_worker

    settings = get_settings()
    engine = get_engine()  # follows the embedded server if `infra up` moves it
    if kind == "ingest":
        w = ingest_worker(settings, engine)
        w.install_signal_handlers()
        stats = w.run()
        err.print(f"ingest worker stopped: {stats}")
    elif kind == "identity" and concurrency > 1:
        _identity_workers(settings, engine, concurrency)
    elif kind == "identity":
        iw = identity_worker(settings, engine)
        iw.install_signal_handlers()
        iw.run()
    elif kind == "profiles":
        pw = profiles_worker(settings, engine)
        pw.install_signal_handlers()
        pw.run()
    else:
        raise typer.BadParameter("worker must be one of: ingest, identity, profiles")


def _identity_workers(settings: Settings, engine: Engine, count: int) -> None:
    """``count`` identity worker processes until SIGTERM/Ctrl-C; a worker that dies is
    restarted (its claimed records were released with its transaction)."""
    import threading

    from cli.runtime import identity_config
    from identity.worker import start_workers, stop_workers
    from kindred.signals import stop_on_signals

    stop = threading.Event()
    stop_on_signals(stop.set, name="identity workers")
    url = engine.url.render_as_string(hide_password=False)
    config = identity_config(settings)
    procs = start_workers(url, config, count)
    err.print(f"{count} identity workers started (pids {', '.join(str(p.pid) for p in procs)})")
    try:
        while not stop.wait(1.0):
            for i, proc in enumerate(procs):
                if not proc.is_alive():
                    err.print(f"identity worker {proc.name} exited ({proc.exitcode}); restarting")
                    procs[i] = start_workers(url, config, 1)[0]
    finally:
        stop_workers(procs)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str, *, option: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``7d`` (or plain seconds)."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _UNITS else "s"
    number = raw[:-1] if raw[-1:] in _UNITS else raw
    try:
        value = float(number)
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r}: expected e.g. 90s, 15m, 24h, 7d") from None
    if value < 0:
        raise typer.BadParameter(f"{option} must not be negative")
    return timedelta(seconds=value * _UNITS[unit])


def _key_row(key: KeyOut) -> dict[str, object]:
    return key.model_dump(mode="json", exclude={"api_key"})


def _fail(error: KindredError) -> typer.Exit:
    err.print(f"[red]{error.message}[/red]")
    return typer.Exit(1)


@keys_app.command("create")
def keys_create(
    scope: list[str] = typer.Option(["read"], "--scope", help="read | write | admin (repeatable)"),
    name: str = typer.Option("cli", help="a label for the key"),
    expires: str = typer.Option(None, "--expires", help="lifetime, e.g. 30d (default: none)"),
) -> None:
    """Create an API key; prints it once (only its hash is stored)."""
    from kindred.security import create_api_key

    expires_at = datetime.now(UTC) + _duration(expires, option="--expires") if expires else None
    with unit_of_work() as session:
        try:
            key, secret = create_api_key(session, name=name, scopes=scope, expires_at=expires_at)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from e
        typer.echo(
            json.dumps({"id": key.id, "name": key.name, "scopes": key.scopes, "api_key": secret})
        )


@keys_app.command("list")
def keys_list(
    active: bool = typer.Option(False, "--active", help="hide revoked keys"),
) -> None:
    """List API keys: id, prefix, name, scopes, state, created, last used, expiry. Never
    the secret (it is not stored) nor its hash."""
    from kindred.security import list_api_keys

    with unit_of_work() as session:
        rows = [_key_row(k) for k in list_api_keys(session, include_revoked=not active)]
    typer.echo(json.dumps(rows, indent=2))


@keys_app.command("revoke")
def keys_revoke(
    key_id: int = typer.Argument(..., help="the key's id (see `kindred keys list`)"),
) -> None:
    """Revoke an API key now: its next request gets 401."""
    from kindred.security import revoke_api_key

    try:
        with unit_of_work() as session:
            row = _key_row(revoke_api_key(session, key_id=key_id))
    except KindredError as e:
        raise _fail(e) from e
    typer.echo(json.dumps(row))


@keys_app.command("rotate")
def keys_rotate(
    key_id: int = typer.Argument(..., help="the key's id (see `kindred keys list`)"),
    overlap: str = typer.Option("0", "--overlap", help="the old key keeps working this long"),
    expires: str = typer.Option(None, "--expires", help="lifetime of the new key, e.g. 90d"),
) -> None:
    """Replace an API key with a new one (same name and scopes); prints the new key once."""
    from kindred.security import rotate_api_key

    window = _duration(overlap, option="--overlap")
    expires_at = datetime.now(UTC) + _duration(expires, option="--expires") if expires else None
    try:
        with unit_of_work() as session:
            key = rotate_api_key(session, key_id=key_id, overlap=window, expires_at=expires_at)
            row = {**_key_row(key), "api_key": key.api_key, "replaces": key_id}
    except KindredError as e:
        raise _fail(e) from e
    typer.echo(json.dumps(row))


@sources_app.command("create")
def sources_create(
    connector: str = typer.Option(..., help="connector name (see `kindred connectors list`)"),
    name: str = typer.Option(..., help="a unique source name"),
    default_region: str = typer.Option("US", help="phone region for numbers without +country"),
    config: list[str] = typer.Option(
        [],
        "--config",
        help="KEY=VALUE source setting, repeatable (e.g. verification_key=..., app_secret=..., "
        "client_secret=..., verify_token=..., rate_limit=...)",
    ),
) -> None:
    """Create a source; prints its write key and webhook URL."""
    from connectors.base import ConnectorError
    from connectors.registry import get_connector
    from ingest.sources import create_source

    try:
        impl = get_connector(connector)
    except ConnectorError as e:
        raise typer.BadParameter(e.message) from e
    settings = get_settings()
    source_config: dict[str, object] = {"default_region": default_region}
    for item in config:
        key_name, sep, value = item.partition("=")
        if not sep or not key_name.strip():
            raise typer.BadParameter(f"--config {item!r}: expected KEY=VALUE")
        source_config[key_name.strip()] = value
    with unit_of_work() as session:
        _, key = create_source(session, name=name, connector=impl.name, config=source_config)
    base = f"http://{settings.api_host}:{settings.api_port}"
    typer.echo(
        json.dumps(
            {
                "source": name,
                "connector": impl.name,
                "write_key": key,
                # the key in a header keeps it out of proxy logs; the query form is for vendors
                # that allow nothing else
                "webhook_endpoint": f"{base}/v1/webhooks/{impl.name}/{name}",
                "webhook_headers": {"Authorization": f"Bearer {key}"},
                "webhook_url": f"{base}/v1/webhooks/{impl.name}/{name}?key={key}",
                "collector_url": f"{base}/v1/batch" if impl.name == "web" else None,
            }
        )
    )


@sources_app.command("rotate-key")
def sources_rotate_key(
    name: str = typer.Argument(..., help="the source"),
    overlap: str = typer.Option(
        "24h", "--overlap", help="the old write key keeps working this long (0: stops now)"
    ),
) -> None:
    """Give a source a new write key (printed once); the old one stops after the overlap."""
    from ingest.sources import rotate_write_key

    window = _duration(overlap, option="--overlap")
    try:
        with unit_of_work() as session:
            row, key = rotate_write_key(session, name=name, overlap=window)
            until = row.previous_key_expires_at
    except KindredError as e:
        raise _fail(e) from e
    typer.echo(
        json.dumps(
            {
                "source": name,
                "write_key": key,
                "previous_key_valid_until": until.isoformat() if until else None,
            }
        )
    )


@secrets_app.command("reencrypt")
def secrets_reencrypt() -> None:
    """Encrypt every source secret under KINDRED_SECRET_KEY: legacy plaintext values, and
    values still under a key listed in KINDRED_SECRET_KEY_PREVIOUS (key rotation)."""
    from ingest.sources import reencrypt_sources

    try:
        with unit_of_work() as session:
            changed = reencrypt_sources(session)
    except KindredError as e:
        raise _fail(e) from e
    typer.echo(json.dumps({"sources_rewritten": changed}))


@sources_app.command("list")
def sources_list() -> None:
    """List sources with their accepted/rejected counters."""
    from ingest.sources import list_sources

    with unit_of_work() as session:
        rows = [
            {
                "source": s.name,
                "connector": s.connector,
                "accepted": s.accepted,
                "rejected": s.rejected,
            }
            for s in list_sources(session)
        ]
    typer.echo(json.dumps(rows, indent=2))


def import_file(
    connector: str = typer.Argument(..., help="connector that reads the file, e.g. crm"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    source: str = typer.Option(..., "--source", help="the source the rows belong to"),
    kind: str = typer.Option(
        None, help="contacts | companies | deals | activities | ... (default: from the header)"
    ),
    preset: str = typer.Option(None, help="header preset, e.g. hubspot, salesforce, amocrm"),
    mapping_file: Path = typer.Option(
        None, "--mapping-file", exists=True, dir_okay=False, help="JSON column mapping"
    ),
) -> None:
    """Import a file through a connector into Kafka; rejected rows are listed by line."""
    from connectors.base import ConnectorError
    from connectors.registry import get_connector
    from ingest.collect import record_rejections
    from ingest.producer import EventPublisher
    from ingest.sources import connector_config, source_info

    settings = get_settings()
    impl = get_connector(connector)
    with unit_of_work() as session:
        row = source_info(session, name=source)
        config = connector_config(row.config, settings=settings)
    if kind:
        config["kind"] = kind
    if preset:
        config["preset"] = preset
    if mapping_file:
        config["mapping_file"] = str(mapping_file)
    publisher = EventPublisher(
        settings.resolved_kafka_bootstrap(),
        settings.events_topic,
        partitions=settings.topic_partitions,
    )
    accepted = 0
    rejected = []
    try:
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task(f"importing {file.name}", total=None)
            for result in impl.parse_file(file, source=source, config=config):
                publisher.publish(result.events)
                accepted += len(result.events)
                rejected.extend(result.rejected)
                progress.update(task, advance=len(result.events) + len(result.rejected))
    except ConnectorError as e:
        from ingest.collect import record_payload_failure

        with unit_of_work() as session:
            record_payload_failure(
                session,
                source=source,
                connector=impl.name,
                reason=e.message,
                body=file.read_bytes()[:100_000],
            )
        err.print(f"[red]{file}: {e.message}[/red]")
        raise typer.Exit(2) from e
    finally:
        publisher.close()
    with unit_of_work() as session:
        record_rejections(session, source=source, rejected=rejected, connector=impl.name)
    for r in rejected[:50]:
        err.print(f"[yellow]{file}:{r.index}: {r.reason}[/yellow]")
    typer.echo(json.dumps({"file": str(file), "accepted": accepted, "rejected": len(rejected)}))


def resolve(
    full: bool = typer.Option(False, "--full", help="re-resolve every record with Splink"),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="with --full: score pairs on duckdb (in process) or spark (KINDRED_SPARK_MASTER)",
    ),
    all_accounts: bool = typer.Option(
        False,
        "--all-accounts",
        help="with --full: choose every profile's account again (after the account rules "
        "changed), not only those of the profiles this run changed",
    ),
) -> None:
    """Resolve identities now. ``--full``: every record through the full resolver
    (deterministic links, overrides, Splink, constrained clustering), keeping profile ids."""
    from identity.service import resolve_step
    from identity.spark_engine import check_engine

    try:
        chosen = check_engine(engine)
    except ValueError as exc:
        err.print(f"[red]error:[/red] --engine: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    if full:
        from identity.batch import resolve_full

        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("batch resolution", total=None)

            def say(message: str) -> None:
                progress.update(task, description=message)

            with unit_of_work() as session:
                result = resolve_full(
                    session, progress=say, engine=chosen, all_accounts=all_accounts
                )
        typer.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    total = 0
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("resolving", total=None)
        while True:
            with unit_of_work() as session:
                step = resolve_step(session, limit=get_settings().identity_batch_size)
            if step.records == 0:
                break
            total += step.records
            progress.update(task, advance=step.records)
    typer.echo(json.dumps({"resolved_records": total}))


connectors_app = typer.Typer(no_args_is_help=True, help="Source connectors")


@connectors_app.command("list")
def connectors_list() -> None:
    """List every connector: built-ins and those installed through the entry point."""
    from connectors.registry import available

    rows = [
        {
            "name": name,
            "channel": cls.channel,
            "webhook": cls.webhook,
            "files": cls.files,
            "module": cls.__module__,
            "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
        }
        for name, cls in sorted(available().items())
    ]
    typer.echo(json.dumps(rows, indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(connectors_app, name="connectors")
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(keys_app, name="keys")
    app.add_typer(sources_app, name="sources")
    app.add_typer(secrets_app, name="secrets")
    app.command("import")(import_file)
    app.command("resolve")(resolve)
