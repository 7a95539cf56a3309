"""Bookkeeping of the domain-event consumers (``flask events consume NAME``).

``consumed_event``: one row per (consumer, event id) a consumer applied, written in the same
transaction as the consumer's effect; the broker delivers at least once, this makes the effect once.
``lab_bridge_order``: what the lab-bridge consumer keeps for a lab analyser interface to read."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.models.outbox import BIG_ID
from app.models.types import UTCDateTime


class ConsumedEvent(Model):
    __tablename__ = "consumed_event"
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(sa.Unicode(60), nullable=False)
    event_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    consumed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (sa.UniqueConstraint("consumer", "event_id", name="uq_consumed_event_consumer_event"),)


LAB_BRIDGE_STATUSES = ("queued", "cancelled")


class LabBridgeOrder(Model):
    """A lab order as the analyser interface sees it: ``queued`` to run, or ``cancelled``."""
    __tablename__ = "lab_bridge_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    lab_order_id: Mapped[int] = mapped_column(nullable=False)  # lab_order.id (no foreign key: an interface queue)
    test_code: Mapped[str] = mapped_column(sa.Unicode(30), nullable=False)
    patient_code: Mapped[str | None] = mapped_column(sa.Unicode(30))
    status: Mapped[str] = mapped_column(sa.Unicode(20), nullable=False)
    event_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)  # the last event applied
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("lab_order_id", name="uq_lab_bridge_order_lab_order"),
        sa.CheckConstraint("status IN ('queued', 'cancelled')", name="ck_lab_bridge_order_status"),
        sa.Index("ix_lab_bridge_order_status", "status", "id"),
    )
