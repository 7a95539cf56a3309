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


def _close_form(html: str) -> dict[str, str]:
    """The hidden fields of the close form on ``html`` (its CSRF token, the close it replaces, the
    difference the cashier is asked to confirm)."""
    import re

    fields = {}
    for name in ("csrf_token", "replaces", "confirmed_difference"):
        match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
        assert match, name
        value = re.search(r'value="([^"]*)"', match.group(0))
        fields[name] = value.group(1) if value else ""
    return fields


def test_cash_taken_after_the_close_is_counted_apart_by_cashier_and_day(app, db, clinic):
    cashier, desk = user_id(app, "cashier"), user_id(app, "receptionist")
    bill = invoice(db, clinic.patient, 3000000)
    pay(db, bill, 150000, cashier, at(DAY, "09:00"))
    assert cashier_day.closed_today(db.session, cashier, DAY, TZ) is None
    close = cashier_day.close_day(db.session, cashier, DAY, "150000", None, at(DAY, "17:00"), TZ)
    assert cashier_day.closed_today(db.session, cashier, DAY, TZ).id == close.id
    assert cashier_day.closed_today(db.session, cashier, DAY + timedelta(days=1), TZ) is None
    assert cashier_day.closed_today(db.session, desk, DAY, TZ) is None
    assert cashier_day.cash_after_close(db.session, close, TZ) == 0
    late = pay(db, bill, 191063, cashier, at(DAY, "17:30"))
    pay(db, bill, 40000, cashier, at(DAY, "17:40"), method="bank_transfer")  # not cash
    pay(db, bill, 70000, desk, at(DAY, "17:45"))  # another drawer
    pay(db, bill, 99000, cashier, at(DAY + timedelta(days=1), "08:00"))  # the next day
    refund(db, late, 1063, cashier, at(DAY, "18:00"))
    assert cashier_day.cash_after_close(db.session, close, TZ) == 190000
    day = cashier_day.day_takings(db.session, DAY, TZ)
    assert day.after_close == {close.id: 190000}
    assert {row.key: row.cash_net for row in day.by_cashier}[cashier] == 340000  # 150.000 + 190.000 in the drawer


def test_a_new_close_replaces_the_days_close_and_the_audit_keeps_the_old_figures(app, db, clinic):
    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 3000000)
    pay(db, bill, 150000, cashier, at(DAY, "09:00"))
    first = cashier_day.close_day(db.session, cashier, DAY, "150000", "đủ", at(DAY, "17:00"), TZ)
    seen = cashier_day.close_version(first)
    pay(db, bill, 191063, cashier, at(DAY, "17:30"))
    with pytest.raises(Conflict):  # a second close that does not say which close it replaces
        cashier_day.close_day(db.session, cashier, DAY, "341063", None, at(DAY, "18:00"), TZ)
    again = cashier_day.close_day(db.session, cashier, DAY, "341000", "thiếu 63 đồng", at(DAY, "18:00"), TZ,
                                  replaces=seen)
    assert again.id == first.id and closes(db) == 1
    stored = db.session.execute(select(CashClose)).scalar_one()
    assert (stored.expected_cash, stored.counted_cash, stored.difference, stored.note) == \
        (341063, 341000, -63, "thiếu 63 đồng")
    assert stored.closed_at == at(DAY, "18:00")
    assert cashier_day.cash_after_close(db.session, stored, TZ) == 0
    with pytest.raises(Conflict) as stale:  # the other tab still shows the first close
        cashier_day.close_day(db.session, cashier, DAY, "341063", None, at(DAY, "18:05"), TZ, replaces=seen)
    assert stale.value.status == 409
    with pytest.raises(Conflict):  # nothing to replace on another day
        cashier_day.close_day(db.session, cashier, DAY - timedelta(days=1), "0", None, at(DAY, "18:05"), TZ,
                              replaces=seen)
    db.session.rollback()
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "cash_reclosed")).scalar_one()
    import json

    details = json.loads(event.details)
    assert (event.entity_id, event.user_id) == (str(first.id), cashier)
    assert details["previous"]["expected"].startswith("150000") and details["previous"]["note"] == "đủ"
    assert details["previous"]["counted"].startswith("150000")
    assert details["expected"].startswith("341063") and details["counted"].startswith("341000")


def test_cashier_sees_cash_taken_after_the_close_and_closes_again(app, db, clinic, login_as):
    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 3000000)
    pay(db, bill, 150000, cashier, utcnow())
    browser = login_as("cashier")
    browser.get("/clinic/language/vi")
    page = browser.get("/billing/close").get_data(as_text=True)
    assert _close_form(page)["replaces"] == ""
    done = browser.post("/billing/close", data={**_close_form(page), "counted_cash": "150.000"})
    assert done.status_code == 302
    assert 'id="day-closed-warning"' in browser.get(f"/cashier/invoice/{bill}").get_data(as_text=True)
    pay(db, bill, 191063, cashier, utcnow())

    page = browser.get("/billing/close").get_data(as_text=True)
    warning = page[page.index('id="after-close"'):page.index('id="close-result"')]
    assert "Tiền mặt thu sau khi chốt: 191.063" in warning and "341.063" in warning
    assert 'id="close-expected">150.000' in page  # the close as it was made
    day = browser.get("/billing/day").get_data(as_text=True)
    closes_part = day[day.index("billing-after-close"):day.index('id="refunds"')]
    assert closes_part.count("Tiền mặt thu sau khi chốt: 191.063") == 2  # above the list and in the close's row

    form = _close_form(page)
    assert form["replaces"]
    stale = browser.post("/billing/close", data={**form, "replaces": "", "counted_cash": "341.063"})
    assert stale.status_code == 409  # the old form of a tab opened before the first close
    again = browser.post("/billing/close", data={**form, "counted_cash": "341.063"}, follow_redirects=True)
    shown = again.get_data(as_text=True)
    assert again.status_code == 200 and "Đã chốt quỹ lại" in shown
    assert 'id="after-close"' not in shown and 'id="close-expected">341.063' in shown
    assert closes(db) == 1
    stored = db.session.execute(select(CashClose)).scalar_one()
    assert (stored.expected_cash, stored.counted_cash, stored.difference) == (341063, 341063, 0)
    assert browser.post("/billing/close", data={**form, "counted_cash": "341.063"}).status_code == 409  # used


def test_counter_warns_only_the_cashier_who_closed(app, db, clinic, login_as):
    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 300000)
    counter = login_as("cashier").get(f"/cashier/invoice/{bill}").get_data(as_text=True)
    assert 'id="day-closed-warning"' not in counter
    cashier_day.close_day(db.session, cashier, cashier_day.local_day(utcnow(), TZ), "0", None, utcnow(), TZ)
    browser = login_as("cashier")
    browser.get("/clinic/language/vi")
    counter = browser.get(f"/cashier/invoice/{bill}").get_data(as_text=True)
    banner = counter[counter.index('id="day-closed-warning"'):]
    assert "Bạn đã chốt quỹ lúc" in banner and 'href="/billing/close"' in banner[:banner.index("</div>")]
    other = login_as("receptionist").get(f"/cashier/invoice/{bill}").get_data(as_text=True)
    assert 'id="day-closed-warning"' not in other


@pytest.mark.parametrize(("expected", "counted", "large"), [
    (150000, 250000, False),     # 100.000 over: the floor itself
    (150000, 250001, True),
    (150000, 49999, True),       # short by more than 100.000
    (2000000, 2200000, False),   # a tenth of 2.000.000
    (2000000, 1799999, True),
    (0, 1500000, True),
])
def test_large_differences(expected, counted, large):
    assert cashier_day.is_large_difference(Decimal(counted - expected), Decimal(expected)) is large


def test_a_large_difference_needs_a_note_and_a_confirmation(app, db, clinic):
    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 3000000)
    pay(db, bill, 150000, cashier, at(DAY, "09:00"))
    now = at(DAY, "17:00")
    with pytest.raises(cashier_day.LargeDifference) as asked:
        cashier_day.close_day(db.session, cashier, DAY, "1500000", None, now, TZ)
    assert asked.value.difference == 1350000 and asked.value.status == 422
    assert "over" in asked.value.message and "1,350,000" in asked.value.message
    assert asked.value.note_error and "note" in asked.value.note_error
    with pytest.raises(FieldErrors) as no_note:
        cashier_day.close_day(db.session, cashier, DAY, "1500000", "  ", now, TZ, confirmed_difference="1350000")
    assert set(no_note.value.errors) == {"note"}
    with pytest.raises(cashier_day.LargeDifference) as other:  # confirmed another figure
        cashier_day.close_day(db.session, cashier, DAY, "1500000", "x", now, TZ, confirmed_difference="135000")
    assert other.value.note_error is None
    with pytest.raises(cashier_day.LargeDifference) as short:
        cashier_day.close_day(db.session, cashier, DAY, "0", "x", now, TZ)
    assert "short" in short.value.message and short.value.difference == -150000
    assert closes(db) == 0
    close = cashier_day.close_day(db.session, cashier, DAY, "1500000", "tiền két hôm qua", now, TZ,
                                  confirmed_difference="1350000")
    assert close.difference == 1350000 and close.note == "tiền két hôm qua"


def test_cashier_confirms_a_large_difference_in_vietnamese(app, db, clinic, login_as):
    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 3000000)
    pay(db, bill, 150000, cashier, utcnow())
    browser = login_as("cashier")
    browser.get("/clinic/language/vi")
    form = _close_form(browser.get("/billing/close").get_data(as_text=True))
    asked = browser.post("/billing/close", data={**form, "counted_cash": "1.500.000"})
    html = asked.get_data(as_text=True)
    assert asked.status_code == 422 and closes(db) == 0
    confirm = html[html.index('id="close-confirm"'):]
    assert "Số đếm được thừa 1.350.000" in confirm and "Xác nhận?" in confirm
    assert 'value="1.500.000"' in html  # the count as typed, kept
    note_group = html[html.rindex('<div class="form-group', 0, html.index('name="note"')):]
    assert "has-error" in note_group[:200] and "ghi chú" in note_group
    confirming = _close_form(html)
    assert confirming["confirmed_difference"] == "1350000"
    # the note typed and confirmed: saved
    done = browser.post("/billing/close", data={**confirming, "counted_cash": "1.500.000",
                                                "note": "Tiền két hôm qua chưa nộp"}, follow_redirects=True)
    assert done.status_code == 200 and closes(db) == 1
    stored = db.session.execute(select(CashClose)).scalar_one()
    assert (stored.counted_cash, stored.difference) == (1500000, 1350000)


def test_a_corrected_count_after_the_question_is_asked_again(app, db, clinic, login_as):
    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 3000000)
    pay(db, bill, 150000, cashier, utcnow())
    browser = login_as("cashier")
    form = _close_form(browser.get("/billing/close").get_data(as_text=True))
    asked = browser.post("/billing/close", data={**form, "counted_cash": "1500000"}).get_data(as_text=True)
    assert "Counted is ₫1,350,000 over what is expected. Confirm?" in asked
    # typed 900000 instead: another large difference, asked about again, not saved
    again = browser.post("/billing/close", data={**_close_form(asked), "counted_cash": "900000", "note": "?"})
    assert again.status_code == 422 and "₫750,000 over" in again.get_data(as_text=True) and closes(db) == 0
    # the right count: saved at once
    fixed = browser.post("/billing/close", data={**_close_form(asked), "counted_cash": "150000"})
    assert fixed.status_code == 302 and closes(db) == 1


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
    assert "End-of-day close" in menu and "Invoice search" in menu and "Close history" in menu


def test_the_billing_menu_names_the_close_and_its_history_apart_in_vietnamese(app, db, login_as):
    browser = login_as("cashier")
    browser.get("/clinic/language/vi")
    menu = browser.get("/billing/day").get_data(as_text=True)
    assert "Chốt quỹ cuối ngày" in menu and "Lịch sử chốt quỹ" in menu and "Chốt ca cuối ngày" not in menu


@pytest.mark.parametrize("role", ["doctor", "pharmacist"])
def test_clinical_staff_do_not(app, db, clinic, login_as, role):
    browser = login_as(role)
    for url in (*PAGES, f"/billing/patient/{clinic.patient}/history"):
        assert browser.get(url).status_code == 403, url
    assert browser.post("/billing/close", data={"counted_cash": "0"}).status_code == 403
    assert closes(db) == 0
