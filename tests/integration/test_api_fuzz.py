"""schemathesis over /openapi.json against the real app, database and broker.

Every built-in check (server errors, status codes, content types, response schemas and
headers, positive/negative data, unsupported methods and ``Allow``, auth, ...) in every phase
(examples, coverage, fuzzing, stateful), with the admin key for the API and a real write key
for the collector. The counts (operations, cases, failures per check) are printed, and the
run must end with no failure at all.
"""

from __future__ import annotations

import collections
import time
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.engine import Status, events, from_schema
from sqlalchemy import Engine

from kindred.settings import Settings
from tests.helpers import make_api_key, make_source

pytestmark = pytest.mark.integration

#: small enough for the whole run to take about a minute on 2 shared cores
MAX_EXAMPLES = 8


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One admin key sends every case, faster than the default per-key read budget (50/s):
    that budget is not what is under test here (429 is declared all the same)."""
    return settings.model_copy(update={"read_rate_limit": 1e6, "read_rate_burst": 1e6})


def _config(server: str, *, admin: str, write_key: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 1,
            "workers": 1,
            "base-url": server,
            "generation": {"max-examples": MAX_EXAMPLES, "no-shrink": True},
            "phases": {"fuzzing": {"enabled": False}},
            "auth": {
                "openapi": {
                    "apiKey": {"bearer": admin},
                    "writeKey": {"username": write_key, "password": ""},
                }
            },
            "request-timeout": 20,
            "operations": [
                # Segment's semantics: a batch answers 200 and lists the messages it could not
                # take in `rejected` (one bad message must not fail the others), so a batch
                # with an invalid message is accepted by design.
                {
                    "include-path": "/v1/batch",
                    "checks": {"negative_data_rejection": {"enabled": False}},
                },
                # The segment rule language is checked by meaning (fields, operators, values;
                # docs/segments.md), not by JSON Schema: a well-formed but meaningless rule is
                # a 422 that points at the offending part.
                {
                    "include-path": "/v1/segments",
                    "include-method": "POST",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
                        }
                    },
                },
            ],
        }
    )


def _short(body: Any) -> str:
    text = repr(body) if body is not None and not isinstance(body, type) else ""
    return text[:300]


def _run(schema: Any) -> tuple[collections.Counter[str], int, list[str]]:
    """Run the engine; (failures per check, cases, failure descriptions)."""
    failures: collections.Counter[str] = collections.Counter()
    described: list[str] = []
    cases = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.NonFatalError):
            failures["error"] += 1
            described.append(f"error in {event.label}: {event.info.message}")
            continue
        if isinstance(event, events.FatalError):
            failures["fatal"] += 1
            described.append(f"fatal: {event.exception!r}")
            continue
        if not isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            continue
        recorder = event.recorder
        cases += len(recorder.cases)
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status != Status.FAILURE:
                    continue
                failures[check.name] += 1
                case = recorder.cases[case_id].value
                info = check.failure_info
                title = info.failure.title if info is not None else check.name
                described.append(
                    f"{check.name}: {case.operation.label} {case.path_parameters or ''} "
                    f"{case.query or ''} {_short(case.body)} -> {title}: "
                    f"{(info.failure.message if info is not None else '')[:300]}"
                )
    return failures, cases, described


def test_schemathesis_finds_nothing(engine: Engine, server: str) -> None:
    admin = make_api_key(engine, "admin")
    _, write_key = make_source(engine, name="fuzz-web")
    openapi = httpx.get(f"{server}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(
        openapi, config=_config(server, admin=admin, write_key=write_key)
    )
    operations = sum(isinstance(result, Ok) for result in schema.get_all_operations())
    started = time.monotonic()
    failures, cases, described = _run(schema)
    elapsed = time.monotonic() - started
    print(
        f"\nschemathesis: {operations} operations, {cases} cases, "
        f"{sum(failures.values())} failures {dict(failures)} in {elapsed:.0f} s"
    )
    for line in sorted(set(described)):
        print("  ", line)
    assert operations >= 30
    assert cases > operations
    assert not failures, "\n".join(sorted(set(described)))
