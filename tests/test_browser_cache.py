"""Administration → Cache in a real browser (Debian's headless Chromium): the admin sees the public
site's page views counted per namespace and resets the counters; on a desktop and a phone's width,
in English and in Vietnamese, nothing wider than the screen. Screenshots go to
``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.services import cache

TEXT = {
    "en": {"title": "Cache", "doctors": "Doctors (public list and pages)", "reset": "The counters are back to zero."},
    "vi": {"title": "Bộ nhớ đệm", "doctors": "Bác sĩ (danh sách và trang công khai)",
           "reset": "Các bộ đếm đã được đặt lại về 0."},
}


@pytest.mark.needs_chromium
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_admin_reads_and_resets_the_cache_counters(app, client, clinic, page_as, tmp_path, width, lang):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    assert clinic.service
    store = app.extensions["cache"]
    store.reset_stats()
    for _ in range(4):
        assert client.get("/clinic/doctors").status_code == 200
    page = page_as("admin", width=width)
    try:
        page.goto(f"{page.base_url}/clinic/language/{lang}?next=/cache/")
        page.wait_for_load_state()
        text = TEXT[lang]
        assert text["title"] in page.content()
        row = page.locator('tr[data-namespace="doctors"]')
        assert text["doctors"] in row.inner_text()
        assert row.locator("[data-hits]").inner_text() == "3" and row.locator("[data-misses]").inner_text() == "1"

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"cache-{lang}-{width}-{name}.png"), full_page=True)
            assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1, name

        shot("1-open")
        page.locator("#cache-reset").click()
        page.wait_for_load_state()
        assert text["reset"] in page.content()
        assert page.locator('tr[data-namespace="doctors"] [data-hits]').inner_text() == "0"
        assert store.stats()[cache.DOCTORS] == {"hits": 0, "misses": 0}
        shot("2-reset")
    finally:
        page.goto(f"{page.base_url}/clinic/language/en?next=/")
        page.context.close()
