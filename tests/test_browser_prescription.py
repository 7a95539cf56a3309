"""Prescribing in a real browser (Debian's headless Chromium): the doctor of a visit opens its
workspace, finds aspirin by typing, picks it with the keyboard, sees the quantity computed, is
shown the severe interaction with the warfarin already prescribed before anything is saved, is
refused without a reason, gives one, and the item shows with its warning and reason. At 1280 and
768 px, in English and in Vietnamese. Screenshots go to ``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.test_prescribing import _add, rx  # noqa: F401 - the fixture

TEXT = {
    "en": {"title": "Prescription", "severe": "severe", "saved": "Item saved.", "reason_needed": "needs a reason"},
    "vi": {"title": "Đơn thuốc", "severe": "nghiêm trọng", "saved": "Đã lưu thuốc.", "reason_needed": "cần ghi lý do"},
}


@pytest.mark.parametrize("width", [1280, 768])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_doctor_overrides_a_severe_interaction_with_a_reason(rx, db, page_as, tmp_path, width, lang):  # noqa: F811
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    _add(rx, rx.med["warfarin"], dose_amount="1", times_per_day=1, duration_days=30)
    page = page_as("doctor", width=width)
    page.goto(f"{page.base_url}/clinic/language/{lang}?next=/visit/{rx.encounter}")
    if f"/visit/{rx.encounter}" not in page.url:
        page.goto(f"{page.base_url}/visit/{rx.encounter}")

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"prescription-{lang}-{width}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.body.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    rows = page.locator("#rx-items tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1 and "Warfarin" in rows.first.inner_text()
    assert TEXT[lang]["title"] in page.locator("#rx-title").inner_text()
    shot("1-open")

    page.locator("#rx-medicine").click()
    page.keyboard.type("acetylsali")  # by the active ingredient, as typed
    page.locator(".rx-option").first.wait_for()
    shot("2-search")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert "Aspirin" in page.locator("#rx-chosen").inner_text()
    page.keyboard.type("1")  # the focus moved to the dose
    page.fill("#rx-times", "1")
    page.fill("#rx-days", "30")
    assert page.input_value("#rx-quantity") == "30"  # computed, still editable

    page.click("#rx-save")
    warnings = page.locator("#rx-warnings")
    warnings.wait_for(state="visible")
    text = warnings.inner_text()
    assert "Warfarin" in text and TEXT[lang]["severe"] in text and TEXT[lang]["reason_needed"] in text
    assert page.locator("#rx-reason").is_visible()
    assert rows.count() == 1  # nothing saved yet
    shot("3-warned")

    page.check("#rx-ack")
    page.click("#rx-save")
    error = page.locator('[data-field="override_reason"] .rx-error')
    expect(error).not_to_have_text("")
    assert rows.count() == 1
    shot("4-reason-required")

    page.fill("#rx-reason", "Bệnh nhân đã dùng phối hợp lâu năm, theo dõi INR hằng tuần")
    page.click("#rx-save")
    expect(rows).to_have_count(2)
    assert TEXT[lang]["saved"] in page.locator("#rx-status").inner_text()
    saved = rows.nth(1).inner_text()
    assert "Aspirin" in saved and "theo dõi INR hằng tuần" in saved and TEXT[lang]["severe"] in saved
    assert page.locator("#rx-warnings").is_hidden()
    shot("5-saved")

    from app.models import PrescriptionItem

    db.session.expire_all()
    stored = db.session.query(PrescriptionItem).filter_by(medicine_id=rx.med["aspirin"]).one()
    assert stored.override_reason.startswith("Bệnh nhân đã dùng") and stored.quantity == 30

    with page.expect_popup() as popup:
        page.click("#rx-print")
    sheet = popup.value
    sheet.wait_for_load_state()
    assert "Aspirin 81 mg" in sheet.inner_text("#prescription-sheet")
    assert ("ĐƠN THUỐC" if lang == "vi" else "PRESCRIPTION") in sheet.inner_text("h1")
    sheet.screenshot(path=str(shots / f"prescription-{lang}-{width}-6-print.png"), full_page=True)
