"""Helpers shared by the model modules."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime, utcnow


def choice(name: str, *values: str) -> sa.Enum:
    """A closed set of strings: VARCHAR plus a CHECK constraint on every database (no native enums,
    so adding a value later is a plain migration)."""
    return sa.Enum(
        *values, name=name, native_enum=False, create_constraint=True,
        length=max(len(v) for v in values), validate_strings=True,
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


def user_fk(nullable: bool = True, ondelete: str = "SET NULL") -> Mapped[int | None]:
    return mapped_column(sa.ForeignKey("ab_user.id", ondelete=ondelete), nullable=nullable)
