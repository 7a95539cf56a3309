"""Coming back from VNPay in a real browser (Debian's headless Chromium): the payer lands on the
return page, is told the payment is being confirmed, VNPay's IPN arrives over HTTP, and the page
then says it was received; a forged return shows an error. Desktop (1280 px) and phone (390 px),
English and Vietnamese."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests

from tests.vnpay_helpers import Started, ipn_params, start, switch_on, url_params

TEXT = {"en": {"confirming": "Payment being confirmed", "received": "Payment received",
               "invalid": "Payment details not verified"},
        "vi": {"confirming": "Thanh toán đang được xác nhận", "received": "Đã nhận thanh toán",
               "invalid": "Không xác minh được thông tin thanh toán"}}


@pytest.fixture
def started(app, db, clinic, monkeypatch) -> Started:
    switch_on(app, monkeypatch)
    return start(app, db, clinic)


def _no_overflow(page) -> None:
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_payer_returns_and_sees_the_payment_confirmed(db, browser_engine, live_server, started, width, lang,
                                                      tmp_path):
    reference = url_params(started.url)["vnp_TxnRef"]
    signed = ipn_params(reference, started.total)
    context = browser_engine.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{live_server}/clinic/language/{lang}?next=/clinic/")
        page.goto(f"{live_server}/pay/vnpay/return?{urlencode(signed)}")
        assert page.locator("h1").inner_text() == TEXT[lang]["confirming"]
        assert page.locator(".vnpay-result").get_attribute("data-state") == "confirming"
        _no_overflow(page)
        page.screenshot(path=str(tmp_path / f"vnpay-confirming-{lang}-{width}.png"), full_page=True)

        answer = requests.get(f"{live_server}/webhooks/vnpay/ipn", params=signed, timeout=30)
        assert answer.json() == {"RspCode": "00", "Message": "Confirm Success"}
        page.reload()
        assert page.locator("h1").inner_text() == TEXT[lang]["received"]
        assert "HD" in page.locator(".vnpay-result").inner_text()
        _no_overflow(page)
        page.screenshot(path=str(tmp_path / f"vnpay-received-{lang}-{width}.png"), full_page=True)

        page.goto(f"{live_server}/pay/vnpay/return?{urlencode({**signed, 'vnp_Amount': '100'})}")
        assert page.locator("h1").inner_text() == TEXT[lang]["invalid"]
        _no_overflow(page)
        page.screenshot(path=str(tmp_path / f"vnpay-invalid-{lang}-{width}.png"), full_page=True)
    finally:
        context.close()
