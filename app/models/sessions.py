"""Login sessions that can be ended, and the refresh tokens of API logins.

Why rows in the database and not a per-user session version: the profile lists each active
session (device, address, last seen) with "end this session", so each session must be a record
of its own; a version number could only end all of them at once. The database (not Redis) keeps
them because every process of every deployment has it, so an ended session is refused by every
process at once, with no second store to run.

Named ``ab_`` like FAB's tables: security state, kept when clinic data is wiped.

- ``ab_user_session``: one per login, web (the browser's session cookie carries a random secret;
  only its SHA-256 is stored, as the row's id) or api (the access tokens carry the row's id in
  their ``sid`` claim). A session is live while not ended, used within its idle time and younger
  than ``expires_at``.
- ``ab_refresh_token``: the refresh tokens of an API session (only their SHA-256 is stored); the
  session is the token *family*: every rotation issues the next token of the same session, and a
  token used twice ends the session with all its tokens (theft detection).

Written through Core statements by ``app.services.accounts.sessions`` (no ORM unit of work: the
change audit trail does not record every refresh; logins are audited as events)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime


class UserSession(Model):
    __tablename__ = "ab_user_session"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # SHA-256 (hex) of the secret
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(8), nullable=False)  # web, api
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    idle_seconds: Mapped[int] = mapped_column(sa.Integer, nullable=False)  # ends when unused this long
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # ends then in any case
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))  # logout, ended, everywhere, reuse, ...
    ip: Mapped[str | None] = mapped_column(sa.Unicode(45))
    user_agent: Mapped[str | None] = mapped_column(sa.Unicode(300))
    __table_args__ = (
        sa.CheckConstraint("kind IN ('web', 'api')", name="ck_ab_user_session_kind"),
        sa.Index("ix_ab_user_session_user", "user_id", "ended_at"),
    )


class RefreshToken(Model):
    __tablename__ = "ab_refresh_token"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # SHA-256 (hex) of the token
    session_id: Mapped[str] = mapped_column(sa.ForeignKey("ab_user_session.id", ondelete="CASCADE"),
                                            nullable=False)  # the family
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # rotated: the next token was issued
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (sa.Index("ix_ab_refresh_token_session", "session_id"),)
