"""One settings object, read from the environment once (prefix ``KINDRED_``)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

EVENTS_TOPIC = "kindred.events"
DLQ_TOPIC = "kindred.events.dlq"
IDENTITY_CHANGES_TOPIC = "kindred.identity.changes"
SEGMENT_CHANGES_TOPIC = "kindred.segments.changes"


class Settings(BaseSettings):
    """Runtime configuration. Every field may be set as ``KINDRED_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="KINDRED_", frozen=True, extra="ignore", populate_by_name=True
    )

    data_dir: Path = Path(".kindred")
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    events_topic: str = EVENTS_TOPIC
    dlq_topic: str = DLQ_TOPIC
    identity_changes_topic: str = IDENTITY_CHANGES_TOPIC
    segment_changes_topic: str = SEGMENT_CHANGES_TOPIC
    #: partitions of the topics Kindred creates (``KINDRED_KAFKA_PARTITIONS``; the older
    #: ``KINDRED_TOPIC_PARTITIONS`` is still read). Events are keyed by person, so one
    #: person's events stay in order on one partition; more partitions, more ingest workers.
    #: Topics that already exist keep their partition count.
    topic_partitions: int = Field(
        default=4,
        ge=1,
        validation_alias=AliasChoices("KINDRED_KAFKA_PARTITIONS", "KINDRED_TOPIC_PARTITIONS"),
    )
    #: dirty records an identity worker takes per pass; each pass locks every identifier
    #: value of its records in PostgreSQL's shared lock table (docs/limits.md)
    identity_batch_size: int = Field(default=1000, ge=1, le=50_000)
    demo_api_key: str | None = None
    demo_write_key: str | None = None
    log_level: str = "INFO"
    #: a worker with work waiting and no progress for this long reports itself stuck (and the
    #: ingest worker heals its consumer group)
    worker_stuck_after_s: float = 15.0
    heartbeat_every_s: float = 2.0
    #: master key for secrets at rest (source config) and keyed hashes; unset: generated once
    #: into ``data_dir/secret.key`` (mode 0600). Read it through ``kindred.secrets``.
    secret_key: str | None = None
    #: old master keys (comma-separated) still accepted for decryption while rotating
    secret_key_previous: str | None = None
    #: /readyz: a worker is stuck after this long with lag and no progress, dead after this
    #: long without a heartbeat (see kindred.healthcheck)
    ready_stuck_seconds: float = 30.0
    #: /readyz and /metrics forget heartbeat rows older than this (workers that died long ago)
    ready_forget_seconds: float = 600.0
    #: the read/admin API's budget per API key, shared by every API process: requests per
    #: second on average (0: no limit), and the burst (at least 1). Beyond: 429 with
    #: Retry-After (see kindred.ratelimit)
    read_rate_limit: float = 50.0
    read_rate_burst: float = 100.0
    #: a process takes this many seconds' worth of a bucket's rate at once (at least 1 token,
    #: at most a tenth of the burst or 100) and hands them out from memory: one database
    #: statement per lease. 0: one statement per request (exact).
    rate_limit_lease_seconds: float = 0.01
    #: origins allowed to call the read/admin API from a browser (CORS), comma-separated or a
    #: JSON list; empty (default): no CORS headers at all. The collector's CORS is per source
    #: (``allowed_origins`` in its config), not this.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    #: when set, ``/metrics`` needs ``Authorization: Bearer <this>``; unset: open
    metrics_key: SecretStr | None = None
    #: ``resolve --full --engine spark`` / ``identity dedupe --engine spark``: the Spark master
    #: (``local[2]``, ``spark://host:7077``, ``yarn``...) and extra session settings as a JSON
    #: object (``{"spark.executor.memory": "4g"}``); see docs/spark.md
    spark_master: str = "local[2]"
    spark_conf: Annotated[tuple[tuple[str, str], ...], NoDecode] = ()

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_conf(cls, value: Any) -> Any:
        """A JSON object (or a mapping) of Spark settings -> sorted (key, value) pairs: the
        settings stay hashable (they key cached engines)."""
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as err:
                raise ValueError(f"KINDRED_SPARK_CONF is not a JSON object: {err}") from err
        if isinstance(value, dict):
            return tuple(sorted((str(k), str(v)) for k, v in value.items()))
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(json.loads(text))
            return tuple(part.strip().rstrip("/") for part in text.split(",") if part.strip())
        return value

    @property
    def infra_file(self) -> Path:
        return self.data_dir / "infra.json"

    def resolved_database_url(self) -> str:
        """The configured database URL, else the one of the embedded server that is running."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        state = read_infra_state(self)
        if "database_url" in state:
            return str(state["database_url"])
        raise RuntimeError(
            f"No database: KINDRED_DATABASE_URL is unset and no embedded PostgreSQL is running "
            f"under {self.data_dir}. Run `kindred infra up` (or set KINDRED_DATABASE_URL)."
        )

    def resolved_kafka_bootstrap(self) -> str:
        """The configured Kafka bootstrap servers, else those of the embedded broker."""
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        state = read_infra_state(self)
        if "kafka_bootstrap" in state:
            return str(state["kafka_bootstrap"])
        raise RuntimeError(
            f"No Kafka broker: KINDRED_KAFKA_BOOTSTRAP is unset and no embedded broker is "
            f"running under {self.data_dir}. "
            "Run `kindred infra up` (or set KINDRED_KAFKA_BOOTSTRAP)."
        )


def normalise_database_url(url: str) -> str:
    """Make plain ``postgresql://`` URLs use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def read_infra_state(settings: Settings) -> dict[str, object]:
    path = settings.infra_file
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
