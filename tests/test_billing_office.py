"""The back office of money: the cashier's day (takings by method and by cashier on the clinic's
local day), the end-of-day close, the invoice search and its CSV export, a patient's payment
history, and who may see them."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.models import AuditEvent, CashClose, Invoice, Patient
from app.models.types import utcnow
from app.services import billing, cashier_day, payments
from app.services.billing_settings import BillingSettings
from app.services.errors import Conflict, FieldErrors
from tests.factories import page_csrf_token

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Free lines without VAT: the amounts below are what the patient owes.
SETTINGS = BillingSettings(email_on_issue=False, email_on_payment=False,
                           vat_rates={"service": Decimal(0), "lab": Decimal(0), "medicine": Decimal(0),
                                      "other": Decimal(0)})
DAY = date(2026, 3, 10)


def at(day: date, hhmm: str) -> datetime:
    """An aware instant at ``hhmm`` clinic time (UTC+7) on ``day``."""
    hours, minutes = map(int, hhmm.split(":"))
    return datetime.combine(day, time(hours, minutes), TZ).astimezone(timezone.utc)


def user_id(app, username: str) -> int:
    return app.appbuilder.sm.find_user(username=username).id


def patient(db, name: str, phone: str | None = None) -> int:
    from flask import g

    from app.services import rules
    from app.services.settings import ClinicSettings

    with db.session.no_autoflush:
        record = Patient(full_name=name, phone=phone)
        g.pop("user", None)
        rules.validate(db.session, record, ClinicSettings(timezone=TZ), None)
        db.session.add(record)
    db.session.commit()
    return record.id


def invoice(db, patient_id: int, *prices: int, issued: datetime | None = None) -> int:
    """An issued invoice of free lines (no VAT) at ``prices``."""
    now = issued or utcnow()
    draft = billing.new_draft(db.session, patient_id, None, now, SETTINGS)
    db.session.commit()
    for n, price in enumerate(prices):
        billing.add_line(db.session, draft.id, billing.LineInput(kind="other", description=f"Dịch vụ {n}",
                                                                  unit_price=Decimal(price), reason="test"),
                         None, now, SETTINGS, may_change_price=False)
    return billing.issue_invoice(db.session, draft.id, None, now, SETTINGS, now.year).id


def pay(db, invoice_id: int, amount: int, by: int | None, when: datetime, method: str = "cash") -> int:
    if method in ("card", "vnpay"):
        reference = f"ref-{invoice_id}-{when.timestamp()}"
        payments.start_online_payment(db.session, invoice_id, method, amount, reference, by, when)
        settled = payments.settle_online_payment(db.session, payments.ONLINE_METHODS[method], reference,
                                                 Decimal(amount), "ch_1", when)
        db.session.commit()
        assert settled.applied
        return settled.payment.id
    return payments.record_payment(db.session, invoice_id, method, amount, by, when, billing=SETTINGS).id


def refund(db, payment_id: int, amount: int, by: int | None, when: datetime) -> int:
    return payments.refund_payment(db.session, payment_id, amount, "Khách trả lại", by, when, SETTINGS).id


def closes(db) -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(CashClose)).scalar_one()


# ---- the day ------------------------------------------------------------------------------------

def test_takings_follow_the_clinics_day_by_method_and_cashier_less_refunds(app, db, clinic):
    cashier, desk = user_id(app, "cashier"), user_id(app, "receptionist")
    big = invoice(db, clinic.patient, 500000, 400000)
    late = pay(db, big, 100000, cashier, at(DAY, "23:30"))  # 16:30 UTC on the 10th
    pay(db, big, 50000, desk, at(DAY, "09:00"), method="bank_transfer")
    pay(db, big, 30000, None, at(DAY, "12:00"), method="card")  # online: nobody at the counter
    pay(db, big, 70000, cashier, at(DAY + timedelta(days=1), "00:30"))  # 17:30 UTC on the 10th: the 11th in Hà Nội
    refund(db, late, 20000, cashier, at(DAY, "23:45"))

    day = cashier_day.day_takings(db.session, DAY, TZ)
    methods = {row.key: (row.received, row.refunded, row.net, row.payments, row.refunds) for row in day.by_method}
    assert methods == {"cash": (100000, 20000, 80000, 1, 1), "bank_transfer": (50000, 0, 50000, 1, 0),
                       "card": (30000, 0, 30000, 1, 0)}
    people = {row.key: (row.net, row.cash_net) for row in day.by_cashier}
    assert people == {cashier: (80000, 80000), desk: (50000, 0), None: (30000, 0)}
    assert (day.total.received, day.total.refunded, day.total.net) == (180000, 20000, 160000)
    assert [r.amount for r in day.refunds] == [20000]
    assert [i.id for i in day.open_invoices] == [big] and day.open_balance == 900000 - 250000

    next_day = cashier_day.day_takings(db.session, DAY + timedelta(days=1), TZ)
    assert [(row.key, row.net) for row in next_day.by_method] == [("cash", 70000)]
    assert cashier_day.expected_cash(db.session, cashier, DAY, TZ) == 80000
    assert cashier_day.expected_cash(db.session, cashier, DAY + timedelta(days=1), TZ) == 70000
    assert cashier_day.expected_cash(db.session, desk, DAY, TZ) == 0  # a transfer is not cash in the drawer


def test_day_page_shows_the_chosen_day_in_vietnamese(app, db, clinic, login_as):
    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 300000)
    pay(db, bill, 120000, cashier, at(DAY, "23:30"))
    pay(db, bill, 45000, cashier, at(DAY + timedelta(days=1), "00:30"))
    browser = login_as("cashier")
    browser.get("/clinic/language/vi")
    page = browser.get("/billing/day?date=10/03/2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "10/03/2026" in html
    by_method = html[html.index('id="by-method"'):html.index("</table>", html.index('id="by-method"'))]
    assert "120.000" in by_method and "45.000" not in by_method and "Tiền mặt" in by_method
    assert "Nguyễn Văn An" in html  # the open invoice
    assert browser.get("/billing/day?date=31/02/2026").status_code == 422


# ---- the close ----------------------------------------------------------------------------------

def test_close_keeps_the_difference_and_closes_once(app, db, clinic):
    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 2000000)
    paid = pay(db, bill, 1600000, cashier, at(DAY, "10:00"))
    refund(db, paid, 100000, cashier, at(DAY, "11:00"))
    now = at(DAY, "18:00")
    close = cashier_day.close_day(db.session, cashier, DAY, "1450000", "  thiếu 50 nghìn ", now, TZ)
    assert (close.expected_cash, close.counted_cash, close.difference) == (1500000, 1450000, -50000)
    assert close.note == "thiếu 50 nghìn"
    with pytest.raises(Conflict) as refused:
        cashier_day.close_day(db.session, cashier, DAY, "1500000", None, now, TZ)
    assert refused.value.status == 409 and "already closed" in refused.value.message
    for bad in ("-1", "abc", "1000.5", ""):
        with pytest.raises(FieldErrors) as error:
            cashier_day.close_day(db.session, user_id(app, "receptionist"), DAY, bad, None, now, TZ)
        assert "counted_cash" in error.value.errors
    assert closes(db) == 1
    audited = db.session.execute(select(AuditEvent).where(AuditEvent.action == "cash_closed")).scalars().all()
    assert [(e.entity_id, e.user_id) for e in audited] == [(str(close.id), cashier)]


def test_cashier_closes_the_day_in_vietnamese_and_sees_the_difference(app, db, clinic, login_as):
    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 2000000)
    pay(db, bill, 1450000, cashier, utcnow())
    browser = login_as("cashier")
    browser.get("/clinic/language/vi")
    page = browser.get("/billing/close")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "1.450.000" in html[html.index('id="expected-cash"'):]
    token = page_csrf_token(html)
    for bad in ("-5", "abc", "1.000,5"):
        refused = browser.post("/billing/close", data={"csrf_token": token, "counted_cash": bad})
        assert refused.status_code == 422 and "has-error" in refused.get_data(as_text=True), bad
    assert closes(db) == 0
    done = browser.post("/billing/close", data={"csrf_token": token, "counted_cash": "1.500.000", "note": "dư"},
                        follow_redirects=True)
    shown = done.get_data(as_text=True)
    assert done.status_code == 200 and 'data-kind="over"' in shown and "50.000" in shown
    again = browser.post("/billing/close", data={"csrf_token": token, "counted_cash": "1.500.000"})
    assert again.status_code == 409
    assert closes(db) == 1
    stored = db.session.execute(select(CashClose)).scalar_one()
    assert (stored.expected_cash, stored.counted_cash, stored.difference) == (1450000, 1500000, 50000)
    day = browser.get("/billing/day").get_data(as_text=True)
    assert 'data-kind="over"' in day[day.index('id="closes"'):]


def test_close_needs_the_csrf_token(app, db, login_as):
    browser = login_as("cashier")
    assert browser.post("/billing/close", data={"counted_cash": "0"}, csrf=False).status_code in (400, 403)
    assert closes(db) == 0


# ---- search, history, CSV -----------------------------------------------------------------------

@pytest.fixture
def invoices(app, db, clinic):
    """Three invoices: An's of 10/03 (paid in full), Bình's of 12/03 and An's of 15/03 (open)."""
    cashier = user_id(app, "cashier")
    other = patient(db, "Trần Thị Bình", "0903 111 222")
    first = invoice(db, clinic.patient, 300000, issued=at(DAY, "09:00"))
    second = invoice(db, other, 150000, issued=at(DAY + timedelta(days=2), "23:50"))
    third = invoice(db, clinic.patient, 80000, issued=at(DAY + timedelta(days=5), "08:00"))
    paid = pay(db, first, 300000, cashier, at(DAY, "09:30"))
    refund(db, paid, 50000, cashier, at(DAY, "10:00"))
    return {"first": first, "second": second, "third": third, "other": other, "payment": paid}


def _numbers(results) -> list[str]:
    return [row.number for row in results.rows]


def test_search_by_number_patient_date_and_status(db, invoices):
    number = {key: db.session.get(Invoice, invoices[key]).number for key in ("first", "second", "third")}
    search = cashier_day.search_invoices
    assert _numbers(search(db.session, number=number["second"].lower())) == [number["second"]]
    everyone = search(db.session)
    assert everyone.total == 3 and _numbers(everyone) == [number["third"], number["second"], number["first"]]
    assert _numbers(search(db.session, patient_text="nguyen van an")) == [number["third"], number["first"]]
    assert _numbers(search(db.session, patient_text="0903111222")) == [number["second"]]
    # 12/03 23:50 in Hà Nội is still the 12th (16:50 UTC)
    assert _numbers(search(db.session, date_from=DAY + timedelta(days=2), date_to=DAY + timedelta(days=2),
                           tz=TZ)) == [number["second"]]
    assert _numbers(search(db.session, date_from=DAY + timedelta(days=3), tz=TZ)) == [number["third"]]
    assert _numbers(search(db.session, status="partially_paid")) == []
    assert _numbers(search(db.session, status="paid")) == [number["first"]]
    page = search(db.session, limit=2, offset=2)
    assert page.total == 3 and page.pages == 2 and _numbers(page) == [number["first"]]


def test_search_page_filters_paginates_and_links(app, db, invoices, login_as):
    browser = login_as("receptionist")
    browser.get("/clinic/language/vi")
    page = browser.get("/billing/invoices?patient=nguyen+van+an&date_from=10/03/2026&date_to=10/03/2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'href="/cashier/invoice/{invoices["first"]}"' in html
    assert f'/cashier/invoice/{invoices["third"]}"' not in html and "Trần Thị Bình" not in html
    assert f'/billing/patient/{db.session.get(Invoice, invoices["first"]).patient_id}/history' in html
    reads = db.session.execute(select(AuditEvent).where(AuditEvent.action == "read", AuditEvent.entity == "Invoice",
                                                        AuditEvent.user_id == user_id(app, "receptionist"))).scalars()
    assert [str(invoices["first"]) in (event.details or "") for event in reads] == [True]  # the list read, audited
    bad = browser.get("/billing/invoices?date_from=32/13/2026")
    assert bad.status_code == 422 and "has-error" in bad.get_data(as_text=True)


def test_payment_history_newest_first_with_refunds(app, db, invoices, login_as, clinic):
    entries = cashier_day.patient_payment_history(db.session, clinic.patient)
    assert [(e.kind, e.amount) for e in entries] == [("refund", 50000), ("payment", 300000)]
    assert cashier_day.patient_payment_history(db.session, invoices["other"]) == []
    html = login_as("cashier").get(f"/billing/patient/{clinic.patient}/history").get_data(as_text=True)
    assert html.index('data-kind="refund"') < html.index('data-kind="payment"') and "Khách trả lại" in html
    assert login_as("cashier").get("/billing/patient/999999/history").status_code == 404


def test_csv_export_has_a_bom_vietnamese_names_and_plain_amounts(app, db, invoices, login_as):
    browser = login_as("cashier")
    response = browser.get("/billing/invoices.csv?patient=nguyen+van+an")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 3 and rows[0][0] == "Number"
    first = next(row for row in rows if row[0] == db.session.get(Invoice, invoices["first"]).number)
    assert first[1] == "10/03/2026" and first[3] == "Nguyễn Văn An"
    assert first[5:] == ["300000", "0", "0", "300000", "300000", "50000", "0"]
    assert closes(db) == 0  # a GET that changes nothing


def test_csv_neutralises_formulas(app, db, clinic):
    evil = patient(db, "=HYPERLINK(\"http://x\",\"Bấm\")")
    bill = invoice(db, evil, 1000)
    text = cashier_day.invoices_csv([db.session.get(Invoice, bill)], TZ)
    row = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1]
    assert row[3].startswith("'=HYPERLINK")
    assert [cashier_day.safe_cell(v) for v in ("+1", "-2+3", "@SUM(A1)", "Lê", "12")] == \
        ["'+1", "'-2+3", "'@SUM(A1)", "Lê", "12"]


# ---- who sees what ------------------------------------------------------------------------------

PAGES = ("/billing/day", "/billing/invoices", "/billing/invoices.csv", "/billing/close")


@pytest.mark.parametrize("role", ["cashier", "receptionist", "manager"])
def test_billing_staff_see_the_back_office(app, db, clinic, login_as, role):
    browser = login_as(role)
    for url in (*PAGES, f"/billing/patient/{clinic.patient}/history"):
        assert browser.get(url).status_code == 200, url
    menu = browser.get("/billing/day").get_data(as_text=True)
    assert "Cashier&#39;s day" in menu or "Cashier's day" in menu
    assert "End-of-day close" in menu and "Invoice search" in menu


@pytest.mark.parametrize("role", ["doctor", "pharmacist"])
def test_clinical_staff_do_not(app, db, clinic, login_as, role):
    browser = login_as(role)
    for url in (*PAGES, f"/billing/patient/{clinic.patient}/history"):
        assert browser.get(url).status_code == 403, url
    assert browser.post("/billing/close", data={"counted_cash": "0"}).status_code == 403
    assert closes(db) == 0
