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


@pytest.mark.parametrize("width", [1280, 390])
def test_cash_after_the_close_is_flagged_and_a_large_count_is_confirmed(app, db, clinic, page_as, width):
    from app.models import CashClose

    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 3000000)
    pay(db, bill, 150000, cashier, utcnow())
    page = page_as("cashier", width=width)
    page.goto(f"{page.base_url}/clinic/language/vi?next=/billing/close")
    page.goto(f"{page.base_url}/billing/close")
    page.fill("input[name=counted_cash]", "1.500.000")
    page.get_by_role("button", name="Chốt ca của tôi").click()
    page.wait_for_load_state()
    confirm = page.locator("#close-confirm")
    assert confirm.is_visible() and "thừa 1.350.000" in confirm.inner_text()
    assert page.locator(".has-error input[name=note]").count() == 1  # a difference this large needs a note
    _no_overflow(page)
    page.fill("input[name=counted_cash]", "150.000")  # a typing mistake: the right count
    page.get_by_role("button", name="Xác nhận và chốt quỹ").click()
    page.wait_for_load_state()
    assert page.locator("#close-counted").inner_text().startswith("150.000")

    pay(db, bill, 191063, cashier, utcnow())  # cash taken after the close
    page.goto(f"{page.base_url}/cashier/invoice/{bill}")
    assert page.locator("#day-closed-warning").is_visible()
    _no_overflow(page)
    page.goto(f"{page.base_url}/billing/close")
    assert "191.063" in page.locator("#after-close").inner_text()
    _no_overflow(page)
    page.fill("input[name=counted_cash]", "341.063")
    page.get_by_role("button", name="Chốt quỹ lại").click()
    page.wait_for_load_state()
    assert page.locator("#after-close").count() == 0
    assert page.locator("#close-expected").inner_text().startswith("341.063")
    db.session.rollback()
    assert db.session.query(CashClose).one().counted_cash == 341063


@pytest.mark.parametrize("width", [1280, 390])
def test_the_days_totals_keep_their_labels(app, db, clinic, page_as, width):
    from tests.test_billing_office import refund

    cashier = user_id(app, "cashier")
    bill = invoice(db, clinic.patient, 300000)
    paid = pay(db, bill, 300000, cashier, utcnow())
    refund(db, paid, 50000, cashier, utcnow())
    page = page_as("cashier", width=width)
    page.goto(f"{page.base_url}/clinic/language/vi?next=/billing/day")
    page.goto(f"{page.base_url}/billing/day")
    total = page.locator("#by-method tfoot .total-received")
    label = total.evaluate("cell => getComputedStyle(cell, '::before').content")
    header = page.locator("#by-method thead")
    if width < 768:  # a card: the column heads are hidden, each figure says what it is
        assert not header.is_visible() and label == '"Đã nhận"'
        assert page.locator("#by-method tfoot .total-net").evaluate(
            "cell => getComputedStyle(cell, '::before').content") != "none"
    else:
        assert header.is_visible() and label in ("none", "normal")
    assert total.inner_text().strip().startswith("300.000")
    _no_overflow(page)
