"""Time buckets in the clinic's zone, as a small table of (index, from, to) the figures join to.

A row falls in bucket ``i`` when ``from_i <= instant < to_i``; the bounds are the UTC instants
at which each local day, week (Monday), month or quarter starts, computed here with zoneinfo. So
the grouping is done by the database (GROUP BY the bucket's index) on SQLite and PostgreSQL
alike, and stays right in a zone with daylight saving time, which a fixed offset would not."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.models.types import UTCDateTime

GRAINS = ("day", "week", "month", "quarter")
MAX_RANGE_DAYS = 3 * 366  # three years


@dataclass(frozen=True)
class Bucket:
    index: int
    start: date  # the canonical first day of the bucket (a Monday, the 1st of a month or quarter)
    first: date  # the first day of the bucket inside the range
    last: date  # the last day of the bucket inside the range


def bucket_start(day: date, grain: str) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise ValueError(grain)


def next_start(start: date, grain: str) -> date:
    if grain == "day":
        return start + timedelta(days=1)
    if grain == "week":
        return start + timedelta(days=7)
    months = 1 if grain == "month" else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def buckets(start: date, end: date, grain: str) -> list[Bucket]:
    """The buckets covering the days ``start`` to ``end`` (inclusive), clipped to them."""
    out: list[Bucket] = []
    cursor = bucket_start(start, grain)
    while cursor <= end:
        following = next_start(cursor, grain)
        out.append(Bucket(len(out), cursor, max(cursor, start), min(following - timedelta(days=1), end)))
        cursor = following
    return out


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` starts in ``zone``."""
    return datetime.combine(day, time.min, zone).astimezone(timezone.utc)


def instant_table(items: list[Bucket], zone: ZoneInfo, name: str = "bucket") -> Any:
    """The buckets as a common table expression over VALUES (idx, lo, hi) of UTC instants (SQLite
    takes no column names on a VALUES alias, a CTE's it does)."""
    rows = [(b.index, local_midnight(b.first, zone), local_midnight(b.last + timedelta(days=1), zone))
            for b in items]
    return sa.values(sa.column("idx", sa.Integer), sa.column("lo", UTCDateTime()), sa.column("hi", UTCDateTime()),
                     name=name).data(rows).cte(name)


def day_table(items: list[Bucket], name: str = "bucket") -> Any:
    """The buckets as a VALUES table (idx, lo, hi) of dates, ``hi`` exclusive (for date columns)."""
    rows = [(b.index, b.first, b.last + timedelta(days=1)) for b in items]
    return sa.values(sa.column("idx", sa.Integer), sa.column("lo", sa.Date()), sa.column("hi", sa.Date()),
                     name=name).data(rows).cte(name)


@dataclass(frozen=True)
class Grouping:
    """How a query groups the instants of ``column`` by bucket: select and GROUP BY ``key``, pass
    the query through ``attach`` (the join or the range it needs), read a key back with ``index``.

    PostgreSQL computes each row's local period itself (``date_trunc`` of the instant in the
    clinic's zone: one step per row, any range); elsewhere (SQLite, no time zones) rows are joined
    to the buckets' UTC bounds (``instant_table``)."""

    key: Any
    join: tuple[Any, Any] | None
    where: tuple[Any, ...]
    starts: dict[date, int] | None  # bucket start -> index (PostgreSQL); None: the key is the index

    def attach(self, query: Any) -> Any:
        if self.join is not None:
            query = query.join(*self.join)
        return query.where(*self.where)

    def index(self, key: Any) -> int | None:
        if self.starts is None:
            return int(key)
        day = key.date() if isinstance(key, datetime) else key
        return self.starts.get(day)


def group_instants(dialect: str, column: Any, items: list[Bucket], grain: str, zone: ZoneInfo) -> Grouping:
    if dialect == "postgresql":
        key = sa.func.date_trunc(grain, sa.func.timezone(zone.key, column))
        lo = local_midnight(items[0].first, zone)
        hi = local_midnight(items[-1].last + timedelta(days=1), zone)
        return Grouping(key, None, (column >= lo, column < hi), {b.start: b.index for b in items})
    table = instant_table(items, zone)
    return Grouping(table.c.idx, (table, sa.and_(column >= table.c.lo, column < table.c.hi)), (), None)
