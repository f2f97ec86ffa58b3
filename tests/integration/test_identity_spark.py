"""The Spark engine (issue 12 item 3): Splink's Spark backend on ``local[2]`` scores with the
same model as DuckDB and yields the same clusters; ``--engine`` on the CLI.

One Spark session for the module (the JVM starts once); the model is trained once on DuckDB
and scores on both engines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.metrics import pairwise_bcubed
from cli import app
from identity.blocking import add_blocking_keys
from identity.dedupe import Resolution, resolve_records
from identity.spark_engine import SparkConfig, check_engine, spark_session, stop_spark
from identity.splink_model import settings_for_dialect, train_model
from samples.synthetic import STRONG_ID_COLUMNS, generate_people, to_canonical

RECORDS = 2500


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkConfig]:
    logging.getLogger("splink").setLevel(logging.WARNING)
    config = SparkConfig(
        master="local[2]",
        conf={"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"},
        checkpoint_dir=str(tmp_path_factory.mktemp("spark-checkpoints")),
    )
    t = time.perf_counter()
    spark_session(config)
    print(f"spark session up in {time.perf_counter() - t:.1f} s")
    yield config
    stop_spark()


@pytest.fixture(scope="module")
def both(spark: SparkConfig) -> tuple[pd.DataFrame, dict[str, Resolution]]:
    frame = to_canonical(generate_people(RECORDS, seed=7))
    settings_json, _report = train_model(add_blocking_keys(frame))
    out: dict[str, Resolution] = {}
    for engine in ("duckdb", "spark"):
        t = time.perf_counter()
        out[engine] = resolve_records(
            frame,
            settings_json=settings_json,
            strong_id_columns=STRONG_ID_COLUMNS,
            engine=check_engine(engine),
            spark=spark,
        )
        print(f"{engine}: {time.perf_counter() - t:.1f} s {out[engine].timings}")
    return frame, out


def _f1(frame: pd.DataFrame, res: Resolution) -> float:
    found = res.clusters.set_index("unique_id")["cluster_id"].reindex(frame["unique_id"])
    metrics: dict[str, Any] = pairwise_bcubed(frame["true_id"].to_numpy(), found.to_numpy())
    return float(metrics["pairwise"]["f1"])


class TestSparkMatchesDuckDB:
    def test_same_pairwise_f1_against_the_truth(
        self, both: tuple[pd.DataFrame, dict[str, Resolution]]
    ) -> None:
        frame, res = both
        duck, spark = _f1(frame, res["duckdb"]), _f1(frame, res["spark"])
        print(f"pairwise F1 duckdb {duck:.5f} spark {spark:.5f}")
        assert duck > 0.8  # the model works at all
        assert abs(duck - spark) <= 0.001

    def test_same_clusters_and_scores(
        self, both: tuple[pd.DataFrame, dict[str, Resolution]]
    ) -> None:
        frame, res = both
        duck = res["duckdb"].clusters.set_index("unique_id")["cluster_id"]
        spark = res["spark"].clusters.set_index("unique_id")["cluster_id"]
        # one clustering against the other as if it were the truth: identical partitions
        agreement = pairwise_bcubed(duck.reindex(frame["unique_id"]).to_numpy(),
                                    spark.reindex(frame["unique_id"]).to_numpy())  # fmt: skip
        assert agreement["pairwise"]["f1"] >= 0.999
        edges = {
            name: r.edges.loc[r.edges["rule"] == "splink"].set_index(
                ["unique_id_l", "unique_id_r"]
            )["match_probability"]
            for name, r in res.items()
        }
        assert len(edges["duckdb"]) > 100
        joined = pd.concat(edges, axis=1)
        assert joined.notna().all().all(), "the engines scored different pairs"
        assert (joined["duckdb"] - joined["spark"]).abs().max() < 1e-6

    def test_the_model_sql_is_rewritten_not_its_parameters(
        self, both: tuple[pd.DataFrame, dict[str, Resolution]]
    ) -> None:
        _frame, res = both
        duck = res["duckdb"].settings_json
        spark = settings_for_dialect(duck, "spark")
        assert spark["sql_dialect"] == "spark"
        assert (
            spark["probability_two_random_records_match"]
            == (duck["probability_two_random_records_match"])
        )
        for a, b in zip(duck["comparisons"], spark["comparisons"], strict=True):
            for la, lb in zip(a["comparison_levels"], b["comparison_levels"], strict=True):
                assert la.get("m_probability") == lb.get("m_probability")
                assert la.get("u_probability") == lb.get("u_probability")
        sql = str(spark["comparisons"]) + str(spark["blocking_rules_to_generate_predictions"])
        assert "jaro_winkler_similarity" not in sql and 'l."' not in sql


SAMPLE = """id,First Name,Last Name,E-mail,Phone,Company
1,Bob,Smith,bob.smith@acme.com,(415) 555-0101,"Acme, Inc."
2,Robert,Smith,Bob.Smith@ACME.com,+1 415 555 0101,ACME
3,Alice,Jones,alice@gmail.com,415-555-0199,Globex LLC
4,alice,jones,a.lice+news@googlemail.com,,Globex
5,Frank,Green,frank@umbrella.com,415-555-0400,Umbrella Corp
6,Frank,Greene,frank.g@example.org,,Umbrella Corp
"""


class TestCli:
    def test_dedupe_on_spark(self, spark: SparkConfig, tmp_path: Path) -> None:
        path = tmp_path / "people.csv"
        path.write_text(SAMPLE, encoding="utf-8")
        runs = {}
        for engine in ("duckdb", "spark"):
            out = tmp_path / f"out-{engine}.csv"
            result = CliRunner().invoke(
                app, ["identity", "dedupe", str(path), "--out", str(out), "--engine", engine]
            )
            assert result.exit_code == 0, result.output
            frame = pd.read_csv(out, dtype=str)
            runs[engine] = {frozenset(g["id"]) for _, g in frame.groupby("cluster_id")}
        assert frozenset({"1", "2"}) in runs["spark"]
        assert runs["spark"] == runs["duckdb"]

    def test_bad_engine_is_a_clear_error(self, tmp_path: Path) -> None:
        path = tmp_path / "people.csv"
        path.write_text(SAMPLE, encoding="utf-8")
        result = CliRunner().invoke(
            app, ["identity", "dedupe", str(path), "--out", str(tmp_path / "o.csv"), "--engine",
                  "flink"],
        )  # fmt: skip
        assert result.exit_code == 2
        assert "unknown engine 'flink': use one of duckdb, spark" in result.output
        assert not (tmp_path / "o.csv").exists()
        result = CliRunner().invoke(app, ["resolve", "--full", "--engine", "flink"])
        assert result.exit_code == 2
        assert "unknown engine 'flink'" in result.output
