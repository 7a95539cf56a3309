"""Break the glass in a real browser (Debian's headless Chromium): a doctor outside a patient's
care opens the patient's encounter, is told to break the glass, gives a reason and sees the
record; a manager sees the access flagged. At 1280 and 390 pixels wide, in English and
Vietnamese; the screenshots go to ``tmp_path`` (``--basetemp`` keeps them)."""
from __future__ import annotations

import re

import pytest

from tests.test_access import MARK, OWNER_NAME, _encounter, world  # noqa: F401  (the fixture)

TEXTS = {
    "en-US": {"denied": "Outside your care", "form": "Break the glass", "log": "Break-the-glass accesses"},
    "vi-VN": {"denied": "Ngoài phạm vi điều trị của bạn", "form": "Truy cập khẩn cấp",
              "log": "Các lần truy cập khẩn cấp"},
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["en-US", "vi-VN"])
def test_a_doctor_breaks_the_glass_and_a_manager_sees_it(db, world, page_as, tmp_path, width, locale):  # noqa: F811
    record = _encounter(db, world)
    texts = TEXTS[locale]
    doctor = page_as("acc_doctor_other", width=width, locale=locale)
    doctor.goto(f"{doctor.base_url}/encounterview/show/{record}")
    assert doctor.locator("#care-denied h1").inner_text() == texts["denied"]
    assert MARK not in doctor.content()
    doctor.screenshot(path=tmp_path / "1-denied.png", full_page=True)

    doctor.click("#break-glass-link")
    doctor.wait_for_url("**/care/break-glass/**")
    assert doctor.locator("#break-glass h1").inner_text() == texts["form"]
    assert OWNER_NAME in doctor.locator("#break-glass .alert").inner_text()
    doctor.click("#break-glass button[type=submit]")  # no reason: refused, the form says why
    doctor.locator("#break-glass .has-error .help-block").first.wait_for()
    doctor.screenshot(path=tmp_path / "2-no-reason.png", full_page=True)

    doctor.fill("#reason", "Bệnh nhân cấp cứu, bác sĩ điều trị vắng mặt")
    doctor.click("#break-glass button[type=submit]")
    doctor.wait_for_url(f"**/encounterview/show/{record}")
    assert MARK in doctor.content()
    doctor.screenshot(path=tmp_path / "3-record.png", full_page=True)

    manager = page_as("manager", width=width, locale=locale)
    manager.goto(f"{manager.base_url}/care/break-glass-log")
    assert manager.locator("h1").inner_text() == texts["log"]
    row = manager.locator("#break-glass-log tbody tr").first
    assert "acc_doctor_other" in row.inner_text() and OWNER_NAME in row.inner_text()
    assert "bác sĩ điều trị vắng mặt" in row.inner_text()
    # Times in the clinic's zone, the date in the reader's order (as the audit trail shows them).
    day = r"\d\d/\d\d/\d{4}" if locale == "vi-VN" else r"\d{4}-\d\d-\d\d"
    assert re.fullmatch(day + r" \d\d:\d\d", row.locator("td").first.inner_text().strip())
    # Nothing hidden off to the side: on a phone each access is a card of labelled cells.
    assert manager.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    for cell in ("td[data-label]:nth-child(4)", "td[data-label]:nth-child(5)"):  # Reason, Until
        box = row.locator(cell).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert manager.locator("#break-glass-log thead").is_visible() == (width >= 768)
    manager.screenshot(path=tmp_path / "4-log.png", full_page=True)
