"""The database side of ``flask seed``: is there clinic data, wipe it, move PostgreSQL sequences
after bulk inserts, and link the demo logins to clinic records. The CLI only creates the logins
(through FAB's security manager) and calls these."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_appbuilder import Model
from sqlalchemy import Integer, func, select, text, update
from sqlalchemy.orm import Session

from app.models import CashClose, Doctor, Employee, Invoice, Patient, Payment, Refund, Service
from app.models.types import utcnow
from app.services.accounts.second_factor import enrol_with_secret

# The two-step login secret of every demo login whose role needs it (README, "Demo logins"). Demo
# data only: it is published, so anyone can make the codes.
DEMO_TOTP_SECRET = "DEMOCLINICTOTPSECRETJBSWY3DPEHPK"


def database_is_empty(session: Session) -> bool:
    return not any(
        session.execute(select(func.count()).select_from(model)).scalar() for model in (Patient, Doctor, Service)
    )


# Never wiped: the audit trail outlives the data it describes (and PostgreSQL refuses to delete it).
KEPT = ("audit_event",)


def wipe_clinic_data(session: Session) -> None:
    """Delete every clinic record (FAB's ``ab_*`` tables, logins and roles, and the audit trail
    stay). Not committed: the caller removes the demo logins in the same transaction."""
    for table in reversed(Model.metadata.sorted_tables):
        if not table.name.startswith("ab_") and table.name not in KEPT:
            session.execute(table.delete())


def reset_sequences(session: Session) -> None:
    """Bulk inserts with explicit ids do not move PostgreSQL sequences; move them past max(id)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in Model.metadata.sorted_tables:
        # ``autoincrement`` is "auto" (true) on any single-column key: only integer keys have a sequence
        # (a session's id is a digest).
        if "id" in table.c and table.c.id.primary_key and isinstance(table.c.id.type, Integer) \
                and table.c.id.autoincrement:
            session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            ))
    session.commit()


def link_demo_accounts(session: Session, doctor_user_id: int, patient_user_id: int,
                       staff: list[tuple[str, str, int, str | None]]) -> None:
    """Give the demo doctor and patient logins the first unlinked doctor and patient, and each
    staff login (full name, position, user id, e-mail) an employee record."""
    doctor = session.execute(select(Doctor).where(Doctor.user_id.is_(None)).order_by(Doctor.id)).scalars().first()
    if doctor is not None:
        doctor.user_id = doctor_user_id
    patient = session.execute(select(Patient).where(Patient.user_id.is_(None)).order_by(Patient.id)).scalars().first()
    if patient is not None:
        patient.user_id = patient_user_id
    for full_name, position, user_id, email in staff:
        session.add(Employee(full_name=full_name, position=position, user_id=user_id, email=email))
    session.commit()


def enrol_demo_logins(session: Session, user_ids: list[int]) -> None:
    """Turn two-step login on for the demo logins ``user_ids`` with ``DEMO_TOTP_SECRET``."""
    now = utcnow()
    for user_id in user_ids:
        enrol_with_secret(session, user_id, DEMO_TOTP_SECRET, now)
    session.commit()


COUNTER_METHODS = ("cash", "bank_transfer")
CLOSED_DAYS = 5  # the cashier's end-of-day closes the demo shows, the last days with cash


def staff_the_demo_cash_desk(session: Session, cashier_user_id: int, reception_user_id: int, tz: ZoneInfo,
                             today: date) -> int:
    """The demo's money handled by the demo logins: the counter's payments (cash and transfers)
    received by the cashier, one in five by the receptionist; invoices issued and voided and money
    given back by the cashier; and each one's end-of-day close for the last days with cash before
    ``today`` (counted against what the day's cash payments less cash refunds say should be in the
    drawer; now and then a small difference, with a note). Commits; the number of closes."""
    session.execute(update(Payment).where(Payment.method.in_(COUNTER_METHODS)).values(
        received_by_id=func.coalesce(Payment.received_by_id, _every_fifth(Payment.id, reception_user_id,
                                                                         cashier_user_id))))
    session.execute(update(Invoice).where(Invoice.issued_at.is_not(None), Invoice.issued_by_id.is_(None))
                    .values(issued_by_id=cashier_user_id))
    session.execute(update(Invoice).where(Invoice.status == "void", Invoice.voided_by_id.is_(None))
                    .values(voided_by_id=cashier_user_id))
    session.execute(update(Refund).where(Refund.refunded_by_id.is_(None)).values(refunded_by_id=cashier_user_id))
    start = datetime.combine(today - timedelta(days=21), time.min, tz).astimezone(timezone.utc)
    end = datetime.combine(today, time.min, tz).astimezone(timezone.utc)
    drawer: dict[tuple[int | None, date], Decimal] = defaultdict(Decimal)
    for who, at, amount in session.execute(
            select(Payment.received_by_id, Payment.paid_at, Payment.amount)
            .where(Payment.method == "cash", Payment.status == "succeeded", Payment.paid_at >= start,
                   Payment.paid_at < end, Payment.received_by_id.in_((cashier_user_id, reception_user_id)))):
        if at is not None:
            drawer[(who, _local_day(at, tz))] += Decimal(amount)
    for who, at, amount in session.execute(
            select(Refund.refunded_by_id, Refund.refunded_at, Refund.amount)
            .where(Refund.method == "cash", Refund.status == "succeeded", Refund.refunded_at >= start,
                   Refund.refunded_at < end, Refund.refunded_by_id.in_((cashier_user_id, reception_user_id)))):
        drawer[(who, _local_day(at, tz))] -= Decimal(amount)
    currency = session.execute(select(Invoice.currency).limit(1)).scalar() or "VND"
    step = Decimal(1000) if currency == "VND" else Decimal("0.50")
    closes = 0
    for who in (cashier_user_id, reception_user_id):
        # A day whose cash refunds outweigh its cash payments (the seed's random refunds can) has no
        # drawer to count: the clinic would not close it, and counted cash is never negative.
        days = sorted((day for (user, day) in drawer if user == who and drawer[(user, day)] >= 0),
                      reverse=True)[:CLOSED_DAYS]
        for n, day in enumerate(sorted(days)):
            expected = drawer[(who, day)]
            counted, note = expected, None
            if n == 1 and expected >= 5 * step:
                counted, note = expected - 5 * step, "Thiếu tiền lẻ: trả nhầm tiền thừa cho một bệnh nhân"
            elif n == 3:
                counted, note = expected + 2 * step, "Thừa tiền, chưa rõ nguồn; đã báo quản lý"
            session.add(CashClose(cashier_id=who, business_date=day, expected_cash=expected, counted_cash=counted,
                                  difference=counted - expected, note=note,
                                  closed_at=datetime.combine(day, time(18, 30), tz).astimezone(timezone.utc)))
            closes += 1
    session.commit()
    return closes


def _every_fifth(column, one: int, other: int):
    from sqlalchemy import case

    return case(((column % 5) == 0, one), else_=other)


def _local_day(at: datetime, tz: ZoneInfo) -> date:
    if at.tzinfo is None:  # SQLite hands back naive UTC
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(tz).date()
