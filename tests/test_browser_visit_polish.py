"""What a tester walking the doctor's pages in Chromium found (polishvisit): after one item was
saved, a new item refused with warnings must not still say "Item saved." but say what is needed;
at 390 px My day keeps the status and the Start button on screen and the visit's patient header
does not stay stuck over the record. Screenshots go to ``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.test_prescribing import rx  # noqa: F401 - the fixture
from tests.test_visit import visit  # noqa: F401 - the fixture: a checked-in patient of "doctor"


def _pick(page, typed: str) -> None:
    page.locator("#rx-medicine").click()
    page.keyboard.type(typed)
    page.locator(".rx-option").first.wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.keyboard.type("1")
    page.fill("#rx-times", "1")
    page.fill("#rx-days", "30")


def test_a_new_item_refused_with_warnings_does_not_say_saved(rx, db, page_as, tmp_path):  # noqa: F811
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = page_as("doctor", width=1280)
    page.goto(f"{page.base_url}/clinic/language/vi?next=/visit/{rx.encounter}")
    if f"/visit/{rx.encounter}" not in page.url:
        page.goto(f"{page.base_url}/visit/{rx.encounter}")
    rows = page.locator("#rx-items tbody tr")
    status = page.locator("#rx-status")
    _pick(page, "warfarin")
    page.click("#rx-save")
    expect(status).to_have_text("Đã lưu thuốc.")
    _pick(page, "acetylsali")
    page.click("#rx-save")
    page.locator("#rx-warnings").wait_for(state="visible")
    expect(status).not_to_have_text("Đã lưu thuốc.")
    assert "Tôi đã đọc các cảnh báo này" in status.inner_text() and "lý do" in status.inner_text()
    assert rows.count() == 1
    page.screenshot(path=str(shots / "polish-rx-warned-vi.png"), full_page=True)


def test_my_day_and_the_visit_header_on_a_phone(app, db, page_as, live_server, visit, tmp_path):  # noqa: F811
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = page_as("doctor", width=390)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/clinic/language/vi?next=/my-day/")
    page.wait_for_load_state()
    row = page.locator(f'tr[data-appointment="{visit.appointment}"]')
    start = row.locator('button:has-text("Bắt đầu khám")')
    for part in (row.locator(".my-day-status .label"), start):
        box = part.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    page.screenshot(path=str(shots / "polish-myday-vi-390.png"), full_page=True)

    start.click()
    page.wait_for_url(re.compile(r"/visit/\d+$"))
    assert page.eval_on_selector(".visit-header", "e => getComputedStyle(e).position") == "static"
    page.evaluate("window.scrollTo(0, 1200)")
    top = page.locator(".visit-header").bounding_box()
    assert top is not None and top["y"] + top["height"] <= 0  # scrolled away with the page
    page.screenshot(path=str(shots / "polish-visit-vi-390.png"))
