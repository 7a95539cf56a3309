"""Links sent by e-mail (sign-up confirmation, password reset, a new e-mail address), the
"e-mail confirmed" fact of each self-registered login, and the details a sign-up waits to apply.

Only a hash of a link's token is stored: a copy of the database gives no working link."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime, utcnow

LINK_PURPOSES = ("confirm", "reset", "email_change")


class AccountLink(Model):
    """One link: whose, what for, until when, and whether it was used (``used_at``: single use;
    also set when a newer link of the same purpose replaces it)."""

    __tablename__ = "account_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    purpose: Mapped[str] = mapped_column(sa.Unicode(20), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    # The address the link was sent to (for "email_change": the new address it confirms).
    email: Mapped[str | None] = mapped_column(sa.Unicode(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.UniqueConstraint("token_hash", name="uq_account_link_token_hash"),
        sa.CheckConstraint("purpose IN ('confirm', 'reset', 'email_change')", name="ck_account_link_purpose"),
        sa.Index("ix_account_link_user_purpose", "user_id", "purpose"),
    )


class AccountEmail(Model):
    """The e-mail address of a login that signed up on the public site, and when it was confirmed.
    A login without a row (made by an admin, or by the seed) was vouched for by the clinic."""

    __tablename__ = "account_email"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(sa.Unicode(254), nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PendingSignup(Model):
    """What a sign-up said about the patient, applied when the e-mail is confirmed (then linked to
    the record the desk made, or a new record is made) and deleted."""

    __tablename__ = "pending_signup"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    full_name: Mapped[str] = mapped_column(sa.Unicode(150), nullable=False)
    phone: Mapped[str | None] = mapped_column(sa.Unicode(20))
    date_of_birth: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
