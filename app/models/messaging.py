"""Every message the clinic sends (e-mail, SMS, Zalo), from the moment it is decided to its
delivery: the delivery dashboard's rows and the claim that makes each one go out once."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column

from app.i18n import N_
from app.models.base import choice, user_fk
from app.models.types import UTCDateTime, utcnow

MESSAGE_CHANNELS = (N_("email"), N_("sms"), N_("zalo"))
# queued: waiting (not before ``not_before``); sending: claimed by a worker at ``claimed_at``;
# sent; failed: given up (attempts used, or refused for good); skipped: never sent, ``skip_reason`` says why.
MESSAGE_STATUSES = (N_("queued"), N_("sending"), N_("sent"), N_("failed"), N_("skipped"))
SKIP_REASONS = (
    N_("no_address"), N_("opted_out"), N_("quiet_hours"), N_("cancelled"), N_("moved"), N_("not_due"),
    N_("gone"),
)


class OutboundMessage(Model):
    """One message to one recipient on one channel. Its content is rendered when it is sent (from
    ``kind`` and ``params``), so a reminder for a visit that was cancelled in the meantime is
    skipped instead of sent; ``subject`` and ``body`` keep what was actually sent."""

    __tablename__ = "outbound_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique when set: the same decision taken twice (a scheduler firing twice, two workers) makes one row.
    dedupe_key: Mapped[str | None] = mapped_column(sa.Unicode(200))
    channel: Mapped[str] = mapped_column(choice("message_channel", *MESSAGE_CHANNELS), nullable=False)
    kind: Mapped[str] = mapped_column(sa.Unicode(40), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False, default=dict)
    language: Mapped[str] = mapped_column(sa.Unicode(10), nullable=False, default="en")
    recipient: Mapped[str | None] = mapped_column(sa.Unicode(254))  # address or phone (E.164)
    recipient_name: Mapped[str | None] = mapped_column(sa.Unicode(150))
    user_id: Mapped[int | None] = user_fk()
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patient.id", ondelete="SET NULL"))
    appointment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appointment.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(choice("message_status", *MESSAGE_STATUSES), nullable=False,
                                        default="queued")
    skip_reason: Mapped[str | None] = mapped_column(choice("message_skip_reason", *SKIP_REASONS))
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Unicode(500))
    provider_ref: Mapped[str | None] = mapped_column(sa.Unicode(200))
    subject: Mapped[str | None] = mapped_column(sa.Unicode(300))
    body: Mapped[str | None] = mapped_column(sa.UnicodeText)
    created_by_id: Mapped[int | None] = user_fk()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("dedupe_key", name="uq_outbound_message_dedupe"),
        sa.CheckConstraint("attempts >= 0", name="ck_outbound_message_attempts"),
        sa.CheckConstraint("status <> 'skipped' OR skip_reason IS NOT NULL", name="ck_outbound_message_skip_reason"),
        sa.Index("ix_outbound_message_due", "status", "not_before"),
        sa.Index("ix_outbound_message_created", "created_at"),
        sa.Index("ix_outbound_message_appointment", "appointment_id"),
    )

    def __repr__(self) -> str:
        return f"#{self.id} {self.channel} {self.kind} {self.status}"
