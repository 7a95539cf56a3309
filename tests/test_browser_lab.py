"""Lab work in a real browser (Debian's headless Chromium): the doctor finds a test by typing in the
visit's lab section and orders it; the lab technician finds the order on the worklist, enters a
result with a decimal comma (out of range: flagged) and releases it; the doctor sees the flagged
result in the visit. On a desktop and a phone's width, in English and in Vietnamese. Screenshots go
to ``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from tests.desk_helpers import login_doctor

TEXT = {
    "en": {"order": "Order the chosen tests", "worklist": "Lab worklist", "released": "Released to the patient.",
           "high": "high"},
    "vi": {"order": "Chỉ định các xét nghiệm đã chọn", "worklist": "Danh sách xét nghiệm",
           "released": "Đã trả kết quả cho bệnh nhân.", "high": None},
}


def _visit(app, db) -> int:
    from app.models import Encounter, Patient
    from app.services.demo_data.lab_catalogue import seed_lab_catalogue

    seed_lab_catalogue(db.session)
    doctor = login_doctor(app, db)
    patient = Patient(code="BRLAB1", full_name="Phạm Thị Xét Nghiệm", sex="female", date_of_birth=date(1975, 4, 2),
                      search_text="pham thi xet nghiem brlab1")
    db.session.add(patient)
    db.session.commit()
    encounter = Encounter(patient_id=patient.id, doctor_id=doctor.id, chief_complaint="Khát nước nhiều")
    db.session.add(encounter)
    db.session.commit()
    return encounter.id


def _shooter(page, folder: Path, prefix: str):
    def shot(name: str) -> None:
        page.screenshot(path=str(folder / f"{prefix}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.body.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)

    return shot


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_doctor_orders_the_lab_results_and_releases(app, db, page_as, tmp_path, width, lang):
    from app.models import LabOrder, LabResult

    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    encounter = _visit(app, db)

    doctor = page_as("doctor", width=width)
    doctor.goto(f"{doctor.base_url}/clinic/language/{lang}?next=/visit/{encounter}")
    shot = _shooter(doctor, shots, f"lab-{lang}-{width}")
    assert TEXT[lang]["order"] in doctor.content()
    doctor.fill("#lab-search", "glu")
    assert doctor.locator("#lab-choices li:visible").count() == 1  # only the fasting glucose matches
    if width >= 1000:  # the keyboard: Enter ticks the first test shown, Enter on the button orders
        doctor.press("#lab-search", "Enter")
    else:  # a phone: tap the test, then the button
        doctor.check("#lab-choices li:not([hidden]) input")
    shot("1-chosen")
    if width >= 1000:
        doctor.focus("#lab-order")
        doctor.keyboard.press("Enter")
    else:
        doctor.click("#lab-order")
    doctor.wait_for_selector("#lab-orders .lab-order[data-status=ordered]")
    assert "GLU" in doctor.inner_text("#lab-orders")
    shot("2-ordered")
    db.session.rollback()
    order = db.session.query(LabOrder).filter_by(encounter_id=encounter).one()
    assert (order.test_code, order.status) == ("GLU", "ordered")

    lab = page_as("lab", width=width)
    lab.goto(f"{lab.base_url}/clinic/language/{lang}?next=/lab/")
    lab_shot = _shooter(lab, shots, f"lab-{lang}-{width}")
    assert TEXT[lang]["worklist"] in lab.content()
    lab.fill("#lab-q", "xet nghiem")
    lab.press("#lab-q", "Enter")
    lab.wait_for_load_state()
    row = lab.locator(f"tr[data-order='{order.id}']")
    assert "Phạm Thị Xét Nghiệm" in row.inner_text()
    lab_shot("3-worklist")
    row.locator("a").click()
    lab.wait_for_load_state()
    lab.fill("#a0", "nhiều")  # not a number: refused with the field named
    lab.click("#lab-save")
    lab.wait_for_load_state()
    assert lab.locator("tr.has-error #a0").count() == 1
    lab_shot("4-refused")
    lab.fill("#a0", "7,9")
    lab.select_option("#status", "final")
    lab.click("#lab-save")
    lab.wait_for_load_state()
    flag = lab.locator(".lab-flag.lab-flag-high")
    assert flag.count() == 1
    if TEXT[lang]["high"]:
        assert flag.inner_text().lower() == TEXT[lang]["high"]
    assert ("3,9–6,4" if lang == "vi" else "3.9–6.4") in lab.content()  # the range in the reader's decimal mark
    lab_shot("5-flagged")
    lab.click("#lab-release")
    lab.wait_for_load_state()
    assert TEXT[lang]["released"] in lab.content()
    lab_shot("6-released")
    db.session.rollback()
    result = db.session.query(LabResult).filter_by(lab_order_id=order.id).one()
    assert (result.value, result.numeric_value, result.flag, result.status, result.released_to_patient) == (
        "7,9", result.numeric_value, "high", "final", True)
    assert str(result.numeric_value).startswith("7.9")

    doctor.goto(f"{doctor.base_url}/visit/{encounter}")
    assert doctor.locator("#lab-orders .lab-flag.lab-flag-high").count() == 1
    shot("7-doctor-sees-the-flag")
