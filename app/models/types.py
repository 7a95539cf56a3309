"""Column types shared by the models."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Numeric
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timezone-aware instant stored in UTC.

    PostgreSQL keeps it as ``timestamptz``; SQLite (no time zone support) as naive UTC text.
    Values read back are always aware UTC datetimes; naive values are refused on write so that
    a local time is never silently stored as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def Money() -> Numeric:  # noqa: N802 - reads like a type
    """Money is exact: 14 digits, 2 after the point (VND uses none, other currencies do)."""
    return Numeric(14, 2, asdecimal=True)


def integer_bounds(column_type) -> tuple[int, int] | None:
    """What an integer column can hold on every supported database (SQLite raises OverflowError
    past 64 bits, PostgreSQL "integer out of range" past 32)."""
    import sqlalchemy as sa

    if isinstance(column_type, sa.SmallInteger):
        return -(2**15), 2**15 - 1
    if isinstance(column_type, sa.BigInteger):
        return -(2**63), 2**63 - 1
    if isinstance(column_type, sa.Integer):
        return -(2**31), 2**31 - 1
    return None


def is_money(type_) -> bool:
    return isinstance(type_, Numeric) and (type_.precision, type_.scale) == (14, 2)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
