"""Work that follows a commit and reads the database itself (an in-process search index job, a
live update that counts unread notifications, the review invitation of a finished visit).

SQLAlchemy's ``after_commit`` event fires while the committing session still holds its pooled
connection: it is given back only when the transaction closes, just after. Work there that opens a
session of its own needs a second connection while holding the first, and under load (many
socket events or requests committing at once, each waiting for a second connection) the pool runs
dry with every holder waiting: nothing moves until the pool's timeout (30 s), then errors. So such
work is registered here and run at ``after_transaction_end`` of the outermost transaction, once its
connection is back in the pool, and only when that transaction committed.

A hook keeps its own notes in ``session.info`` (taken at ``after_commit`` or later) and drops
them on a rollback as before; only the moment it runs moves."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

COMMITTED = "commit_hooks_committed"  # session.info: the outermost transaction committed
_hooks: list[Callable[[Session], None]] = []


def after_commit_released(hook: Callable[[Session], None]) -> Callable[[Session], None]:
    """Register ``hook(session)`` to run after each commit, once the connection is released
    (decorator). Hooks run in the order registered; one that raises is logged, the others run."""
    _hooks.append(hook)
    return hook


@sa_event.listens_for(Session, "after_commit")
def _mark(session: Session) -> None:
    session.info[COMMITTED] = True


@sa_event.listens_for(Session, "after_transaction_end")
def _run(session: Session, transaction: Any) -> None:
    if transaction.parent is not None or not session.info.pop(COMMITTED, False):
        return  # a savepoint's end, or a transaction that did not commit
    for hook in _hooks:
        try:
            hook(session)
        except Exception:  # noqa: BLE001 - the commit stands; each hook says what it failed to do
            log.exception("after-commit hook %s failed", getattr(hook, "__name__", hook))
