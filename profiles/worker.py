"""The profiles worker: materialises golden records of profiles that changed (stale)."""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from types import FrameType

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from kindred.db import unit_of_work
from kindred.models import Profile, RecordLink, SourceRecord
from profiles.service import golden_record

log = logging.getLogger(__name__)


def refresh_stale(session: Session, *, limit: int = 1000) -> int:
    """Recompute the materialised traits of up to ``limit`` stale live profiles."""
    ids = list(
        session.execute(
            select(Profile.id)
            .where(Profile.stale.is_(True), Profile.merged_into.is_(None))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not ids:
        return 0
    rows = session.execute(
        select(RecordLink.profile_id, SourceRecord)
        .join(SourceRecord, SourceRecord.id == RecordLink.record_id)
        .where(RecordLink.profile_id.in_(ids), SourceRecord.deleted.is_(False))
    ).all()
    by_profile: dict[uuid.UUID, list[SourceRecord]] = {pid: [] for pid in ids}
    for pid, rec in rows:
        by_profile[pid].append(rec)
    for pid, records in by_profile.items():
        traits, _ = golden_record(records)
        session.execute(update(Profile).where(Profile.id == pid).values(traits=traits, stale=False))
    session.flush()
    return len(ids)


class ProfilesWorker:
    def __init__(self, engine: Engine, *, idle_sleep: float = 0.2) -> None:
        self.engine = engine
        self.idle_sleep = idle_sleep
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with unit_of_work(self.engine) as session:
                    done = refresh_stale(session)
                failures = 0
            except Exception:
                failures += 1
                log.exception("profile refresh failed (attempt %d); retrying", failures)
                self._stop.wait(min(30.0, 0.5 * 2**failures))
                continue
            if not done:
                time.sleep(self.idle_sleep)
