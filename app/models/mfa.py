"""Two-factor login: a user's TOTP enrolment and their one-time recovery codes. Named ``ab_`` like
FAB's tables: they are security state of a login, kept when clinic data is wiped, and deleted with
the login (ON DELETE CASCADE)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime, utcnow


class MfaEnrolment(Model):
    """One per user. ``confirmed_at`` is empty while the user has scanned the QR but not yet typed a
    code; only a confirmed enrolment asks for codes at login. ``last_used_step`` is the TOTP time
    step (Unix time // 30) of the last code accepted: a code of that step or an earlier one is
    refused, so a code seen over a shoulder or in a log cannot be used again."""

    __tablename__ = "ab_mfa_enrolment"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    secret: Mapped[str] = mapped_column(sa.Unicode(64), nullable=False)  # base32, as authenticator apps read it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Wrong codes in a row (the password was right each time); at MFA_MAX_FAILED_CODES no code is
    # taken until ``codes_locked_until``: 10**6 codes cannot be tried, whatever the address.
    failed_codes: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0", nullable=False)
    codes_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (sa.UniqueConstraint("user_id", name="uq_ab_mfa_enrolment_user"),)


class MfaRecoveryCode(Model):
    """A one-time code for a lost phone, stored as its SHA-256 (the codes are random, 50 bits each:
    a slow hash adds nothing); ``used_at`` set when spent."""

    __tablename__ = "ab_mfa_recovery_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False,
                                         index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash", name="uq_ab_mfa_recovery_code_hash"),)
