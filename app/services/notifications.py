"""In-app notifications: the bell in the back office and the portal.

``notify`` is the one function everything calls; it adds the row (the caller commits) and, once
the transaction commits, tells ``realtime_hooks.notification_created`` so an open page can update
its bell. Titles are written in the recipient's language: wrap the ``gettext`` calls that make
them in ``in_language_of(session, user_id)``, or use ``notify_users`` which does it per user.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder.security.sqla.models import Role, User, assoc_user_role
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import Notification, UserProfile
from app.models.types import utcnow
from app.services.commit_hooks import after_commit_released

PENDING_KEY = "notified_user_ids"


@dataclass(frozen=True)
class NotificationRow:
    id: int
    kind: str
    title: str
    body: str | None
    link: str | None
    created_at: datetime
    read: bool


def notify(session: Session, user_id: int, kind: str, title: str, body: str | None = None,
           link: str | None = None, *, now: datetime | None = None) -> Notification:
    """Add a notification for ``user_id`` (no commit). ``link`` is a path inside the app."""
    if link and not link.startswith("/"):
        raise ValueError("a notification links to a path of this app")
    row = Notification(user_id=user_id, kind=kind[:40], title=str(title)[:200], body=body,
                       link=(link or None) and link[:500], created_at=now or utcnow())
    session.add(row)
    session.info.setdefault(PENDING_KEY, set()).add(user_id)
    return row


def language_of(session: Session, user_id: int, default: str = "en") -> str:
    language = session.execute(sa.select(UserProfile.language).where(UserProfile.user_id == user_id)).scalar()
    return language or default


@contextmanager
def in_language_of(session: Session, user_id: int, default: str = "en") -> Iterator[None]:
    from flask_babel import force_locale

    with force_locale(language_of(session, user_id, default)):
        yield


def users_with_roles(session: Session, role_names: Iterable[str]) -> list[int]:
    """Active logins holding any of ``role_names``."""
    names = list(role_names)
    if not names:
        return []
    return list(session.execute(
        sa.select(User.id).join(assoc_user_role, assoc_user_role.c.user_id == User.id)
        .join(Role, Role.id == assoc_user_role.c.role_id)
        .where(Role.name.in_(names), User.active.is_(True)).distinct().order_by(User.id)).scalars())


def notify_users(session: Session, user_ids: Iterable[int], kind: str,
                 make: Callable[[], tuple[str, str | None]], link: str | None = None, *,
                 default_language: str = "en", now: datetime | None = None) -> list[Notification]:
    """``make()`` gives (title, body); it is called in each user's language."""
    rows = []
    for user_id in dict.fromkeys(user_ids):
        with in_language_of(session, user_id, default_language):
            title, body = make()
        rows.append(notify(session, user_id, kind, title, body, link, now=now))
    return rows


def unread_count(session: Session, user_id: int) -> int:
    return int(session.execute(sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))).scalar() or 0)


def latest_id(session: Session, user_id: int) -> int:
    """The id of the user's newest notification (0: none): what a page already shows."""
    return int(session.execute(sa.select(sa.func.max(Notification.id)).where(Notification.user_id == user_id))
               .scalar() or 0)


def list_notifications(session: Session, user_id: int, *, limit: int = 50, unread_only: bool = False,
                       before_id: int | None = None) -> list[NotificationRow]:
    q = sa.select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    if before_id:
        q = q.where(Notification.id < before_id)
    rows = session.execute(q.order_by(Notification.id.desc()).limit(max(1, min(limit, 200)))).scalars()
    return [NotificationRow(n.id, n.kind, n.title, n.body, n.link, n.created_at, n.read_at is not None) for n in rows]


def link_of(session: Session, user_id: int, notification_id: int) -> str | None:
    """The link of one of the user's own notifications (None for another user's id)."""
    return session.execute(sa.select(Notification.link).where(
        Notification.id == notification_id, Notification.user_id == user_id)).scalar()


def mark_read(session: Session, user_id: int, notification_ids: Iterable[int] | None, *,
              now: datetime | None = None) -> int:
    """Mark the user's own notifications read (all of them with ``None``); how many changed. Commits.
    Another user's ids are ignored, not an error: nobody learns which ids exist."""
    q = sa.update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_ids is not None:
        ids = [int(i) for i in notification_ids]
        if not ids:
            return 0
        q = q.where(Notification.id.in_(ids))
    result = session.execute(q.values(read_at=now or utcnow()).execution_options(synchronize_session=False))
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@after_commit_released  # the push counts the unread in a session of its own
def _push_after_commit(session: Session) -> None:
    user_ids = session.info.pop(PENDING_KEY, None)
    if not user_ids:
        return
    from app.services import realtime_hooks

    for user_id in sorted(user_ids):
        realtime_hooks.notification_created(user_id)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
