"""The medicine page's usage chart (static/js/pharmacy_chart.js) in the page's language, in a real
browser (Debian's headless Chromium): dd/mm/yyyy dates and the decimal comma in Vietnamese,
yyyy-mm-dd on hover in English."""
from __future__ import annotations

import re

import pytest

from tests.pharmacy_helpers import batch, medicine, prescription


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_usage_chart_follows_the_pages_language(db, clinic, page_as, lang):
    from app.services import dispensing
    from tests.pharmacy_helpers import NOW

    med = medicine(db, "Paracetamol", reorder_level=100)
    batch(db, med, 60, 30)
    dispensing.dispense_prescription(db.session, prescription(db, clinic, (med, 12)), None, clinic.user_id, NOW)
    page = page_as("pharmacist", width=1280)
    page.goto(f"{page.base_url}/clinic/language/{lang}?next=/pharmacy/medicine/{med}")
    page.goto(f"{page.base_url}/pharmacy/medicine/{med}")
    page.wait_for_selector("#usage-chart .main-svg", timeout=15000)
    ticks = page.locator("#usage-chart .xtick text").all_text_contents()
    layout = page.evaluate("() => { const l = document.getElementById('usage-chart')._fullLayout;"
                           " return {separators: l.separators, hover: l.xaxis.hoverformat}; }")
    assert ticks
    if lang == "vi":
        assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", tick) for tick in ticks), ticks
        assert layout == {"separators": ",.", "hover": "%d/%m/%Y"}
    else:
        assert not any("/" in tick for tick in ticks), ticks
        assert layout["separators"] == ".," and layout["hover"] == "%Y-%m-%d"
