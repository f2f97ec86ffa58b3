"""``kindred identity dedupe``: the resolver (``identity.dedupe.resolve_records``) on a file.

Reading: the encoding is the one the file says (a byte-order mark), else UTF-8, else the
best guess of ``charset_normalizer`` (cp1251, cp1252, ...); the delimiter is whichever of
``,`` ``;`` tab ``|`` splits the first rows into the most columns consistently. Either can
be forced. Columns are mapped by their headers (``identity.headers``) unless ``--map``
names them; the summary lists each column used, as which field, how many values were
usable and whether the trained model compares it, and each column ignored with why.

Output: ``<id column>, cluster_id, confidence`` per input row, and with ``explain_path`` one
JSON line per scored or deterministic pair (``explain_lines``).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from identity.dedupe import MIN_RECORDS_TO_TRAIN, ResolverConfig, resolve_records, small_data_model
from identity.headers import (
    INPUT_FIELDS,
    guess_id_column,
    guess_mapping,
    header_key,
    ignored_columns,
)
from identity.records import FIELD_COLUMNS, canonical_person_frame
from identity.spark_engine import check_engine

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 1 << 20


class DedupeInputError(ValueError):
    """The input file or the options cannot be used; the message says how to fix it."""


@dataclass
class ColumnUse:
    column: str
    field: str
    filled: int  # records with a usable value in the field's main canonical column
    compared: list[str]  # canonical columns fed by it that the model compares or blocks on
    partial: int = 0  # birth fields: records with date parts but no whole date


@dataclass
class DedupeSummary:
    records: int
    clusters: int
    mapping: dict[str, str]
    id_column: str
    generic_identifiers: dict[str, int]
    out_path: str
    used: list[ColumnUse] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ","
    threshold: float | None = None  # the match probability model links needed
    threshold_rule: Any = None  # how it was chosen (``identity.calibration``)
    explain_path: str | None = None
    explained_pairs: int = 0
    generic_reasons: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """``["E-mail=email", "Tel=phone"]`` -> ``{"E-mail": "email", "Tel": "phone"}``."""
    mapping: dict[str, str] = {}
    for item in items:
        src, sep, fld = item.rpartition("=")
        if not sep or not src or not fld:
            raise DedupeInputError(
                f"--map {item!r}: expected SOURCE_COLUMN=FIELD, e.g. E-mail=email"
            )
        fld = fld.strip()
        if fld not in INPUT_FIELDS:
            raise DedupeInputError(
                f"--map {item!r}: unknown field {fld!r}; use one of {', '.join(INPUT_FIELDS)}"
            )
        mapping[src.strip()] = fld
    return mapping


def header_keys(columns: Sequence[str]) -> list[str]:
    return [header_key(c) for c in columns]


def guess_encoding(sample: bytes) -> str:
    """The encoding of a file from its first bytes: BOM, else UTF-8, else a detector's guess."""
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if sample.startswith(bom):
            return name
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    results = from_bytes(sample)
    best = results.best()
    if best is None:
        return "cp1252"
    # short samples decode equally well in many code pages: prefer the common export ones
    tied = {
        name
        for m in results
        if m.percent_chaos <= best.percent_chaos + 1.0
        for name in m.could_be_from_charset
    }
    return next((c for c in ("cp1252", "cp1251") if c in tied), best.encoding)


def sniff_delimiter(text: str) -> str:
    """The delimiter among ``DELIMITERS`` that splits the first rows of ``text`` into the
    most columns with (nearly) every row the header's width; ``,`` when none splits."""
    best, best_score = ",", (0.0, 1)
    for delim in DELIMITERS:
        rows = [r for r in itertools.islice(csv.reader(io.StringIO(text), delimiter=delim), 50)]
        rows = [r for r in rows if r]
        if not rows or len(rows[0]) < 2:
            continue
        body = rows[1:-1] or rows[1:] or rows  # the last row of a sample may be cut
        share = sum(len(r) == len(rows[0]) for r in body) / len(body)
        score = (round(share, 1), len(rows[0]))
        if score > best_score:
            best, best_score = delim, score
    return best


def read_table(
    path: Path, *, delimiter: str | None = None, encoding: str | None = None
) -> tuple[pd.DataFrame, str, str]:
    """``(frame of strings, encoding, delimiter)``; a clear ``DedupeInputError`` for an empty
    file, a header without rows and a file that is not delimited text."""
    if not path.is_file():
        raise DedupeInputError(f"{path}: no such file; pass the path of a CSV of person records")
    with path.open("rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    if not sample.strip():
        raise DedupeInputError(
            f"{path}: the file is empty; export the records as CSV with a header row "
            "and one row per record"
        )
    enc = encoding or guess_encoding(sample)
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise DedupeInputError(f"--encoding {enc!r}: unknown encoding; try utf-8") from exc
    text = sample.decode(enc, errors="ignore")
    delim = delimiter or sniff_delimiter(text)
    fallbacks = [enc] if encoding else list(dict.fromkeys([enc, "cp1252", "latin-1"]))
    for candidate in fallbacks:
        try:
            raw = pd.read_csv(
                path,
                sep=delim,
                encoding=candidate,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                skipinitialspace=True,
            )
            break
        except UnicodeDecodeError as exc:
            if candidate == fallbacks[-1]:
                raise DedupeInputError(
                    f"{path}: not readable as {candidate} ({exc}); pass --encoding, "
                    "e.g. --encoding cp1251, or save the file as UTF-8"
                ) from exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            shown = "\\t" if delim == "\t" else delim
            raise DedupeInputError(
                f"{path}: cannot read as {shown!r}-separated text ({exc}); pass --delimiter "
                "or save it as CSV with a header row"
            ) from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    if raw.empty:
        raise DedupeInputError(
            f"{path}: has a header ({len(raw.columns)} columns: {list(raw.columns)[:8]}) but no "
            "records; export the rows too (one per record under the header)"
        )
    return raw, candidate, delim


def _check_ids(path: Path, raw: pd.DataFrame, id_column: str | None) -> str:
    columns = list(raw.columns)
    if id_column is None:
        id_column = guess_id_column(columns)
        if id_column is None:
            raise DedupeInputError(
                f"{path}: no id column found among {columns}; pass --id-column COLUMN "
                "naming the column that identifies each record"
            )
    elif id_column not in columns:
        raise DedupeInputError(
            f"--id-column {id_column!r} is not a column of {path}; columns are {columns}"
        )
    if raw[id_column].isna().any():
        raise DedupeInputError(
            f"{path}: column {id_column!r} has empty ids; fill them or choose another --id-column"
        )
    dupes = raw[id_column][raw[id_column].duplicated()]
    if len(dupes):
        raise DedupeInputError(
            f"{path}: id column {id_column!r} has duplicate values (e.g. {dupes.iloc[0]!r}); "
            "ids must be unique per row - pick another --id-column"
        )
    return id_column


def _choose_mapping(
    path: Path, columns: list[str], mapping: Mapping[str, str] | None, id_column: str
) -> dict[str, str]:
    if mapping:
        unknown = [c for c in mapping if c not in columns]
        if unknown:
            raise DedupeInputError(
                f"--map names columns not in {path}: {unknown}; columns are {columns}"
            )
        return dict(mapping)
    used = guess_mapping([c for c in columns if c != id_column])
    if not used:
        raise DedupeInputError(
            f"{path}: no column recognised as a person field; pass --map COLUMN=FIELD "
            f"(fields: {', '.join(INPUT_FIELDS)})"
        )
    return used


def model_inputs(settings_json: Mapping[str, Any] | None) -> set[str]:
    """Columns a Splink model's comparisons or blocking rules read (``<col>_l`` in its SQL)."""
    if not settings_json:
        return set()
    return set(re.findall(r"\b([A-Za-z0-9_]+)_l\b", json.dumps(settings_json)))


def column_uses(
    frame: pd.DataFrame, mapping: Mapping[str, str], compared: set[str]
) -> list[ColumnUse]:
    uses = []
    for col, fld in mapping.items():
        feeds = FIELD_COLUMNS.get(fld, (fld,))
        main = fld if fld in frame.columns else feeds[0]
        filled = int(frame[main].notna().sum()) if main in frame.columns else 0
        partial = 0
        if main.startswith("birth_") and "birth_year" in frame.columns:
            partial = int((frame["birth_date"].isna() & frame["birth_year"].notna()).sum())
        uses.append(ColumnUse(col, fld, filled, [c for c in feeds if c in compared], partial))
    return uses


def _number(value: Any) -> float | None:
    if value is None:
        return None
    out = float(value)
    return None if math.isnan(out) or math.isinf(out) else round(out, 6)


def explain_lines(edges: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """One dict per pair of ``Resolution.edges``: both ids (``id_l``, ``id_r``),
    ``match_probability``, ``match_weight`` (``None`` for a deterministic link), ``rule``
    (``splink`` or what linked it), ``vetoed``, ``same_cluster`` and ``weights``
    (comparison -> match weight)."""
    mw_cols = [c for c in edges.columns if c.startswith("mw_")]
    flags = [c for c in ("rule", "vetoed", "same_cluster") if c in edges.columns]
    cols = ["unique_id_l", "unique_id_r", "match_probability", "match_weight", *flags, *mw_cols]
    for row in edges[cols].itertuples(index=False, name=None):
        rec = dict(zip(cols, row, strict=True))
        weights = {c[3:]: _number(rec[c]) for c in mw_cols}
        yield {
            "id_l": str(rec["unique_id_l"]),
            "id_r": str(rec["unique_id_r"]),
            "match_probability": _number(rec["match_probability"]),
            "match_weight": _number(rec["match_weight"]),
            **{k: (bool(rec[k]) if k != "rule" else str(rec[k])) for k in flags},
            "weights": {k: v for k, v in weights.items() if v is not None},
        }


def dedupe_csv(
    in_path: str | Path,
    out_path: str | Path,
    *,
    id_column: str | None = None,
    mapping: Mapping[str, str] | None = None,
    default_region: str = "US",
    config: ResolverConfig | None = None,
    threshold: float | None = None,
    explain_path: str | Path | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    progress: Callable[[str], None] | None = None,
    engine: str = "duckdb",
) -> DedupeSummary:
    """Resolve the person records of a delimited file; write ``<id column>, cluster_id,
    confidence``. ``threshold``: the least match probability of a model link (default: the
    resolver's ``config.match_threshold``, derived from the trained model when ``None``).
    ``explain_path``: JSON lines, one per pair (``explain_lines``). ``engine``: ``duckdb`` or
    ``spark`` (``identity.spark_engine``) scores the pairs."""
    say = progress or (lambda _msg: None)
    try:
        chosen = check_engine(engine)
    except ValueError as exc:
        raise DedupeInputError(f"--engine: {exc}") from exc
    path = Path(in_path)
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise DedupeInputError(f"--threshold {threshold}: give a probability between 0 and 1")
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise DedupeInputError(f"--delimiter {delimiter!r}: give one character, e.g. ';'")
    say("reading the file")
    raw, enc, delim = read_table(path, delimiter=delimiter, encoding=encoding)
    columns = list(raw.columns)
    id_column = _check_ids(path, raw, id_column)
    used = _choose_mapping(path, columns, mapping, id_column)
    config = config or ResolverConfig()
    if threshold is not None:  # pinned; the model's edges are scored down to it
        config = replace(
            config, match_threshold=threshold, edge_threshold=min(config.edge_threshold, threshold)
        )
    say(f"normalising {len(raw)} records")
    frame = canonical_person_frame(
        raw, mapping=used, id_column=id_column, default_region=default_region
    )
    edges = pd.DataFrame(columns=["unique_id_l", "unique_id_r", "match_probability"])
    settings: dict[str, Any] | None = None
    stats: dict[str, Any] = {}
    if len(frame) < 2:
        clusters = pd.DataFrame({"unique_id": frame["unique_id"], "cluster_id": frame["unique_id"]})
        clusters["confidence"] = np.nan
        generic: dict[str, set[str]] = {}
    else:
        if len(frame) < MIN_RECORDS_TO_TRAIN:
            settings = small_data_model(frame)
        resolution = resolve_records(
            frame, settings_json=settings, config=config, progress=say, engine=chosen
        )
        clusters, generic = resolution.clusters, resolution.generic_identifiers
        edges, settings, stats = resolution.edges, resolution.settings_json, resolution.stats
    out = pd.DataFrame(
        {
            id_column: raw[id_column].to_numpy(),
            "cluster_id": clusters["cluster_id"].to_numpy(),
            "confidence": clusters["confidence"].astype(float).round(4).to_numpy(),
        }
    )
    say(f"writing {out_path}")
    out.to_csv(out_path, index=False)
    explained = 0
    if explain_path is not None:
        with Path(explain_path).open("w", encoding="utf-8") as fh:
            for line in explain_lines(edges):
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                explained += 1
    return DedupeSummary(
        records=len(out),
        clusters=int(out["cluster_id"].nunique()),
        mapping=used,
        id_column=id_column,
        generic_identifiers={k: len(v) for k, v in generic.items()},
        out_path=str(out_path),
        used=column_uses(frame, used, model_inputs(settings)),
        ignored=[asdict(i) for i in ignored_columns(columns, used, id_column=id_column)],
        encoding=enc,
        delimiter=delim,
        threshold=_number(stats.get("match_threshold", config.match_threshold)),
        threshold_rule=stats.get("match_threshold_rule"),
        explain_path=None if explain_path is None else str(explain_path),
        explained_pairs=explained,
        generic_reasons=dict(stats.get("generic_reasons", {})),
    )
