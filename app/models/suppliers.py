"""Suppliers and goods receipts: who delivers the medicines, how long an order takes, and what
each delivery brought (every line a stock batch and a ``receipt`` row of the stock ledger)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import TimestampMixin, user_fk
from app.models.types import Money, UTCDateTime, utcnow


class Supplier(TimestampMixin, Model):
    __tablename__ = "supplier"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Unicode(200), nullable=False)
    contact: Mapped[str | None] = mapped_column(sa.Unicode(200))
    phone: Mapped[str | None] = mapped_column(sa.Unicode(30))
    lead_time_days: Mapped[int] = mapped_column(nullable=False, default=7)
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("name", name="uq_supplier_name"),
        sa.CheckConstraint("lead_time_days >= 0", name="ck_supplier_lead_time_non_negative"),
    )

    def __repr__(self) -> str:
        return self.name


class GoodsReceipt(Model):
    """One delivery received from a supplier."""

    __tablename__ = "goods_receipt"
    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(sa.ForeignKey("supplier.id", ondelete="RESTRICT"), nullable=False)
    supplier: Mapped[Supplier] = relationship()
    delivery_note: Mapped[str | None] = mapped_column(sa.Unicode(60))  # the supplier's invoice / delivery number
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    received_by_id: Mapped[int | None] = user_fk()
    received_by: Mapped[User | None] = relationship(User, foreign_keys=[received_by_id])
    lines: Mapped[list["GoodsReceiptLine"]] = relationship(back_populates="receipt", order_by="GoodsReceiptLine.id")
    __table_args__ = (sa.Index("ix_goods_receipt_received_at", "received_at"),)

    def __repr__(self) -> str:
        return f"GR-{self.id:06d}" if self.id else "GR"


class GoodsReceiptLine(Model):
    __tablename__ = "goods_receipt_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(sa.ForeignKey("goods_receipt.id", ondelete="CASCADE"), nullable=False)
    receipt: Mapped[GoodsReceipt] = relationship(back_populates="lines")
    medicine_id: Mapped[int] = mapped_column(sa.ForeignKey("medicine.id", ondelete="RESTRICT"), nullable=False)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("stock_batch.id", ondelete="RESTRICT"), nullable=False)
    lot_number: Mapped[str] = mapped_column(sa.Unicode(40), nullable=False)
    expiry_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    quantity: Mapped[int] = mapped_column(nullable=False)
    unit_cost: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0)
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="ck_goods_receipt_line_quantity_positive"),
        sa.CheckConstraint("unit_cost >= 0", name="ck_goods_receipt_line_cost_non_negative"),
        sa.Index("ix_goods_receipt_line_receipt", "receipt_id"),
    )
