"""A manager's dashboards in a real browser (Debian's headless Chromium): the page opens with its
charts drawn by the locally served plotly.js, the manager changes the range and the grain, and
downloads a figure's CSV. In Vietnamese at phone width (390 px) nothing runs off the screen.
``DASHBOARD_SHOTS=<folder>`` keeps screenshots (desktop and 390 px, en and vi)."""
from __future__ import annotations

import csv
import io
import os

import pytest

from tests.dashboard_data import build


@pytest.fixture
def clinic_data(db):
    return build(db.session)


def _shot(page, name: str) -> None:
    """The whole page, and the filters and a few panels on their own (a whole page is too tall to read)."""
    shots = os.environ.get("DASHBOARD_SHOTS")
    if shots:
        os.makedirs(shots, exist_ok=True)
        page.screenshot(path=f"{shots}/{name}.png", full_page=True)
        for part in ("#dash-filters", "#fig-attendance", "#fig-revenue_by_method", "#fig-stock", "#fig-ratings"):
            if page.locator(part).count():
                page.locator(part).screenshot(path=f"{shots}/{name}_{part[1:]}.png")


def test_manager_changes_the_range_and_downloads_the_csv(page_as, clinic_data):
    page = page_as("manager")
    page.goto(f"{page.base_url}/clinic/language/en?next=/dashboards/")
    assert page.locator(".dash-panel").count() == 12
    page.fill("#start", "2026-10-01")
    page.fill("#end", "2026-11-30")
    page.select_option("#grain", "month")
    page.click("#dash-filters button[type=submit]")
    page.wait_for_load_state()
    assert "start=2026-10-01" in page.url
    visits = page.locator("#fig-visits")
    assert visits.locator(".dash-table tbody tr").count() == 2
    assert visits.locator(".dash-table tbody tr").nth(1).inner_text().split() == ["2026-11", "3"]
    visits.locator(".js-plotly-plot .main-svg").first.wait_for()  # drawn by plotly.js
    _shot(page, "dashboards_en_1280")
    with page.expect_download() as caught:
        visits.locator("a[data-download=csv]").click()
    download = caught.value
    assert download.suggested_filename == "visits_2026-10-01_2026-11-30.csv"
    with open(download.path(), encoding="utf-8-sig") as handle:
        assert list(csv.reader(io.StringIO(handle.read()))) == [["Period", "Visits"], ["2026-10-01", "1"],
                                                                 ["2026-11-01", "3"]]


def test_vietnamese_at_phone_width(page_as, clinic_data):
    page = page_as("manager", width=390)
    page.goto(f"{page.base_url}/clinic/language/vi?next=/dashboards/%3Fstart%3D01/11/2026%26end%3D30/11/2026")
    revenue = page.locator("#fig-revenue_by_method")
    assert "200.000 ₫" in revenue.inner_text().replace("\xa0", " ")
    assert page.locator("#start").input_value() == "01/11/2026"
    revenue.locator(".js-plotly-plot .main-svg").first.wait_for()
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    _shot(page, "dashboards_vi_390")
    page.goto(f"{page.base_url}/")
    assert page.locator("[data-month-figure]").count() == 5
    _shot(page, "home_vi_390")


def test_shots_in_english_at_phone_width_and_vietnamese_at_desktop(page_as, clinic_data):
    page = page_as("manager", width=1280)
    page.goto(f"{page.base_url}/clinic/language/vi?next=/dashboards/%3Fstart%3D01/10/2026%26end%3D31/12/2026")
    page.locator("#fig-visits .js-plotly-plot").first.wait_for()
    assert "Bảng số liệu" in page.inner_text("h1")
    _shot(page, "dashboards_vi_1280")
    phone = page_as("manager", width=390)
    phone.goto(f"{phone.base_url}/clinic/language/en?next=/dashboards/%3Fstart%3D2026-10-01%26end%3D2026-12-31")
    phone.locator("#fig-visits .js-plotly-plot").first.wait_for()
    assert phone.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    _shot(phone, "dashboards_en_390")
