"""The laboratory's test catalogue (issue 9, item 7): tests the doctor orders from the visit, each
with its analytes (unit, decimals) and their reference ranges by sex and age band, with the
critical limits that make a result urgent."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import TimestampMixin, choice
from app.models.types import Money

RANGE_SEXES = (N_("any"), N_("male"), N_("female"))


class LabTest(TimestampMixin, Model):
    __tablename__ = "lab_test"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.Unicode(30), nullable=False)
    name: Mapped[str] = mapped_column(sa.Unicode(200), nullable=False)
    specimen: Mapped[str | None] = mapped_column(sa.Unicode(60))
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    price: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)  # billed when ordered at a visit
    analytes: Mapped[list["LabAnalyte"]] = relationship(
        back_populates="test", cascade="all, delete-orphan", order_by="LabAnalyte.position")
    __table_args__ = (
        sa.UniqueConstraint("code", name="uq_lab_test_code"),
        sa.CheckConstraint("price >= 0", name="ck_lab_test_price_non_negative"),
    )

    def __repr__(self) -> str:
        return f"{self.code} {self.name}"


class LabAnalyte(Model):
    __tablename__ = "lab_analyte"
    id: Mapped[int] = mapped_column(primary_key=True)
    test_id: Mapped[int] = mapped_column(sa.ForeignKey("lab_test.id", ondelete="CASCADE"), nullable=False)
    test: Mapped[LabTest] = relationship(back_populates="analytes")
    position: Mapped[int] = mapped_column(nullable=False, default=0)
    name: Mapped[str] = mapped_column(sa.Unicode(120), nullable=False)
    unit: Mapped[str | None] = mapped_column(sa.Unicode(30))
    decimals: Mapped[int] = mapped_column(nullable=False, default=1)
    ranges: Mapped[list["LabReferenceRange"]] = relationship(
        back_populates="analyte", cascade="all, delete-orphan", order_by="LabReferenceRange.id")
    __table_args__ = (
        sa.UniqueConstraint("test_id", "name", name="uq_lab_analyte_test_name"),
        sa.CheckConstraint("decimals BETWEEN 0 AND 4", name="ck_lab_analyte_decimals"),
    )

    def __repr__(self) -> str:
        return self.name


class LabReferenceRange(Model):
    """One reference range of an analyte: for one sex (or any) and an age band in whole years,
    ``age_min_years`` included, ``age_max_years`` excluded (None: no upper limit)."""

    __tablename__ = "lab_reference_range"
    id: Mapped[int] = mapped_column(primary_key=True)
    analyte_id: Mapped[int] = mapped_column(sa.ForeignKey("lab_analyte.id", ondelete="CASCADE"), nullable=False)
    analyte: Mapped[LabAnalyte] = relationship(back_populates="ranges")
    sex: Mapped[str] = mapped_column(choice("lab_range_sex", *RANGE_SEXES), nullable=False, default="any")
    age_min_years: Mapped[int] = mapped_column(nullable=False, default=0)
    age_max_years: Mapped[int | None] = mapped_column()
    low: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 4))
    high: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 4))
    critical_low: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 4))
    critical_high: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 4))
    __table_args__ = (
        sa.CheckConstraint("age_min_years >= 0", name="ck_lab_range_age_min"),
        sa.CheckConstraint("age_max_years IS NULL OR age_max_years > age_min_years", name="ck_lab_range_age_band"),
        sa.CheckConstraint("low IS NULL OR high IS NULL OR low <= high", name="ck_lab_range_low_high"),
        sa.Index("ix_lab_reference_range_analyte", "analyte_id"),
    )
