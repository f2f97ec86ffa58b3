"""The engines that score candidate pairs: DuckDB in process (the default) or Spark.

``resolve --full --engine spark`` and ``identity dedupe --engine spark`` score with Splink's
Spark backend (``splink.backends.spark.SparkAPI``) over a SparkSession built here, lazily:
pyspark is imported, and the JVM started, only when the Spark engine is asked for. The
session is created once per process and reused.

Splink's fuzzy comparisons (Jaro-Winkler, Damerau-Levenshtein) are Scala UDFs in a jar that
ships with Splink (``similarity_jar_location()``); it is put on ``spark.jars`` so the driver
ships it to the executors of a cluster too. Configuration: ``KINDRED_SPARK_MASTER``
(default ``local[2]``) and ``KINDRED_SPARK_CONF`` (a JSON object of session settings), see
docs/spark.md.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:
    from kindred.settings import Settings

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")

#: settings Kindred applies unless ``KINDRED_SPARK_CONF`` says otherwise (small local runs:
#: few shuffle partitions, no web UI)
_DEFAULT_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "2g",
}


def check_engine(name: str) -> EngineName:
    """``name`` if it is a known engine, else a ``ValueError`` that says which exist."""
    for engine in ENGINES:
        if name == engine:
            return engine
    raise ValueError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class SparkConfig:
    """Where and how to run Spark: the master URL, extra session settings, and the
    directory for Splink's intermediate parquet / checkpoints (must be reachable by every
    executor on a cluster: a shared filesystem or an object store URL)."""

    master: str = "local[2]"
    conf: dict[str, str] = field(default_factory=dict)
    checkpoint_dir: str = ".kindred/spark-checkpoints"
    app_name: str = "kindred-identity"
    #: how Splink cuts the lineage of its intermediate tables (``persist``, ``checkpoint``,
    #: ``parquet``...); ``None``: ``persist`` (in memory) on a local master, Splink's
    #: ``parquet`` on a cluster
    break_lineage: str | None = None
    #: the Jaro-Winkler the model's name comparisons use: ``"kindred"`` (default) the
    #: same function DuckDB computes (jellyfish, as a vectorised Python UDF: Spark scores
    #: exactly as DuckDB does; executors need Kindred's Python environment), or ``"splink"``,
    #: Splink's Scala UDF from its jar (JVM only, faster, but its Jaro-Winkler differs from
    #: DuckDB's on some pairs - "prley"/"perley": 0.86 vs 0.89 - so a few pairs near a
    #: threshold score differently)
    similarity: Literal["kindred", "splink"] = "kindred"

    def lineage_method(self) -> str:
        if self.break_lineage:
            return self.break_lineage
        return "persist" if self.master.startswith("local") else "parquet"

    @classmethod
    def from_settings(cls, settings: Settings) -> SparkConfig:
        conf = dict(settings.spark_conf)
        local = str(Path(settings.data_dir) / "spark-checkpoints")
        return cls(
            master=settings.spark_master,
            conf=conf,
            # a cluster needs shared storage here (hdfs://, s3a://): spark.checkpoint.dir
            checkpoint_dir=conf.get("spark.checkpoint.dir", local),
        )

    def session_conf(self, jar: str) -> dict[str, str]:
        conf = {**_DEFAULT_CONF, **self.conf}
        jars = [j for j in conf.get("spark.jars", "").split(",") if j]
        conf["spark.jars"] = ",".join([*jars, jar]) if jar not in jars else ",".join(jars)
        return conf


_lock = threading.Lock()
_session: Any = None
_session_config: SparkConfig | None = None


def spark_session(config: SparkConfig | None = None) -> Any:
    """The process's SparkSession (created on first use with ``config``, default from
    ``kindred.settings``; later calls without a config get the running one). A later call
    with a different config gets a ``ValueError``: one session configuration per JVM."""
    global _session, _session_config
    with _lock:
        if _session is not None and config is None:
            return _session
        if config is None:
            from kindred.settings import Settings

            config = SparkConfig.from_settings(Settings())
        if _session is not None:
            if _session_config != config:
                raise ValueError(
                    "a Spark session with another configuration is already running in this "
                    f"process ({_session_config}); one per process"
                )
            return _session
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location

        if config.master.startswith("local"):
            # the Python workers (the similarity UDF) run this interpreter: Kindred's packages
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.master(config.master).appName(config.app_name)
        for key, value in config.session_conf(similarity_jar_location()).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        if "://" not in config.checkpoint_dir:
            Path(config.checkpoint_dir).mkdir(parents=True, exist_ok=True)
        session.sparkContext.setCheckpointDir(config.checkpoint_dir)
        _session, _session_config = session, config
        return session


def spark_db_api(config: SparkConfig | None = None) -> Any:
    """A Splink ``SparkAPI`` over the process's session (Splink's similarity UDFs
    registered from the jar)."""
    from splink.backends.spark import SparkAPI

    session = spark_session(config)
    config = _session_config or SparkConfig()
    partitions = int(session.conf.get("spark.sql.shuffle.partitions", "4"))
    api = SparkAPI(
        spark_session=session,
        break_lineage_method=config.lineage_method(),
        # the union of the blocking rules' pairs comes in many small partitions: a few
        # larger ones cost fewer tasks (and Python workers for the similarity UDF)
        repartition_after_blocking=True,
        num_partitions_on_repartition=partitions,
    )
    if config.similarity == "kindred":
        # after Splink registered its jar's UDFs: the same name now runs DuckDB's function
        session.udf.register("jaro_winkler", _jaro_winkler_udf())
    return api


def _jaro_winkler_udf() -> Any:
    """``jaro_winkler(a, b)`` as a pandas UDF over jellyfish, which equals DuckDB's
    ``jaro_winkler_similarity`` to the last bit or two of a double (checked on 20,000
    name pairs)."""
    from pyspark.sql.pandas.functions import pandas_udf

    def jaro_winkler(left: pd.Series, right: pd.Series) -> pd.Series:
        import jellyfish

        out = [
            None if a is None or b is None else jellyfish.jaro_winkler_similarity(a, b)
            for a, b in zip(left.tolist(), right.tolist(), strict=True)
        ]
        return pd.Series(out, dtype="float64")

    return pandas_udf(jaro_winkler, "double")  # type: ignore[call-overload]  # a SCALAR UDF


def stop_spark() -> None:
    """Stop the process's session (tests, the end of a CLI run)."""
    global _session, _session_config
    with _lock:
        if _session is not None:
            _session.stop()
        _session, _session_config = None, None


def to_spark_frame(session: Any, frame: Any) -> Any:
    """A pandas frame of record columns as a Spark DataFrame of strings (every model column
    is text; an explicit schema, so an all-null column does not defeat type inference)."""
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(str(c), StringType(), True) for c in frame.columns])
    text = frame.astype(object).where(frame.notna(), None)
    for col in text.columns:
        text[col] = [None if v is None else str(v) for v in text[col]]
    return session.createDataFrame(text, schema=schema)
