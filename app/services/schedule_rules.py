"""When a doctor works: weekly hours, minus leave, holidays and training, plus extra shifts.
Everything here is in the clinic's local time; callers convert to UTC."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Iterable

from sqlalchemy import or_, select
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


def working_intervals(session: Session, doctor_id: int, first: date, last: date) -> dict[date, list[Interval]]:
    """Local working intervals of each day from ``first`` to ``last`` (inclusive)."""
    schedules = session.execute(select(WorkSchedule).where(
        WorkSchedule.doctor_id == doctor_id, WorkSchedule.valid_from <= last,
        or_(WorkSchedule.valid_to.is_(None), WorkSchedule.valid_to >= first),
    )).scalars().all()
    exceptions = session.execute(select(ScheduleException).where(
        ScheduleException.doctor_id == doctor_id, ScheduleException.start_date <= last,
        ScheduleException.end_date >= first,
    )).scalars().all()
    days: dict[date, list[Interval]] = {}
    day = first
    while day <= last:
        intervals = [
            (datetime.combine(day, s.start_time), datetime.combine(day, s.end_time))
            for s in schedules
            if s.weekday == day.weekday() and s.valid_from <= day and (s.valid_to is None or s.valid_to >= day)
        ]
        todays = [e for e in exceptions if e.start_date <= day <= e.end_date]
        for extra in (e for e in todays if e.kind == "extra_shift"):
            intervals.append((datetime.combine(day, extra.start_time), datetime.combine(day, extra.end_time)))
        intervals = merge(intervals)
        for block in (e for e in todays if e.kind in BLOCKING_KINDS):
            if block.start_time is None:
                intervals = []
                break
            intervals = subtract(intervals, (datetime.combine(day, block.start_time),
                                             datetime.combine(day, block.end_time)))
        days[day] = intervals
        day += timedelta(days=1)
    return days


def day_off_reason(session: Session, doctor_id: int, day: date) -> str | None:
    """The kind of whole-day exception on ``day`` (leave, holiday, training), if any."""
    return session.execute(select(ScheduleException.kind).where(
        ScheduleException.doctor_id == doctor_id, ScheduleException.start_date <= day,
        ScheduleException.end_date >= day, ScheduleException.kind.in_(BLOCKING_KINDS),
        ScheduleException.start_time.is_(None),
    ).limit(1)).scalar()


