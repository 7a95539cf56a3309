"""The cashier's counter in a real browser (Debian's headless Chromium): a doctor signs a visit, so
the patient's invoice fills itself with the booked service; at the counter the cashier opens it
from today's list, issues it, takes cash with "500.000" handed over (in Vietnamese) and sees the
change, live while typing and on the receipt; on a desktop (1280 px) and a phone (390 px), in
English and in Vietnamese. ``CASHIER_SHOTS=<folder>`` keeps screenshots of each step."""
from __future__ import annotations

import os
from datetime import datetime, time, timedelta, timezone

import pytest

from tests.desk_helpers import login_doctor

# The page's money as the browser writes it (the server's Babel and the browser's Intl agree).
TEXT = {"en": {"tendered": "500,000", "change": "₫350,000", "amount": "150,000"},
        "vi": {"tendered": "500.000", "change": "350.000 ₫", "amount": "150.000"}}


def _no_overflow(page) -> None:
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1


def _plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ").strip()


def _signed_visit(app, db, clinic) -> int:
    """The login "doctor" sees the test patient today for the clinic's service (150 000 đ) and signs
    the visit: the signature bills the visit (``billing_hooks.visit_completed``). The patient."""
    from app.models import Appointment, Diagnosis, Service
    from app.services import encounters
    from app.services.settings import ClinicSettings

    settings = ClinicSettings.from_config(app.config)
    user = app.appbuilder.sm.find_user(username="doctor")
    doctor = login_doctor(app, db, all_day=True)
    service = db.session.get(Service, clinic.service)
    service.doctors.append(doctor)
    now = datetime.now(settings.timezone)
    midnight = datetime.combine(now.date(), time.min, now.tzinfo)
    start = (midnight + (now - midnight) / 2).replace(microsecond=0)
    appointment = Appointment(patient_id=clinic.patient, doctor_id=doctor.id, service_id=clinic.service,
                              start_at=start, end_at=start + timedelta(minutes=20), status="checked_in",
                              queue_number=1, queue_date=start.date(),
                              checked_in_at=datetime.now(timezone.utc) - timedelta(minutes=5))
    db.session.add(appointment)
    db.session.commit()
    with app.test_request_context():
        encounter = encounters.start_visit(db.session, appointment.id, user, datetime.now(timezone.utc),
                                           settings=settings)
        encounters.save_draft(db.session, encounter.id, {"chief_complaint": "Ho, sốt nhẹ"}, encounter.version, user,
                              datetime.now(timezone.utc))
        db.session.add(Diagnosis(encounter_id=encounter.id, icd10_code="J06.9", text="Nhiễm trùng hô hấp trên cấp",
                                 is_primary=True))
        db.session.commit()
        encounters.sign_encounter(db.session, encounter.id, user, datetime.now(timezone.utc), settings=settings)
    return clinic.patient


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_signed_visit_is_billed_in_cash_at_the_counter(app, db, clinic, page_as, width, lang, monkeypatch):
    from app.models import Invoice

    monkeypatch.setitem(app.config, "BILLING_EMAIL_ON_ISSUE", False)
    monkeypatch.setitem(app.config, "BILLING_EMAIL_ON_PAYMENT", False)
    patient = _signed_visit(app, db, clinic)
    invoice = db.session.query(Invoice).filter_by(patient_id=patient).one()
    assert invoice.status == "draft" and [line.unit_price for line in invoice.lines] == [150000]
    shots = os.environ.get("CASHIER_SHOTS")

    def shot(name: str) -> None:
        if shots:
            page.screenshot(path=f"{shots}/{name}_{lang}_{width}.png", full_page=True)

    page = page_as("cashier", width=width)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{page.base_url}/clinic/language/{lang}?next=/cashier/")
    page.goto(f"{page.base_url}/cashier/")
    row = page.locator(f"#today tr[data-invoice='{invoice.id}']")
    assert "Nguyễn Văn An" in row.inner_text()
    _no_overflow(page)
    shot("counter")
    row.get_by_role("link").click()
    page.wait_for_load_state()
    assert page.locator("#lines tr[data-line]").count() == 1
    assert TEXT[lang]["amount"] in _plain(page.locator("#totals [data-total=total]").inner_text())
    _no_overflow(page)
    shot("draft")
    page.locator("#issue-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".invoice-status").get_attribute("data-status") == "issued"
    cash = page.locator("#cash-form")
    assert cash.locator(".cashier-amount").input_value() == TEXT[lang]["amount"]
    cash.locator(".cashier-tendered").fill(TEXT[lang]["tendered"])
    assert _plain(page.locator("#cash-change").inner_text()) == TEXT[lang]["change"]
    _no_overflow(page)
    shot("payment")
    page.locator("#take-cash").click()
    page.wait_for_load_state()
    assert "/receipt" in page.url
    assert _plain(page.locator("#receipt-change").inner_text()) == TEXT[lang]["change"]
    assert page.locator(".invoice-status").get_attribute("data-status") == "paid"
    assert page.locator(f"#documents a[href='/invoices/{invoice.id}/print']").count() == 1
    _no_overflow(page)
    shot("receipt")
    assert not errors, errors
    db.session.expire_all()
    paid = db.session.get(Invoice, invoice.id)
    assert paid.status == "paid" and len(paid.payments) == 1 and paid.payments[0].change_given == 350000


QR_TEXT = {"en": {"typed": "100,000", "caption": "QR code for ₫100,000", "too_much": "1,000,000"},
           "vi": {"typed": "100.000", "caption": "Mã QR cho 100.000 ₫", "too_much": "1.000.000"}}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_qr_follows_the_amount_and_a_void_invoice_takes_no_money(app, db, clinic, page_as, width, lang,
                                                                      monkeypatch):
    """The visit's line cannot be removed by the receptionist; the VietQR code is redrawn for the
    amount typed in the transfer tab (under the app's CSP: cashier.js, no inline script); an amount
    above what is owed hides the code and says why; a void invoice shows who voided it and why,
    with no balance, payment or e-mail."""
    from playwright.sync_api import expect

    from app.models import Invoice

    for key, value in {"BILLING_EMAIL_ON_ISSUE": False, "BILLING_EMAIL_ON_PAYMENT": False,
                       "VIETQR_BANK_BIN": "970436", "VIETQR_ACCOUNT_NO": "0071000123456",
                       "VIETQR_ACCOUNT_NAME": "PHONG KHAM AN BINH"}.items():
        monkeypatch.setitem(app.config, key, value)
    patient = _signed_visit(app, db, clinic)
    invoice = db.session.query(Invoice).filter_by(patient_id=patient).one()
    assert invoice.lines[0].source  # the visit's own line
    shots = os.environ.get("CASHIER_SHOTS")

    def shot(page, name: str) -> None:
        if shots:
            page.screenshot(path=f"{shots}/{name}_{lang}_{width}.png", full_page=True)

    reception = page_as("receptionist", width=width)
    reception.goto(f"{reception.base_url}/clinic/language/{lang}?next=/cashier/invoice/{invoice.id}")
    reception.goto(f"{reception.base_url}/cashier/invoice/{invoice.id}")
    reception.locator("tr.cashier-line-edit summary").first.click()
    assert reception.locator("tr.cashier-line-edit .cashier-remove").count() == 0
    assert reception.locator("tr.cashier-line-edit .cashier-auto-note").is_visible()
    _no_overflow(reception)
    shot(reception, "reception_draft")

    page = page_as("cashier", width=width)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{page.base_url}/clinic/language/{lang}?next=/cashier/invoice/{invoice.id}")
    page.goto(f"{page.base_url}/cashier/invoice/{invoice.id}")
    page.locator("#issue-form button[type=submit]").click()
    page.wait_for_load_state()
    page.locator("a[href='#pay-transfer']").click()
    first = page.locator("#vietqr svg").inner_html()
    page.locator("#transfer-form .cashier-transfer-amount").fill(QR_TEXT[lang]["typed"])
    expect(page.locator("#vietqr-caption")).to_contain_text("100")  # CSP: no eval, so no wait_for_function
    assert _plain(page.locator("#vietqr-caption").inner_text()) == QR_TEXT[lang]["caption"]
    assert page.locator("#vietqr svg").inner_html() != first  # a new code for the new amount
    _no_overflow(page)
    shot(page, "transfer_qr")
    assert not errors, errors
    page.locator("#transfer-form .cashier-transfer-amount").fill(QR_TEXT[lang]["too_much"])
    expect(page.locator("#vietqr")).to_be_hidden()
    assert "150" in page.locator("#vietqr-caption").inner_text()  # "from 1 to 150.000 ₫"
    shot(page, "transfer_qr_refused")
    # the browser logs the refused amount's 422 itself; nothing else went wrong
    assert [e for e in errors if "422" not in e] == [] and len(errors) <= 1, errors

    page.locator("#void summary").click()
    page.locator("#void input[name='void-reason']").fill("Nhập nhầm bệnh nhân")
    page.locator("#void button[type=submit]").click()
    page.wait_for_load_state()
    assert "Nhập nhầm bệnh nhân" in page.locator("#voided").inner_text()
    assert page.locator("[data-total=balance]").count() == 0 and page.locator("#take-payment").count() == 0
    assert page.locator("#email-button").count() == 0
    _no_overflow(page)
    shot(page, "void")
