"""What the clinic sells: services with price and duration."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import TimestampMixin, choice
from app.models.people import Department, Doctor, doctor_service
from app.models.types import Money

VISIT_MODES = (N_("in_person"), N_("video"), N_("both"))


class Service(TimestampMixin, Model):
    __tablename__ = "service"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.Unicode(20), nullable=False)
    name: Mapped[str] = mapped_column(sa.Unicode(150), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.UnicodeText)
    # What the patient brings to this service (one item a line), listed in the appointment reminder.
    what_to_bring: Mapped[str | None] = mapped_column(sa.UnicodeText)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"))
    department: Mapped[Department | None] = relationship()
    price: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    duration_minutes: Mapped[int] = mapped_column(nullable=False, default=15)
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    # How the service is given: in person, by video (app.services.telemedicine), or either way
    # (the booking asks which).
    visit_modes: Mapped[str] = mapped_column(choice("service_visit_modes", *VISIT_MODES), nullable=False,
                                             server_default="in_person")
    doctors: Mapped[list[Doctor]] = relationship(secondary=doctor_service, back_populates="services")

    __table_args__ = (
        sa.UniqueConstraint("code", name="uq_service_code"),
        sa.CheckConstraint("price >= 0", name="ck_service_price_non_negative"),
        sa.CheckConstraint("duration_minutes > 0 AND duration_minutes <= 480", name="ck_service_duration_range"),
        sa.Index("ix_service_department_id", "department_id"),
    )

    def __repr__(self) -> str:
        return self.name
