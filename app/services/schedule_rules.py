"""When a doctor works: weekly hours, minus leave, holidays and training, plus extra shifts.
Everything here is in the clinic's local time; callers convert to UTC."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from sqlalchemy import CompoundSelect, Connection, String, bindparam, cast, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from app.models import ScheduleException, WorkSchedule

Interval = tuple[datetime, datetime]  # naive local times
BLOCKING_KINDS = ("leave", "holiday", "training")


def subtract(intervals: list[Interval], cut: Interval) -> list[Interval]:
    out: list[Interval] = []
    for start, end in intervals:
        if cut[1] <= start or cut[0] >= end:
            out.append((start, end))
            continue
        if start < cut[0]:
            out.append((start, cut[0]))
        if cut[1] < end:
            out.append((cut[1], end))
    return out


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def day_intervals(day: date, weekly: Iterable[tuple[time, time]], exceptions: Iterable) -> list[Interval]:
    """Working intervals of one day from that day's weekly hours (start, end) and the exceptions
    that cover it (objects or rows with kind, start_time, end_time)."""
    intervals = [(datetime.combine(day, start), datetime.combine(day, end)) for start, end in weekly]
    exceptions = list(exceptions)
    for extra in (e for e in exceptions if e.kind == "extra_shift"):
        intervals.append((datetime.combine(day, extra.start_time), datetime.combine(day, extra.end_time)))
    intervals = merge(intervals)
    for block in (e for e in exceptions if e.kind in BLOCKING_KINDS):
        if block.start_time is None:
            return []
        cut = (datetime.combine(day, block.start_time), datetime.combine(day, block.end_time))
        intervals = subtract(intervals, cut)
    return intervals


def whole_day_off(exceptions: Iterable) -> str | None:
    """The kind of a whole-day blocking exception (leave, holiday, training) among ``exceptions``."""
    return next((e.kind for e in exceptions if e.kind in BLOCKING_KINDS and e.start_time is None), None)


def working_days(session: Session, doctor_id: int, first: date, last: date
                 ) -> tuple[dict[date, list[Interval]], dict[date, str]]:
    """Local working intervals of each day from ``first`` to ``last`` (inclusive), and the kind of
    the whole-day exception (leave, holiday, training) of the days that have one."""
    schedules = session.execute(select(WorkSchedule).where(
        WorkSchedule.doctor_id == doctor_id, WorkSchedule.valid_from <= last,
        or_(WorkSchedule.valid_to.is_(None), WorkSchedule.valid_to >= first),
    )).scalars().all()
    exceptions = session.execute(select(ScheduleException).where(
        ScheduleException.doctor_id == doctor_id, ScheduleException.start_date <= last,
        ScheduleException.end_date >= first,
    )).scalars().all()
    days: dict[date, list[Interval]] = {}
    off: dict[date, str] = {}
    day = first
    while day <= last:
        weekly = [(s.start_time, s.end_time) for s in schedules
                  if s.weekday == day.weekday() and s.valid_from <= day and (s.valid_to is None or s.valid_to >= day)]
        todays = [e for e in exceptions if e.start_date <= day <= e.end_date]
        days[day] = day_intervals(day, weekly, todays)
        reason = whole_day_off(todays)
        if reason:
            off[day] = reason
        day += timedelta(days=1)
    return days, off


def working_intervals(session: Session, doctor_id: int, first: date, last: date) -> dict[date, list[Interval]]:
    """Local working intervals of each day from ``first`` to ``last`` (inclusive)."""
    return working_days(session, doctor_id, first, last)[0]


# One day's rules as rows (kind, start_time, end_time): the weekly hours valid that day as kind
# "work", then that day's exceptions. Parameters: doctor_id, weekday, day. The booking check reads
# it with its lock; ``day_rules`` on its own.
DAY_RULES: CompoundSelect[Any] = union_all(
    select(literal_column("'work'", String).label("kind"), WorkSchedule.start_time, WorkSchedule.end_time).where(
        WorkSchedule.doctor_id == bindparam("doctor_id"), WorkSchedule.weekday == bindparam("weekday"),
        WorkSchedule.valid_from <= bindparam("day"),
        or_(WorkSchedule.valid_to.is_(None), WorkSchedule.valid_to >= bindparam("day"))),
    select(cast(ScheduleException.kind, String), ScheduleException.start_time, ScheduleException.end_time).where(
        ScheduleException.doctor_id == bindparam("doctor_id"), ScheduleException.start_date <= bindparam("day"),
        ScheduleException.end_date >= bindparam("day")),
)


def day_rules(connection: Connection, doctor_id: int, day: date) -> tuple[list[tuple[time, time]], list]:
    """The doctor's weekly hours valid on ``day`` and the exceptions covering it, in one query."""
    return split_day_rules(connection.execute(DAY_RULES, {"doctor_id": doctor_id, "weekday": day.weekday(),
                                                          "day": day}))


def split_day_rules(rows: Iterable) -> tuple[list[tuple[time, time]], list]:
    """Rows of DAY_RULES (rows whose kind is None are skipped) as (weekly hours, exceptions)."""
    weekly, exceptions = [], []
    for row in rows:
        if row.kind == "work":
            weekly.append((row.start_time, row.end_time))
        elif row.kind is not None:
            exceptions.append(row)
    return weekly, exceptions
