"""The pharmacy in a real browser (Debian's headless Chromium): a pharmacist finds an issued
prescription in the dispensing queue, looks at the FEFO plan, dispenses it and sees the stock go
down; on a desktop (1280 px) and a phone's width (390 px), in English and in Vietnamese."""
from __future__ import annotations

import pytest

from tests.pharmacy_helpers import batch, medicine, prescription, stock_of

TEXT = {"en": {"plan": "Show plan", "dispense": "Dispense", "done": "Dispensed 5 units."},
        "vi": {"plan": "Xem kế hoạch", "dispense": "Cấp phát", "done": "Đã cấp phát 5 đơn vị."}}


def _no_overflow(page) -> None:
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_pharmacist_dispenses_from_the_queue_and_stock_goes_down(db, clinic, page_as, width, lang):
    med = medicine(db, "Amoxicillin")
    early, late = batch(db, med, 3, 100), batch(db, med, 40, 400)
    pid = prescription(db, clinic, (med, 5))
    page = page_as("pharmacist", width=width)
    page.goto(f"{page.base_url}/clinic/language/{lang}?next=/pharmacy/queue")
    page.goto(f"{page.base_url}/pharmacy/queue")
    row = page.locator(f"tr[data-prescription='{pid}']")
    assert row.locator(".in-stock").inner_text() == "43"
    _no_overflow(page)
    row.get_by_role("link").click()
    page.wait_for_load_state()
    assert page.locator("td.in-stock").inner_text() == "43"
    page.get_by_role("button", name=TEXT[lang]["plan"]).click()
    page.wait_for_load_state()
    assert page.locator("#plan tbody tr").count() == 2  # 3 from the first-expiring lot, 2 from the next
    _no_overflow(page)
    page.locator("#confirm").click()
    page.wait_for_load_state()
    assert TEXT[lang]["done"] in page.content()
    assert page.locator("td.in-stock").inner_text() == "38"
    assert (stock_of(db, early), stock_of(db, late)) == (0, 38)
    page.goto(f"{page.base_url}/pharmacy/queue")
    assert page.locator(f"tr[data-prescription='{pid}']").count() == 0


@pytest.mark.parametrize("width", [1280, 390])
def test_medicine_page_draws_its_usage_chart_and_the_dashboard_fits(db, clinic, page_as, width):
    """plotly's bundle is served by the app (no CDN; the page's CSP allows no inline script) and
    draws the daily use; the dashboard and stock list fit a phone's width."""
    from app.services import dispensing
    from tests.pharmacy_helpers import NOW

    med = medicine(db, "Paracetamol", reorder_level=100)
    batch(db, med, 60, 30)
    dispensing.dispense_prescription(db.session, prescription(db, clinic, (med, 12)), None, clinic.user_id, NOW)
    page = page_as("pharmacist", width=width)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{page.base_url}/pharmacy/medicine/{med}")
    page.wait_for_selector("#usage-chart .main-svg", timeout=15000)
    _no_overflow(page)
    assert not errors, errors
    for path in ("/pharmacy/dashboard", "/pharmacy/stock?below=1", "/pharmacy/receive"):
        page.goto(page.base_url + path)
        _no_overflow(page)
