"""The index follows every write: each flush notes which searchable records it created, changed or
deleted (``Kind.watches``, whatever the entry point: services, generated screens, REST), and after
the commit a job (``app.jobs.search.index_records``, ids only, on the ``low`` queue like every
search job: one queue) brings their documents up to date in its own session. A rollback drops the
notes of what it undid... but not of an earlier flush of the same session (a later commit then
indexes a record again: harmless).

Never raises: a queue that cannot be reached is logged and the write stands (``flask search
reindex`` catches up). Without an application (a script, a benchmark) nothing is queued. Without
``REDIS_URL`` the job runs at once in this process, after the commit (``app.jobs.queue.enqueue``)."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event as sa_event, inspect
from sqlalchemy.orm import Session

from app.models import Patient
from app.services.commit_hooks import after_commit_released
from app.services.search.kinds import KINDS

log = logging.getLogger(__name__)

PENDING = "search_changes"  # session.info: {(kind, id)} to index after the commit
JOB = "app.jobs.search.index_records"
QUEUE = "low"
MAX_CHANGES_PER_JOB = 500


def changes_of(obj: Any) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for kind in KINDS.values():
        for model, ids in kind.watches.items():
            if isinstance(obj, model):
                found.update((kind.name, int(ref_id)) for ref_id in ids(obj) if ref_id is not None)
    if isinstance(obj, Patient) and obj.id is not None:
        state: Any = inspect(obj)
        if not state.pending and (state.attrs.full_name.history.deleted or state.attrs.code.history.deleted):
            found.add(("patient_records", obj.id))
    return found


@sa_event.listens_for(Session, "after_flush")
def _note(session: Session, flush_context: Any) -> None:
    try:
        noted = session.info.setdefault(PENDING, set())
        for obj in (*session.new, *session.dirty, *session.deleted):
            noted.update(changes_of(obj))
        if not noted:
            session.info.pop(PENDING, None)
    except Exception:  # noqa: BLE001 - never fail a write; reindex catches up
        log.exception("search: could not tell what a flush changed")


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: Any) -> None:
    if not session.in_transaction():
        session.info.pop(PENDING, None)


@after_commit_released  # an in-process job opens its own session: not while the commit's is held
def _queue(session: Session) -> None:
    changes = session.info.pop(PENDING, None)
    if changes:
        queue_changes(sorted(changes))


def queue_changes(changes: list[tuple[str, int]]) -> None:
    try:
        from flask import current_app, has_app_context

        if not has_app_context() or not current_app.config.get("SEARCH_INDEX_ON_WRITE", True):
            return
        from app.jobs.queue import enqueue

        for start in range(0, len(changes), MAX_CHANGES_PER_JOB):
            enqueue(current_app.config, JOB, [list(c) for c in changes[start:start + MAX_CHANGES_PER_JOB]],
                    queue=QUEUE)
    except Exception:  # noqa: BLE001 - the write stands; the index catches up on the next reindex
        log.exception("search: could not queue the index job for %d changes", len(changes))
