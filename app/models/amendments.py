"""Amendments of signed visit records: a signed encounter is never changed in place without a
trace. A correction is a row here keeping the original text, the new text, who, when and why;
the encounter's field then holds the new text (issue 9, item 4)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import user_fk
from app.models.clinical import Encounter
from app.models.types import UTCDateTime, utcnow


class EncounterAmendment(Model):
    __tablename__ = "encounter_amendment"
    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(sa.ForeignKey("encounter.id", ondelete="RESTRICT"), nullable=False)
    encounter: Mapped[Encounter] = relationship()
    field: Mapped[str] = mapped_column(sa.Unicode(40), nullable=False)
    original_text: Mapped[str | None] = mapped_column(sa.UnicodeText)
    new_text: Mapped[str] = mapped_column(sa.UnicodeText, nullable=False)
    reason: Mapped[str] = mapped_column(sa.Unicode(500), nullable=False)
    author_id: Mapped[int | None] = user_fk()
    author: Mapped[User | None] = relationship(User, foreign_keys=[author_id])
    amended_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    __table_args__ = (sa.Index("ix_encounter_amendment_encounter", "encounter_id", "amended_at"),)

    def __repr__(self) -> str:
        return f"#{self.encounter_id} {self.field}"
