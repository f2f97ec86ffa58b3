"""`kindred demo`: embedded infra, schema, keys, sample data from all four channels, API + UI.

The sample world goes through the real path: Segment batches and vendor webhooks over HTTP
to the running API, the CRM export through the CSV connector, all of it through Kafka and
the workers. Ctrl-C / SIGTERM stops what the demo started.
"""

from __future__ import annotations

import json
import signal
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.progress import Progress

from kindred import infra
from kindred.db import make_engine, unit_of_work
from kindred.settings import Settings, get_settings

if TYPE_CHECKING:
    from samples.demo.model import DemoWorld

console = Console(stderr=True)

DEMO_SOURCES = (
    ("website", "web"),
    ("sendgrid", "sendgrid"),
    ("crm", "crm"),
    ("leadforms", "leadform"),
)


def ensure_source(session: Any, *, name: str, connector: str, key: str | None) -> str:
    """Create the source, or give an existing one a fresh (or the requested) write key."""
    from ingest.sources import create_source, rotate_write_key, source_info
    from kindred.errors import NotFound

    try:
        source_info(session, name=name)
    except NotFound:
        _, secret = create_source(
            session, name=name, connector=connector, write_key=key, config={"default_region": "US"}
        )
        return secret
    _, secret = rotate_write_key(session, name=name, overlap=timedelta(0), write_key=key)
    return secret


def wait_until_settled(engine: Any, *, expected_events: int, timeout: float = 300) -> None:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from ingest.service import pipeline_progress

    deadline = time.monotonic() + timeout
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("ingesting and resolving", total=expected_events)
        while time.monotonic() < deadline:
            with Session(engine) as session:
                events, dirty = pipeline_progress(session)
                # and every profile materialised: account rollups read their people's traits
                stale = session.execute(
                    text("SELECT count(*) FROM profiles WHERE stale")
                ).scalar_one()
            progress.update(task, completed=min(events, expected_events))
            if events >= expected_events and dirty == 0 and stale == 0:
                return
            time.sleep(0.5)
    console.print("[yellow]the pipeline is still catching up; the API serves what is ready[/]")


def feed_world(
    base: str, keys: dict[str, str], settings: Settings, world: DemoWorld | None = None
) -> int:
    """Send the sample world (default: the demo's) through the collector, the webhooks and the
    CRM importer; returns the number of events accepted."""
    from connectors.registry import get_connector
    from ingest.producer import EventPublisher
    from samples.demo.world import generate_world

    world = generate_world() if world is None else world
    sent = 0
    auth = (keys["website"], "")
    with (
        httpx.Client(base_url=base, timeout=30) as client,
        Progress(console=console, transient=True) as progress,
    ):
        total = (
            len(world.segment_batches) + len(world.sendgrid_payloads) + len(world.lead_payloads) + 2
        )
        task = progress.add_task("sending sample data", total=total)
        for batch in world.segment_batches:
            r = client.post("/v1/batch", json=batch, auth=auth)
            r.raise_for_status()
            sent += len(batch["batch"]) - len(r.json().get("rejected", []))
            progress.advance(task)
        for payload in world.sendgrid_payloads:
            # the key in a header, not the URL (URLs land in access logs)
            r = client.post(
                "/v1/webhooks/sendgrid/sendgrid",
                json=payload,
                headers={"X-Kindred-Key": keys["sendgrid"]},
            )
            r.raise_for_status()
            sent += int(r.json()["accepted"])
            progress.advance(task)
        for lead in world.lead_payloads:
            r = client.post(
                "/v1/webhooks/leadform/leadforms",
                json=lead,
                headers={"Authorization": f"Bearer {keys['leadforms']}"},
            )
            r.raise_for_status()
            sent += int(r.json()["accepted"])
            progress.advance(task)
        crm = get_connector("crm")
        publisher = EventPublisher(
            settings.resolved_kafka_bootstrap(),
            settings.events_topic,
            partitions=settings.topic_partitions,
        )
        with tempfile.TemporaryDirectory() as tmp:
            for kind, text in (
                ("companies", world.crm_companies_csv),
                ("contacts", world.crm_contacts_csv),
            ):
                path = Path(tmp) / f"{kind}.csv"
                path.write_text(text, encoding="utf-8")
                for result in crm.parse_file(path, source="crm", config={"kind": kind}):
                    publisher.publish(result.events)
                    sent += len(result.events)
                    for rej in result.rejected:
                        console.print(f"[yellow]{kind}.csv:{rej.index}: {rej.reason}[/]")
                progress.advance(task)
        publisher.close()
    return sent


def demo(
    seed_only: bool = typer.Option(False, help="load the data, print the keys, then exit"),
) -> None:
    """Run the whole product locally with sample data from web, email, CRM and ads."""
    from api.app import create_app
    from cli.runtime import build_workers
    from kindred.migrate import upgrade
    from kindred.security import create_api_key

    settings = get_settings()
    was_running = infra.status(settings)
    started_here = not (was_running.database_running and was_running.kafka_running)
    console.print("[bold]Kindred demo[/]: starting embedded PostgreSQL and Kafka broker...")
    infra.up(settings)
    settings = Settings()  # re-read: the infra state file now names the services
    upgrade(settings.resolved_database_url())
    # follows the embedded server if a restart moves it (no-op with KINDRED_DATABASE_URL)
    engine = make_engine(
        settings.resolved_database_url(), follow=None if settings.database_url else settings
    )

    keys: dict[str, str] = {}
    with unit_of_work(engine) as session:
        _, api_key = create_api_key(
            session,
            name="demo-admin",
            scopes=["admin", "read", "write"],
            secret=settings.demo_api_key,
        )
        for name, connector in DEMO_SOURCES:
            wanted = settings.demo_write_key if name == "website" else None
            keys[name] = ensure_source(session, name=name, connector=connector, key=wanted)

    workers = build_workers(settings, engine).start()
    app = create_app(settings, engine=engine)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="kindred-api", daemon=True)
    thread.start()
    base = f"http://{settings.api_host}:{settings.api_port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            workers.stop()
            raise typer.Exit(
                f"the API could not listen on {settings.api_host}:{settings.api_port}; "
                "set KINDRED_API_PORT to a free port"  # type: ignore[arg-type]
            )
        time.sleep(0.1)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    try:
        sent = feed_world(base, keys, settings)
        wait_until_settled(engine, expected_events=sent)
        from samples.segments import create_demo_segments

        with unit_of_work(engine) as session:
            segments = create_demo_segments(session)
        console.print(f"created {len(segments)} ready-made segments")
        summary = {
            "ui": f"{base}/ui/",
            "api": f"{base}/v1",
            "openapi": f"{base}/openapi.json",
            "api_key": api_key,
            "write_keys": keys,
            "collector": f"{base}/v1/batch  (HTTP Basic username = write key of 'website')",
            "example": (
                f"curl -H 'Authorization: Bearer {api_key}' "
                f"'{base}/v1/profiles?identifier=email:...'"
            ),
        }
        typer.echo(json.dumps(summary, indent=2))
        console.print(f"[green]Kindred is running at {base}/ui/ — Ctrl-C stops it.[/]")
        while not stop.is_set() and not seed_only:
            stop.wait(0.5)
    finally:
        console.print("stopping...")
        server.should_exit = True
        thread.join(10)
        workers.stop()
        engine.dispose()
        if started_here:
            infra.down(settings)
