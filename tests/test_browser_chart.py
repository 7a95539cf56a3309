"""The patient chart in a real browser (Debian's headless Chromium): a doctor finds a patient in
"Patients I have seen", opens the chart, sees the vitals and lab trend drawn by plotly.js (served
by the app), chooses an analyte and filters the timeline. At 1280 and 390 pixels wide, in English
and Vietnamese; the screenshots go to ``tmp_path`` (``--basetemp`` keeps them)."""
from __future__ import annotations

import re

import pytest

from tests.test_chart import _doctor_of, _history, _patient

TEXTS = {
    "en-US": {"seen": "Patients I have seen", "allergies": "Allergies", "labs": "Lab results"},
    "vi-VN": {"seen": "Bệnh nhân tôi đã khám", "allergies": "Dị ứng", "labs": "Kết quả xét nghiệm"},
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["en-US", "vi-VN"])
def test_a_doctor_opens_a_patients_chart(app, db, page_as, tmp_path, width, locale):
    from app.models import LabOrder, LabResult

    texts = TEXTS[locale]
    doctor = _doctor_of(app, db, "doctor", "Lê Văn Bác Sĩ")
    patient = _patient(db, "Nguyễn Văn An", "BN1", allergies="Penicillin", chronic_conditions="Tăng huyết áp")
    ids = _history(db, patient, doctor)
    order = LabOrder(patient_id=patient, doctor_id=doctor, encounter_id=ids["first"], test_code="LIP",
                     test_name="Mỡ máu", status="completed")
    db.session.add(order)
    db.session.flush()
    db.session.add(LabResult(lab_order_id=order.id, analyte="Cholesterol", value="5,9", numeric_value=5.9,
                             unit="mmol/L", reference_range="3.0–5.2", flag="high", status="final"))
    db.session.commit()
    _patient(db, "Trần Thị Bình", "BN2")  # never seen by this doctor

    page = page_as("doctor", width=width, locale=locale)
    external: list[str] = []
    page.on("request", lambda request: external.append(request.url)
            if not request.url.startswith(page.base_url) and not request.url.startswith("data:") else None)
    page.goto(f"{page.base_url}/patients-seen/")
    assert page.locator("#patients-seen h1").inner_text() == texts["seen"]
    page.fill("#seen-q", "nguyen van")
    page.press("#seen-q", "Enter")
    page.wait_for_url("**q=nguyen**")
    rows = page.locator("#seen-table tbody tr")
    assert rows.count() == 1 and "Nguyễn Văn An" in rows.first.inner_text()
    page.screenshot(path=tmp_path / "1-seen.png", full_page=True)

    rows.first.locator("a.btn").click()
    page.wait_for_url(f"**/chart/{patient}")
    assert texts["allergies"] in page.locator("#chart-allergies").inner_text()
    assert "Penicillin" in page.locator("#chart-allergies").inner_text()
    for name in ("weight", "bmi", "bp", "temperature", "lab"):
        page.locator(f"#plot-{name} svg.main-svg").first.wait_for()
    assert page.locator("#plot-bp .scatterlayer .trace").count() == 2  # systolic and diastolic
    assert page.locator("#plot-weight .scatterlayer .point").count() == 2
    lab_title = page.locator("#plot-lab .gtitle").text_content()
    assert "Cholesterol" in lab_title  # the first analyte, alphabetically
    # the axes speak the page's language: 22/11/2026 and 68,5 in Vietnamese
    x_ticks = page.locator("#plot-weight .xtick text").all_text_contents()
    y_ticks = page.locator("#plot-weight .ytick text").all_text_contents()
    assert x_ticks and y_ticks
    if locale == "vi-VN":
        assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", tick) for tick in x_ticks), x_ticks
        assert any("," in tick for tick in y_ticks) and not any("." in tick for tick in y_ticks), y_ticks
        assert "(3,0–5,2)" in lab_title
    else:
        assert not any("/" in tick for tick in x_ticks) and any("." in tick for tick in y_ticks), (x_ticks, y_ticks)
        assert "(3.0–5.2)" in lab_title
    page.select_option("#analyte-select", "Glucose")
    page.wait_for_function("document.querySelector('#plot-lab .gtitle').textContent.includes('Glucose')")
    page.screenshot(path=tmp_path / "2-chart.png", full_page=True)
    wide = page.evaluate("""() => [...document.querySelectorAll('#patient-chart *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className)""")
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1, wide

    assert page.locator("#timeline .timeline-entry").count() == 6
    page.locator("#timeline-filter a[data-kind=lab]").click()
    page.wait_for_url("**kind=lab**")
    kinds = page.locator("#timeline .timeline-entry").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds == ["lab", "lab"]
    assert texts["labs"] in page.locator("#timeline-filter a.active").inner_text()
    page.locator("#plot-weight svg.main-svg").first.wait_for()  # the charts stay whatever the filter
    page.screenshot(path=tmp_path / "3-labs-only.png", full_page=True)
    page.locator("#timeline-filter a[data-kind=visit]").click()
    page.wait_for_url("**kind=visit**")
    page.locator("#timeline .timeline-visit a").first.click()
    page.wait_for_url(f"**/visit/{ids['last']}")
    assert external == [], f"requests to other hosts: {external}"
