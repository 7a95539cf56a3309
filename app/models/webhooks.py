"""Signed webhooks (issue 17, item 3): the endpoints admins register, one delivery per endpoint and
outbox event (its log: status, attempts, next try), the fan-out's cursor over the outbox, and the
payloads the built-in test receiver got."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookEndpoint(Model):
    __tablename__ = "webhook_endpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.Unicode(500), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Unicode(200))
    event_types: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False)  # ["patient.registered", ...]
    secret: Mapped[str] = mapped_column(sa.String(80), nullable=False)  # "whsec_" + 48 hex digits
    active: Mapped[bool] = mapped_column(nullable=False, default=True, server_default=sa.true())
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    def __repr__(self) -> str:
        return self.url


class WebhookDelivery(Model):
    __tablename__ = "webhook_delivery"
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE"),
                                             nullable=False)
    outbox_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)  # the event's row: its body
    event_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    event_type: Mapped[str] = mapped_column(sa.Unicode(60), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="pending",
                                        server_default="pending")
    attempts: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Retries stop 24 hours after this (the event's time; a resend starts a new day).
    retry_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Unicode(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_delivery_endpoint_event"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="ck_webhook_delivery_status"),
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),
    )

    def __repr__(self) -> str:
        return f"{self.event_type} -> endpoint {self.endpoint_id}: {self.status}"


class WebhookCursor(Model):
    """The fan-out's place in the outbox: one row (``name = 'fan_out'``), taken with a row lock."""
    __tablename__ = "webhook_cursor"
    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    last_outbox_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0, server_default="0")


class WebhookReceived(Model):
    """A POST the built-in test receiver got (the last ``RECEIVER_KEEP`` are kept)."""
    __tablename__ = "webhook_received"
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    signature: Mapped[str | None] = mapped_column(sa.String(300))
    verified: Mapped[bool] = mapped_column(nullable=False, default=False)
    event_id: Mapped[str | None] = mapped_column(sa.String(36))
    event_type: Mapped[str | None] = mapped_column(sa.Unicode(60))
    body: Mapped[str] = mapped_column(sa.UnicodeText, nullable=False)
