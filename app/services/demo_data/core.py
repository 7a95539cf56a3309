"""What every step of the demo seeder shares: its settings and random source, money in the clinic's
currency, the clinic's clock, fast bulk inserts, and the small records the steps pass along."""
from __future__ import annotations

import random
from bisect import bisect
from datetime import date, datetime, time, timezone as _dt_timezone
from decimal import ROUND_FLOOR, Decimal
from itertools import accumulate
from typing import Callable, Generic, Iterable, Sequence, TypeVar
from zoneinfo import ZoneInfo

from faker import Faker
from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from app.services.demo_data.closed_days import PublicHolidays

UTC = _dt_timezone.utc
CHUNK = 5_000
MIN_HISTORY_DAYS = 120  # the past covers at least this many days, more when the doctors need it
FUTURE_DAYS = 28  # bookings from today up to four weeks ahead
TODAY_TARGET = 34  # today's bookings across the doctors: a busy day at the front desk
# (visits, weight): ~1.7 on average; a few patients under long follow-up (their charts show a trend).
PAST_VISITS_PER_PATIENT = ((0, 8), (1, 45), (2, 30), (3, 10), (4, 4), (6, 2), (10, 1))
VND_PER_UNIT = {"USD": 25_000, "EUR": 27_000, "GBP": 32_000, "JPY": 165, "SGD": 19_000,
                "AUD": 16_500, "KRW": 18, "CNY": 3_500, "THB": 700}

T = TypeVar("T")


class Weighted(Generic[T]):
    """Weighted choice with one ``random()`` call (faster than ``Random.choices`` for single draws)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[T, float]]):
        self.items = [item for item, _ in pairs]
        self.cum = list(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect(self.cum, rng.random() * self.total)]


def merge_unique(*lists: Iterable[str]) -> list[str]:
    """The items of all lists, each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for lst in lists:
        for item in lst:
            seen.setdefault(item, None)
    return list(seen)


def minutes_of(t: time) -> int:
    return t.hour * 60 + t.minute


class PatientDraft:
    """A patient as the later steps need it (the rest of the row is kept aside)."""

    __slots__ = ("id", "code", "full_name", "sex", "dob", "group", "phone", "last", "first_visit")
    id: int
    code: str
    full_name: str
    sex: str
    dob: date
    group: str  # c = child (under 16), f = adult woman, m = adult man
    phone: str | None
    last: str
    first_visit: datetime | None


class Appt:
    """An appointment being planned: doctor index, service id, day and minutes of the day."""

    __slots__ = ("id", "patient", "doctor", "service", "day", "start_min", "end_min", "status",
                 "start", "end", "chunk", "visit", "invoice_number", "queue_number", "signed_at", "issued_at",
                 "bill_state")
    id: int
    start: datetime
    end: datetime
    chunk: int
    visit: int | None
    invoice_number: str | None  # given at issue, per year in issue order; a draft has none
    queue_number: int | None
    signed_at: datetime | None  # the visit signed: its invoice is drafted
    issued_at: datetime | None  # the invoice issued (None: still a draft)
    bill_state: str | None  # None: drawn with the payments; or "draft", "issued", "partially_paid"

    def __init__(self, patient: int, doctor: int, service: int, day: date, start_min: int, end_min: int,
                 status: str):
        self.patient, self.doctor, self.service = patient, doctor, service
        self.day, self.start_min, self.end_min, self.status = day, start_min, end_min, status


class Batch:
    """A stock batch being received, drawn from and written off."""

    __slots__ = ("id", "medicine", "lot", "received_at", "expiry", "received", "remaining", "cost", "supplier")
    id: int
    medicine: int  # index into MEDICINES
    lot: str
    received_at: datetime
    expiry: date
    received: int
    remaining: int
    cost: Decimal
    supplier: str


class SeederCore:
    """The seeder's settings, random source and tools; each later step (people, catalogue,
    appointments, visits, stock) extends it with what it builds."""

    history_start: date  # the first day of the past, decided with the appointments

    def __init__(self, session: Session, *, seed: int, tz: ZoneInfo, currency: str, today: date,
                 progress: Callable[[int], None] | None):
        self.session = session
        self.rng = random.Random(seed)
        self.fake = Faker("vi_VN")
        self.fake.seed_instance(seed)
        self.tz = tz
        self.currency = currency
        self.today = today
        self.progress = progress
        self.counts: dict[str, int] = {}
        self.holidays = PublicHolidays()
        # "Now" for anything that already happened: the start of today in the clinic.
        self.now = datetime.combine(today, time(0, 0), tzinfo=tz).astimezone(UTC)
        self._money_cache: dict[int, Decimal] = {}
        connection = session.connection()
        self._copy_connection = None
        if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
            self._copy_connection = connection.connection.driver_connection
        if currency == "VND":
            self._unit = Decimal(1000)
        else:
            self._unit = Decimal("0.01")
            self._rate = Decimal(VND_PER_UNIT.get(currency, 25_000))

    # ---- small utilities -------------------------------------------------------------------

    def money(self, vnd: int) -> Decimal:
        """A VND amount in the clinic's currency (exact for VND)."""
        value = self._money_cache.get(vnd)
        if value is None:
            if self.currency == "VND":
                value = Decimal(vnd)
            else:
                value = (Decimal(vnd) / self._rate).quantize(Decimal("0.01"))
            self._money_cache[vnd] = value
        return value

    def round_down(self, amount: Decimal) -> Decimal:
        """Round an amount down to what a cashier would charge (1,000 VND, or a cent)."""
        unit = self._unit
        return (amount / unit).to_integral_value(rounding=ROUND_FLOOR) * unit

    def utc(self, day: date, minute: int) -> datetime:
        return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz).astimezone(UTC)

    def insert(self, table: Table, rows: list[dict]) -> None:
        """Core ``executemany`` inserts, 5,000 rows at a time. On PostgreSQL through psycopg 3 the
        same rows go through ``COPY`` on the session's connection (same transaction): psycopg would
        otherwise send one INSERT per row, about twice as slow overall."""
        if not rows:
            return
        if self._copy_connection is not None:
            columns = list(rows[0])
            preparer = self.session.get_bind().dialect.identifier_preparer
            sql = (f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(c) for c in columns)}) "
                   "FROM STDIN")
            with self._copy_connection.cursor() as cursor, cursor.copy(sql) as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row([row[c] for c in columns])
        else:
            execute = self.session.execute
            stmt = insert(table)
            for start in range(0, len(rows), CHUNK):
                execute(stmt, rows[start:start + CHUNK])
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)

