"""Locked accounts: one row per account that was locked after too many failed logins.

The count of consecutive failures is FAB's own ``ab_user.fail_login_count`` (FAB already resets it
on success and shows it on the user screen); this table holds only when the lock began and when it
lapses. Named ``ab_`` like FAB's tables: it is security state, kept when clinic data is wiped. An
unlock or a lapsed lock removes the row."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime


class AccountLock(Model):
    __tablename__ = "ab_account_lock"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (sa.CheckConstraint("locked_until > locked_at", name="ck_ab_account_lock_period"),)
