"""A manager downloads the monthly report in a real browser (Debian's headless Chromium), in
Vietnamese, at desktop and phone width. ``REPORT_SHOTS=<folder>`` keeps screenshots."""
from __future__ import annotations

import io
import os

import pytest
from pypdf import PdfReader

from tests.dashboard_data import build


@pytest.fixture
def clinic_data(db):
    return build(db.session)


def _shot(page, name: str) -> None:
    shots = os.environ.get("REPORT_SHOTS")
    if shots:
        os.makedirs(shots, exist_ok=True)
        page.screenshot(path=f"{shots}/{name}.png", full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_manager_downloads_the_monthly_pdf_in_vietnamese(page_as, clinic_data, width):
    page = page_as("manager", width=width)
    page.goto(f"{page.base_url}/clinic/language/vi?next=/reports/")
    assert page.locator("#month").is_visible() and not page.locator("#start").is_visible()
    page.select_option("#report", "takings")  # the range's days replace the month
    assert page.locator("#start").is_visible() and not page.locator("#month").is_visible()
    page.select_option("#report", "monthly")
    page.fill("#month", "13/2026")
    page.click("#report-download")
    page.wait_for_load_state()
    assert page.locator('[data-field="month"]').is_visible()
    _shot(page, f"reports_vi_{width}_error")
    page.fill("#month", "11/2026")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    _shot(page, f"reports_vi_{width}")
    with page.expect_download() as caught:
        page.click("#report-download")
    download = caught.value
    assert download.suggested_filename == "report-2026-11.pdf"
    with open(download.path(), "rb") as handle:
        text = PdfReader(io.BytesIO(handle.read())).pages[0].extract_text()
    assert "Báo cáo tháng" in text and "11/2026" in text
