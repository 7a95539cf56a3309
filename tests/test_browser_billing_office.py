"""The end-of-day close in a real browser (Debian's headless Chromium): a cashier who took cash
today types the counted cash the Vietnamese way ("1.500.000") and sees the drawer over; on a
desktop (1280 px) and a phone's width (390 px). The back-office pages fit a phone."""
from __future__ import annotations

import pytest

from app.models.types import utcnow
from tests.test_billing_office import invoice, pay, user_id


def _no_overflow(page) -> None:
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1


@pytest.mark.parametrize("width", [1280, 390])
def test_cashier_closes_the_day_typing_vietnamese_amounts(app, db, clinic, page_as, width):
    bill = invoice(db, clinic.patient, 2000000)
    pay(db, bill, 1450000, user_id(app, "cashier"), utcnow())
    page = page_as("cashier", width=width)
    page.goto(f"{page.base_url}/clinic/language/vi?next=/billing/close")
    page.goto(f"{page.base_url}/billing/close")
    assert page.locator("#expected-cash").inner_text().startswith("1.450.000")
    _no_overflow(page)
    page.fill("input[name=counted_cash]", "1.000,5")
    page.get_by_role("button", name="Chốt ca của tôi").click()
    page.wait_for_load_state()
    assert page.locator(".has-error .help-block").count() == 1  # a fraction of a đồng: refused
    page.fill("input[name=counted_cash]", "1.500.000")
    page.fill("input[name=note]", "Thừa tiền lẻ")
    page.get_by_role("button", name="Chốt ca của tôi").click()
    page.wait_for_load_state()
    difference = page.locator("#close-difference .close-difference")
    assert difference.get_attribute("data-kind") == "over"
    assert difference.inner_text().startswith("Thừa 50.000")
    assert page.locator("#close-counted").inner_text().startswith("1.500.000")
    _no_overflow(page)
    page.goto(f"{page.base_url}/billing/day")
    assert page.locator("#closes .close-difference").get_attribute("data-kind") == "over"
    _no_overflow(page)
    page.goto(f"{page.base_url}/billing/invoices")
    assert page.locator(f"#invoices tr[data-invoice='{bill}']").count() == 1
    _no_overflow(page)
