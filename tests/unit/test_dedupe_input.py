"""`kindred identity dedupe` on files nobody here wrote: headers, delimiters, encodings,
empty files, impossible dates, the explain output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from identity.dedupe_file import (
    DedupeInputError,
    dedupe_csv,
    explain_lines,
    read_table,
    sniff_delimiter,
)
from identity.headers import guess_id_column, guess_mapping, header_key, ignored_columns
from identity.records import CANONICAL_COLUMNS, canonical_person_frame, parse_birth_date

FEBRL = [
    "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode",
    "state", "date_of_birth", "soc_sec_id",
]  # fmt: skip

PEOPLE = [
    ("1", "Bob", "Smith", "bob.smith@acme.com", "(415) 555-0101", "1980-03-04"),
    ("2", "Robert", "Smith", "Bob.Smith@ACME.com", "+1 415 555 0101", "1980-03-04"),
    ("3", "Alice", "Jones", "alice@gmail.com", "415-555-0199", "1975-13-05"),
    ("4", "alice", "jones", "a.lice+news@googlemail.com", "", "1975-05-13"),
    ("5", "Frank", "Green", "frank@umbrella.com", "415-555-0400", "1861-71-11"),
]


def _write(path: Path, header: list[str], rows: Sequence[tuple[str, ...]], sep: str = ",") -> Path:
    lines = [sep.join(header), *(sep.join(r) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class TestHeaderMapping:
    def test_febrl_headers_all_map(self) -> None:
        mapping = guess_mapping(FEBRL)
        assert mapping == {
            "given_name": "first_name",
            "surname": "last_name",
            "street_number": "street_number",
            "address_1": "address",
            "address_2": "address_2",
            "suburb": "city",
            "postcode": "postcode",
            "state": "state",
            "date_of_birth": "birth_date",
            "soc_sec_id": "national_id",
        }
        assert guess_id_column(["rec_id", *FEBRL]) == "rec_id"
        assert ignored_columns(["rec_id", *FEBRL], mapping, id_column="rec_id") == []

    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            (
                ["Vorname", "Nachname", "Geburtsdatum", "PLZ", "Ort", "Straße", "Hausnummer",
                 "E-Mail", "Telefon", "Firma", "Beruf", "Geburtsort"],
                ["first_name", "last_name", "birth_date", "postcode", "city", "address",
                 "street_number", "email", "phone", "company", "occupation", "birth_place"],
            ),
            (
                ["Prénom", "Nom", "Date de naissance", "Code postal", "Ville", "Courriel",
                 "Lieu de naissance", "Profession"],
                ["first_name", "last_name", "birth_date", "postcode", "city", "email",
                 "birth_place", "occupation"],
            ),
            (
                ["nombre", "apellido", "fecha_nacimiento", "código_postal", "ciudad",
                 "correo_electrónico", "empresa", "cargo"],
                ["first_name", "last_name", "birth_date", "postcode", "city", "email",
                 "company", "job_title"],
            ),
            (
                ["Имя", "Фамилия", "Отчество", "Дата рождения", "Индекс", "Город", "Телефон"],
                ["first_name", "last_name", "middle_name", "birth_date", "postcode", "city",
                 "phone"],
            ),
            (  # a HubSpot contacts export
                ["First Name", "Last Name", "Email", "Phone Number", "Company Name", "Job Title",
                 "Street Address", "City", "State/Region", "Postal Code", "Country/Region"],
                ["first_name", "last_name", "email", "phone", "company", "job_title", "address",
                 "city", "state", "postcode", "country"],
            ),
            (
                ["fname", "lname", "dob", "zip", "town", "e-mail", "tel", "employer",
                 "position", "organisation_type"],
                ["first_name", "last_name", "birth_date", "postcode", "city", "email", "phone",
                 "company", "job_title", None],
            ),
        ],
    )  # fmt: skip
    def test_export_and_foreign_headers(
        self, headers: list[str], expected: list[str | None]
    ) -> None:
        mapping = guess_mapping(headers)
        assert [mapping.get(h) for h in headers] == expected

    def test_split_birth_columns(self) -> None:
        mapping = guess_mapping(["birth_year", "birth_month", "birth_day"])
        assert mapping == {
            "birth_year": "birth_year",
            "birth_month": "birth_month",
            "birth_day": "birth_day",
        }
        assert guess_mapping(["Birthday"]) == {"Birthday": "birth_date"}

    def test_specific_synonym_beats_weak_and_losers_are_reported(self) -> None:
        headers = ["Salutation", "Title", "Job Title", "Phone", "Mobile", "Customer Email"]
        mapping = guess_mapping(headers)
        assert mapping == {"Job Title": "job_title", "Phone": "phone", "Customer Email": "email"}
        reasons = {i.column: i.reason for i in ignored_columns(headers, mapping, id_column=None)}
        assert reasons["Salutation"].startswith("not recognised")
        assert "'Job Title' already gives" in reasons["Title"]
        assert "'Phone' already gives" in reasons["Mobile"]

    def test_header_key_folds_case_accents_and_punctuation(self) -> None:
        assert header_key(" Prénom ") == header_key("PRENOM") == "prenom"
        assert header_key("E-Mail") == "email"
        assert header_key("Straße") == "strasse"


class TestBirthDates:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("1861-07-11", ("1861-07-11", "1861", "07", "11")),
            ("11.07.1861", ("1861-07-11", "1861", "07", "11")),
            ("1861-71-11", (None, "1861", None, "11")),  # impossible month: year and day kept
            ("1861-13-05", ("1861-05-13", "1861", "05", "13")),  # day and month swapped
            ("05/13/1861", ("1861-05-13", "1861", "05", "13")),  # US order reads as swapped
            ("1861-02-30", (None, "1861", "02", "30")),
            ("1861-00-00", (None, "1861", None, None)),
            ("0000-07-11", (None, None, "07", "11")),
            ("1861", (None, "1861", None, None)),
            ("n/a", (None, None, None, None)),
            (None, (None, None, None, None)),
        ],
    )
    def test_parse_keeps_usable_parts(
        self, raw: str | None, expected: tuple[str | None, ...]
    ) -> None:
        assert parse_birth_date(raw) == expected

    def test_frame_has_part_columns_from_date_and_split_columns(self) -> None:
        raw = pd.DataFrame(
            {
                "id": ["a", "b", "c"],
                "dob": ["1861-71-11", None, "1901-02-03"],
                "y": [None, "1900", "1950"],
                "m": [None, "14", None],
                "d": [None, "3", None],
            }
        )
        frame = canonical_person_frame(
            raw,
            mapping={"dob": "birth_date", "y": "birth_year", "m": "birth_month", "d": "birth_day"},
            id_column="id",
        )
        got = frame[["birth_date", "birth_year", "birth_month", "birth_day"]].to_numpy().tolist()
        assert got == [
            [None, "1861", None, "11"],
            ["1900-03-14", "1900", "03", "14"],  # split columns, day and month swapped
            ["1901-02-03", "1901", "02", "03"],  # a valid date wins over the split year
        ]


class TestFrame:
    def test_zero_rows_give_every_column(self) -> None:
        raw = pd.DataFrame({"id": [], "name": [], "mail": [], "dob": []}, dtype=object)
        frame = canonical_person_frame(
            raw,
            mapping={"name": "full_name", "mail": "email", "dob": "birth_date"},
            id_column="id",
        )
        assert len(frame) == 0
        assert set(CANONICAL_COLUMNS) <= set(frame.columns)

    def test_febrl_address_parts_and_optional_columns(self) -> None:
        raw = pd.DataFrame(
            {
                "rec_id": ["rec-1-org"],
                "street_number": ["12"],
                "address_1": ["Wylly Place"],
                "address_2": ["Sunnyside"],
                "state": ["NSW"],
                "soc_sec_id": [" 123 456 "],
                "occupation": ["Farm Labourer"],
                "birth_place": ["Dubbo"],
            }
        )
        frame = canonical_person_frame(
            raw, mapping=guess_mapping(list(raw.columns)[1:]), id_column="rec_id"
        )
        row = frame.iloc[0]
        assert row["address"] == "12 wylly place"
        assert row["address_2"] == "sunnyside"
        assert row["state"] == "nsw"
        assert row["national_id"] is not None
        assert row["occupation"] == "farm labourer"
        assert row["birth_place"] == "dubbo"


class TestReading:
    @pytest.mark.parametrize("sep", [";", "\t", "|", ","])
    def test_delimiter_is_sniffed(self, tmp_path: Path, sep: str) -> None:
        header = ["id", "first_name", "last_name", "email", "phone", "dob"]
        rows = [*PEOPLE, ("6", "Ann", "Lee", "ann@x.com", "1,5", "1990-01-01")]
        path = _write(tmp_path / "p.csv", header, rows, sep) if sep != "," else None
        if path is None:  # commas inside a quoted value do not split it
            path = tmp_path / "p.csv"
            quoted = [",".join(f'"{v}"' for v in r) for r in rows]
            path.write_text("\n".join([",".join(header), *quoted]) + "\n", encoding="utf-8")
        raw, _, delim = read_table(path)
        assert delim == sep
        assert list(raw.columns) == header
        assert len(raw) == 6

    def test_semicolon_with_commas_in_values(self) -> None:
        text = "id;name;company\n1;Bob;Acme, Inc.\n2;Ann;Globex, LLC\n"
        assert sniff_delimiter(text) == ";"

    def test_encoding_fallback(self, tmp_path: Path) -> None:
        path = tmp_path / "p.csv"
        path.write_bytes("id,Prénom,Nom\n1,Zoë,Müller\n2,Jérôme,Ærø\n".encode("cp1252"))
        raw, enc, _ = read_table(path)
        assert enc != "utf-8"
        assert list(raw.columns) == ["id", "Prénom", "Nom"]
        assert raw["Nom"].tolist() == ["Müller", "Ærø"]
        cyrillic = tmp_path / "ru.csv"
        cyrillic.write_bytes("id;Имя;Фамилия\n1;Анна;Иванова\n2;Пётр;Сидоров\n".encode("cp1251"))
        raw, enc, _ = read_table(cyrillic)
        assert (enc, raw["Имя"].tolist()) == ("cp1251", ["Анна", "Пётр"])
        bom = tmp_path / "bom.csv"
        bom.write_bytes("id;Имя\n1;Анна\n".encode("utf-8-sig"))
        raw, enc, delim = read_table(bom)
        assert (enc, delim, list(raw.columns)) == ("utf-8-sig", ";", ["id", "Имя"])

    def test_empty_and_header_only_files(self, tmp_path: Path) -> None:
        empty = tmp_path / "empty.csv"
        empty.write_text("", encoding="utf-8")
        with pytest.raises(DedupeInputError, match="empty"):
            dedupe_csv(empty, tmp_path / "o.csv")
        header_only = tmp_path / "header.csv"
        header_only.write_text("id,first_name,last_name\n", encoding="utf-8")
        with pytest.raises(DedupeInputError, match="no records"):
            dedupe_csv(header_only, tmp_path / "o.csv")
        result = CliRunner().invoke(
            app, ["identity", "dedupe", str(header_only), "--out", str(tmp_path / "o.csv")]
        )
        assert result.exit_code == 2
        assert "header.csv" in result.output
        assert "no records" in result.output


class TestDedupeRun:
    def test_semicolon_file_end_to_end_with_explain(self, tmp_path: Path) -> None:
        header = ["Kundennummer", "Vorname", "Nachname", "E-Mail", "Telefon", "Geburtsdatum"]
        path = _write(tmp_path / "p.csv", header, PEOPLE, ";")
        out, explain = tmp_path / "o.csv", tmp_path / "pairs.jsonl"
        summary = dedupe_csv(
            path, out, id_column="Kundennummer", explain_path=explain, threshold=0.8
        )
        assert summary.delimiter == ";"
        assert summary.threshold == 0.8
        assert {u.column: u.field for u in summary.used} == {
            "Vorname": "first_name",
            "Nachname": "last_name",
            "E-Mail": "email",
            "Telefon": "phone",
            "Geburtsdatum": "birth_date",
        }
        dob = next(u for u in summary.used if u.field == "birth_date")
        assert (dob.filled, dob.partial) == (4, 1)  # 1975-13-05 repaired, 1861-71-11 partial
        clusters = pd.read_csv(out, dtype=str)
        cid = dict(zip(clusters["Kundennummer"], clusters["cluster_id"], strict=True))
        assert cid["1"] == cid["2"] and cid["3"] == cid["4"] and cid["5"] not in (cid["1"],)
        lines = [json.loads(x) for x in explain.read_text(encoding="utf-8").splitlines()]
        assert lines and len(lines) == summary.explained_pairs
        for line in lines:
            assert {"id_l", "id_r", "match_probability", "match_weight", "rule", "weights"} <= set(
                line
            )
            assert 0.0 <= line["match_probability"] <= 1.0
            if line["rule"] == "splink":
                assert isinstance(line["match_weight"], float) and line["weights"]
            else:
                assert line["match_weight"] is None  # a deterministic link has no weight
        assert any(line["rule"] == "splink" for line in lines)
        assert all(isinstance(v, float) for line in lines for v in line["weights"].values())

    def test_cli_prints_used_and_ignored_columns_and_json(self, tmp_path: Path) -> None:
        header = ["id", "first_name", "last_name", "email", "phone", "dob", "loyalty_tier"]
        rows = [(*r, "gold") for r in PEOPLE]
        path = _write(tmp_path / "p.csv", header, rows)
        out = tmp_path / "o.csv"
        result = CliRunner().invoke(
            app, ["identity", "dedupe", str(path), "--out", str(out), "--threshold", "0.9"]
        )
        assert result.exit_code == 0, result.output
        assert "ignored 'loyalty_tier': not recognised" in result.stderr
        assert "used    'dob' as birth_date" in result.stderr
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["threshold"] == 0.9
        assert summary["ignored"] == [
            {
                "column": "loyalty_tier",
                "reason": "not recognised (use --map COLUMN=FIELD to use it)",
            }
        ]
        assert {u["column"] for u in summary["used"]} == set(header[1:6])

    def test_bad_threshold_names_the_fix(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "p.csv", ["id", "first_name"], [("1", "a"), ("2", "b")])
        with pytest.raises(DedupeInputError, match="between 0 and 1"):
            dedupe_csv(path, tmp_path / "o.csv", threshold=1.5)


def test_explain_lines_shape() -> None:
    edges = pd.DataFrame(
        {
            "unique_id_l": ["1", "3"],
            "unique_id_r": ["2", "4"],
            "match_probability": [0.97, 1.0],
            "match_weight": [5.1, float("inf")],
            "mw_first_name": [3.2, float("nan")],
            "mw_birth_date": [1.9, float("nan")],
            "rule": ["splink", "email"],
            "vetoed": [False, False],
            "same_cluster": [True, True],
        }
    )
    assert list(explain_lines(edges)) == [
        {
            "id_l": "1",
            "id_r": "2",
            "match_probability": 0.97,
            "match_weight": 5.1,
            "rule": "splink",
            "vetoed": False,
            "same_cluster": True,
            "weights": {"first_name": 3.2, "birth_date": 1.9},
        },
        {
            "id_l": "3",
            "id_r": "4",
            "match_probability": 1.0,
            "match_weight": None,
            "rule": "email",
            "vetoed": False,
            "same_cluster": True,
            "weights": {},
        },
    ]
