"""`kindred identity dedupe` on a tiny CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from identity.dedupe import ResolverConfig, floor_mismatch_weights, resolve_records
from identity.dedupe_file import DedupeInputError, dedupe_csv, parse_mapping
from identity.records import canonical_person_frame
from identity.splink_model import fixed_parameter_model

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


def _cdp_frame() -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(10)],
            "first": ["Ann", None, "ann", "Bob", "Bob", "Bob", "Carol", "Dan", "Erin", None],
            "last": ["Lee", None, "LEE", "Ray", "Ray", "Ray", "Park", "Park", "Hill", None],
            "email": [
                "ann.lee@gmail.com",
                "annlee@gmail.com",  # same Gmail box without the dot
                None,
                "bob@ray.com",
                None,
                "bob@ray.com",
                "park.family@gmail.com",  # two people behind one mailbox
                "park.family@gmail.com",
                "erin@hill.com",
                "ERIN@hill.com ",
            ],
            "phone": [
                None,
                "(415) 555-0101",
                "+1 415 555 0101",
                "415-555-0200",
                "415.555.0200",
                None,
                None,
                None,
                None,
                None,
            ],
            "crm": [None, None, None, "C1", None, "C2", None, None, None, None],
        }
    )
    return canonical_person_frame(
        raw,
        mapping={"first": "first_name", "last": "last_name", "email": "email", "phone": "phone"},
        id_column="id",
        keep_columns={"crm": "crm_id"},
    )


def test_exact_contacts_link_and_strong_ids_conflict() -> None:
    frame = _cdp_frame()
    res = resolve_records(
        frame, settings_json=fixed_parameter_model(frame), strong_id_columns=("crm_id",)
    )
    cid = dict(zip(res.clusters["unique_id"], res.clusters["cluster_id"], strict=True))
    # email (normalised) and E.164 phone are must-links
    assert cid["r0"] == cid["r1"] == cid["r2"]
    assert cid["r8"] == cid["r9"]
    # bob@ray.com links r3 and r5, but they are two CRM contacts: never one cluster
    assert cid["r3"] != cid["r5"]
    # the family mailbox is shared by Carol and Dan: reported, not linked
    assert "parkfamily@gmail.com" in res.generic_identifiers["email"]  # Gmail ignores dots
    assert cid["r6"] != cid["r7"]
    # a mailbox on two CRM contacts is shared too
    assert res.stats["generic_reason_counts"]["email"]["several_crm_id"] == 1
    # every blanked value is reported with its reason
    reasons = res.stats["generic_reasons"]["email"]
    assert reasons["bob@ray.com"] == "conflicting crm_id: C1 / C2"
    assert reasons["parkfamily@gmail.com"] == "2 dissimilar names: carol park / daniel park"
    assert res.stats["deterministic_links"]["email"] >= 2


def test_contact_links_can_be_switched_off() -> None:
    frame = _cdp_frame()
    res = resolve_records(
        frame,
        settings_json=fixed_parameter_model(frame),
        config=ResolverConfig(link_columns=(), contact_mismatch_floor=None),
    )
    assert "email" not in res.stats["deterministic_links"]


def test_floor_mismatch_weights() -> None:
    settings = fixed_parameter_model(_cdp_frame())
    floored = floor_mismatch_weights(settings, ("email",), -1.0)
    for before, after in zip(settings["comparisons"], floored["comparisons"], strict=True):
        last_b = [lv for lv in before["comparison_levels"] if not lv.get("is_null_level")][-1]
        last_a = [lv for lv in after["comparison_levels"] if not lv.get("is_null_level")][-1]
        if after["output_column_name"] == "email":
            assert last_a["m_probability"] >= last_a["u_probability"] / 2 - 1e-12
        else:
            assert last_a == last_b
