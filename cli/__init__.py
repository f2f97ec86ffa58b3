"""The `kindred` command line. Each verb group lives in its own module."""

from __future__ import annotations

import typer

from cli import bench, core, demo, dlq, identity, ops, privacy, segments

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Kindred customer data platform")
core.register(app)
ops.register(app)
app.command("demo")(demo.demo)
app.add_typer(identity.app, name="identity", help="Identity resolution tools")
app.add_typer(bench.app, name="bench", help="Benchmarks (print JSON)")
app.add_typer(dlq.app, name="dlq", help="Dead letters: list and replay")
app.add_typer(segments.app, name="segments", help="Segments and membership")
app.add_typer(privacy.app, name="privacy", help="Erasure and suppression of a person")


def main() -> None:
    app()
