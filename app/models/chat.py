"""Chat (issue 13, item 6): one conversation per patient, kept in SQL; its messages are documents
in the document store (``app.services.documents``). Why the split is explained in
``app.services.chat``."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.i18n import N_
from app.models.base import choice, user_fk
from app.models.people import Patient
from app.models.types import UTCDateTime, utcnow

# open: the assistant answers; waiting: handed to a person, nobody has taken it yet;
# assigned: a colleague has it; closed: done (a new patient message opens it again).
CONVERSATION_STATUSES = (N_("open"), N_("waiting"), N_("assigned"), N_("closed"))


class ChatConversation(Model):
    __tablename__ = "chat_conversation"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id", ondelete="CASCADE"), nullable=False)
    patient: Mapped[Patient] = relationship()
    status: Mapped[str] = mapped_column(choice("chat_status", *CONVERSATION_STATUSES), nullable=False,
                                        default="open")
    assigned_to_id: Mapped[int | None] = user_fk()
    assigned_to: Mapped[User | None] = relationship(User, foreign_keys=[assigned_to_id])
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_preview: Mapped[str | None] = mapped_column(sa.Unicode(120))
    unread_for_staff: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    unread_for_patient: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    staff_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    patient_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("patient_id", name="uq_chat_conversation_patient"),
        sa.CheckConstraint("unread_for_staff >= 0 AND unread_for_patient >= 0", name="ck_chat_unread"),
        sa.Index("ix_chat_conversation_inbox", "status", "last_message_at"),
        sa.Index("ix_chat_conversation_assigned", "assigned_to_id", "last_message_at"),
    )


class ChatCannedReply(Model):
    """A ready answer staff pick in the inbox; managers keep the list."""

    __tablename__ = "chat_canned_reply"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.Unicode(80), nullable=False)
    body: Mapped[str] = mapped_column(sa.UnicodeText, nullable=False)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    def __repr__(self) -> str:
        return self.title
