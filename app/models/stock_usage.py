"""Units dispensed per medicine per clinic day (net of returns): a rollup of the stock ledger kept
by the dispensing service in the same transaction, so days of cover read a few thousand rows
instead of every recent ledger row. ``app.services.stock_usage.rebuild_daily_use`` makes it again
from the ledger (after a bulk import such as the demo seed)."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column


class MedicineDailyUse(Model):
    __tablename__ = "medicine_daily_use"
    medicine_id: Mapped[int] = mapped_column(sa.ForeignKey("medicine.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    units: Mapped[int] = mapped_column(nullable=False, default=0)
    __table_args__ = (sa.Index("ix_medicine_daily_use_day", "day", "medicine_id", "units"),)
