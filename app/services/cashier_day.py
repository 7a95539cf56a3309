"""The back office of money: the cashier's day (takings by method and by cashier, open invoices,
refunds), the end-of-day close (cash counted against what the day's cash payments and refunds say
should be in the drawer), the invoice search and its CSV export, a patient's payment history.

A day is the clinic's local day (``ClinicSettings.timezone``): a payment at 23:30 in Hà Nội
belongs to that day, one at 00:30 to the next, whatever UTC says. Amounts are summed as
``Decimal`` in Python (exact on every database). Reads of invoices, payments and refunds go
through ``app.services.access`` (its condition and its audit row) when a reader is given.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Sequence

from flask_appbuilder.security.sqla.models import User
from flask_babel import format_currency, gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.audit import record_event
from app.models import CashClose, Invoice, Patient, Payment, Refund
from app.services import access
from app.services.billing import MAX_PRICE, PAYABLE
from app.services.errors import Conflict, DomainError, FieldErrors, committing
from app.services.lookup import patient_condition
from app.services.money import ZERO, is_exact

SEARCH_PAGE_SIZE = 25
EXPORT_LIMIT = 10_000  # rows in one CSV export
NOTE_MAX = 500
# A cell a spreadsheet would read as a formula (=HYPERLINK(...), +cmd, -2+3, @SUM): prefixed with '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A count this far from the expected cash is checked twice (a note, a confirmation): more than
# 100.000 ₫ or more than a tenth of what is expected, whichever is more.
LARGE_DIFFERENCE_FLOOR = Decimal(100_000)
LARGE_DIFFERENCE_SHARE = Decimal("0.1")


# ---- the day ------------------------------------------------------------------------------------

def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The instants (aware) where the clinic's local ``day`` starts and the next one starts."""
    return datetime.combine(day, time(), tz), datetime.combine(day + timedelta(days=1), time(), tz)


def local_day(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


@dataclass
class Takings:
    """Money in and out for one method or one cashier."""

    key: Any  # the method ("cash") or the cashier's id (None: no cashier, a provider's webhook)
    label: str = ""
    received: Decimal = ZERO
    refunded: Decimal = ZERO
    payments: int = 0
    refunds: int = 0
    cash_received: Decimal = ZERO
    cash_refunded: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded

    @property
    def cash_net(self) -> Decimal:
        return self.cash_received - self.cash_refunded


@dataclass
class DayTakings:
    day: date
    by_method: list[Takings]
    by_cashier: list[Takings]
    total: Takings
    payments: list[Payment]
    refunds: list[Refund]
    open_invoices: list[Invoice]
    open_count: int
    open_balance: Decimal
    closes: list[CashClose] = field(default_factory=list)
    # per close (its id): the cash its cashier took (less cash refunds) that day after closing
    after_close: dict[int, Decimal] = field(default_factory=dict)


def _user_label(user: Any) -> str:
    if user is None:
        return ""
    name = " ".join(part for part in (getattr(user, "first_name", ""), getattr(user, "last_name", "")) if part)
    return name or getattr(user, "username", "") or f"#{user.id}"


def _day_payments(session: Session, start: datetime, end: datetime, cashier_id: int | None = None,
                  method: str | None = None) -> list[Payment]:
    query = (select(Payment).where(Payment.status == "succeeded", Payment.paid_at >= start, Payment.paid_at < end)
             .options(selectinload(Payment.invoice).selectinload(Invoice.patient), selectinload(Payment.received_by))
             .order_by(Payment.paid_at, Payment.id))
    if cashier_id is not None:
        query = query.where(Payment.received_by_id == cashier_id)
    if method is not None:
        query = query.where(Payment.method == method)
    return list(session.execute(query).scalars())


def _day_refunds(session: Session, start: datetime, end: datetime, cashier_id: int | None = None,
                 method: str | None = None) -> list[Refund]:
    query = (select(Refund).where(Refund.status == "succeeded", Refund.refunded_at >= start, Refund.refunded_at < end)
             .options(selectinload(Refund.invoice).selectinload(Invoice.patient), selectinload(Refund.refunded_by))
             .order_by(Refund.refunded_at, Refund.id))
    if cashier_id is not None:
        query = query.where(Refund.refunded_by_id == cashier_id)
    if method is not None:
        query = query.where(Refund.method == method)
    return list(session.execute(query).scalars())


def open_invoices(session: Session) -> list[Invoice]:
    """Every invoice still owed (issued or partly paid), oldest first."""
    return list(session.execute(
        select(Invoice).where(Invoice.status.in_(PAYABLE)).options(selectinload(Invoice.patient))
        .order_by(Invoice.issued_at, Invoice.id)).scalars())


def day_takings(session: Session, day: date, clinic_tz: tzinfo, *, reader: Any = None,
                now: datetime | None = None) -> DayTakings:
    """What came in and went out on the clinic's local ``day``: succeeded payments paid that day
    less the refunds made that day, by method and by cashier (who took the payment, who gave the
    refund), with counts; the refunds themselves; the invoices still open with their balance; the
    cashiers' closes of the day. With ``reader``, the invoices shown are audited as read."""
    start, end = day_bounds(day, clinic_tz)
    payments = _day_payments(session, start, end)
    refunds = _day_refunds(session, start, end)
    methods: dict[str, Takings] = {}
    cashiers: dict[int | None, Takings] = {}
    total = Takings(key=None)

    def bucket(table: dict, key: Any, label: str) -> Takings:
        if key not in table:
            table[key] = Takings(key=key, label=label)
        return table[key]

    for payment in payments:
        amount = Decimal(payment.amount)
        for row in (bucket(methods, payment.method, payment.method),
                    bucket(cashiers, payment.received_by_id, _user_label(payment.received_by)), total):
            row.received += amount
            row.payments += 1
            if payment.method == "cash":
                row.cash_received += amount
    for refund in refunds:
        amount = Decimal(refund.amount)
        for row in (bucket(methods, refund.method, refund.method),
                    bucket(cashiers, refund.refunded_by_id, _user_label(refund.refunded_by)), total):
            row.refunded += amount
            row.refunds += 1
            if refund.method == "cash":
                row.cash_refunded += amount
    from app.models.billing import PAYMENT_METHODS

    order = {method: n for n, method in enumerate(PAYMENT_METHODS)}
    by_method = sorted(methods.values(), key=lambda row: order.get(row.key, len(order)))
    by_cashier = sorted(cashiers.values(), key=lambda row: (row.key is None, row.label.lower()))
    owed = open_invoices(session)
    balance = sum((invoice.balance for invoice in owed), ZERO)
    closes = list(session.execute(
        select(CashClose).where(CashClose.business_date == day).options(selectinload(CashClose.cashier))
        .order_by(CashClose.closed_at)).scalars())
    after_close = {close.id: _cash_after(close, payments, refunds) for close in closes}
    if reader is not None and now is not None:
        shown = {invoice.id: invoice for invoice in owed}
        shown.update({p.invoice.id: p.invoice for p in payments})
        shown.update({r.invoice.id: r.invoice for r in refunds})
        access.record_list_read(session, reader, Invoice, list(shown.values()))
    return DayTakings(day=day, by_method=by_method, by_cashier=by_cashier, total=total, payments=payments,
                      refunds=refunds, open_invoices=owed, open_count=len(owed), open_balance=balance, closes=closes,
                      after_close=after_close)


def expected_cash(session: Session, cashier_id: int, day: date, tz: tzinfo) -> Decimal:
    """The cash that should be in ``cashier_id``'s drawer for the day's business: the cash
    payments they took that day less the cash refunds they gave that day."""
    start, end = day_bounds(day, tz)
    taken = sum((Decimal(p.amount) for p in _day_payments(session, start, end, cashier_id, "cash")), ZERO)
    given = sum((Decimal(r.amount) for r in _day_refunds(session, start, end, cashier_id, "cash")), ZERO)
    return taken - given


def find_close(session: Session, cashier_id: int, day: date) -> CashClose | None:
    return session.execute(select(CashClose).where(CashClose.cashier_id == cashier_id,
                                                   CashClose.business_date == day)).scalar_one_or_none()


def parse_counted(value: Any, currency: str) -> Decimal:
    """The cash counted (a Decimal, an int or plain digits): never negative, exact in the
    currency's minor unit (no fractional đồng). ``FieldErrors`` on ``counted_cash`` otherwise."""
    try:
        amount = None if value is None or value == "" or isinstance(value, bool) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        raise FieldErrors({"counted_cash": _("Enter the cash counted in the drawer.")})
    if amount < 0:
        raise FieldErrors({"counted_cash": _("The cash counted cannot be negative.")})
    if amount > MAX_PRICE:
        raise FieldErrors({"counted_cash": _("Too large.")})
    if not is_exact(amount, currency):
        raise FieldErrors({"counted_cash": _("Amounts in %(currency)s have no smaller unit: round the amount.",
                                             currency=currency)})
    return amount


def closed_today(session: Session, cashier_id: int, day: date, tz: tzinfo) -> CashClose | None:
    """``cashier_id``'s close of the clinic's local ``day`` (``tz``: the clinic's zone, in which
    ``day`` is counted), if they have closed it: cash they take now is taken after that close."""
    return find_close(session, cashier_id, day)


def cash_after_close(session: Session, close: CashClose, tz: tzinfo) -> Decimal:
    """The cash the close's cashier took (less the cash they gave back) on the close's day after
    the close was made: money in the drawer that the close does not count."""
    start, end = day_bounds(close.business_date, tz)
    taken = sum((Decimal(p.amount) for p in _day_payments(session, start, end, close.cashier_id, "cash")
                 if p.paid_at is not None and p.paid_at > close.closed_at), ZERO)
    given = sum((Decimal(r.amount) for r in _day_refunds(session, start, end, close.cashier_id, "cash")
                 if r.refunded_at > close.closed_at), ZERO)
    return taken - given


def _cash_after(close: CashClose, payments: Iterable[Payment], refunds: Iterable[Refund]) -> Decimal:
    """``cash_after_close`` from the day's payments and refunds already read."""
    taken = sum((Decimal(p.amount) for p in payments if p.method == "cash" and p.received_by_id == close.cashier_id
                 and p.paid_at is not None and p.paid_at > close.closed_at), ZERO)
    given = sum((Decimal(r.amount) for r in refunds if r.method == "cash" and r.refunded_by_id == close.cashier_id
                 and r.refunded_at > close.closed_at), ZERO)
    return taken - given


def close_version(close: CashClose) -> str:
    """Which close the cashier saw (its id and the instant it was made): a new close of the same
    day must name it, so that two tabs never overwrite each other's count unseen."""
    micros = (close.closed_at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    return f"{close.id}.{micros}"


def large_difference(expected: Decimal, floor: Decimal = LARGE_DIFFERENCE_FLOOR) -> Decimal:
    """The difference above which a count is checked twice: ``floor`` (100.000 ₫) or a tenth of
    the expected cash, whichever is more."""
    return max(floor, abs(expected) * LARGE_DIFFERENCE_SHARE)


def is_large_difference(difference: Decimal, expected: Decimal, floor: Decimal = LARGE_DIFFERENCE_FLOOR) -> bool:
    return abs(difference) > large_difference(expected, floor)


class LargeDifference(DomainError):
    """The count is far from the expected cash: the cashier confirms it before it is saved (422),
    with a note saying why. ``difference`` is counted - expected (the confirmation names it
    back); ``note_error`` is the note's message when the note is still missing."""

    status = 422

    def __init__(self, message: str, difference: Decimal, expected: Decimal, note_error: str | None = None):
        super().__init__(message, "counted_cash")
        self.difference = difference
        self.expected = expected
        self.note_error = note_error


def _parse_confirmed(value: Any) -> Decimal | None:
    try:
        amount = None if value is None or value == "" or isinstance(value, bool) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount is not None and amount.is_finite() else None


def close_day(session: Session, cashier_id: int, day: date, counted_cash: Any, note: Any, now: datetime,
              tz: tzinfo, *, currency: str = "VND", replaces: str | None = None, confirmed_difference: Any = None,
              floor: Decimal = LARGE_DIFFERENCE_FLOOR) -> CashClose:
    """Close ``cashier_id``'s ``day``: the cash counted against the expected cash, the difference
    (counted - expected: above zero is over, below is short) kept with a note. Not for a day that
    has not begun.

    A difference larger than ``large_difference`` is saved only when ``confirmed_difference``
    names that very difference (``LargeDifference`` otherwise, saying how far over or short the
    count is) and a note explains it (``FieldErrors`` on ``note``).

    Once per cashier and day (409 "already closed"), except a new close that ``replaces`` the
    day's close (its ``close_version``): cash taken after a close, a recount. The row then takes
    the new figures and the audit trail keeps the old ones (``cash_reclosed``). Commits, audited."""
    counted = parse_counted(counted_cash, currency)
    text = (note.strip() if isinstance(note, str) else "")[:NOTE_MAX] or None
    if day > local_day(now, tz):
        raise FieldErrors({"business_date": _("That day has not begun yet.")})

    def shown(amount: Decimal) -> str:
        return format_currency(amount, currency)

    with committing(session):
        current = session.execute(select(CashClose).where(CashClose.cashier_id == cashier_id,
                                                          CashClose.business_date == day)
                                  .with_for_update()).scalar_one_or_none()
        if current is not None and replaces is None:
            raise Conflict(_("Your day is already closed."), "business_date")
        if (current is None) != (replaces is None) or current is not None and replaces != close_version(current):
            raise Conflict(_("Your day was closed again meanwhile: check the figures and count again."),
                           "business_date")
        expected = expected_cash(session, cashier_id, day, tz)
        difference = counted - expected
        if is_large_difference(difference, expected, floor):
            over = difference > 0
            note_error = None if text is not None else (
                _("The count is %(amount)s over what is expected: say why in the note.", amount=shown(difference))
                if over else
                _("The count is %(amount)s short of what is expected: say why in the note.",
                  amount=shown(-difference)))
            if _parse_confirmed(confirmed_difference) != difference:
                raise LargeDifference(
                    _("Counted is %(amount)s over what is expected. Confirm?", amount=shown(difference)) if over else
                    _("Counted is %(amount)s short of what is expected. Confirm?", amount=shown(-difference)),
                    difference, expected, note_error)
            if note_error is not None:
                raise FieldErrors({"note": note_error})
        if current is not None:
            previous = {"expected": str(current.expected_cash), "counted": str(current.counted_cash),
                        "difference": str(current.difference), "note": current.note,
                        "closed_at": current.closed_at.isoformat()}
            current.expected_cash, current.counted_cash, current.difference = expected, counted, difference
            current.note, current.closed_at = text, now
            session.flush()
            record_event(session, "cash_reclosed", "CashClose", current.id,
                         {"business_date": day.isoformat(), "previous": previous, "expected": str(expected),
                          "counted": str(counted), "difference": str(difference), "note": text},
                         user_id=cashier_id)
            return current
        close = CashClose(cashier_id=cashier_id, business_date=day, expected_cash=expected, counted_cash=counted,
                          difference=difference, note=text, closed_at=now)
        session.add(close)
        try:
            session.flush()
        except IntegrityError:  # two tabs closing at once: the database's unique key decides
            session.rollback()
            raise Conflict(_("Your day is already closed."), "business_date") from None
        record_event(session, "cash_closed", "CashClose", close.id,
                     {"business_date": day.isoformat(), "expected": str(expected), "counted": str(counted),
                      "difference": str(difference)}, user_id=cashier_id)
    return close


# ---- the invoice search --------------------------------------------------------------------------

@dataclass(frozen=True)
class InvoiceFilters:
    number: str | None = None
    patient_text: str | None = None
    date_from: date | None = None  # clinic-local days, both included (the issue date; a draft's creation)
    date_to: date | None = None
    status: str | None = None


@dataclass
class InvoiceResults:
    rows: list[Invoice]
    total: int
    limit: int
    offset: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1 if self.limit else 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit)) if self.limit else 1


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_invoices(session: Session, number: str | None = None, patient_text: str | None = None,
                    date_from: date | None = None, date_to: date | None = None, status: str | None = None,
                    *, limit: int = SEARCH_PAGE_SIZE, offset: int = 0, tz: tzinfo | None = None,
                    region: str = "VN", reader: Any = None, now: datetime | None = None) -> InvoiceResults:
    """Invoices by number (any part of it), patient (name without accents, code, phone: the
    screens' one patient search), the day they were issued (a draft: created) and status; newest
    first, ``limit`` from ``offset``, with the count of all that match. With ``reader``, limited
    to what they may read and audited (``app.services.access``)."""
    when = func.coalesce(Invoice.issued_at, Invoice.created_at)
    query = select(Invoice).join(Patient, Invoice.patient_id == Patient.id)
    text = (number or "").strip()[:30]
    if text:
        query = query.where(Invoice.number.like(_like(text.upper()), escape="\\"))
    if (patient_text or "").strip():
        query = query.where(patient_condition(patient_text or "", region))
    zone = tz or timezone.utc  # the clinic's zone from the caller; UTC days otherwise
    if date_from is not None:
        query = query.where(when >= day_bounds(date_from, zone)[0])
    if date_to is not None:
        query = query.where(when < day_bounds(date_to, zone)[1])
    if status:
        query = query.where(Invoice.status == status)
    if reader is not None and now is not None:
        scope = access.readable_condition(reader, Invoice, now)
        if scope is not None:
            query = query.where(scope)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(session.execute(query.options(selectinload(Invoice.patient))
                                .order_by(when.desc(), Invoice.id.desc()).limit(limit).offset(offset)).scalars())
    if reader is not None:
        access.record_list_read(session, reader, Invoice, rows)
    return InvoiceResults(rows=rows, total=int(total), limit=limit, offset=offset)


# ---- a patient's payment history -----------------------------------------------------------------

@dataclass(frozen=True)
class HistoryEntry:
    kind: str  # "payment" or "refund"
    at: datetime
    invoice_id: int
    invoice_number: str | None
    method: str
    amount: Decimal
    status: str
    by: str  # who took the payment or gave the refund
    detail: str | None  # the payment's reference, the refund's reason


def patient_payment_history(session: Session, patient_id: int, *, reader: Any = None,
                            now: datetime | None = None) -> list[HistoryEntry]:
    """Every payment (whatever its status) and refund on ``patient_id``'s invoices, newest first.
    With ``reader``, the rows they may not read are left out and the read is audited."""
    payments_query = (select(Payment).join(Invoice, Payment.invoice_id == Invoice.id)
                      .where(Invoice.patient_id == patient_id)
                      .options(selectinload(Payment.invoice), selectinload(Payment.received_by)))
    refunds_query = (select(Refund).join(Invoice, Refund.invoice_id == Invoice.id)
                     .where(Invoice.patient_id == patient_id)
                     .options(selectinload(Refund.invoice), selectinload(Refund.refunded_by)))
    if reader is not None and now is not None:
        for model in (Payment, Refund):
            scope = access.readable_condition(reader, model, now)
            if scope is not None:
                if model is Payment:
                    payments_query = payments_query.where(scope)
                else:
                    refunds_query = refunds_query.where(scope)
    payments = list(session.execute(payments_query).scalars())
    refunds = list(session.execute(refunds_query).scalars())
    entries = [HistoryEntry("payment", p.paid_at or p.created_at, p.invoice_id, p.invoice.number, p.method,
                            Decimal(p.amount), p.status, _user_label(p.received_by), p.provider_reference)
               for p in payments]
    entries += [HistoryEntry("refund", r.refunded_at, r.invoice_id, r.invoice.number, r.method, Decimal(r.amount),
                             r.status, _user_label(r.refunded_by), r.reason) for r in refunds]
    entries.sort(key=lambda e: (e.at, e.kind == "refund"), reverse=True)
    if reader is not None:
        access.record_list_read(session, reader, Payment, payments)
        access.record_list_read(session, reader, Refund, refunds)
    return entries


def patient_of(session: Session, patient_id: int) -> Patient | None:
    return session.get(Patient, patient_id)


def cashier_name(session: Session, user_id: int) -> str:
    return _user_label(session.get(User, user_id))


# ---- CSV -----------------------------------------------------------------------------------------

def safe_cell(value: Any) -> str:
    """A cell's text, a would-be formula neutralised with a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def plain_amount(value: Any) -> str:
    """A plain figure: 300000 for VND (no separators, no currency), 12.50 where there are cents."""
    amount = Decimal(value or 0)
    return str(amount.quantize(Decimal(1))) if amount == amount.to_integral_value() else f"{amount:.2f}"


CSV_HEADERS = ("number", "issued", "patient_code", "patient_name", "status", "subtotal", "discount", "vat",
               "total", "paid", "refunded", "balance")


def invoices_csv(rows: Iterable[Invoice], tz: tzinfo | None = None, headers: Sequence[str] | None = None,
                 status_label: Any = None) -> str:
    """The invoices as CSV text for a spreadsheet: UTF-8 with a BOM (Excel then reads Vietnamese
    names right), the issue date as dd/mm/yyyy in the clinic's zone, amounts as plain integers
    for VND; a cell that would start a formula gets a leading apostrophe."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in (headers or CSV_HEADERS)])
    for invoice in rows:
        issued = invoice.issued_at
        if issued is not None and tz is not None:
            issued = issued.astimezone(tz)
        patient = invoice.patient
        writer.writerow([safe_cell(cell) for cell in (
            invoice.number or "", issued.strftime("%d/%m/%Y") if issued else "",
            patient.code if patient else "", patient.full_name if patient else "",
            status_label(invoice.status) if status_label else invoice.status,
            *(plain_amount(amount) for amount in (invoice.subtotal, invoice.discount, invoice.tax, invoice.total,
                                                  invoice.amount_paid, invoice.amount_refunded, invoice.balance)))])
    return out.getvalue()

