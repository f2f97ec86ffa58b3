"""Probabilistic scoring for the streaming resolver.

Records that found no deterministic link are scored, in one micro-batch, against candidate
records fetched from PostgreSQL by blocking keys (same normalised last name and first
initial, same email local part, same phone digits), with the active Splink model in DuckDB
in-process. Only edges at or above the model's threshold come back; the resolver then applies
the same guardrails as for deterministic links (cannot-links, exclusive ids) and lets each new
record join at most the single best-scoring profile, so one weak edge never bridges two
profiles.

Term-frequency adjustments are switched off here (frequencies over a micro-batch would be
meaningless); the model's base-wide u probabilities are used instead, and ``resolve --full``
uses full-base frequencies and reconciles.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from splink import DuckDBAPI
from sqlalchemy.orm import Session

from identity import scoring_repository as repo
from identity.batch import load_frame
from identity.explain import profile_conflict
from identity.graph import ResolveResult, splink_evidence
from identity.merge import absorb_profile, lock_resolver, surviving_profile_id
from identity.normalize import email_domain, is_free_mail_domain
from identity.splink_model import (
    comparison_names,
    edge_evidence,
    edge_select,
    predict_edges,
    scoring_frame,
)
from kindred.db import unit_of_work

CANDIDATE_LIMIT = 50  # per blocking key value: huge blocks are generic, not evidence


def without_tf_adjustments(settings: dict[str, Any]) -> dict[str, Any]:
    """The model with term-frequency adjustments off. Frequencies computed over a micro-batch
    of a few dozen records would make every value look common; the model's base-wide u
    probabilities are the better estimate here."""
    out = copy.deepcopy(settings)
    for comparison in out.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            level.pop("tf_adjustment_column", None)
            level.pop("tf_adjustment_weight", None)
    return out


def _blank_free_mail(frame: pd.DataFrame, *, new: set[str]) -> pd.DataFrame:
    """A personal free-mail address (gmail, mail.ru, ...) on a new record is not evidence
    against a person known by a corporate address: compare it as missing, not as different."""
    if "email" not in frame.columns:
        return frame
    frame = frame.copy()
    is_new = frame["unique_id"].astype(str).isin(new)
    free = frame["email"].map(lambda e: isinstance(e, str) and is_free_mail_domain(email_domain(e)))
    for col in ("email", "email_local", "email_domain"):
        if col in frame.columns:
            frame.loc[is_new & free, col] = None
    return frame


EDGE_COLUMNS = ["unique_id_l", "unique_id_r", "match_weight", "match_probability", "evidence"]


class WarmScorer:
    """Scores new records against candidate records with a trained model, keeping what does
    not change between passes: one in-process DuckDB connection and the model's compiled SQL
    (Splink's real-time ``compare_records``, cached per model version and column set). No
    Linker is built per pass, and only new x candidate pairs are compared (a Linker over
    their union also scores the candidates against each other, only for those pairs to be
    thrown away). One per worker: a DuckDB connection is not shared between threads."""

    def __init__(self) -> None:
        self._db_api: DuckDBAPI | None = None
        self.passes = 0

    def score(
        self,
        new: pd.DataFrame,
        candidates: pd.DataFrame,
        settings_json: dict[str, Any],
        *,
        version: str,
        threshold: float,
    ) -> pd.DataFrame:
        """Edges ``unique_id_l`` (a new record) - ``unique_id_r`` (a candidate) at or above
        ``threshold``, with the columns and ``evidence`` of ``predict_edges``."""
        from splink.internals.realtime import compare_records

        if new.empty or candidates.empty:
            return pd.DataFrame(columns=EDGE_COLUMNS)
        both = scoring_frame(pd.concat([new, candidates], ignore_index=True), settings_json)
        left = both.iloc[: len(new)].reset_index(drop=True)
        right = both.iloc[len(new) :].reset_index(drop=True)
        if self._db_api is None:
            self._db_api = DuckDBAPI()
        db_api = self._db_api
        # the blocked pairs first, one hash join per blocking rule (DuckDB cannot hash-join
        # on an OR of them: it would compare every new record with every candidate)
        right = _paired(db_api, left, right, settings_json)
        if right.empty:
            return pd.DataFrame(columns=EDGE_COLUMNS)
        settings = {**settings_json, "retain_matching_columns": False}
        pred = compare_records(
            left,
            right,
            settings,
            db_api,
            sql_cache_key=f"kindred:{version}:{','.join(both.columns)}",
            join_condition=f"l.unique_id = r.{PAIR_COLUMN}",
        )
        names = comparison_names(settings_json)
        try:
            rel = pred.as_duckdbpyrelation()
            edges: pd.DataFrame = (
                rel.filter(f"match_probability >= {float(threshold)!r}")
                .select(edge_select(names, set(rel.columns), matching=False))
                .df()
            )
        finally:
            _drop_tables(db_api)
        self.passes += 1
        edges["evidence"] = edge_evidence(edges, names) if len(edges) else []
        return edges


#: the column of the paired candidates naming the new record of the pair
PAIR_COLUMN = "kd_pair_with"


def _paired(
    db_api: DuckDBAPI, left: pd.DataFrame, right: pd.DataFrame, settings_json: dict[str, Any]
) -> pd.DataFrame:
    """``right``'s rows once per new record of ``left`` they block with (any prediction
    blocking rule), with that record's id in ``PAIR_COLUMN``."""
    con = db_api._con
    rules = [
        str(b["blocking_rule"]) for b in settings_json["blocking_rules_to_generate_predictions"]
    ]
    if not rules:
        return right.iloc[0:0].assign(**{PAIR_COLUMN: left["unique_id"].iloc[0:0]})
    con.register("kd_new", left)
    con.register("kd_candidates", right)
    try:
        pairs = " UNION ".join(
            f"SELECT l.unique_id AS nid, r.unique_id AS cid FROM kd_new l "
            f"JOIN kd_candidates r ON ({rule})"
            for rule in rules
        )
        out: pd.DataFrame = con.execute(
            f"SELECT r.*, p.nid AS {PAIR_COLUMN} FROM ({pairs}) p "
            "JOIN kd_candidates r ON r.unique_id = p.cid"
        ).df()
    finally:
        con.unregister("kd_new")
        con.unregister("kd_candidates")
    return out


def _drop_tables(db_api: DuckDBAPI) -> None:
    """``compare_records`` registers both sides and its result under fresh names each call:
    drop every Splink table of this (private) DuckDB after a pass (a worker runs for days)."""
    con = db_api._con
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '__splink__%'"
    ).fetchall()
    for (name,) in rows:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')


@dataclass
class SplinkScorer:
    """Callable handed to ``resolve_dirty``; caches the active model between passes."""

    threshold: float | None = None
    _version: str | None = None
    _settings: dict[str, Any] | None = None
    _threshold: float = 0.9
    _checked: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)
    #: False: a Linker over new + candidates per pass (the cold path, kept for comparison)
    warm: bool = True
    _warm: WarmScorer = field(default_factory=WarmScorer)

    def _model(self, session: Session) -> dict[str, Any] | None:
        if time.monotonic() - self._checked > 30 or self._settings is None:
            row = repo.active_model_row(session)
            self._checked = time.monotonic()
            if row is None:
                self._settings = None
                return None
            self._version, self._threshold = row[0], float(row[2])
            self._settings = without_tf_adjustments(row[1])
        return self._settings

    @property
    def version(self) -> str | None:
        return self._version

    def __call__(self, session: Session, record_ids: list[int]) -> list[dict[str, Any]]:
        settings = self._model(session)
        if settings is None or not record_ids:
            return []
        started = time.perf_counter()
        candidates = repo.candidates(session, record_ids=record_ids, limit=CANDIDATE_LIMIT)
        if not candidates:
            return []
        frame = load_frame(session, record_ids=sorted(set(record_ids) | set(candidates)))
        if len(frame) < 2:
            return []
        new = {str(r) for r in record_ids}
        frame = _blank_free_mail(frame, new=new)
        threshold = self.threshold if self.threshold is not None else self._threshold
        if self.warm:
            is_new = frame["unique_id"].astype(str).isin(new)
            edges = self._warm.score(
                frame[is_new],
                frame[~is_new],
                settings,
                version=str(self._version),
                threshold=threshold,
            )
        else:
            edges = predict_edges(
                frame, settings, threshold=threshold, evidence=True, matching=False, validate=False
            )
        out: list[dict[str, Any]] = []
        for row in edges.itertuples(index=False):
            left, right = str(row.unique_id_l), str(row.unique_id_r)
            if (left in new) == (right in new):
                continue  # new-new pairs wait for their own evidence; old-old are resolved
            mine, other = (left, right) if left in new else (right, left)
            out.append(
                {
                    "record_id": int(mine),
                    "candidate_id": int(other),
                    "match_probability": float(row.match_probability),
                    "match_weight": float(row.match_weight),
                    "comparisons": dict(row.evidence),
                    "model_version": self._version,
                }
            )
        self.stats["last_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return out


# --------------------------------------------------------------------------- second stage


@dataclass
class RefineResult:
    scored: int = 0
    merged: int = 0
    refused: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)


APPLY_CHUNK = 100


def refine_singletons(engine: Any, scorer: SplinkScorer, *, limit: int = 2000) -> RefineResult:
    """Stage two of streaming resolution: records that the deterministic pass left alone are
    scored (outside the resolver lock: reads only), then each may merge into the profile of
    its best edge (under the lock, re-checked: still alone, target still live, no
    cannot-link or exclusive-id conflict). The older profile id survives, as for any merge."""
    out = RefineResult()
    with unit_of_work(engine) as session:
        pending = repo.pending_singletons(session, limit=limit)
        if not pending:
            return out
        edges = scorer(session, pending)
    best: dict[int, dict[str, Any]] = {}
    for edge in edges:
        current = best.get(edge["record_id"])
        if current is None or edge["match_probability"] > current["match_probability"]:
            best[edge["record_id"]] = edge
    accepted = sorted(best)
    with unit_of_work(engine) as session:
        mine = repo.links_with_rule(session, accepted)
        theirs = repo.live_profiles_of(session, [best[r]["candidate_id"] for r in accepted])
    # Apply in small transactions: the resolver lock is held briefly, so stage one (strong-id
    # links) keeps flowing while the model's merges are written.
    for start in range(0, len(accepted), APPLY_CHUNK):
        chunk = accepted[start : start + APPLY_CHUNK]
        with unit_of_work(engine) as session:
            lock_resolver(session)
            result = ResolveResult()
            for rid in chunk:
                edge = best[rid]
                own = mine.get(rid)
                target = theirs.get(edge["candidate_id"])
                if own is None or target is None or own[1] != "new_record" or target == own[0]:
                    continue
                now_pid = repo.profile_of(session, rid)
                target = surviving_profile_id(session, target)
                if now_pid != own[0] or target is None or target == now_pid:
                    continue  # stage one moved it meanwhile: its evidence wins
                reason = profile_conflict(session, record_id=rid, profile_id=target)
                item = splink_evidence(edge)
                if reason is not None:
                    out.refused += 1
                    repo.set_link(
                        session,
                        rid,
                        evidence={"shared": [], "blocked": [{**item, "reason": reason}]},
                    )
                    continue
                created = repo.profiles_created(session, [target, now_pid])
                survivor, absorbed = sorted([target, now_pid], key=lambda p: (created[p], str(p)))
                absorb_profile(
                    session,
                    survivor=survivor,
                    absorbed=absorbed,
                    cause="splink",
                    evidence={"record": rid, **item},
                    result=result,
                )
                repo.set_link(
                    session, rid, rule="splink", evidence={"shared": [item], "scored": True}
                )
                repo.mark_stale(session, survivor)
                out.merged += 1
            out.changes.extend(result.changes)
    with unit_of_work(engine) as session:
        repo.mark_scored(session, pending)
    out.scored = len(pending)
    return out
