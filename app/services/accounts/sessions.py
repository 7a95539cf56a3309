"""Login sessions that can be ended, and the rotating refresh tokens of API logins.

A session is a row (``app.models.sessions``: why rows and not a per-user version is written
there). Its id is the SHA-256 of a random secret: the browser's session cookie carries the
secret, an access token carries the id (signed, in its ``sid`` claim). A session is live while
it is not ended, has been used within its idle time and is younger than its absolute lifetime;
every request checks that (``app.security``), so ending the row ends the session in every process
at once.

Refresh tokens are random secrets too (only their SHA-256 is stored). The session is the token
family: each refresh uses up its token and issues the next one; a token presented a second time
means two holders (a thief and the owner), so the whole session ends with every token of it, and
the next refresh of either holder fails.

Writes go through Core statements (no ORM unit of work, so no row-change audit rows for every
refresh). The caller commits."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.models.sessions import RefreshToken, UserSession

SESSIONS = UserSession.__table__
TOKENS = RefreshToken.__table__

# last_seen_at is written at most this often per session: a request normally writes nothing.
TOUCH_EVERY = timedelta(seconds=60)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The stored form of a session secret or refresh token (SHA-256, hex)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Policy:
    """How long a session lives: ``idle`` without a request, ``lifetime`` in any case."""

    idle: timedelta
    lifetime: timedelta


@dataclass(frozen=True)
class SessionState:
    """What a request needs to know of its session (read together with the user)."""

    id: str
    kind: str
    last_seen_at: datetime
    idle_seconds: int
    expires_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class SessionInfo:
    """A session as the user's sessions page shows it."""

    id: str
    kind: str
    created_at: datetime
    last_seen_at: datetime
    ip: str | None
    user_agent: str | None


# What ``SessionState`` is made of: ``app.security`` selects these beside the user.
STATE_COLUMNS = (SESSIONS.c.id, SESSIONS.c.kind, SESSIONS.c.last_seen_at, SESSIONS.c.idle_seconds,
                 SESSIONS.c.expires_at, SESSIONS.c.ended_at)


def is_live(state: SessionState, now: datetime) -> bool:
    return (state.ended_at is None and now < state.expires_at
            and now - state.last_seen_at <= timedelta(seconds=state.idle_seconds))


def needs_touch(state: SessionState, now: datetime) -> bool:
    return now - state.last_seen_at >= TOUCH_EVERY


def touch_session(connection: Connection | Session, session_id: str, now: datetime) -> None:
    """Record that the session was used at ``now`` (call when ``needs_touch``)."""
    connection.execute(update(SESSIONS).where(SESSIONS.c.id == session_id, SESSIONS.c.ended_at.is_(None))
                       .values(last_seen_at=now))


def start_session(session: Session, *, user_id: int, kind: str, now: datetime, policy: Policy,
                  ip: str | None = None, user_agent: str | None = None) -> tuple[str, str]:
    """A new live session of ``user_id``; returns (secret, session id). The caller commits."""
    secret = new_secret()
    session_id = digest(secret)
    session.execute(insert(SESSIONS).values(
        id=session_id, user_id=user_id, kind=kind, created_at=now, last_seen_at=now,
        idle_seconds=int(policy.idle.total_seconds()), expires_at=now + policy.lifetime, ended_at=None,
        end_reason=None, ip=(ip or None) and ip[:45], user_agent=(user_agent or None) and user_agent[:300]))
    return secret, session_id


def _end(session: Session, condition, now: datetime, reason: str) -> int:
    ended: int = session.execute(update(SESSIONS).where(condition, SESSIONS.c.ended_at.is_(None))
                                 .values(ended_at=now, end_reason=reason)).rowcount  # type: ignore[attr-defined]
    family = select(SESSIONS.c.id).where(condition).scalar_subquery()
    session.execute(update(TOKENS).where(TOKENS.c.session_id.in_(family), TOKENS.c.revoked_at.is_(None))
                    .values(revoked_at=now))
    return ended


def end_session(session: Session, session_id: str, now: datetime, reason: str = "logout",
                user_id: int | None = None) -> bool:
    """End one session (and revoke its refresh tokens); with ``user_id``, only if it is theirs.
    True if it was live. The caller commits."""
    condition = SESSIONS.c.id == session_id
    if user_id is not None:
        condition = and_(condition, SESSIONS.c.user_id == user_id)
    return _end(session, condition, now, reason) > 0


def end_user_sessions(session: Session, user_id: int, now: datetime, keep_session_id: str | None = None,
                      reason: str = "ended") -> int:
    """End every session and refresh-token family of ``user_id`` except ``keep_session_id``;
    the number ended. The caller commits.

    ``keep_session_id`` is a session's id as ``app.web_sessions.current_session_id()`` gives it
    (the caller's own session, for "a password change ends every *other* session")."""
    condition = SESSIONS.c.user_id == user_id
    if keep_session_id is not None:
        condition = and_(condition, SESSIONS.c.id != keep_session_id)
    return _end(session, condition, now, reason)


def active_sessions(session: Session, user_id: int, now: datetime) -> list[SessionInfo]:
    """The user's live sessions, most recently used first."""
    rows = session.execute(
        select(SESSIONS).where(SESSIONS.c.user_id == user_id, SESSIONS.c.ended_at.is_(None),
                               SESSIONS.c.expires_at > now)
        .order_by(SESSIONS.c.last_seen_at.desc(), SESSIONS.c.created_at.desc())
    ).mappings()
    states = [(row, SessionState(row["id"], row["kind"], row["last_seen_at"], row["idle_seconds"],
                                 row["expires_at"], row["ended_at"])) for row in rows]
    return [SessionInfo(row["id"], row["kind"], row["created_at"], row["last_seen_at"], row["ip"],
                        row["user_agent"]) for row, state in states if is_live(state, now)]


def session_state(session: Session, session_id: str) -> SessionState | None:
    row = session.execute(select(*STATE_COLUMNS).where(SESSIONS.c.id == session_id)).first()
    return SessionState(*row) if row is not None else None


def issue_refresh_token(session: Session, *, session_id: str, user_id: int, now: datetime,
                        lifetime: timedelta) -> str:
    """A new refresh token of the session (its family); returns the token. The caller commits."""
    token = new_secret()
    session.execute(insert(TOKENS).values(id=digest(token), session_id=session_id, user_id=user_id, issued_at=now,
                                          expires_at=now + lifetime, used_at=None, revoked_at=None))
    return token


@dataclass(frozen=True)
class Rotation:
    """A refresh that worked: the user, their session and the next refresh token."""

    user_id: int
    session_id: str
    token: str


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, revoked, used before (reuse: its family is now
    revoked) or its session has ended. ``reason`` says which (for the audit trail)."""

    def __init__(self, reason: str, user_id: int | None = None, session_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.user_id, self.session_id = reason, user_id, session_id


def rotate_refresh_token(session: Session, token: str, now: datetime, lifetime: timedelta) -> Rotation:
    """Use up ``token`` and issue the next one of its family; raise ``RefreshRefused`` otherwise.
    A token used a second time ends its session and revokes every token of it. The caller commits
    in both cases (the revocation must stay)."""
    row = session.execute(select(TOKENS).where(TOKENS.c.id == digest(token))).mappings().first()
    if row is None:
        raise RefreshRefused("unknown")
    if row["used_at"] is not None or row["revoked_at"] is not None:
        if row["used_at"] is not None:
            end_session(session, row["session_id"], now, reason="refresh_reuse")
            raise RefreshRefused("reuse", row["user_id"], row["session_id"])
        raise RefreshRefused("revoked")
    if now >= row["expires_at"]:
        raise RefreshRefused("expired")
    state = session_state(session, row["session_id"])
    if state is None or not is_live(state, now):
        raise RefreshRefused("session_ended")
    # Used up atomically: of two simultaneous refreshes with one token, one wins and the other
    # is a reuse.
    used = session.execute(update(TOKENS).where(TOKENS.c.id == row["id"], TOKENS.c.used_at.is_(None),
                                                TOKENS.c.revoked_at.is_(None)).values(used_at=now)
                           ).rowcount  # type: ignore[attr-defined]  # a DML result
    if not used:
        end_session(session, row["session_id"], now, reason="refresh_reuse")
        raise RefreshRefused("reuse", row["user_id"], row["session_id"])
    touch_session(session, row["session_id"], now)
    next_token = issue_refresh_token(session, session_id=row["session_id"], user_id=row["user_id"], now=now,
                                     lifetime=min(lifetime, state.expires_at - now))
    return Rotation(row["user_id"], row["session_id"], next_token)


def prune_sessions(session: Session, now: datetime, keep: timedelta = timedelta(days=30)) -> int:
    """Delete sessions ended or expired more than ``keep`` ago (their tokens go with them)."""
    old = now - keep
    deleted: int = session.execute(SESSIONS.delete().where(
        or_(SESSIONS.c.ended_at < old, SESSIONS.c.expires_at < old))).rowcount  # type: ignore[attr-defined]
    return deleted
