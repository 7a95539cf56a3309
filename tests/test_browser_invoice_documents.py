"""The printable invoice in a real browser (Debian's headless Chromium): a cashier opens it at
1280 and 390 px, in English and in Vietnamese; the sheet fits the phone without sideways
scrolling, the figures and the words are there, the VietQR code is drawn while something is owed,
and "Send by e-mail" comes back with the answer. Screenshots go to ``$SCREENSHOT_DIR`` when set."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.test_invoice_documents import (  # noqa: F401  (clinic_config, smtp_server: the fixtures)
    EMAIL,
    NAME,
    WORDS,
    _invoice,
    _number,
    _paid_and_refunded,
    _patient,
    clinic_config,
    smtp_server,
)

TEXT = {"en": {"status": "Unpaid", "total": "₫225,000", "sent": "sent to the patient by e-mail",
               "to": f"E-mail goes to: {EMAIL}", "none": "No e-mail address", "discount": "Discount (10%)",
               "net": "₫175,000", "bank": "Bank: Vietcombank"},
        "vi": {"status": "Chưa thanh toán", "total": "225.000 ₫", "sent": "Đã gửi hóa đơn",
               "to": f"E-mail gửi tới: {EMAIL}", "none": "Chưa có địa chỉ e-mail", "discount": "Giảm giá (10%)",
               "net": "175.000 ₫", "bank": "Ngân hàng: Vietcombank"}}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_cashier_prints_and_sends_the_invoice(db, clinic, clinic_config, page_as, tmp_path, monkeypatch,  # noqa: F811
                                                  smtp_server, width, lang):  # noqa: F811
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    for key, value in {"VIETQR_BANK_BIN": "970436", "VIETQR_ACCOUNT_NO": "0071000123456",
                       "VIETQR_ACCOUNT_NAME": "PHONG KHAM AN BINH", "VIETQR_BANK_NAME": ""}.items():
        monkeypatch.setitem(clinic.app.config, key, value)
    invoice = _invoice(clinic.app, _patient(clinic))
    number = _number(clinic.app, invoice)
    page = page_as("cashier", width=width)
    page.goto(f"{page.base_url}/clinic/language/{lang}?next=/invoices/{invoice}/print")
    if f"/invoices/{invoice}/print" not in page.url:
        page.goto(f"{page.base_url}/invoices/{invoice}/print")

    def shot(name: str, fits: bool = True) -> None:
        page.screenshot(path=str(shots / f"invoice-{lang}-{width}-{name}.png"), full_page=True)
        if not fits:
            return
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    assert page.locator("#invoice-number").inner_text() == number
    assert page.locator("#patient-name").inner_text() == NAME
    assert page.locator("#invoice-status").inner_text() == TEXT[lang]["status"]
    assert page.locator("#invoice-total").inner_text().replace("\xa0", " ") == TEXT[lang]["total"]
    assert WORDS in page.locator("#invoice-words").inner_text()
    assert page.locator("#invoice-qr svg").is_visible()
    box = page.locator("#invoice-qr svg").bounding_box()
    assert box and box["width"] >= 120 and abs(box["width"] - box["height"]) < 2  # big enough to scan, square
    assert TEXT[lang]["to"] in page.locator("#email-recipient").inner_text()
    assert TEXT[lang]["bank"] in page.locator("#invoice-qr").inner_text()  # the bank named from its BIN
    assert TEXT[lang]["discount"] in page.locator("#invoice-sheet").inner_text()
    shot("1-print")

    page.click("#email-button")
    page.wait_for_load_state()
    assert f"/invoices/{invoice}/print" in page.url
    assert TEXT[lang]["sent"] in page.locator(".flash").inner_text() + page.locator("#email-state").inner_text()
    shot("2-sent")

    page.emulate_media(media="print")
    assert not page.locator(".toolbar").is_visible()
    shot("3-as-printed", fits=False)  # paper is A4 wide, not a phone
    page.emulate_media(media="screen")

    refunded, _number_ = _paid_and_refunded(clinic)  # paid in two, 50 000 given back
    page.goto(f"{page.base_url}/invoices/{refunded}/print")
    assert page.locator("#invoice-refunds").is_visible()
    assert "Thu nhầm phí xét nghiệm" in page.locator("#invoice-refunds").inner_text()
    assert page.locator("#invoice-net").inner_text().replace("\xa0", " ") == TEXT[lang]["net"]
    shot("4-refunded")

    nowhere = _invoice(clinic.app, _patient(clinic, email=None))
    page.goto(f"{page.base_url}/invoices/{nowhere}/print")
    assert page.locator("#email-button").is_disabled()
    assert page.locator("#email-recipient").inner_text().strip() == TEXT[lang]["none"]
    shot("5-no-address")

    from app.extensions import db as _db
    from app.services import billing

    with clinic.app.app_context():
        billing.void_invoice(_db.session, nowhere, "Lập trùng hóa đơn", None, datetime.now(timezone.utc))
    page.goto(f"{page.base_url}/invoices/{nowhere}/print")
    assert "VOID / ĐÃ HỦY" in page.locator("#invoice-void").inner_text()
    assert "Lập trùng hóa đơn" in page.locator("#invoice-void").inner_text()
    assert page.locator("#email-button").count() == 0 and page.locator("#invoice-balance").count() == 0
    shot("6-void")
