"""Break-the-glass grants: a person outside a patient's care team who stated a reason and may
read that patient's clinical record until ``expires_at`` (``app.services.access``)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.people import Patient
from app.models.types import UTCDateTime, utcnow


class CareAccessGrant(Model):
    __tablename__ = "care_access_grant"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    user: Mapped[User] = relationship(User, foreign_keys=[user_id])
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="CASCADE"), nullable=False)
    patient: Mapped[Patient] = relationship()
    reason: Mapped[str] = mapped_column(sa.Unicode(500), nullable=False)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        sa.CheckConstraint("expires_at > granted_at", name="ck_care_access_grant_expiry"),
        sa.Index("ix_care_access_grant_user_patient", "user_id", "patient_id", "expires_at"),
        sa.Index("ix_care_access_grant_granted_at", "granted_at"),
    )

    def __repr__(self) -> str:
        return f"#{self.id}"
