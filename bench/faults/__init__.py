"""`kindred bench faults`: what each fault costs, measured from the outside.

A load of uniquely numbered events (identify + track per user ``f-<n>``, unique message ids)
goes through the real collector (``kindred serve``) with a retrying client: a batch is retried
on 5xx, 429 and connection errors with back-off, and only a 2xx counts as acknowledged. The
workers run as separate processes (``worker ingest`` x2, ``identity``, ``profiles``) against
embedded PostgreSQL and the embedded broker in a temporary ``KINDRED_DATA_DIR``; every child
gets only that directory (no URL), exactly as ``kindred infra up`` users run them, so a child
that follows the services after a restart can heal and one that does not is seen not to.

Each scenario is its own phase with its own message ids; the load keeps flowing during the
fault. After the fault the suite sends probes (one new person per Kafka partition every second)
and the scenario has recovered when, for every partition, a probe sent after the fault is
stored and on a fresh profile. Then the load stops, the pipeline drains, and the suite counts:
acknowledged, stored, lost (acknowledged, not stored after the drain), duplicated (events,
touchpoints, source records stored more than once), records left unresolved, profiles left
stale. The suite restarts nothing but what the scenario itself restarts; when a process dies by
itself or the pipeline does not recover, it acts as an operator would (restart the process,
then everything, then reset the ingest consumer group), says so (``person_acted``), and goes on.

The embedded broker keeps messages in memory only: events it acknowledged and the ingest worker
had not yet taken are gone when it dies. The broker scenario counts those separately
(``lost_in_memory_broker``) and checks that no event was acknowledged while no broker ran.

The parts: ``plan`` (scenarios, targets, timings), ``cluster`` (services and processes),
``load`` (the retrying client), ``scenarios`` (the faults), ``suite`` (one phase per scenario,
and what a person does), ``tally`` (the counts and the verdict), ``runner`` (``run``).
"""

from bench.faults.plan import BROKER_SCENARIOS, SCENARIOS
from bench.faults.runner import run

__all__ = ["BROKER_SCENARIOS", "SCENARIOS", "run"]
