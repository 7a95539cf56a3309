"""What a user chose for themselves on their profile page: the language of their pages and
e-mails, how the clinic may reach them (e-mail, SMS, both or neither), and a phone number for a
login without a patient record (a patient's phone lives on their patient record)."""
from __future__ import annotations

from datetime import datetime, time

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime, utcnow


class UserProfile(Model):
    """One row per login that saved its profile; a login without a row has the defaults (the
    language of the browser, notices by e-mail)."""

    __tablename__ = "user_profile"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str | None] = mapped_column(sa.Unicode(10))
    notify_email: Mapped[bool] = mapped_column(default=True, nullable=False)
    notify_sms: Mapped[bool] = mapped_column(default=False, nullable=False)
    notify_zalo: Mapped[bool] = mapped_column(default=False, nullable=False)
    # Quiet hours, clinic time: no SMS or Zalo message between these (the window may span midnight).
    quiet_from: Mapped[time | None] = mapped_column(sa.Time)
    quiet_until: Mapped[time | None] = mapped_column(sa.Time)
    phone: Mapped[str | None] = mapped_column(sa.Unicode(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
