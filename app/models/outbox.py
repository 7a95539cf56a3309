"""The transactional outbox: each domain event (an appointment booked, an invoice paid ...) is a
row written in the same transaction as the change that caused it, so a rolled-back change emits
nothing and a committed one is never lost. The relay (``flask events relay``) and the webhooks
deliver the rows afterwards, at least once; consumers deduplicate by ``event_id``."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime

# 64-bit on the servers, SQLite's rowid alias on SQLite (only INTEGER PRIMARY KEY autoincrements there).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class OutboxEvent(Model):
    __tablename__ = "outbox"
    # The order events were written in: the relay publishes by it (and per aggregate by ``sequence``).
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)  # a UUID: consumers deduplicate by it
    type: Mapped[str] = mapped_column(sa.Unicode(60), nullable=False)  # "appointment.booked": the routing key
    aggregate_type: Mapped[str] = mapped_column(sa.Unicode(40), nullable=False)  # "appointment"
    aggregate_id: Mapped[str] = mapped_column(sa.Unicode(40), nullable=False)
    # 1, 2, 3 ... per aggregate, gapless: a consumer sees an aggregate's events in this order.
    sequence: Mapped[int] = mapped_column(nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)
    payload_version: Mapped[int] = mapped_column(nullable=False, default=1, server_default="1")
    # Set once the broker confirmed the message (the relay); NULL while pending.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the relay's backoff
    last_error: Mapped[str | None] = mapped_column(sa.Unicode(500))
    __table_args__ = (
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
        sa.UniqueConstraint("aggregate_type", "aggregate_id", "sequence", name="uq_outbox_aggregate_sequence"),
        sa.CheckConstraint("sequence >= 1", name="ck_outbox_sequence_positive"),
        sa.Index("ix_outbox_pending", "id", postgresql_where=sa.text("sent_at IS NULL"),
                 sqlite_where=sa.text("sent_at IS NULL")),
        sa.Index("ix_outbox_type", "type", "id"),
    )

    def __repr__(self) -> str:
        return f"{self.type} {self.aggregate_type}#{self.aggregate_id}.{self.sequence}"
