"""The dashboard figures against answers worked out by hand on a small clinic
(``tests/dashboard_data.py``), including rows a minute either side of local midnight and of a
month's end, and the check of a dashboard query."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.i18n import choice_label
from app.services import dashboards
from app.services.dashboards import figures
from app.services.dashboards.buckets import buckets
from app.services.errors import FieldErrors
from tests.dashboard_data import build, utc

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
OCT, NOV, DEC = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)


@pytest.fixture
def ids(db):
    return build(db.session)


def run(db, name: str, start: date, end: date, grain: str = "month", **scope):
    return figures.FIGURES[name](db.session, start, end, grain, zone=ZONE, **scope)


def test_buckets_clip_to_the_range_and_start_on_monday_month_quarter():
    weeks = buckets(date(2026, 11, 4), date(2026, 11, 17), "week")
    assert [(b.start, b.first, b.last) for b in weeks] == [
        (date(2026, 11, 2), date(2026, 11, 4), date(2026, 11, 8)),
        (date(2026, 11, 9), date(2026, 11, 9), date(2026, 11, 15)),
        (date(2026, 11, 16), date(2026, 11, 16), date(2026, 11, 17))]
    assert [b.start for b in buckets(date(2026, 2, 10), date(2027, 1, 5), "quarter")] == [
        date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1), date(2027, 1, 1)]


def test_visits_count_by_local_month_across_the_month_end(db, ids):
    # a1 (23:30 on 31 Oct) is October; a2 (00:30 on 1 Nov local, still 31 Oct in UTC) is November;
    # a7 at 00:00 on 1 Dec local is only confirmed: not a visit.
    assert run(db, "visits", OCT, date(2026, 12, 31)).rows == [(OCT, 1), (NOV, 3), (DEC, 0)]


def test_visits_by_day_at_local_midnight(db, ids):
    rows = run(db, "visits", date(2026, 10, 31), date(2026, 11, 1), "day").rows
    assert rows == [(date(2026, 10, 31), 1), (date(2026, 11, 1), 1)]
    rows = run(db, "visits", date(2026, 11, 30), date(2026, 12, 1), "day").rows
    assert rows == [(date(2026, 11, 30), 1), (date(2026, 12, 1), 0)]


def test_visits_of_one_doctor_and_of_a_department(db, ids):
    assert run(db, "visits", OCT, date(2026, 11, 30), doctor_id=ids.doctor_a).rows == [(OCT, 1), (NOV, 2)]
    assert run(db, "visits", OCT, date(2026, 11, 30), department_id=ids.department).rows == [(OCT, 1), (NOV, 2)]
    assert run(db, "visits", OCT, date(2026, 11, 30), doctor_id=ids.doctor_b).rows == [(OCT, 0), (NOV, 1)]


def test_patients_new_and_returning(db, ids):
    # October: P1's first visit. November: P1 returns; P2 and P3 come for the first time (P3's
    # no-show does not count as a visit).
    assert run(db, "patients", OCT, date(2026, 12, 31)).rows == [
        (OCT, 1, 0, 1), (NOV, 2, 1, 3), (DEC, 0, 0, 0)]


def test_no_show_and_cancellation_rates(db, ids):
    rows = run(db, "attendance", OCT, date(2026, 12, 31)).rows
    assert rows == [(OCT, 1, 0, 0.0, 0, 0.0), (NOV, 5, 1, 0.2, 1, 0.2), (DEC, 1, 0, 0.0, 0, 0.0)]


def test_wait_and_consultation_length(db, ids):
    # a1: in 16:20, started 16:30, done 16:50; a2: in 17:25, started 17:40, done 17:55.
    rows = run(db, "waits", OCT, date(2026, 11, 30)).rows
    assert rows == [(OCT, 10.0, 1, 20.0, 1, None, 0), (NOV, 15.0, 1, 15.0, 1, None, 0)]  # no review of a visit
    assert run(db, "waits", OCT, date(2026, 11, 30), "quarter").rows == [(OCT, 12.5, 2, 17.5, 2, None, 0)]
    # a month with no timed visit has no average (not a wait of 0)
    assert run(db, "waits", DEC, date(2026, 12, 31)).rows == [(DEC, None, 0, None, 0, None, 0)]


def test_utilisation_booked_against_working_hours(db, ids):
    # Week of Monday 9 November: A works 4 h, booked 30 min (a no-show holds its slot); B has no
    # schedule and 30 min booked (a cancellation does not count).
    rows = run(db, "utilisation", date(2026, 11, 9), date(2026, 11, 15)).rows
    assert rows == [("BS. An", 0.5, 4.0, 0.125), ("Bình", 0.5, 0.0, None)]  # no hours: no rate (a dash)


def test_revenue_by_service_and_by_doctor(db, ids):
    nov_end = date(2026, 11, 30)
    by_service = run(db, "revenue_by_service", NOV, nov_end).rows
    assert by_service == [("Khám", "text", Decimal("180000.00")), ("other", "choice", Decimal("100000.00")),
                          ("medicine", "choice", Decimal("50000.00"))]
    assert run(db, "revenue_by_doctor", NOV, nov_end).rows == [
        ("BS. An", "text", Decimal("230000.00")), ("no_doctor", "choice", Decimal("100000.00"))]
    assert run(db, "revenue_by_service", NOV, nov_end, doctor_id=ids.doctor_a).rows == [
        ("Khám", "text", Decimal("180000.00")), ("medicine", "choice", Decimal("50000.00"))]
    # October (local) has only HD4, issued at 23:00 on 31 October.
    assert run(db, "revenue_by_service", OCT, date(2026, 10, 31)).rows == [("Khám", "text", Decimal("70000.00"))]


def test_service_lines_with_no_service_are_named_for_what_they_are(db, ids):
    """A doctor's consultation fee is a service line with no catalogue service: it is counted under
    "Consultation fees and other services", not under a bare "Service" beside the named ones."""
    from app.models import Invoice, InvoiceLine

    fee = Invoice(number="HD9", patient_id=db.session.scalar(sa.select(Invoice.patient_id).limit(1)),
                  status="issued", subtotal=Decimal(30000), discount=Decimal(0), total=Decimal(30000),
                  amount_paid=Decimal(0), issued_at=utc("2026-11-10 03:00"))
    db.session.add(fee)
    db.session.flush()
    db.session.add(InvoiceLine(invoice_id=fee.id, kind="service", service_id=None, description="Phí khám: BS. An",
                               quantity=Decimal(1), unit_price=Decimal(30000), amount=Decimal(30000),
                               discount_share=Decimal(0)))
    db.session.commit()
    rows = run(db, "revenue_by_service", NOV, date(2026, 11, 30)).rows
    assert ("consultation_fees_and_other_services", "choice", Decimal("30000.00")) in rows
    assert not any(row[0] == "service" for row in rows)
    assert figures.DIRECT["revenue_by_service"](db.session, NOV, date(2026, 11, 30), "month", zone=ZONE).rows == rows
    assert choice_label("consultation_fees_and_other_services") == "Consultation fees and other services"
    with force_locale("vi"):
        assert choice_label("consultation_fees_and_other_services") == "Phí khám và dịch vụ khác"
        assert choice_label("no_doctor") == "Không gắn với bác sĩ"


def test_revenue_by_payment_method_less_refunds(db, ids):
    data = run(db, "revenue_by_method", NOV, date(2026, 12, 31))
    assert [key for key, _ in data.columns] == ["period", "cash", "bank_transfer", "card", "vnpay", "total"]
    zero = Decimal("0.00")
    # cash 230 000 less the 30 000 refund; the card payment at 00:30 on 1 December local is December's
    assert data.rows == [(NOV, Decimal("200000.00"), zero, zero, zero, Decimal("200000.00")),
                         (DEC, zero, zero, Decimal("40000.00"), zero, Decimal("40000.00"))]


def test_outstanding_balances_by_issue_month(db, ids):
    assert run(db, "outstanding", OCT, date(2026, 11, 30)).rows == [
        (OCT, 1, Decimal("70000.00")), (NOV, 1, Decimal("60000.00"))]
    assert run(db, "outstanding", OCT, date(2026, 11, 30), doctor_id=ids.doctor_a).rows == [
        (OCT, 1, Decimal("70000.00")), (NOV, 0, 0)]


def test_medicines_dispensed_top_n(db, ids):
    rows = run(db, "medicines", NOV, date(2026, 11, 30)).rows
    assert rows == [("Paracetamol 500 mg", "viên", 8, Decimal("8000.00")),
                    ("Amoxicillin", "viên", 6, Decimal("18000.00"))]
    assert figures.medicines_dispensed(db.session, NOV, date(2026, 11, 30), "month", zone=ZONE, top=1).rows == [
        ("Paracetamol 500 mg", "viên", 8, Decimal("8000.00"))]
    assert run(db, "medicines", NOV, date(2026, 11, 30), doctor_id=ids.doctor_b).rows == [
        ("Amoxicillin", "viên", 6, Decimal("18000.00"))]
    # the dispense at 00:30 on 1 November (local) is not October's
    assert run(db, "medicines", OCT, date(2026, 10, 31)).rows == []


def test_stock_value_and_expiring_value(db, ids):
    data = run(db, "stock", DEC, date(2027, 2, 28))
    assert data.rows == [(DEC, 1, Decimal("45000.00")), (date(2027, 1, 1), 0, 0), (date(2027, 2, 1), 1,
                                                                                  Decimal("20000.00"))]
    assert data.totals == {"stock_value": Decimal("65000.00"), "expiring_value": Decimal("65000.00")}
    assert run(db, "stock", DEC, date(2026, 12, 31)).totals["expiring_value"] == Decimal("45000.00")


def test_ratings_per_doctor_and_criterion(db, ids):
    # November: A's two approved reviews (the pending one is left out); B's is October's (local).
    assert run(db, "ratings", NOV, date(2026, 11, 30)).rows == [("BS. An", 2, 4.0, 4.0, 4.0, 4.5)]
    rows = run(db, "ratings", OCT, date(2026, 11, 30)).rows
    assert rows[1] == ("Bình", 1, 4.0, None, None, 4.0)


def test_every_figure_answers_on_an_empty_clinic(db):
    for name in figures.FIGURES:
        data = run(db, name, OCT, date(2026, 12, 31), "week")
        assert all(len(row) == len(data.columns) for row in data.rows), name


def test_check_query_names_every_broken_field(db, ids):
    with pytest.raises(FieldErrors) as caught:
        dashboards.check_query(db.session, date(2026, 11, 2), date(2026, 11, 1), "year", 999999, 999999)
    assert set(caught.value.errors) == {"end", "grain", "department_id", "doctor_id"}
    with pytest.raises(FieldErrors) as caught:
        dashboards.check_query(db.session, date(2020, 1, 1), date(2026, 1, 1), "month")
    assert set(caught.value.errors) == {"end"}
    with pytest.raises(FieldErrors) as caught:  # the zone's maths would overflow at year 1 or 9999
        dashboards.check_query(db.session, date(1, 1, 1), date(9999, 12, 31), "month")
    assert set(caught.value.errors) == {"start", "end"}
    dashboards.check_query(db.session, date(2024, 1, 1), date(2026, 12, 31), "month", ids.department, ids.doctor_a)
