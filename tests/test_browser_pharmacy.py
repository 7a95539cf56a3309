"""The pharmacy in a real browser (Debian's headless Chromium): a pharmacist finds an issued
prescription in the dispensing queue, looks at the FEFO plan, dispenses it and sees the stock go
down; on a desktop (1280 px) and a phone's width (390 px), in English and in Vietnamese."""
from __future__ import annotations

import pytest

from tests.pharmacy_helpers import batch, medicine, prescription, stock_of

TEXT = {"en": {"plan": "Show plan", "dispense": "Dispense", "done": "Dispensed: Amoxicillin 500 mg 5 viên."},
        "vi": {"plan": "Xem kế hoạch", "dispense": "Cấp phát", "done": "Đã cấp phát: Amoxicillin 500 mg 5 viên."}}


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
    page.goto(f"{page.base_url}/pharmacy/queue?days=all")
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


@pytest.mark.parametrize("width", [1280, 390])
def test_goods_receipt_in_vietnamese_fits_and_reads_dd_mm_yyyy(db, clinic, page_as, width, tmp_path):
    """A delivery typed with a dd/mm/yyyy expiry (a text field, not the browser's mm/dd/yyyy picker);
    its receipt fits a phone's width (the amount column was cut off) and dates read dd/mm/yyyy."""
    import os
    from datetime import date, timedelta

    from app.models import Supplier

    supplier = Supplier(name="Dược Hậu Giang", lead_time_days=5)
    db.session.add(supplier)
    db.session.commit()
    med = medicine(db, "Amoxicillin")
    page = page_as("pharmacist", width=width)
    page.goto(f"{page.base_url}/clinic/language/vi?next=/pharmacy/receive")
    page.goto(f"{page.base_url}/pharmacy/receive")
    expiry = (date.today() + timedelta(days=500)).strftime("%d/%m/%Y")
    assert page.locator("input[name=expiry_0]").get_attribute("type") == "text"
    page.select_option("#supplier", str(supplier.id))
    page.select_option("select[name=medicine_0]", str(med))
    page.fill("input[name=lot_0]", "LOT-2026-A")
    page.fill("input[name=expiry_0]", expiry)
    page.fill("input[name=quantity_0]", "1200")
    page.fill("input[name=cost_0]", "1.250.000")
    page.get_by_role("button", name="Nhập kho").click()
    page.wait_for_load_state()
    assert "/pharmacy/receipt/" in page.url
    assert expiry in page.locator("#receipt-lines").inner_text()
    _no_overflow(page)
    shots = os.environ.get("PHARMACY_SHOTS")
    if shots:
        page.screenshot(path=f"{shots}/receipt_vi_{width}.png", full_page=True)
        for name, path in (("dashboard", "/pharmacy/dashboard"), ("queue", "/pharmacy/queue"),
                           ("medicine", f"/pharmacy/medicine/{med}"), ("receive", "/pharmacy/receive")):
            page.goto(page.base_url + path)
            page.screenshot(path=f"{shots}/{name}_vi_{width}.png", full_page=True)
