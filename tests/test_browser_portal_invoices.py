"""The patient's invoices in a real browser (Debian's headless Chromium): logs in, opens My invoices
from the site's navigation, sees what is owed and the payment history, opens an invoice, sees the
ways to pay the clinic has set up (card, VNPay, the VietQR transfer), downloads the PDF, pays by
card and comes back to the "confirmation may take a moment" notice; a provider that cannot start
is told on the page. On a desktop and a phone's width, in English and in Vietnamese. Stripe, VNPay
and the PDF are stand-ins (no network); the VietQR code is the real one. Screenshots go to
``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_portal_invoices import PAY_CONFIG, bills  # noqa: F401  (the fixture)

TEXT = {
    "en": {"invoices": "My invoices", "history": "Payment history", "partly": "Partly paid", "pdf": "Download PDF",
           "notice": "confirmation may take a moment", "refused": "Payment by VNPay is not available just now",
           "cash": "Cash at the clinic", "net": "Net received", "reason": "Reason: Thu thừa"},
    "vi": {"invoices": "Hóa đơn của tôi", "history": "Lịch sử thanh toán", "partly": "Đã thanh toán một phần",
           "pdf": "Tải PDF", "notice": "có thể mất một lát", "refused": "Thanh toán qua VNPay hiện chưa dùng được",
           "cash": "Tiền mặt tại phòng khám", "net": "Thực nhận", "reason": "Lý do: Thu thừa"},
}
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_patient_sees_their_invoices_downloads_one_and_pays(app, db, page_as, bills, monkeypatch, tmp_path,  # noqa: F811
                                                              width, lang):
    from app.models import Invoice
    from app.services import invoice_pdf, stripe_gateway, vnpay
    from app.services.errors import ProviderUnavailable

    for key, value in {**PAY_CONFIG, "VIETQR_BANK_NAME": ""}.items():  # the bank named from its BIN
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setattr(invoice_pdf, "render_pdf", lambda session, invoice_id, clinic, billing, language="vi":
                        b"%PDF-1.4 test " + language.encode())
    page = page_as(bills.owner_login, width=width)
    base = page.base_url
    checkouts = []

    def start_checkout(session, invoice_id, amount, actor_id, now, billing, **kw):
        checkouts.append((invoice_id, amount))
        return kw["success_url"].replace("http://localhost", base)  # as if Stripe took the card and sent them back

    def refuse(*args, **kwargs):
        raise ProviderUnavailable("connection refused")

    monkeypatch.setattr(stripe_gateway, "start_checkout", start_checkout)
    monkeypatch.setattr(vnpay, "start_payment", refuse)
    older = db.session.get(Invoice, bills.older)
    number, owed = older.number, older.total - older.amount_paid
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    text = TEXT[lang]

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"portal-invoices-{lang}-{width}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    page.goto(f"{base}/clinic/language/{lang}?next=/clinic/me/appointments")
    page.click(f".pub-nav a:has-text('{text['invoices']}')")
    page.wait_for_url("**/clinic/me/invoices")
    assert page.locator(".pub-invoice").count() == 2
    assert page.locator(".pub-invoice").first.get_attribute("data-id") == str(bills.newer)  # newest first
    row = page.locator(f'.pub-invoice[data-id="{bills.older}"]')
    assert text["partly"] in row.inner_text()
    assert page.locator("#history h2").inner_text() == text["history"]
    assert page.locator("#history .pub-movement").count() == 2
    assert text["cash"] in page.locator("#history").inner_text()
    shot("1-list")

    row.locator(f"a:has-text('{number}')").click()
    page.wait_for_url(f"**/clinic/me/invoices/{bills.older}")
    assert page.locator(".pub-inv-line").count() == 2
    assert page.locator(".pub-pay-card").is_visible() and page.locator(".pub-pay-vnpay").is_visible()
    qr = page.locator(".pub-inv-qr svg")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 180  # big enough for a phone's camera
    assert page.locator(".pub-inv-reference").inner_text() == number
    assert "0011004455667" in page.locator(".pub-inv-account").inner_text()
    assert "Vietcombank" in page.locator(".pub-inv-account").inner_text()
    assert text["net"] in page.locator(".pub-inv-totals").inner_text()
    assert page.locator(".pub-inv-net").is_visible()
    assert text["reason"] in page.locator('#payments .pub-movement[data-kind="refund"]').inner_text()
    shot("2-invoice")

    with page.expect_download() as download_info:
        page.click(f"a:has-text('{text['pdf']}')")
    download = download_info.value
    assert download.suggested_filename == f"{number}.pdf"
    assert Path(download.path()).read_bytes() == b"%PDF-1.4 test " + lang.encode()

    page.click(".pub-pay-vnpay")
    page.wait_for_url(f"**/clinic/me/invoices/{bills.older}")
    assert text["refused"] in page.locator(".alert-danger").inner_text()
    shot("3-refused")

    page.click(".pub-pay-card")
    page.wait_for_url(f"**/clinic/me/invoices/{bills.older}?paid=1")
    assert text["notice"] in page.locator(".pub-inv-notice").inner_text()
    assert checkouts == [(bills.older, owed)]
    assert page.locator(".pub-pay-card").count() == 0  # no second payment while the first is confirmed
    shot("4-back-from-card")
    page.click(".pub-inv-notice a")  # "Check again": still owed until the provider's webhook says otherwise
    page.wait_for_url(f"**/clinic/me/invoices/{bills.older}")
    assert page.locator(".pub-pay-card").is_visible()
