"""How free times are offered to a person choosing one (the public booking's time step): a strip
of the days that have free times, and one day's times grouped into morning, afternoon and
evening, with the first free time offered on its own. Two weeks of a doctor's free times are
about 300 starts: a phone cannot show them as one list."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from typing import Protocol, Sequence

# Where a clinic's day is cut, in its local time: before noon is morning, from 18:00 evening.
PERIODS: tuple[tuple[str, time], ...] = (("morning", time(0, 0)), ("afternoon", time(12, 0)),
                                         ("evening", time(18, 0)))


class HasStart(Protocol):
    start: datetime  # aware


@dataclass(frozen=True)
class DayChoice:
    day: date
    free: int  # how many free times that day


@dataclass(frozen=True)
class Period:
    name: str  # "morning", "afternoon" or "evening"
    slots: list = field(default_factory=list)  # the day's slots in it, earliest first


@dataclass(frozen=True)
class SlotChoice:
    days: list[DayChoice]  # the days with free times, in order (the date strip)
    day: date | None  # the day shown: the one asked for if it has free times, else the first
    periods: list[Period]  # that day's times; periods with none are left out
    first: HasStart | None  # the earliest free time of all

    @property
    def empty(self) -> bool:
        return self.first is None


def period_of(moment: time) -> str:
    name = PERIODS[0][0]
    for candidate, begins in PERIODS:
        if moment >= begins:
            name = candidate
    return name


def parse_day(text: str | None) -> date | None:
    """A ``?day=2026-12-07`` argument, or None when it is missing or not a date."""
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


def choose_slots(slots: Sequence[HasStart], zone: tzinfo, day: date | None = None) -> SlotChoice:
    """Group free ``slots`` (any order) by the clinic's local day and period; show ``day`` when it
    has free times, else the first day that has."""
    ordered = sorted(slots, key=lambda slot: slot.start)
    by_day: dict[date, list[HasStart]] = {}
    for slot in ordered:
        by_day.setdefault(slot.start.astimezone(zone).date(), []).append(slot)
    if not by_day:
        return SlotChoice(days=[], day=None, periods=[], first=None)
    shown = day if day in by_day else next(iter(by_day))
    periods = [Period(name) for name, _begins in PERIODS]
    for slot in by_day[shown]:
        name = period_of(slot.start.astimezone(zone).time())
        next(p for p in periods if p.name == name).slots.append(slot)
    return SlotChoice(
        days=[DayChoice(d, len(day_slots)) for d, day_slots in by_day.items()],
        day=shown, periods=[p for p in periods if p.slots], first=ordered[0],
    )
