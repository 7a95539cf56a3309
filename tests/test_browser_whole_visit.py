"""A whole visit in a real browser (Debian's headless Chromium), from My day to a signed record:
the doctor starts the visit of a checked-in patient, types the complaint and the vitals, finds a
diagnosis by typing without accents, prescribes two medicines that interact (the severe warning is
overridden with a reason), orders a lab test, and signs. Then the record is read-only, the
prescription has gone to the pharmacy and the lab has its order. Each section's details are
tested in its own file; this one proves they work together on one page."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.test_visit import Visit, visit  # noqa: F401 - the fixture: a checked-in patient of "doctor"

INTERACTIONS = ("ingredient_a,ingredient_b,severity,description_en,description_vi\n"
                "Warfarin,Aspirin,severe,Serious bleeding risk.,Nguy cơ chảy máu nặng.\n")
TEXT = {
    "en": {"start": "Start visit", "saved": "Saved", "signed": "Signed", "decimal": "."},
    "vi": {"start": "Bắt đầu khám", "saved": "Đã lưu", "signed": "Đã ký", "decimal": ","},
}


@pytest.fixture
def pharmacy_and_lab(app, db):
    """Two medicines that interact, the interaction table, and the lab catalogue."""
    from app.models import Medicine
    from app.services import prescribing
    from app.services.demo_data.lab_catalogue import seed_lab_catalogue

    db.session.add_all([
        Medicine(code="WAR5", name="Warfarin", active_ingredient="Warfarin natri", strength="5 mg", unit="viên"),
        Medicine(code="ASP81", name="Aspirin", active_ingredient="Acid acetylsalicylic", strength="81 mg",
                 unit="viên"),
    ])
    db.session.commit()
    prescribing.load_interactions(db.session, INTERACTIONS)
    seed_lab_catalogue(db.session)
    db.session.commit()


def _prescribe(page, typed: str, days: str) -> None:
    page.locator("#rx-medicine").click()
    page.keyboard.type(typed)
    page.locator(".rx-option").first.wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.keyboard.type("1")  # the focus is on the dose
    page.fill("#rx-times", "1")
    page.fill("#rx-days", days)
    page.click("#rx-save")


@pytest.mark.parametrize("lang,width", [("en", 1280), ("vi", 768)])
def test_a_doctor_runs_a_whole_visit_to_a_signed_record(app, db, page_as, visit, pharmacy_and_lab,  # noqa: F811
                                                         tmp_path, lang, width):
    from app.models import Diagnosis, Encounter, LabOrder, Prescription, PrescriptionItem

    text = TEXT[lang]
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"whole-visit-{lang}-{width}-{name}.png"), full_page=True)
        assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1, name

    page = page_as("doctor", width=width)
    page.goto(f"{page.base_url}/clinic/language/{lang}?next=/my-day/")
    page.click(f'tr[data-appointment="{visit.appointment}"] button:has-text("{text["start"]}")')
    page.wait_for_url(re.compile(r"/visit/\d+$"))
    encounter_id = int(page.url.rsplit("/", 1)[1])

    # The record: complaint and vitals, typed the reader's way, autosaved.
    page.fill("#f-chief_complaint", "Đau họng, sốt nhẹ 2 ngày")
    page.fill("#f-temperature_c", f"37{text['decimal']}8")
    page.fill("#f-pulse", "88")
    page.locator("#save-status", has_text=re.compile("^" + text["saved"] + r" \d\d:\d\d$")).wait_for(timeout=15000)

    # The diagnosis, found without accents and picked with the keyboard.
    page.locator("#dx-query").click()
    page.keyboard.type("viem hong")
    page.locator("#dx-options .dx-option").first.wait_for()
    offered = page.locator("#dx-options .dx-option").evaluate_all("items => items.map(i => i.dataset.code)")
    for _ in range(offered.index("J02.9") + 1):
        page.locator("#dx-query").press("ArrowDown")
    page.locator("#dx-query").press("Enter")
    page.locator("#dx-list .dx-item", has_text="J02.9").wait_for()

    # The prescription: warfarin, then aspirin, which interacts with it: warned, reason given.
    rows = page.locator("#rx-items tbody tr")
    _prescribe(page, "warfa", "30")
    expect(rows).to_have_count(1)
    _prescribe(page, "acetylsali", "30")
    page.locator("#rx-warnings").wait_for(state="visible")
    assert "Warfarin" in page.inner_text("#rx-warnings")
    shot("1-warned")
    page.check("#rx-ack")
    page.fill("#rx-reason", "Đã phối hợp nhiều năm, theo dõi INR hằng tuần")
    page.click("#rx-save")
    expect(rows).to_have_count(2)

    # A lab order.
    page.fill("#lab-search", "glu")
    page.check("#lab-choices li:not([hidden]) input")
    page.click("#lab-order")
    page.wait_for_selector("#lab-orders .lab-order[data-status=ordered]")
    shot("2-before-signing")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#visit-sign")
    page.wait_for_selector(".visit-amendments", timeout=15000)
    assert text["signed"] in page.inner_text(".visit-status")
    assert page.locator("#dx-query").count() == 0  # read-only: no more searching
    shot("3-signed")

    db.session.expire_all()
    encounter = db.session.get(Encounter, encounter_id)
    assert encounter.signed_at is not None and encounter.chief_complaint == "Đau họng, sốt nhẹ 2 ngày"
    assert str(encounter.temperature_c) == "37.8"
    diagnosis = db.session.query(Diagnosis).filter_by(encounter_id=encounter_id).one()
    assert (diagnosis.icd10_code, diagnosis.is_primary) == ("J02.9", True)
    prescription = db.session.query(Prescription).filter_by(encounter_id=encounter_id).one()
    assert prescription.status == "issued"  # in the pharmacy's queue now
    items = db.session.query(PrescriptionItem).filter_by(prescription_id=prescription.id).all()
    assert sorted(item.quantity for item in items) == [30, 30]
    assert [item.override_reason for item in items if item.override_reason] == [
        "Đã phối hợp nhiều năm, theo dõi INR hằng tuần"]
    order = db.session.query(LabOrder).filter_by(encounter_id=encounter_id).one()
    assert (order.test_code, order.status) == ("GLU", "ordered")
