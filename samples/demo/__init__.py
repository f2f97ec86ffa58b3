"""Sample data for ``kindred demo`` and the ingest benchmarks.

:func:`generate_world` makes a reproducible B2B world (companies, people, and the payloads
web, email, CRM and ads sources send about them); :func:`segment_events_for_bench` makes a
fast stream of Segment batches for throughput tests.
"""

from samples.demo.world import (
    Company,
    DemoWorld,
    Person,
    generate_world,
    segment_events_for_bench,
)

__all__ = [
    "Company",
    "DemoWorld",
    "Person",
    "generate_world",
    "segment_events_for_bench",
]
