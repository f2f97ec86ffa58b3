"""`kindred identity dedupe` on a tiny CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from identity.dedupe import DedupeInputError, dedupe_csv, parse_mapping
from kindred.cli import app

TINY = """id,First Name,Last Name,E-mail,Phone,Company
1,Bob,Smith,bob.smith@acme.com,(415) 555-0101,"Acme, Inc."
2,Robert,Smith,Bob.Smith@ACME.com,+1 415 555 0101,ACME
3,Alice,Jones,alice@gmail.com,415-555-0199,Globex LLC
4,alice,jones,a.lice+news@googlemail.com,,Globex
5,Carol,White,info@initech.com,415-555-0300,Initech
6,Dan,Brown,info@initech.com,415-555-0300,Initech
7,Erin,Black,info@initech.com,415-555-0300,Initech
8,Frank,Green,frank@umbrella.com,415-555-0400,Umbrella Corp
"""


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(TINY, encoding="utf-8")
    return path


def _clusters(out: Path, id_col: str = "id") -> set[frozenset[str]]:
    df = pd.read_csv(out, dtype=str)
    return {frozenset(g[id_col]) for _, g in df.groupby("cluster_id")}


def test_cli_dedupe_tiny_csv(tiny_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["identity", "dedupe", str(tiny_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _clusters(out) == {
        frozenset({"1", "2"}),
        frozenset({"3", "4"}),
        frozenset({"5"}),  # info@ and the switchboard are shared, not a person
        frozenset({"6"}),
        frozenset({"7"}),
        frozenset({"8"}),
    }


def test_explicit_mapping_and_id_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "\n".join(
            [
                "key,Name,Mail",
                "k1,Bob Smith,bob@x.com",
                'k2,"Smith, Robert",BOB@X.COM',
                "k3,Ann Lee,ann@y.com",
            ]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "o.csv"
    summary = dedupe_csv(
        path, out, id_column="key", mapping=parse_mapping(["Name=full_name", "Mail=email"])
    )
    assert summary.records == 3
    assert _clusters(out, "key") == {frozenset({"k1", "k2"}), frozenset({"k3"})}


def test_missing_id_column_names_the_fix(tiny_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(DedupeInputError, match="--id-column"):
        dedupe_csv(tiny_csv, tmp_path / "o.csv", id_column="contact_id")
    result = CliRunner().invoke(
        app,
        [
            "identity",
            "dedupe",
            str(tiny_csv),
            "--out",
            str(tmp_path / "o.csv"),
            "--id-column",
            "nope",
        ],
    )
    assert result.exit_code == 2
    assert "--id-column" in result.output


def test_bad_map_names_the_fields() -> None:
    with pytest.raises(DedupeInputError, match="first_name"):
        parse_mapping(["Foo=surname"])
    with pytest.raises(DedupeInputError, match="SOURCE_COLUMN=FIELD"):
        parse_mapping(["Foo"])
