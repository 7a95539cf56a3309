"""A doctor's visit in a real browser (Debian's headless Chromium): log in, My day, "Start visit",
type the complaint and the vitals the reader's way ("37,8" in Vietnamese), see BMI and the
out-of-normal values highlighted as they are typed, the autosave ("Saved hh:mm"), a value outside
the physical limits refused on its field, Ctrl+S, and signing (the diagnosis is added directly:
the diagnosis section is another part's work). At 1280 px and a tablet's 768 px, in English and
Vietnamese. Screenshots go to ``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.test_visit import Visit, visit  # noqa: F401 - the fixture: a checked-in patient of "doctor"

TEXT = {
    "en": {"day": "My day", "start": "Start visit", "saved": "Saved", "signed": "Signed", "decimal": ".",
           "limits": "is not possible"},
    "vi": {"day": "Ngày làm việc của tôi", "start": "Bắt đầu khám", "saved": "Đã lưu", "signed": "Đã ký",
           "decimal": ",", "limits": "là không thể"},
}


def _shooter(page, folder: Path, prefix: str):
    def shot(name: str) -> None:
        page.screenshot(path=str(folder / f"{prefix}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.body.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    return shot


@pytest.mark.parametrize("width", [1280, 768])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_doctor_runs_a_visit_from_my_day_to_a_signed_record(app, db, page_as, live_server, visit,  # noqa: F811
                                                               tmp_path, width, lang):
    from app.models import Diagnosis, Encounter

    text = TEXT[lang]
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = page_as("doctor", width=width)
    shot = _shooter(page, shots, f"visit-{lang}-{width}")
    page.goto(f"{live_server}/clinic/language/{lang}?next=/my-day/")
    page.wait_for_load_state()
    assert "/my-day/" in page.url
    assert text["day"] in page.content()
    shot("1-my-day")

    page.click(f'tr[data-appointment="{visit.appointment}"] button:has-text("{text["start"]}")')
    page.wait_for_url(re.compile(r"/visit/\d+$"))
    encounter_id = int(page.url.rsplit("/", 1)[1])
    assert "Penicillin" in page.inner_text(".visit-header")

    page.fill("#f-chief_complaint", "Sốt, ho khan 3 ngày")
    page.fill("#f-history", "Sốt về chiều, không khó thở.")
    sep = text["decimal"]
    for field, value in (("pulse", "110"), ("systolic_bp", "130"), ("diastolic_bp", "85"),
                         ("temperature_c", f"37{sep}8"), ("spo2", "97"), ("height_cm", "170"), ("weight_kg", "80")):
        page.fill(f"#f-{field}", value)
    assert page.inner_text("#visit-bmi") == f"27{sep}7"
    assert "vital-high" in page.get_attribute('.visit-field[data-field="temperature_c"]', "class")
    assert "vital-high" in page.get_attribute('.visit-field[data-field="pulse"]', "class")
    page.locator("#save-status", has_text=re.compile("^" + text["saved"] + r" \d\d:\d\d$")).wait_for(timeout=15000)
    assert re.search(r"\d\d:\d\d", page.inner_text("#save-status"))
    db.session.expire_all()
    encounter = db.session.get(Encounter, encounter_id)
    assert encounter.temperature_c == Decimal("37.8") and encounter.pulse == 110
    shot("2-autosaved")

    page.fill("#f-spo2", "120")  # outside the physical limits: refused on its field, nothing written
    page.keyboard.press("Control+s")
    page.wait_for_selector('.visit-field[data-field="spo2"].has-error', timeout=15000)
    assert text["limits"] in page.inner_text('.visit-field[data-field="spo2"] .field-error')
    shot("3-refused")
    page.fill("#f-spo2", "97")
    page.keyboard.press("Control+s")
    page.locator("#save-status", has_text=re.compile("^" + text["saved"] + r" \d\d:\d\d$")).wait_for(timeout=15000)
    db.session.expire_all()
    assert db.session.get(Encounter, encounter_id).spo2 == 97

    db.session.add(Diagnosis(encounter_id=encounter_id, icd10_code="J06.9", text="Nhiễm trùng hô hấp trên cấp",
                             is_primary=True))
    db.session.commit()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#visit-sign")
    page.wait_for_selector(".visit-amendments", timeout=15000)
    assert text["signed"] in page.inner_text(".visit-status")
    assert page.locator("#f-temperature_c").inner_text().startswith(f"37{sep}8")
    assert page.inner_text("#visit-bmi") == f"27{sep}7"  # read-only now: the server's figures
    db.session.expire_all()
    assert db.session.get(Encounter, encounter_id).signed_at is not None
    shot("4-signed")


def test_start_visit_opens_the_visit_even_when_the_queue_changes_on_the_way(page_as, live_server,
                                                                            visit):  # noqa: F811
    """Starting a visit changes the queue, and My day reloads on a queue change: that reload must
    not cancel the way to the visit (it used to land back on My day when the event came first)."""
    import time

    page = page_as("doctor", width=1280)
    page.goto(f"{live_server}/clinic/language/en?next=/my-day/")

    def slow_start(route) -> None:  # the server's answer comes after the page's 300 ms reload timer
        time.sleep(1.0)
        route.continue_()

    page.route(re.compile(r"/my-day/start/\d+$"), slow_start)
    page.evaluate("document.dispatchEvent(new CustomEvent('realtime:queue'))")  # the queue change's event
    page.click(f'tr[data-appointment="{visit.appointment}"] button:has-text("{TEXT["en"]["start"]}")')
    page.wait_for_url(re.compile(r"/visit/\d+$"))
    page.wait_for_timeout(800)  # a reload that was still due would have happened by now
    assert re.search(r"/visit/\d+$", page.url), page.url
