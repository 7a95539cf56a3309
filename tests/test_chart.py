"""The patient chart (issue 9, item 6): the timeline (newest first, by kind, discarded visits
hidden), the vitals and lab series, care-team access with its audit rows and break the glass, a
bounded number of queries, plotly.js served by the app, and "Patients I have seen"."""
from __future__ import annotations

import html as html_module
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from tests.test_access import ensure_user

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


def _doctor_of(app, db, username: str, name: str) -> int:
    from app.models import Doctor

    user = app.appbuilder.sm.find_user(username=username)
    doctor = db.session.query(Doctor).filter_by(user_id=user.id).one_or_none()
    if doctor is None:
        doctor = Doctor(full_name=name, user_id=user.id)
        db.session.add(doctor)
        db.session.commit()
    return doctor.id


def _patient(db, name: str, code: str, phone: str | None = None, **more) -> int:
    from app.models import Patient
    from app.services.people import patient_search_text

    patient = Patient(full_name=name, code=code, phone=phone, **more)
    patient.search_text = patient_search_text(patient)
    db.session.add(patient)
    db.session.commit()
    return patient.id


def _visit(db, patient: int, doctor: int, at: datetime, **fields) -> int:
    from app.models import Encounter

    encounter = Encounter(patient_id=patient, doctor_id=doctor, created_at=at, updated_at=at, **fields)
    db.session.add(encounter)
    db.session.commit()
    return encounter.id


def _history(db, patient: int, doctor: int) -> dict:
    """Three visits a month apart (the middle one discarded), with a diagnosis, a prescription, a
    lab order with two results and a file."""
    from app.models import Attachment, Diagnosis, LabOrder, LabResult, Medicine, Prescription, PrescriptionItem

    first = _visit(db, patient, doctor, T0, chief_complaint="Đau đầu", weight_kg=Decimal("70.0"),
                   height_cm=Decimal("175.0"), systolic_bp=150, diastolic_bp=95, temperature_c=Decimal("36.8"),
                   signed_at=T0 + timedelta(hours=1))
    discarded = _visit(db, patient, doctor, T0 + timedelta(days=30), chief_complaint="Bỏ đi",
                       weight_kg=Decimal("99.0"), discarded_at=T0 + timedelta(days=30, hours=1))
    last = _visit(db, patient, doctor, T0 + timedelta(days=60), chief_complaint="Tái khám huyết áp",
                  weight_kg=Decimal("68.0"), height_cm=Decimal("175.0"), systolic_bp=135, diastolic_bp=85,
                  temperature_c=Decimal("37.2"))
    medicine = Medicine(code="AML5", name="Amlodipin", strength="5 mg", unit="viên", price=Decimal(1000))
    db.session.add_all([
        Diagnosis(encounter_id=first, icd10_code="I10", text="Tăng huyết áp vô căn", is_primary=True),
        Diagnosis(encounter_id=discarded, icd10_code="Z00", text="Hidden", is_primary=True),
        medicine,
    ])
    db.session.flush()
    prescription = Prescription(patient_id=patient, doctor_id=doctor, encounter_id=first, status="issued",
                                issued_at=T0 + timedelta(hours=1, minutes=5))
    db.session.add(prescription)
    db.session.flush()
    db.session.add(PrescriptionItem(prescription_id=prescription.id, medicine_id=medicine.id, dose="1 viên",
                                    frequency="1 lần/ngày", duration_days=30, quantity=30))
    order = LabOrder(patient_id=patient, doctor_id=doctor, encounter_id=last, test_code="GLU", test_name="Đường huyết",
                     status="completed", created_at=T0 + timedelta(days=60, minutes=10))
    db.session.add(order)
    db.session.flush()
    attachment = Attachment(patient_id=patient, owner_type="encounter", owner_id=last, file_name="xquang.png",
                            content_type="image/png", size_bytes=10, storage_key="chart-test-key",
                            uploaded_at=T0 + timedelta(days=60, hours=3))
    db.session.add_all([
        attachment,
        LabResult(lab_order_id=order.id, analyte="Glucose", value="7,8", numeric_value=Decimal("7.8"), unit="mmol/L",
                  reference_range="3.9–6.4", flag="high", status="final",
                  resulted_at=T0 + timedelta(days=60, hours=2)),
        LabResult(lab_order_id=order.id, analyte="Ghi chú", value="Mẫu đục", status="final",
                  resulted_at=T0 + timedelta(days=60, hours=2)),
    ])
    db.session.commit()
    return {"first": first, "discarded": discarded, "last": last, "prescription": prescription.id,
            "order": order.id, "file": attachment.id}


@pytest.fixture
def doctor(app, db):
    return _doctor_of(app, db, "doctor", "Lê Văn Bác Sĩ")


def _user(app, username: str):
    return app.appbuilder.sm.find_user(username=username)


def test_the_timeline_is_newest_first_filtered_by_kind_without_discarded_visits(app, db, doctor):
    from app.services.chart import chart

    patient = _patient(db, "Nguyễn Văn An", "BN1", allergies="Penicillin", chronic_conditions="Tăng huyết áp")
    ids = _history(db, patient, doctor)
    with app.test_request_context():
        result = chart(db.session, patient, _user(app, "doctor"), NOW)
    assert [(e.kind, e.id) for e in result.entries] == [
        ("file", ids["file"]), ("lab", ids["order"]), ("visit", ids["last"]), ("prescription", ids["prescription"]),
        ("visit", ids["first"])]
    assert result.counts == {"visit": 2, "prescription": 1, "lab": 1, "file": 1}
    visit = result.entries[-1]
    assert visit.status == "signed" and [d.code for d in visit.diagnoses] == ["I10"]
    assert result.entries[2].status == "draft"
    assert result.entries[3].items[0].medicine == "Amlodipin 5 mg"
    assert [r.analyte for r in result.entries[1].results] == ["Glucose", "Ghi chú"]
    assert result.allergies == "Penicillin" and result.problems == "Tăng huyết áp"
    assert [d.code for d in result.recent_diagnoses] == ["I10"]  # not the discarded visit's Z00

    with app.test_request_context():
        visits = chart(db.session, patient, _user(app, "doctor"), NOW, kinds=["visit"])
        two = chart(db.session, patient, _user(app, "doctor"), NOW, kinds=["lab", "file"])
    assert [e.id for e in visits.entries] == [ids["last"], ids["first"]]
    assert {e.kind for e in two.entries} == {"lab", "file"}
    assert visits.counts == result.counts  # the filter's badges count every kind


def test_vitals_and_lab_series_oldest_first_with_bmi(app, db, doctor):
    from app.services.chart import bmi, chart

    patient = _patient(db, "Nguyễn Văn An", "BN1")
    _history(db, patient, doctor)
    with app.test_request_context():
        result = chart(db.session, patient, _user(app, "doctor"), NOW)
    vitals = result.vitals
    assert vitals["weight"].y == [70.0, 68.0]  # the discarded visit's 99 kg is not there
    assert vitals["weight"].x == [T0, T0 + timedelta(days=60)]
    assert vitals["bmi"].y == [22.9, 22.2]  # 70 / 1.75², 68 / 1.75²
    assert vitals["systolic"].y == [150.0, 135.0] and vitals["diastolic"].y == [95.0, 85.0]
    assert vitals["temperature"].y == [36.8, 37.2]
    assert list(result.labs) == ["Glucose"]  # the text result has no series
    assert result.labs["Glucose"].y == [7.8] and result.labs["Glucose"].unit == "mmol/L"
    assert bmi(Decimal("70"), None) is None and bmi(None, Decimal("170")) is None


def _audit(db, action: str, user_id: int) -> list[dict]:
    from app.models import AuditEvent

    db.session.rollback()
    rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.entity == "Patient",
                                                       AuditEvent.user_id == user_id)).scalars()
    return [json.loads(row.details) for row in rows]


def test_access_in_care_outside_care_and_break_the_glass(app, db, doctor, clinic, login_as):
    patient = _patient(db, "Nguyễn Văn An", "BN1", allergies="Penicillin")
    _visit(db, patient, doctor, T0, chief_complaint="MARK-chart")
    page = login_as("doctor").get(f"/chart/{patient}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "MARK-chart" in html and "Penicillin" in html and "/visit/" in html
    assert _audit(db, "read", _user(app, "doctor").id) == [{"patient_id": patient, "view": "chart"}]

    ensure_user(app, "chart_outsider", "Doctor")
    _doctor_of(app, db, "chart_outsider", "Bác Sĩ Khác")
    outsider = login_as("chart_outsider")
    refused = outsider.get(f"/chart/{patient}")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 403
    assert "MARK-chart" not in body and "Penicillin" not in body
    assert f"/care/break-glass/{patient}?next=" in body
    assert _audit(db, "denied", _user(app, "chart_outsider").id) == [{"patient_id": patient, "view": "chart"}]

    outsider.post(f"/care/break-glass/{patient}", data={"reason": "Hội chẩn theo yêu cầu của khoa"})
    opened = outsider.get(f"/chart/{patient}")
    assert opened.status_code == 200 and "MARK-chart" in opened.get_data(as_text=True)

    assert login_as("receptionist").get(f"/chart/{patient}").status_code in (302, 403)  # no clinical role
    assert login_as("doctor").get("/chart/999999").status_code == 404


def test_the_number_of_queries_does_not_grow_with_the_history(app, db, doctor):
    from app.models import Diagnosis, LabOrder, LabResult
    from app.services.chart import chart

    def queries(visits: int) -> int:
        patient = _patient(db, f"Bệnh Nhân {visits}", f"BQ{visits}")
        for n in range(visits):
            encounter = _visit(db, patient, doctor, T0 + timedelta(days=n), chief_complaint=f"Lần {n}",
                               weight_kg=Decimal("60") + n % 5, height_cm=Decimal("160"))
            order = LabOrder(patient_id=patient, encounter_id=encounter, test_code="GLU", test_name="Đường huyết")
            db.session.add_all([Diagnosis(encounter_id=encounter, icd10_code="I10", text="THA", is_primary=True),
                                order])
            db.session.flush()
            db.session.add(LabResult(lab_order_id=order.id, analyte="Glucose", value="5", numeric_value=5))
        db.session.commit()
        count = [0]

        def counter(*_args) -> None:
            count[0] += 1

        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            with app.test_request_context():
                result = chart(db.session, patient, _user(app, "doctor"), NOW)
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        assert result.counts["visit"] == visits and len(result.labs["Glucose"].y) == visits
        return count[0]

    assert queries(5) == queries(50)


def test_plotly_is_served_by_the_app_and_the_page_names_no_other_host(app, db, doctor, login_as):
    patient = _patient(db, "Nguyễn Văn An", "BN1")
    _history(db, patient, doctor)
    browser = login_as("doctor")
    html = browser.get(f"/chart/{patient}").get_data(as_text=True)
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html) + re.findall(r'<link[^>]*\bhref="([^"]+)"', html)
    assert any("/static-vendor/plotly.min.js" in src for src in sources)
    assert [src for src in sources if "//" in src] == []  # no CDN, no other host
    script = browser.get(next(src for src in sources if "plotly.min.js" in src))
    assert script.status_code == 200 and b"plotly" in script.data[:2000].lower()
    assert "max-age=31536000" in script.headers["Cache-Control"]
    data = json.loads(html_module.unescape(re.search(r"<div id=\"chart-data\" hidden data-chart='([^']*)'", html)[1]))
    assert data["vitals"]["weight"]["y"] == [70.0, 68.0]
    assert data["vitals"]["weight"]["x"][0] == "2026-03-01 09:00"  # the clinic's time (UTC+7)
    assert data["labs"]["Glucose"]["y"] == [7.8]


def test_the_chart_page_filters_by_kind_and_speaks_vietnamese(app, db, doctor, login_as):
    patient = _patient(db, "Nguyễn Văn An", "BN1")
    ids = _history(db, patient, doctor)
    browser = login_as("doctor")
    labs = browser.get(f"/chart/{patient}?kind=lab").get_data(as_text=True)
    assert re.findall(r'data-kind="(\w+)" data-id', labs) == ["lab"]
    assert f"/laborderview/show/{ids['order']}" in labs
    vi = browser.get(f"/chart/{patient}", query_string={"_l_": "vi"}).get_data(as_text=True)
    assert "Dị ứng" in vi and "Lịch sử khám chữa bệnh" in vi and "Đơn thuốc" in vi


def test_patients_seen_lists_the_doctors_patients_latest_first_and_searches_without_accents(app, db, doctor,
                                                                                              login_as):
    from app.services.chart import patients_seen

    an = _patient(db, "Nguyễn Văn An", "BN1", phone="+84912345678")  # stored E.164
    binh = _patient(db, "Trần Thị Bình", "BN2", phone="+84987654321")
    other = _patient(db, "Nguyễn Thị Khác", "BN3")
    other_doctor = _doctor_of(app, db, "admin", "Bác Sĩ Quản Trị")
    _visit(db, an, doctor, T0)
    _visit(db, binh, doctor, T0 + timedelta(days=3))
    _visit(db, an, doctor, T0 - timedelta(days=3))
    _visit(db, other, other_doctor, T0 + timedelta(days=5))
    _visit(db, other, doctor, T0 + timedelta(days=9), discarded_at=T0 + timedelta(days=9))
    user = _user(app, "doctor")
    seen = patients_seen(db.session, user, "", 1)
    assert [(p.id, p.visits) for p in seen.patients] == [(binh, 1), (an, 2)] and seen.total == 2
    assert [p.id for p in patients_seen(db.session, user, "nguyen van", 1).patients] == [an]
    assert [p.id for p in patients_seen(db.session, user, "BÌNH", 1).patients] == [binh]
    assert [p.id for p in patients_seen(db.session, user, "0912 345 678", 1).patients] == [an]
    assert [p.id for p in patients_seen(db.session, user, "bn2", 1).patients] == [binh]
    paged = patients_seen(db.session, user, "", 2, per_page=1)
    assert [p.id for p in paged.patients] == [an] and paged.pages == 2
    assert not patients_seen(db.session, _user(app, "receptionist"), "", 1).has_doctor

    page = login_as("doctor").get("/patients-seen/", query_string={"q": "nguyễn"}).get_data(as_text=True)
    assert "Nguyễn Văn An" in page and "Trần Thị Bình" not in page and "Nguyễn Thị Khác" not in page
    assert f"/chart/{an}" in page


def test_the_patient_page_links_to_the_chart_and_doctors_see_the_menu_entry(app, db, doctor, login_as):
    patient = _patient(db, "Nguyễn Văn An", "BN1")
    doctor_page = login_as("doctor").get(f"/patientview/show/{patient}").get_data(as_text=True)
    assert f'href="/chart/{patient}"' in doctor_page
    reception = login_as("receptionist").get(f"/patientview/show/{patient}").get_data(as_text=True)
    assert f'href="/chart/{patient}"' not in reception
    home = login_as("doctor").get("/", follow_redirects=True).get_data(as_text=True)
    assert 'href="/patients-seen/"' in home
    assert 'href="/patients-seen/"' not in login_as("receptionist").get("/", follow_redirects=True).get_data(
        as_text=True)


def test_recorded_text_cannot_break_out_of_the_page(app, db, doctor, login_as):
    """Allergies, complaints and analyte names are typed by people: shown as text, and the charts'
    JSON attribute stays one attribute whatever quotes they hold."""
    from app.models import LabOrder, LabResult

    patient = _patient(db, "Nguyễn Văn An", "BN1", allergies="<script>alert(1)</script>")
    visit = _visit(db, patient, doctor, T0, chief_complaint="<img src=x onerror=alert(2)>")
    order = LabOrder(patient_id=patient, encounter_id=visit, test_code="X", test_name="X")
    db.session.add(order)
    db.session.flush()
    analyte = "x' onmouseover='alert(3)"
    db.session.add(LabResult(lab_order_id=order.id, analyte=analyte, value="1", numeric_value=1))
    db.session.commit()
    html = login_as("doctor").get(f"/chart/{patient}").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "onmouseover='" not in html
    data = json.loads(html_module.unescape(re.search(r"<div id=\"chart-data\" hidden data-chart='([^']*)'", html)[1]))
    assert list(data["labs"]) == [analyte]


def test_plotly_is_sent_gzip_compressed_once_and_revalidated_by_its_etag(app, db, doctor, login_as):
    import gzip
    from pathlib import Path

    import plotly

    original = (Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js").read_bytes()
    browser = login_as("doctor")
    packed = browser.get("/static-vendor/plotly.min.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert len(packed.data) < len(original) / 2  # 4.8 MB -> about 1.4 MB
    assert gzip.decompress(packed.data) == original
    assert "max-age=31536000" in packed.headers["Cache-Control"] and packed.headers["ETag"]
    again = browser.get("/static-vendor/plotly.min.js", headers={"Accept-Encoding": "gzip",
                                                                  "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    plain = browser.get("/static-vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers and plain.data == original
    assert plain.headers["ETag"] != packed.headers["ETag"]


def test_in_vietnamese_the_chart_speaks_the_readers_numbers_and_words(app, db, doctor, login_as):
    patient = _patient(db, "Nguyễn Văn An", "BN1", blood_type="unknown")
    _history(db, patient, doctor)
    browser = login_as("doctor")
    vi = browser.get(f"/chart/{patient}", query_string={"_l_": "vi"}).get_data(as_text=True)
    assert "(3,9–6,4)" in vi and "3.9–6.4" not in vi  # the range in the value's decimal mark
    assert "Nhóm máu: chưa rõ" in vi and "unknown" not in vi
    data = json.loads(html_module.unescape(re.search(r"<div id=\"chart-data\" hidden data-chart='([^']*)'", vi)[1]))
    assert data["lang"] == "vi" and data["labs"]["Glucose"]["range"] == "3,9–6,4"  # the plot's title
    en = browser.get(f"/chart/{patient}", query_string={"_l_": "en"}).get_data(as_text=True)
    assert "(3.9–6.4)" in en and "Blood type: unknown" in en


def test_patients_seen_shows_phones_as_people_write_them(app, db, doctor, login_as):
    an = _patient(db, "Nguyễn Văn An", "BN1", phone="+84914138170")
    _visit(db, an, doctor, T0)
    page = login_as("doctor").get("/patients-seen/").get_data(as_text=True)
    assert "0914 138 170" in page and "+84914138170" not in page
