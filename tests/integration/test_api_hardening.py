"""The HTTP API never answers 500 for bad input or an outage, and commits before it answers.

- values PostgreSQL cannot store (NUL, lone surrogates, integers beyond 64 bits) in a path,
  query or body field: 422 naming the field, on every endpoint that used to answer 500;
- database errors are mapped in one place: outages 503 with Retry-After, refused values 422,
  constraints 409 (checked with errors the real database raises);
- PostgreSQL down (an app whose engine dials a closed port): every kind of endpoint 503;
- a write is committed before its 2xx: a commit that fails (a deferred constraint trigger)
  answers 5xx/409 and leaves nothing behind, and a GET right after a 201 finds the row;
- ``kindred_ts()`` under forced parallel plans (migration 0006).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy import exc as sa_exc

from api.errors import classify_database_error
from identity.service import resolve_dirty
from ingest.service import persist_events
from kindred.db import make_engine, unit_of_work
from kindred.settings import Settings
from tests.conftest import Infra
from tests.helpers import (
    basic,
    bearer,
    free_port,
    live_server,
    make_api_key,
    make_source,
    message,
)
from tests.integration.test_profiles_pipeline import ev

pytestmark = pytest.mark.integration


def _assert_names_field(r: httpx.Response, loc: str) -> None:
    assert r.status_code in (400, 422), r.text
    err = r.json()["error"]
    assert loc in err["message"], err
    if err.get("details"):
        assert any(d.get("loc") == loc for d in err["details"]), err


def _profile_ids(engine: Engine, n: int) -> list[str]:
    """n resolved profiles (ingest + identity only: the profiles stage is not needed)."""
    events = [ev("identify", userId=f"h{i}", traits={"email": f"h{i}@x.io"}) for i in range(n)]
    with unit_of_work(engine) as session:
        persist_events(session, events)
    with unit_of_work(engine) as session:
        resolve_dirty(session)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id FROM profiles WHERE merged_into IS NULL")).all()
    return [str(r[0]) for r in rows]


class TestUnstorableValues:
    @pytest.mark.parametrize("kind", ["email", "user_id", "crm_contact_id", "anonymous_id"])
    def test_nul_in_identifier_query(self, engine: Engine, server: str, kind: str) -> None:
        key = make_api_key(engine, "read")
        r = httpx.get(f"{server}/v1/profiles?identifier={kind}:a%00b@x.com", headers=bearer(key))
        _assert_names_field(r, "query.identifier")

    def test_nul_in_journey_channel(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "read")
        pid = uuid.uuid4()
        r = httpx.get(f"{server}/v1/profiles/{pid}/journey?channel=e%00", headers=bearer(key))
        _assert_names_field(r, "query.channel")

    def test_nul_in_source_path(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "admin")
        r = httpx.get(f"{server}/v1/sources/web%00site", headers=bearer(key))
        _assert_names_field(r, "path.name")

    def test_nul_in_webhook_path_without_auth(self, server: str) -> None:
        r = httpx.get(f"{server}/v1/webhooks/sendgrid/send%00grid")
        _assert_names_field(r, "path.source")
        r = httpx.post(f"{server}/v1/webhooks/sendgrid/send%00grid?key=k", json=[])
        _assert_names_field(r, "path.source")

    def test_nul_in_merge_reason(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "admin")
        a, b = _profile_ids(engine, 2)
        for reason in ("same\u0000person", "lone \ud800 surrogate"):
            r = httpx.post(
                f"{server}/v1/identity/merge",
                headers={**bearer(key), "content-type": "application/json"},
                # json.dumps escapes both (\u0000, \ud800), as a client's JSON would
                content=_json({"profile_ids": [a, b], "reason": reason}),
            )
            _assert_names_field(r, "body.reason")
        with engine.connect() as conn:
            merged = conn.execute(
                text("SELECT count(*) FROM profiles WHERE merged_into IS NOT NULL")
            ).scalar_one()
        assert merged == 0

    def test_nul_in_config_source_name(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "admin")
        r = httpx.put(
            f"{server}/v1/profiles/config",
            headers=bearer(key),
            json={"survivorship": {"source_priority": ["crm", "we\u0000b"]}},
        )
        _assert_names_field(r, "body")
        assert "survivorship.source_priority[1]" in r.json()["error"]["message"]

    def test_nul_in_segment_body_names_the_field(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "write")
        r = httpx.post(
            f"{server}/v1/segments",
            headers=bearer(key),
            json={"name": "s", "rules": {"trait": "plan", "op": "eq", "value": "a\u0000"}},
        )
        _assert_names_field(r, "body.rules")

    @pytest.mark.parametrize(
        "path",
        [
            "/v1/identity/changes?after=99999999999999999999",
            "/v1/identity/changes?limit=99999999999999999999",
            "/v1/segments/00000000-0000-0000-0000-000000000000/changes?limit=-99999999999999999999",
        ],
    )
    def test_integers_beyond_64_bits(self, engine: Engine, server: str, path: str) -> None:
        key = make_api_key(engine, "read")
        r = httpx.get(f"{server}{path}", headers=bearer(key))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"

    def test_split_record_id_beyond_64_bits(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "admin")
        r = httpx.post(
            f"{server}/v1/identity/split",
            headers=bearer(key),
            json={"profile_id": str(uuid.uuid4()), "records": [{"id": 2**70}]},
        )
        _assert_names_field(r, "body.records.0.id")


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


class TestDatabaseErrorMapping:
    """The one safety net, fed with errors the real database raises."""

    @pytest.mark.parametrize(
        ("sql", "status", "code"),
        [
            ("SELECT 'x'::int", 422, "invalid_value"),
            ("SELECT 1 / 0", 422, "invalid_value"),
            ("SELECT (2^70)::numeric::bigint", 422, "invalid_value"),
            ("SELECT convert_from('\\x00'::bytea, 'UTF8')", 422, "invalid_value"),
            ("INSERT INTO sources (name) SELECT name FROM sources", 409, "conflict"),
        ],
    )
    def test_refused_values_and_constraints(
        self, engine: Engine, sql: str, status: int, code: str
    ) -> None:
        make_source(engine, name="dup")
        with pytest.raises(sa_exc.DBAPIError) as caught, engine.connect() as conn:
            conn.execute(text(sql))
        mapped = classify_database_error(caught.value)
        assert mapped is not None, caught.value
        assert (mapped.status_code, mapped.code) == (status, code), caught.value

    def test_raw_psycopg_and_outages(self, settings: Settings) -> None:
        url = settings.resolved_database_url().replace("postgresql+psycopg://", "postgresql://")
        with pytest.raises(psycopg.Error) as caught, psycopg.connect(url) as conn:
            conn.execute("SELECT %s::text", ["a\x00b"])
        mapped = classify_database_error(caught.value)
        assert mapped is not None and mapped.status_code == 422
        dead = create_engine(f"postgresql+psycopg://x@127.0.0.1:{free_port()}/x")
        with pytest.raises(sa_exc.OperationalError) as down, dead.connect():
            pass
        mapped = classify_database_error(down.value)
        assert mapped is not None and (mapped.status_code, mapped.code) == (
            503,
            "database_unavailable",
        )
        assert classify_database_error(sa_exc.ProgrammingError("x", {}, Exception())) is None


@pytest.fixture
def db_down_server(settings: Settings) -> Iterator[str]:
    """The app with its engine dialling a port nobody listens on (the shared test server
    keeps running)."""
    dead = make_engine(f"postgresql+psycopg://kindred@127.0.0.1:{free_port()}/kindred")
    with live_server(settings, dead) as url:
        yield url
    dead.dispose()


# a profile id fixed at import: a uuid4() in a parametrize id would differ between
# pytest-xdist workers, which then refuse to run ("different tests were collected")
SOME_PROFILE_ID = "3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b"


class TestDatabaseDown:
    @pytest.mark.parametrize(
        ("method", "path", "kind", "body"),
        [
            ("GET", "/v1/profiles?identifier=email:ann@x.io", "bearer", None),
            ("GET", f"/v1/profiles/{SOME_PROFILE_ID}", "bearer", None),
            ("GET", "/v1/segments", "bearer", None),
            ("GET", "/v1/profiles/distribution?by=temperature", "bearer", None),
            ("POST", "/v1/identity/merge", "bearer", {"profile_ids": [str(uuid.uuid4())] * 2}),
            ("PUT", "/v1/profiles/config", "bearer", {}),
            ("GET", "/v1/sources", "bearer", None),
            ("POST", "/v1/track", "basic", {"userId": "u", "event": "E"}),
            ("POST", "/v1/batch", "basic", {"batch": []}),
            ("GET", "/v1/pixel.gif?k=wk_never_seen&e=a@x.io", "none", None),
            ("POST", "/v1/webhooks/sendgrid/mail?key=k", "none", []),
            ("GET", "/v1/webhooks/facebook/ads?key=k&hub.challenge=1", "none", None),
        ],
    )
    def test_every_kind_of_endpoint_answers_503(
        self, db_down_server: str, method: str, path: str, kind: str, body: Any
    ) -> None:
        headers = {
            "bearer": bearer("kd_whatever"),
            "basic": basic(f"wk_{uuid.uuid4().hex}"),  # never cached: the lookup must run
            "none": {},
        }[kind]
        r = httpx.request(method, f"{db_down_server}{path}", headers=headers, json=body)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "database_unavailable"
        assert r.headers["retry-after"].isdigit()
        assert "Traceback" not in r.text


_TRAP = """
CREATE FUNCTION kindred_test_fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused at COMMIT' USING ERRCODE = '{errcode}';
END $$;
"""


def _trap_commits(engine: Engine, table: str, *, errcode: str = "P0001") -> None:
    """Make every COMMIT that wrote ``table`` fail (a deferred constraint trigger)."""
    with engine.begin() as conn:
        conn.execute(text(_TRAP.format(errcode=errcode)))
        conn.execute(
            text(
                f"CREATE CONSTRAINT TRIGGER kindred_test_fail_commit AFTER INSERT OR UPDATE "
                f"OR DELETE ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                f"EXECUTE FUNCTION kindred_test_fail_commit()"
            )
        )


def _untrap(engine: Engine, table: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"DROP TRIGGER kindred_test_fail_commit ON {table}"))


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


SEGMENT = {"rules": {"trait": "plan", "op": "eq", "value": "pro"}}


class TestCommittedBeforeAcknowledged:
    @pytest.mark.parametrize(("errcode", "status"), [("P0001", 500), ("23514", 409)])
    def test_failed_commit_of_a_new_segment(
        self, engine: Engine, server: str, errcode: str, status: int
    ) -> None:
        key = make_api_key(engine, "admin")
        _trap_commits(engine, "segments", errcode=errcode)
        r = httpx.post(f"{server}/v1/segments", headers=bearer(key), json={"name": "s", **SEGMENT})
        assert r.status_code == status, r.text
        assert _count(engine, "SELECT count(*) FROM segments") == 0
        _untrap(engine, "segments")
        r = httpx.post(f"{server}/v1/segments", headers=bearer(key), json={"name": "s", **SEGMENT})
        assert r.status_code == 201, r.text

    def test_failed_commit_of_a_segment_delete(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "admin")
        r = httpx.post(f"{server}/v1/segments", headers=bearer(key), json={"name": "d", **SEGMENT})
        assert r.status_code == 201, r.text
        _trap_commits(engine, "segments")
        r2 = httpx.delete(f"{server}/v1/segments/{r.json()['id']}", headers=bearer(key))
        assert r2.status_code >= 500, r2.text
        assert _count(engine, "SELECT count(*) FROM segments") == 1

    def test_failed_commit_of_a_merge(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "admin")
        a, b = _profile_ids(engine, 2)
        _trap_commits(engine, "profiles")
        r = httpx.post(
            f"{server}/v1/identity/merge",
            headers=bearer(key),
            json={"profile_ids": [a, b], "reason": "test"},
        )
        assert r.status_code >= 500, r.text
        assert _count(engine, "SELECT count(*) FROM profiles WHERE merged_into IS NOT NULL") == 0

    def test_failed_commit_of_config(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "admin")
        _trap_commits(engine, "profiles_settings")
        r = httpx.put(
            f"{server}/v1/profiles/config",
            headers=bearer(key),
            json={"survivorship": {"source_priority": ["web", "crm"]}},
        )
        assert r.status_code >= 500, r.text
        assert _count(engine, "SELECT count(*) FROM profiles_settings") == 0

    def test_failed_commit_of_a_collector_rejection(self, engine: Engine, server: str) -> None:
        _, write_key = make_source(engine)
        _trap_commits(engine, "dead_letters")
        r = httpx.post(
            f"{server}/v1/batch",
            headers=basic(write_key),
            json={"batch": [{"type": "nonsense", "messageId": "m1"}]},
        )
        assert r.status_code >= 500, r.text

    def test_collector_rejections_are_stored_before_the_reply(
        self, engine: Engine, server: str
    ) -> None:
        _, write_key = make_source(engine)
        for i in range(10):
            r = httpx.post(
                f"{server}/v1/batch",
                headers=basic(write_key),
                json={"batch": [message("track", userId="u", event="E"), {"type": "nonsense"}]},
            )
            assert r.status_code == 200, r.text
            assert r.json().get("rejected"), r.text
            assert _count(engine, "SELECT count(*) FROM dead_letters") == i + 1

    def test_a_get_right_after_a_201_finds_the_row(self, engine: Engine, server: str) -> None:
        key = make_api_key(engine, "admin")
        with httpx.Client(base_url=server, headers=bearer(key)) as client:
            for i in range(30):
                r = client.post("/v1/segments?compute=false", json={"name": f"r{i}", **SEGMENT})
                assert r.status_code == 201, r.text
                got = client.get(f"/v1/segments/{r.json()['id']}")
                assert got.status_code == 200, (i, got.text)
                gone = client.delete(f"/v1/segments/{r.json()['id']}")
                assert gone.status_code == 204, gone.text
                assert client.get(f"/v1/segments/{r.json()['id']}").status_code == 404, i


class TestParallelPlans:
    def test_distribution_under_forced_parallel_plans(
        self, engine: Engine, server: str, settings: Settings, infra_services: Infra
    ) -> None:
        key = make_api_key(engine, "read")
        _profile_ids(engine, 3)
        # a customer, so that kindred_ts() is evaluated for a row of the 90-day KPI
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE profiles SET computed = jsonb_build_object("
                    "'lifecycle', jsonb_build_object('stage', 'active_customer'),"
                    "'temperature', jsonb_build_object('value', 'hot'),"
                    "'lead_score', jsonb_build_object('last_interaction_at', now()::text))"
                )
            )
        name = settings.resolved_database_url().rsplit("/", 1)[1]
        with psycopg.connect(infra_services.admin_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" SET debug_parallel_query = on')
        engine.dispose()  # new connections pick the setting up
        with engine.connect() as conn:
            assert conn.execute(text("SHOW debug_parallel_query")).scalar_one() == "on"
        for by in ("temperature", "lifecycle", "journey_stage", "churn_risk"):
            r = httpx.get(f"{server}/v1/profiles/distribution?by={by}", headers=bearer(key))
            assert r.status_code == 200, (by, r.text)
        body = httpx.get(
            f"{server}/v1/profiles/distribution?by=temperature", headers=bearer(key)
        ).json()
        assert body, body


class TestSpecAndDocs:
    def test_spec_declares_auth_statuses_and_bodies(self, server: str) -> None:
        spec = httpx.get(f"{server}/openapi.json").json()
        schemes = spec["components"]["securitySchemes"]
        assert schemes["apiKey"] == {
            "type": "http",
            "scheme": "bearer",
            "description": schemes["apiKey"]["description"],
        }
        assert schemes["writeKey"]["scheme"] == "basic"
        track = spec["paths"]["/v1/track"]["post"]
        assert track["security"] == [{"writeKey": []}]
        assert {"400", "401", "413", "422", "429", "503"} <= set(track["responses"])
        assert "event" in track["requestBody"]["content"]["application/json"]["schema"]["required"]
        merge = spec["paths"]["/v1/identity/merge"]["post"]
        assert {"401", "403", "404", "409", "422", "503"} <= set(merge["responses"])
        assert "Retry-After" in merge["responses"]["503"]["headers"]

    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            ("PATCH", "/v1/segments", {"GET", "POST"}),
            ("OPTIONS", "/v1/profiles/config", {"GET", "PUT"}),
            ("DELETE", "/v1/profiles/distribution", {"GET"}),
        ],
    )
    def test_405_lists_every_allowed_method(
        self, server: str, method: str, path: str, allow: set[str]
    ) -> None:
        r = httpx.request(method, f"{server}{path}")
        assert r.status_code == 405, r.text
        assert {m.strip() for m in r.headers["allow"].split(",")} == allow

    def test_docs_work_offline(self, server: str) -> None:
        page = httpx.get(f"{server}/docs")
        assert page.status_code == 200
        assert "/docs/static/docs.js" in page.text
        assert "http://" not in page.text and "https://" not in page.text  # nothing remote
        for name in ("docs.js", "docs.css"):
            asset = httpx.get(f"{server}/docs/static/{name}")
            assert asset.status_code == 200 and asset.content
            assert "https://" not in asset.text
