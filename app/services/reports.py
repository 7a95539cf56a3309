"""Reports for printing or e-mailing (issue 14, item 2): PDFs (fpdf2, the bundled Open Sans, as the
invoice's) of a month or a quarter (the dashboard figures as tables, with the previous period
beside the main counts), of the cashiers' takings for a day or a range (per cashier and payment
method) and of medicine usage for a range (quantity and value per medicine).

Every figure comes from the dashboards' read functions (``app.services.dashboards.figures``) or,
for the takings, one aggregate query here. ``*_tables`` build the tables as text in the language
(Vietnamese: 1.000.000 ₫, 02/12/2026); ``render`` draws them. Needs an application context
(Flask-Babel's ``force_locale``)."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_appbuilder.security.sqla.models import User
from flask_babel import force_locale, format_currency, format_decimal, format_percent, gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from sqlalchemy.orm import Session

from app.i18n import choice_label
from app.models import OutboundMessage, Payment, Refund
from app.models.billing import PAYMENT_METHODS
from app.services.dashboards import figures
from app.services.dashboards.buckets import local_midnight, next_start
from app.services.errors import FieldErrors
from app.services.invoice_document import nfc
from app.services.mail import send_email
from app.services.messaging.delivery import queue_message
from app.services.settings import ClinicSettings
from app.services.visit_summary import FONT, MARGIN, a4_pdf

KINDS = ("monthly", "quarterly", "takings", "medicines")
ALL_MEDICINES = 1_000_000
MONTHLY_KIND = "monthly_report"  # the claim rows' kind in outbound_message
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class Report:
    title: str
    period: str
    tables: list[Table]


# --- periods ---------------------------------------------------------------------------------

def parse_month(text: str) -> date:
    """"2026-11" or "11/2026" (Vietnamese order) -> 1 Nov 2026; FieldErrors(month) otherwise."""
    try:
        text = (text or "").strip()
        if "/" in text:
            month, year = (int(part) for part in text.split("/"))
        else:
            year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise FieldErrors({"month": _("This is not a month: type it as 11/2026 or 2026-11.")}) from None


def parse_quarter(text: str) -> date:
    """"2026-Q4" or "Q4/2026" -> 1 Oct 2026; FieldErrors(quarter) otherwise."""
    try:
        text = (text or "").strip().upper().replace(" ", "")
        if text.startswith("Q"):
            quarter, year = text[1:].split("/")
        else:
            year, quarter = text.split("-Q")
        number = int(quarter)
        if not 1 <= number <= 4:
            raise ValueError(quarter)
        return date(int(year), 3 * (number - 1) + 1, 1)
    except (ValueError, TypeError):
        raise FieldErrors({"quarter": _("This is not a quarter: type it as Q4/2026 or 2026-Q4.")}) from None


def period_end(first: date, grain: str) -> date:
    return next_start(first, grain) - timedelta(days=1)


def previous_start(first: date, grain: str) -> date:
    months = 1 if grain == "month" else 3
    index = first.year * 12 + first.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def check_range(start: date, end: date, today: date, field: str = "start") -> None:
    """A period must have begun (not in the future), be in order and within the dashboards' limits."""
    errors: dict[str, str] = {}
    if not figures_first_day() <= start <= today:
        errors[field] = _("The period has not begun yet.") if start > today else _("Choose a later date.")
    if end < start:
        errors["end"] = _("The end date is before the start date.")
    elif (end - start).days > 3 * 366:
        errors["end"] = _("The range is longer than three years.")
    if errors:
        raise FieldErrors(errors)


def check_days(start: date, end: date, today: date) -> None:
    """A range of days for the takings or the medicine usage: begun, in order, not past today."""
    errors: dict[str, str] = {}
    try:
        check_range(start, end, today)
    except FieldErrors as error:
        errors = dict(error.errors)
    if end > today and "end" not in errors:
        errors["end"] = _("Choose a day up to today.")
    if errors:
        raise FieldErrors(errors)


def figures_first_day() -> date:
    from app.services.dashboards import FIRST_DAY

    return FIRST_DAY


# --- formatting ------------------------------------------------------------------------------

class _Format:
    def __init__(self, language: str, currency: str):
        self.language, self.currency = language, currency

    def day(self, value: date) -> str:
        return value.strftime("%d/%m/%Y") if self.language == "vi" else value.isoformat()

    def money(self, value: Any) -> str:
        return str(format_currency(Decimal(value or 0), self.currency))

    def count(self, value: Any) -> str:
        return str(format_decimal(value or 0, "#,##0"))

    def percent(self, value: Any) -> str:
        return str(format_percent(value or 0, "#,##0.0%"))

    def rating(self, value: Any) -> str:
        return "—" if value is None else str(format_decimal(value, "#,##0.0"))

    def change(self, now: Any, before: Any) -> str:
        if not before:
            return "—"
        ratio = (Decimal(str(now)) - Decimal(str(before))) / Decimal(str(before))
        return str(format_percent(ratio, "+#,##0.0%;-#,##0.0%"))

    def month(self, first: date) -> str:
        return first.strftime("%m/%Y") if self.language == "vi" else first.strftime("%Y-%m")

    def quarter(self, first: date) -> str:
        return _("Q%(quarter)s/%(year)s", quarter=(first.month - 1) // 3 + 1, year=first.year)


def _label(value: str, kind: str) -> str:
    return choice_label(value) if kind == "choice" else value


# --- the tables ------------------------------------------------------------------------------

def _summary(session: Session, start: date, end: date, grain: str, zone: ZoneInfo) -> dict[str, Any]:
    """The period's headline numbers (one bucket: ``start`` is the month's or quarter's first day)."""
    patients = figures.patients(session, start, end, grain, zone=zone).rows[0]
    attendance = figures.attendance(session, start, end, grain, zone=zone).rows[0]
    taken = figures.revenue_by_method(session, start, end, grain, zone=zone).rows[0]
    billed = sum((row[2] for row in figures.revenue_by_service(session, start, end, grain, zone=zone).rows),
                 Decimal(0))
    return {"visits": figures.visits(session, start, end, grain, zone=zone).rows[0][1], "new": patients[1],
            "returning": patients[2], "no_show_rate": attendance[3], "cancellation_rate": attendance[5],
            "revenue": billed, "taken": taken[-1]}


def period_tables(session: Session, start: date, grain: str, zone: ZoneInfo, fmt: _Format) -> list[Table]:
    """The month's or quarter's figures as tables, the main counts beside the previous period's."""
    end = period_end(start, grain)
    now = _summary(session, start, end, grain, zone)
    before_start = previous_start(start, grain)
    before = _summary(session, before_start, period_end(before_start, grain), grain, zone)
    kinds = {"visits": fmt.count, "new": fmt.count, "returning": fmt.count, "no_show_rate": fmt.percent,
             "cancellation_rate": fmt.percent, "revenue": fmt.money, "taken": fmt.money}
    names = {"visits": _("Visits"), "new": _("New patients"), "returning": _("Returning patients"),
             "no_show_rate": _("No-show rate"), "cancellation_rate": _("Cancellation rate"),
             "revenue": _("Revenue billed"), "taken": _("Money taken")}
    summary = Table(_("Summary"), (_("Figure"), _("This period"), _("Previous period"), _("Change vs previous")),
                    [(names[key], show(now[key]), show(before[key]),
                      fmt.change(now[key], before[key]) if key not in ("no_show_rate", "cancellation_rate") else "—")
                     for key, show in kinds.items()])
    tables = [summary]
    service = figures.revenue_by_service(session, start, end, grain, zone=zone)
    tables.append(Table(_("Revenue by service"), (_("Service"), _("Revenue")),
                        [(_label(name, kind), fmt.money(amount)) for name, kind, amount in service.rows]))
    doctor = figures.revenue_by_doctor(session, start, end, grain, zone=zone)
    tables.append(Table(_("Revenue by doctor"), (_("Doctor"), _("Revenue")),
                        [(_label(name, kind), fmt.money(amount)) for name, kind, amount in doctor.rows]))
    method = figures.revenue_by_method(session, start, end, grain, zone=zone).rows[0]
    tables.append(Table(_("Money taken by payment method"), (_("Payment method"), _("Amount")),
                        [(choice_label(m), fmt.money(amount)) for m, amount in zip(PAYMENT_METHODS, method[1:-1],
                                                                                    strict=True)]
                        + [(_("Total"), fmt.money(method[-1]))]))
    owed = figures.outstanding(session, start, end, grain, zone=zone).rows[0]
    tables.append(Table(_("Outstanding balances"), (_("Invoices"), _("Balance owed")),
                        [(fmt.count(owed[1]), fmt.money(owed[2]))]))
    medicines = figures.medicines_dispensed(session, start, end, grain, zone=zone)
    tables.append(Table(_("Medicines dispensed (top 10)"), (_("Medicine"), _("Unit"), _("Quantity"), _("Value")),
                        [(name, unit, fmt.count(qty), fmt.money(value)) for name, unit, qty, value in medicines.rows]))
    ratings = figures.ratings(session, start, end, grain, zone=zone)
    tables.append(Table(_("Ratings per doctor and criterion"),
                        (_("Doctor"), _("Reviews"), _("Professional quality"), _("Attitude"), _("Waiting time"),
                         _("Overall")),
                        [(name, fmt.count(n), *(fmt.rating(v) for v in values)) for name, n, *values in ratings.rows]))
    return tables


def takings_table(session: Session, start: date, end: date, zone: ZoneInfo, fmt: _Format) -> list[Table]:
    """Money taken per cashier and payment method over the days (payments less refunds, by the
    time each happened), summed by the database."""
    lo, hi = local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone)
    paid = (sa.select(Payment.received_by_id.label("user_id"), Payment.method.label("method"),
                      Payment.amount.label("amount"))
            .where(Payment.status == "succeeded", Payment.paid_at >= lo, Payment.paid_at < hi))
    refunded = (sa.select(Refund.refunded_by_id, Refund.method, -Refund.amount)
                .where(Refund.status == "succeeded", Refund.refunded_at >= lo, Refund.refunded_at < hi))
    money = sa.union_all(paid, refunded).subquery("money")
    query = (sa.select(money.c.user_id, User.first_name, User.last_name, User.username, money.c.method,
                       sa.func.sum(money.c.amount))
             .select_from(money).outerjoin(User, User.id == money.c.user_id)
             .group_by(money.c.user_id, User.first_name, User.last_name, User.username, money.c.method)
             .order_by(User.username, money.c.method))
    per_cashier: dict[Any, tuple[str, dict[str, Decimal]]] = {}
    for user_id, first, last, username, method, amount in session.execute(query):
        name = " ".join(p for p in (first, last) if p) or username or _("Online (no cashier)")
        per_cashier.setdefault(user_id, (name, {}))[1][method] = Decimal(amount or 0)
    methods = [m for m in PAYMENT_METHODS if any(m in amounts for _n, amounts in per_cashier.values())]
    rows = []
    totals = {m: Decimal(0) for m in methods}
    for name, amounts in per_cashier.values():
        for m in methods:
            totals[m] += amounts.get(m, Decimal(0))
        rows.append((name, *(fmt.money(amounts.get(m, 0)) for m in methods), fmt.money(sum(amounts.values()))))
    rows.append((_("Total"), *(fmt.money(totals[m]) for m in methods), fmt.money(sum(totals.values()))))
    return [Table(_("Takings by cashier and payment method"),
                  (_("Cashier"), *(choice_label(m) for m in methods), _("Total")), rows)]


def medicine_table(session: Session, start: date, end: date, zone: ZoneInfo, fmt: _Format) -> list[Table]:
    """Every medicine dispensed over the days (less returns): quantity and value at its price."""
    data = figures.medicines_dispensed(session, start, end, "month", zone=zone, top=ALL_MEDICINES)
    rows = [(name, unit, fmt.count(qty), fmt.money(value)) for name, unit, qty, value in data.rows]
    total = sum((row[3] for row in data.rows), Decimal(0))
    rows.append((_("Total"), "", "", fmt.money(total)))
    return [Table(_("Medicine usage"), (_("Medicine"), _("Unit"), _("Quantity"), _("Value")), rows)]


# --- the reports -----------------------------------------------------------------------------

def build(session: Session, kind: str, start: date, end: date, zone: ZoneInfo, language: str,
          currency: str = "VND") -> Report:
    """The report's tables as text in ``language`` (an application context is needed)."""
    with force_locale(language):
        fmt = _Format(language, currency)
        if kind == "monthly":
            return Report(_("Monthly report"), fmt.month(start), period_tables(session, start, "month", zone, fmt))
        if kind == "quarterly":
            return Report(_("Quarterly report"), fmt.quarter(start),
                          period_tables(session, start, "quarter", zone, fmt))
        span = fmt.day(start) if start == end else f"{fmt.day(start)} – {fmt.day(end)}"
        if kind == "takings":
            return Report(_("Cashier takings"), span, takings_table(session, start, end, zone, fmt))
        if kind == "medicines":
            return Report(_("Medicine usage"), span, medicine_table(session, start, end, zone, fmt))
    raise ValueError(kind)


def render(report: Report, clinic_name: str, language: str) -> bytes:
    """The report as an A4 PDF: the clinic's name, the title and period, each table."""
    with force_locale(language):
        return _draw(report, clinic_name, language)


def _draw(report: Report, clinic_name: str, language: str) -> bytes:
    pdf = a4_pdf(f"{clinic_name} · {report.title} {report.period}")
    pdf.set_title(nfc(f"{report.title} {report.period}"))
    pdf.set_author(nfc(clinic_name))
    pdf.set_creator(nfc(clinic_name))
    pdf.set_lang(language)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.w - 2 * MARGIN
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(width, 6, nfc(clinic_name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 16)
    pdf.cell(width, 10, nfc(report.title), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 11)
    pdf.cell(width, 6, nfc(_("Period: %(period)s", period=report.period)), align="C",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    for table in report.tables:
        _table(pdf, table, width)
    return bytes(pdf.output())


def _table(pdf: FPDF, table: Table, width: float) -> None:
    # A table's title never ends a page alone: it goes with its heading row and first two rows
    # (seen: "Tiền thu theo phương thức thanh toán" at the foot of page 1, its table on page 2).
    if pdf.will_page_break(7 + 5.5 * (3 if table.rows else 1) + 6):
        pdf.add_page()
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(width, 7, nfc(table.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    if not table.rows:
        pdf.cell(width, 6, nfc(_("Nothing in this period.")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
        return
    count = len(table.headers)
    first = width * (0.34 if count > 2 else 0.5)
    widths: Sequence[float] = (first, *([(width - first) / (count - 1)] * (count - 1)))
    aligns = ("LEFT", *(("RIGHT",) * (count - 1)))
    with pdf.table(col_widths=tuple(widths), text_align=aligns, line_height=5.5,
                   headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
                   first_row_as_headings=True) as grid:
        heading = grid.row()
        for text in table.headers:
            heading.cell(nfc(text))
        for values in table.rows:
            row = grid.row()
            for text in values:
                row.cell(nfc(text))
    pdf.set_font(FONT, "", 9)
    pdf.ln(4)


def report_pdf(session: Session, kind: str, start: date, end: date, *, zone: ZoneInfo, language: str,
               clinic_name: str, currency: str = "VND") -> bytes:
    return render(build(session, kind, start, end, zone, language, currency), clinic_name, language)


def monthly_report(session: Session, month: date, zone: ZoneInfo, language: str, *, clinic_name: str,
                   currency: str = "VND") -> bytes:
    first = month.replace(day=1)
    return report_pdf(session, "monthly", first, period_end(first, "month"), zone=zone, language=language,
                      clinic_name=clinic_name, currency=currency)


def quarterly_report(session: Session, quarter: date, zone: ZoneInfo, language: str, *, clinic_name: str,
                     currency: str = "VND") -> bytes:
    first = date(quarter.year, 3 * ((quarter.month - 1) // 3) + 1, 1)
    return report_pdf(session, "quarterly", first, period_end(first, "quarter"), zone=zone, language=language,
                      clinic_name=clinic_name, currency=currency)


def takings_report(session: Session, start: date, end: date, zone: ZoneInfo, language: str, *, clinic_name: str,
                   currency: str = "VND") -> bytes:
    return report_pdf(session, "takings", start, end, zone=zone, language=language, clinic_name=clinic_name,
                      currency=currency)


def medicine_usage_report(session: Session, start: date, end: date, zone: ZoneInfo, language: str, *,
                          clinic_name: str, currency: str = "VND") -> bytes:
    return report_pdf(session, "medicines", start, end, zone=zone, language=language, clinic_name=clinic_name,
                      currency=currency)


def file_name(kind: str, start: date, end: date) -> str:
    if kind == "monthly":
        return f"report-{start:%Y-%m}.pdf"
    if kind == "quarterly":
        return f"report-{start.year}-Q{(start.month - 1) // 3 + 1}.pdf"
    return f"{kind}-{start.isoformat()}-{end.isoformat()}.pdf"


# --- by e-mail -------------------------------------------------------------------------------

def email_report(config: Mapping, mail: Any, *, to: list[str], title: str, period: str, clinic_name: str,
                 pdf: bytes, filename: str, language: str) -> str:
    """The report as a PDF attachment through the mail service (the outbox folder without a mail
    server); the message id or the outbox file."""
    with force_locale(language):
        subject = f"{clinic_name}: {title} {period}"
        body = _("The %(title)s of %(clinic)s for %(period)s is attached (PDF).", title=title.lower(),
                 clinic=clinic_name, period=period)
    return send_email(config, mail, to=to, subject=subject, body=body,
                      attachments=[(filename, "application/pdf", pdf)])


def recipients(config: Mapping) -> list[str]:
    """``REPORT_RECIPIENTS``: addresses separated by commas or spaces (or a list)."""
    value = config.get("REPORT_RECIPIENTS") or ""
    parts = value if isinstance(value, (list, tuple)) else str(value).replace(";", ",").replace(" ", ",").split(",")
    return list(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))


def send_monthly_if_due(session: Session, *, config: Mapping, mail: Any, now: datetime) -> list[str]:
    """On the 1st of the month (clinic time) send last month's report to each address of
    ``REPORT_RECIPIENTS``, once per address and month however often the scheduler fires: each
    send is first claimed by a row of ``outbound_message`` with the unique key
    ``report:monthly:<YYYY-MM>:<address>`` (committed before sending; taken back if the sending
    fails, so the next run tries again). The addresses sent to."""
    clinic = ClinicSettings.from_config(config)
    local = now.astimezone(clinic.timezone).date()
    addresses = recipients(config)
    if local.day != 1 or not addresses:
        return []
    first = previous_start(local, "month")
    language = str(config.get("REPORT_LANGUAGE") or "vi")
    pdf: bytes | None = None
    report: Report | None = None
    sent = []
    for address in addresses:
        key = f"report:monthly:{first:%Y-%m}:{address.lower()}"[:200]
        message = queue_message(session, channel="email", kind=MONTHLY_KIND, recipient=address[:254],
                                language=language, params={"month": f"{first:%Y-%m}"}, dedupe_key=key, now=now)
        if message is None:
            session.rollback()
            continue
        if report is None or pdf is None:
            report = build(session, "monthly", first, period_end(first, "month"), clinic.timezone, language,
                           clinic.currency)
            pdf = render(report, clinic.name, language)
        message.status, message.claimed_at, message.attempts, message.sent_at = "sent", now, 1, now
        message.subject = f"{clinic.name}: {report.title} {report.period}"[:300]
        session.commit()  # the claim: a second run finds the key and sends nothing
        try:
            email_report(config, mail, to=[address], title=report.title, period=report.period,
                         clinic_name=clinic.name, pdf=pdf, filename=file_name("monthly", first, first),
                         language=language)
        except Exception:
            log.exception("monthly report to %s not sent; tried again at the next run", address)
            session.execute(sa.delete(OutboundMessage).where(OutboundMessage.id == message.id))
            session.commit()
            continue
        sent.append(address)
    return sent
