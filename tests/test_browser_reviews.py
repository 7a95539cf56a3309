"""Reviews in a real browser (Debian's headless Chromium): the patient rates a completed visit in
the portal with the star inputs (a tap on a star, and the keyboard's arrow keys), a manager
publishes it on the moderation page, and it appears on the doctor's public page with the averages;
in English and in Vietnamese, on a desktop and a phone's width. Screenshots go to
``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_reviews import FULL_NAME, _published, world  # noqa: F401  (the fixture)

TEXT = {
    "en": {"rate": "Rate this visit", "send": "Send my review", "publish": "Publish", "reviews": "3 reviews",
           "thanks": "Thank you!", "published": "The review is published."},
    "vi": {"rate": "Đánh giá lần khám", "send": "Gửi đánh giá", "publish": "Đăng", "reviews": "3 đánh giá",
           "thanks": "Cảm ơn bạn!", "published": "Đánh giá đã được đăng."},
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_patient_rates_a_visit_a_manager_publishes_it_and_it_shows(app, db, page_as, world, tmp_path,  # noqa: F811
                                                                      width, lang):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    text = TEXT[lang]
    _published(db, world, 2, overall=5)

    def shot(page, name: str) -> None:
        page.screenshot(path=str(shots / f"reviews-{lang}-{width}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    patient = page_as("patient", width=width)
    patient.goto(f"{patient.base_url}/clinic/language/{lang}?next=/clinic/me/appointments")
    patient.click(f".pub-appointment[data-id='{world.completed}'] a:has-text('{text['rate']}')")
    patient.wait_for_url(f"**/clinic/me/appointments/{world.completed}/review")
    patient.click("label[for=professional-5]")  # a tap on the fifth star
    patient.focus("#attitude-1")  # the keyboard: into the group, then the arrow keys
    patient.keyboard.press("Space")
    for _ in range(3):
        patient.keyboard.press("ArrowRight")
    assert patient.is_checked("#attitude-4")
    patient.click("label[for=waiting_time-3]")
    patient.click("label[for=overall-4]")
    patient.fill("#comment", "Bác sĩ giải thích rất kỹ.")
    shot(patient, "1-rate")
    patient.click(f"button:has-text('{text['send']}')")
    patient.wait_for_url("**/clinic/me/appointments")
    assert text["thanks"] in patient.content()
    shot(patient, "2-rated")

    manager = page_as("manager", width=width)
    manager.goto(f"{manager.base_url}/clinic/language/{lang}?next=/reviews/")
    card = manager.locator(".review-card").filter(has_text="Bác sĩ giải thích rất kỹ.")
    assert card.count() == 1 and FULL_NAME not in manager.content() and "An N." in card.inner_text()
    shot(manager, "3-moderation")
    card.locator(f"button:has-text('{text['publish']}')").click()
    manager.wait_for_load_state()
    assert text["published"] in manager.content()

    patient.goto(f"{patient.base_url}/clinic/doctors/{world.doctor}")
    section = patient.locator("#reviews")
    assert text["reviews"] in section.inner_text()
    assert "Bác sĩ giải thích rất kỹ." in section.inner_text() and "An N." in section.inner_text()
    assert patient.locator(".pub-rating-num[data-criterion=attitude]").inner_text() in ("3.3", "3,3")
    assert FULL_NAME not in patient.content()
    section.scroll_into_view_if_needed()
    shot(patient, "4-doctor")
