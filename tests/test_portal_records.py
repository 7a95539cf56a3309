"""The patient's own record in the portal (issue 9, item 9): signed visits only, never the doctor's
private notes (pages and PDF), only released final results, files through the access check,
another patient's ids answered 404 with a ``denied`` audit row, and the visit summary PDF in
Vietnamese. Records are built straight with the models (the clinical services are not this
test's subject)."""
from __future__ import annotations

import io
import json
import os
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD

PRIVATE = "PRIVATE-NOTE-4b1e"  # the doctor's private notes: never in any portal page or PDF
EXAM = "EXAM-INTERNAL-77c2"  # history and examination: the doctor's working notes, not shown
DRAFT = "DRAFT-VISIT-19af"
DISCARDED = "DISCARDED-VISIT-5d0c"
OTHERS = "OTHER-PATIENT-8e21"
HIDDEN_RESULT = "HIDDEN-RESULT"


@dataclass
class Records:
    owner_login: str
    other_login: str
    owner: int
    other: int
    owner_user: int
    other_user: int
    signed: int
    older: int
    draft: int
    discarded: int
    others_visit: int
    result_high: int
    result_corrected: int
    result_preliminary: int
    result_unreleased: int
    others_result: int
    visit_file: int
    record_file: int
    draft_file: int
    others_file: int


def _login(app, full_name: str, code: str) -> tuple[str, int, int]:
    from app.extensions import db
    from app.models import Patient

    username = f"pr-{uuid.uuid4().hex[:8]}"
    sm = app.appbuilder.sm
    user = sm.add_user(username, "Test", "Patient", f"{username}@test.example", sm.find_role("Patient"),
                       password=PASSWORD)
    patient = Patient(code=code, full_name=full_name, search_text=full_name.lower(), user_id=user.id,
                      date_of_birth=date(1985, 7, 20))
    db.session.add(patient)
    db.session.commit()
    return username, user.id, patient.id


def _add(db, *items):
    for item in items:
        db.session.add(item)
    db.session.commit()
    return items[0].id


def _file(app, db, patient: int, owner_type: str, owner_id: int, name: str, body: bytes) -> int:
    from app.models import Attachment

    key = f"pr/{uuid.uuid4().hex}"
    path = os.path.join(app.config["UPLOAD_DIR"], key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(body)
    return _add(db, Attachment(patient_id=patient, owner_type=owner_type, owner_id=owner_id, file_name=name,
                               content_type="application/pdf", size_bytes=len(body), storage_key=key))


def _visit(db, patient: int, doctor: int, complaint: str, *, signed: bool, days_ago: int = 0,
           discarded: bool = False, diagnoses=(), medicines=(), follow_up: date | None = None) -> int:
    """An encounter written as a draft, then signed (or discarded), as the workflow does."""
    from app.models import Diagnosis, Encounter, Prescription, PrescriptionItem

    at = datetime.now(timezone.utc) - timedelta(days=days_ago)
    encounter = Encounter(patient_id=patient, doctor_id=doctor, chief_complaint=complaint, history=f"{EXAM} history",
                          examination=f"{EXAM} exam", private_notes=f"{PRIVATE} nghi ngờ", pulse=88,
                          treatment_plan="Nghỉ ngơi, uống nhiều nước ấm.", follow_up_date=follow_up,
                          created_at=at)
    encounter_id = _add(db, encounter)
    for code, text, primary in diagnoses:
        _add(db, Diagnosis(encounter_id=encounter_id, icd10_code=code, text=text, is_primary=primary))
    if medicines:
        prescription = _add(db, Prescription(patient_id=patient, doctor_id=doctor, encounter_id=encounter_id,
                                             status="issued", issued_at=at, notes=f"{PRIVATE} pharmacy"))
        for medicine, dose, frequency, days, quantity, instructions in medicines:
            _add(db, PrescriptionItem(prescription_id=prescription, medicine_id=medicine, dose=dose,
                                      frequency=frequency, duration_days=days, quantity=quantity,
                                      instructions=instructions))
    row = db.session.get(Encounter, encounter_id)
    if signed:
        row.signed_at = at + timedelta(minutes=20)
    if discarded:
        row.discarded_at = at + timedelta(minutes=5)
    db.session.commit()
    return encounter_id


@pytest.fixture
def records(app, db) -> Records:
    from app.models import Doctor, LabOrder, LabResult, Medicine

    owner_login, owner_user, owner = _login(app, "Phạm Thị Hương", "BN-PR1")
    other_login, other_user, other = _login(app, "Người Khác Hẳn", "BN-PR2")
    doctor = _add(db, Doctor(full_name="Trần Thị Bình", title="BS."))
    para = _add(db, Medicine(code=f"PARA-{uuid.uuid4().hex[:4]}", name="Paracetamol", strength="500 mg",
                             unit="viên", price=Decimal(1000)))
    amox = _add(db, Medicine(code=f"AMOX-{uuid.uuid4().hex[:4]}", name="Amoxicillin", strength="500 mg",
                             unit="viên", price=Decimal(2000)))
    signed = _visit(db, owner, doctor, "Sốt, đau họng 3 ngày", signed=True, days_ago=2, follow_up=date(2027, 1, 15),
                    diagnoses=[("J02.9", "Viêm họng cấp, không đặc hiệu", True), ("R50.9", "Sốt, không đặc hiệu",
                                                                                     False)],
                    medicines=[(para, "1 viên", "3 lần/ngày", 3, 9, "Uống sau ăn; ngừng khi hết sốt"),
                               (amox, "1 viên", "2 lần/ngày", 7, 14, "Uống đủ 7 ngày")])
    older = _visit(db, owner, doctor, "Khám sức khỏe định kỳ", signed=True, days_ago=200)
    draft = _visit(db, owner, doctor, DRAFT, signed=False, days_ago=1)
    discarded = _visit(db, owner, doctor, DISCARDED, signed=False, discarded=True, days_ago=1)
    others_visit = _visit(db, other, doctor, OTHERS, signed=True, days_ago=3)

    order = _add(db, LabOrder(patient_id=owner, doctor_id=doctor, encounter_id=signed, test_code="CBC",
                              test_name="Công thức máu"))

    def result(order_id, analyte, value, **kw):
        return _add(db, LabResult(lab_order_id=order_id, analyte=analyte, value=value, **kw))

    result_high = result(order, "Bạch cầu (WBC)", "13.2", unit="G/L", reference_range="4.0–10.0", flag="high",
                         status="final", released_to_patient=True)
    result_corrected = result(order, "Hemoglobin", "135", unit="g/L", reference_range="120–160", flag="normal",
                              status="corrected", released_to_patient=True)
    result_preliminary = result(order, f"{HIDDEN_RESULT} prelim", "9", status="preliminary", released_to_patient=True)
    result_unreleased = result(order, f"{HIDDEN_RESULT} unreleased", "7", status="final", released_to_patient=False)
    others_order = _add(db, LabOrder(patient_id=other, doctor_id=doctor, test_code="CBC", test_name=OTHERS))
    others_result = result(others_order, OTHERS, "1", status="final", released_to_patient=True)

    visit_file = _file(app, db, owner, "encounter", signed, "Phim X-quang ngực.pdf", b"%PDF-1.4 chest x-ray")
    record_file = _file(app, db, owner, "patient", owner, "Giấy chuyển viện.pdf", b"%PDF-1.4 referral")
    draft_file = _file(app, db, owner, "encounter", draft, f"{DRAFT}.pdf", b"%PDF-1.4 draft")
    others_file = _file(app, db, other, "patient", other, f"{OTHERS}.pdf", b"%PDF-1.4 other")
    return Records(owner_login, other_login, owner, other, owner_user, other_user, signed, older, draft, discarded,
                   others_visit, result_high, result_corrected, result_preliminary, result_unreleased,
                   others_result, visit_file, record_file, draft_file, others_file)


def _audit(db, action: str, entity: str, user_id: int) -> list:
    from app.models import AuditEvent

    db.session.rollback()
    return list(db.session.execute(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.entity == entity, AuditEvent.user_id == user_id)
        .order_by(AuditEvent.id)).scalars())


def _text(response) -> str:
    return response.get_data(as_text=True)


def _never_private(body: str) -> None:
    assert PRIVATE not in body and "nghi ngờ" not in body
    assert EXAM not in body


def test_my_visits_lists_only_signed_visits_newest_first(app, db, records, login_as):
    browser = login_as(records.owner_login)
    response = browser.get("/clinic/me/visits")
    body = _text(response)
    assert response.status_code == 200
    assert "Sốt, đau họng 3 ngày" in body and "Khám sức khỏe định kỳ" in body
    assert body.index("Sốt, đau họng 3 ngày") < body.index("Khám sức khỏe định kỳ")  # newest first
    assert "J02.9" in body and "Viêm họng cấp" in body
    assert "BS. Trần Thị Bình" in body
    for hidden in (DRAFT, DISCARDED, OTHERS):
        assert hidden not in body
    _never_private(body)
    assert response.headers["Cache-Control"] == "private, no-store"
    listed = [json.loads(row.details) for row in _audit(db, "read", "Encounter", records.owner_user)]
    assert listed and listed[-1]["ids"] == [records.signed, records.older]
    assert listed[-1]["patients"] == [records.owner]


def test_one_visit_shows_complaint_diagnoses_plan_prescriptions_and_follow_up(app, db, records, login_as):
    response = login_as(records.owner_login).get(f"/clinic/me/visits/{records.signed}")
    body = _text(response)
    assert response.status_code == 200
    for shown in ("Sốt, đau họng 3 ngày", "J02.9", "Viêm họng cấp, không đặc hiệu", "R50.9",
                  "Nghỉ ngơi, uống nhiều nước ấm.", "Paracetamol", "500 mg", "3 lần/ngày",
                  "Uống sau ăn; ngừng khi hết sốt", "Amoxicillin", "Uống đủ 7 ngày", "2027",
                  "Phim X-quang ngực.pdf", "summary.pdf"):
        assert shown in body, shown
    _never_private(body)
    assert "Giấy chuyển viện.pdf" not in body  # a file of the record, not of this visit
    reads = _audit(db, "read", "Encounter", records.owner_user)
    assert [row.entity_id for row in reads if row.entity_id] == [str(records.signed)]
    items = [json.loads(row.details) for row in _audit(db, "read", "PrescriptionItem", records.owner_user)]
    assert len(items[-1]["ids"]) == 2


def test_vietnamese_pages(app, db, records, login_as):
    browser = login_as(records.owner_login)
    browser.get("/clinic/language/vi")
    visit = _text(browser.get(f"/clinic/me/visits/{records.signed}"))
    assert "Chẩn đoán" in visit and "Đơn thuốc" in visit and "Tái khám" in visit
    results = _text(browser.get("/clinic/me/results"))
    assert "Kết quả xét nghiệm của tôi" in results and "Cao hơn bình thường" in results
    files = _text(browser.get("/clinic/me/files"))
    assert "Tệp của tôi" in files


@pytest.mark.parametrize("path", [
    "/clinic/me/visits/{draft}", "/clinic/me/visits/{discarded}", "/clinic/me/visits/{others_visit}",
    "/clinic/me/visits/{draft}/summary.pdf", "/clinic/me/visits/{others_visit}/summary.pdf",
    "/clinic/me/results/{result_preliminary}", "/clinic/me/results/{result_unreleased}",
    "/clinic/me/results/{others_result}",
    "/clinic/me/files/{draft_file}", "/clinic/me/files/{others_file}", "/clinic/me/files/999999",
])
def test_anything_else_is_not_found_and_the_attempt_is_audited(app, db, records, login_as, path):
    url = path.format(**records.__dict__)
    entity = {"visits": "Encounter", "results": "LabResult", "files": "Attachment"}[url.split("/")[3]]
    wanted = url.split("/")[4]
    response = login_as(records.owner_login).get(url)
    body = _text(response)
    assert response.status_code == 404
    for hidden in (DRAFT, DISCARDED, OTHERS, HIDDEN_RESULT, "Người Khác Hẳn"):
        assert hidden not in body
    denied = _audit(db, "denied", entity, records.owner_user)
    assert [row.entity_id for row in denied] == [wanted]
    assert json.loads(denied[0].details) == {"portal_patient": records.owner}
    assert not [row for row in _audit(db, "read", entity, records.owner_user) if row.entity_id == wanted]


def test_the_other_patient_sees_only_their_own(app, db, records, login_as):
    browser = login_as(records.other_login)
    visits = _text(browser.get("/clinic/me/visits"))
    assert OTHERS in visits and "Sốt, đau họng" not in visits
    assert browser.get(f"/clinic/me/visits/{records.signed}").status_code == 404
    assert browser.get(f"/clinic/me/files/{records.visit_file}").status_code == 404
    assert browser.get(f"/clinic/me/results/{records.result_high}").status_code == 404
    assert "Bạch cầu" not in _text(browser.get("/clinic/me/results"))
    assert "Phim X-quang" not in _text(browser.get("/clinic/me/files"))


def test_my_results_show_only_released_final_results_with_ranges_and_flags_in_words(app, db, records, login_as):
    browser = login_as(records.owner_login)
    body = _text(browser.get("/clinic/me/results"))
    assert "Công thức máu" in body
    assert "Bạch cầu (WBC)" in body and "13.2" in body and "G/L" in body and "4.0–10.0" in body
    assert "Hemoglobin" in body and "corrected" in body
    assert HIDDEN_RESULT not in body and OTHERS not in body
    # the high value says so in words, not only in colour
    row = body[body.index(f'data-id="{records.result_high}"'):]
    row = row[:row.index("</tr>")]
    assert "Above the normal range" in row and "pub-flag-high" in row
    listed = [json.loads(row.details) for row in _audit(db, "read", "LabResult", records.owner_user)]
    assert sorted(listed[-1]["ids"]) == sorted([records.result_high, records.result_corrected])

    one = browser.get(f"/clinic/me/results/{records.result_high}")
    assert one.status_code == 200 and "13.2" in _text(one) and "Above the normal range" in _text(one)
    assert [row.entity_id for row in _audit(db, "read", "LabResult", records.owner_user) if row.entity_id] \
        == [str(records.result_high)]


def test_my_files_and_downloads_through_the_app(app, db, records, login_as):
    browser = login_as(records.owner_login)
    body = _text(browser.get("/clinic/me/files"))
    assert "Phim X-quang ngực.pdf" in body and "Giấy chuyển viện.pdf" in body
    assert DRAFT not in body and OTHERS not in body
    response = browser.get(f"/clinic/me/files/{records.visit_file}")
    assert response.status_code == 200 and response.data == b"%PDF-1.4 chest x-ray"
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert [row.entity_id for row in _audit(db, "read", "Attachment", records.owner_user) if row.entity_id] \
        == [str(records.visit_file)]
    assert login_as(records.owner_login).get(f"/clinic/me/files/{records.record_file}").data == b"%PDF-1.4 referral"


def test_a_cloud_store_answers_with_its_short_lived_address(app, db, records, login_as, monkeypatch):
    from app.public import records as pages

    asked = []

    class CloudStore:
        def url(self, key, file_name, content_type, expires):
            asked.append((key, file_name, expires))
            return f"https://files.example/{key}?sig=abc"

        def get(self, key):  # pragma: no cover - a cloud store is never read by the app here
            raise AssertionError("the app must not stream a cloud file")

    monkeypatch.setattr(pages, "file_store", lambda config: CloudStore())
    response = login_as(records.owner_login).get(f"/clinic/me/files/{records.visit_file}")
    assert response.status_code == 302 and response.headers["Location"].startswith("https://files.example/pr/")
    assert asked[0][1] == "Phim X-quang ngực.pdf" and asked[0][2] <= timedelta(minutes=5)
    # the access check comes first: another patient's id never reaches the store
    assert login_as(records.owner_login).get(f"/clinic/me/files/{records.others_file}").status_code == 404
    assert len(asked) == 1


def test_a_missing_stored_file_is_not_found(app, db, records, login_as):
    from app.models import Attachment

    os.remove(os.path.join(app.config["UPLOAD_DIR"], db.session.get(Attachment, records.visit_file).storage_key))
    assert login_as(records.owner_login).get(f"/clinic/me/files/{records.visit_file}").status_code == 404


def pdf_text(data: bytes) -> str:
    import unicodedata

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return unicodedata.normalize("NFC", "\n".join(page.extract_text() for page in reader.pages))


def test_visit_summary_pdf_in_vietnamese(app, db, records, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "APP_NAME", "Phòng khám Đa khoa Hòa Bình")
    monkeypatch.setitem(app.config, "CLINIC_ADDRESS", "12 Đường Lê Lợi, Quận 1, TP. Hồ Chí Minh")
    monkeypatch.setitem(app.config, "CLINIC_PHONE", "028 3822 1234")
    browser = login_as(records.owner_login)
    browser.get("/clinic/language/vi")
    response = browser.get(f"/clinic/me/visits/{records.signed}/summary.pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.data.startswith(b"%PDF")
    text = pdf_text(response.data)
    for shown in ("Phòng khám Đa khoa Hòa Bình", "12 Đường Lê Lợi", "028 3822 1234", "Tóm tắt lần khám",
                  "Phạm Thị Hương", "BN-PR1",
                  "BS. Trần Thị Bình", "Chẩn đoán", "J02.9", "Viêm họng cấp, không đặc hiệu", "Đơn thuốc",
                  "Paracetamol", "3 lần/ngày", "Sốt, đau họng 3 ngày", "Nghỉ ngơi, uống nhiều nước ấm.",
                  "Tái khám", "2027"):
        assert shown in text, shown
    _never_private(text)
    assert [row.entity_id for row in _audit(db, "read", "Encounter", records.owner_user) if row.entity_id] \
        == [str(records.signed)]


def test_visit_summary_pdf_in_english_without_prescriptions(app, db, records, login_as):
    browser = login_as(records.owner_login)
    browser.get("/clinic/language/en")
    text = pdf_text(browser.get(f"/clinic/me/visits/{records.older}/summary.pdf").data)
    assert "Visit summary" in text and "Khám sức khỏe định kỳ" in text
    assert "No medicines were prescribed at this visit." in text
    _never_private(text)


def test_the_pdf_font_comes_from_an_installed_package():
    """No system font and no font file in the repository: the TTF is the ttf-opensans package's."""
    import ttf_opensans

    from app.services.visit_summary import font_files

    for path in font_files().values():
        assert os.path.isfile(path) and path.startswith(os.path.dirname(ttf_opensans.__file__))


def test_guests_are_sent_to_the_login(client):
    for path in ("/clinic/me/visits", "/clinic/me/results", "/clinic/me/files", "/clinic/me/visits/1/summary.pdf"):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_the_portal_home_links_to_the_record(app, db, records, login_as):
    body = _text(login_as(records.owner_login).get("/clinic/me/appointments"))
    for path in ("/clinic/me/visits", "/clinic/me/results", "/clinic/me/files"):
        assert f'href="{path}"' in body


def test_an_unreachable_store_says_so(app, db, records, login_as, monkeypatch):
    from app.public import records as pages
    from app.services.storage import StorageUnavailable

    class DownStore:
        def url(self, key, file_name, content_type, expires):
            return None

        def get(self, key):
            raise StorageUnavailable("connection refused")

    monkeypatch.setattr(pages, "file_store", lambda config: DownStore())
    response = login_as(records.owner_login).get(f"/clinic/me/files/{records.visit_file}")
    assert response.status_code == 503 and "cannot be reached" in _text(response)


def test_the_visits_page_costs_the_same_statements_for_few_or_many_visits(app, db, records):
    """No N+1: the list loads encounters, their diagnoses and doctors in a fixed number of statements."""
    from sqlalchemy import event

    from app.models import Doctor
    from app.services import portal_records

    now = datetime.now(timezone.utc)

    def statements() -> int:
        db.session.close()  # a fresh session, as a request has
        user = app.appbuilder.sm.find_user(username=records.owner_login)
        [role.name for role in user.roles]  # the login as a request has it loaded
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            with app.test_request_context():
                portal_records.signed_visits(db.session, user, records.owner, now)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")])

    few = statements()
    for n in range(12):
        doctor = _add(db, Doctor(full_name=f"Bác sĩ {n}"))
        _visit(db, records.owner, doctor, f"Lần {n}", signed=True, days_ago=10 + n,
               diagnoses=[("J00", "Viêm mũi họng cấp", True)])
    assert statements() == few


def test_draft_and_cancelled_prescriptions_of_a_signed_visit_are_not_shown(app, db, records, login_as):
    from app.models import Doctor, Encounter, Medicine, Prescription, PrescriptionItem

    doctor = db.session.execute(select(Doctor.id)).scalars().first()
    medicine = db.session.execute(select(Medicine.id)).scalars().first()
    visit = _visit(db, records.owner, doctor, "Ho kéo dài", signed=False, days_ago=5,
                   medicines=[(medicine, "1 viên", "2 lần/ngày", 5, 10, "RX-ISSUED")])
    for status in ("draft", "cancelled"):
        prescription = _add(db, Prescription(patient_id=records.owner, doctor_id=doctor, encounter_id=visit,
                                             status=status))
        _add(db, PrescriptionItem(prescription_id=prescription, medicine_id=medicine, dose="2 viên",
                                  frequency="1 lần/ngày", quantity=2, instructions=f"RX-{status.upper()}"))
    db.session.get(Encounter, visit).signed_at = datetime.now(timezone.utc)  # signed after the prescriptions
    db.session.commit()
    browser = login_as(records.owner_login)
    page = _text(browser.get(f"/clinic/me/visits/{visit}"))
    summary = pdf_text(browser.get(f"/clinic/me/visits/{visit}/summary.pdf").data)
    for body in (page, summary):
        assert "RX-ISSUED" in body
        assert "RX-DRAFT" not in body and "RX-CANCELLED" not in body


def _visit_day(app, db, encounter_id: int) -> date:
    from app.models import Encounter
    from app.services.settings import ClinicSettings

    zone = ClinicSettings.from_config(app.config).timezone
    return db.session.get(Encounter, encounter_id).created_at.astimezone(zone).date()


def test_in_vietnamese_every_date_is_dd_mm_yyyy_and_ranges_use_the_decimal_comma(app, db, records, login_as):
    import re

    day = _visit_day(app, db, records.signed).strftime("%d/%m/%Y")
    browser = login_as(records.owner_login)
    browser.get("/clinic/language/vi")
    pages = {path: _text(browser.get(path)) for path in (
        "/clinic/me/visits", f"/clinic/me/visits/{records.signed}", "/clinic/me/results",
        f"/clinic/me/results/{records.result_high}", "/clinic/me/files")}
    pdf = pdf_text(browser.get(f"/clinic/me/visits/{records.signed}/summary.pdf").data)
    for where, text in [*pages.items(), ("pdf", pdf)]:
        assert re.search(r"\b\d\d/\d\d/20\d\d\b", text), where
        assert day in text or "results" in where, where  # a result's date is its order's, not the visit's
        assert not re.search(r"\bth(áng|g) \d", text), where  # never "2 tháng 12, 2026" / "2 thg 12, 2026"
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), where
    assert "15/01/2027" in pages[f"/clinic/me/visits/{records.signed}"] and "15/01/2027" in pdf  # the follow-up
    for path in ("/clinic/me/results", f"/clinic/me/results/{records.result_high}"):
        assert "4,0–10,0" in pages[path] and "4.0–10.0" not in pages[path], path
        assert ">13,2<" in pages[path] and "13.2" not in pages[path], path  # the value too, stored "13.2"


def test_in_english_dates_are_yyyy_mm_dd_on_the_pages_and_in_the_pdf(app, db, records, login_as):
    import re

    day = _visit_day(app, db, records.signed).isoformat()
    browser = login_as(records.owner_login)
    browser.get("/clinic/language/en")
    visit = _text(browser.get(f"/clinic/me/visits/{records.signed}"))
    pdf = pdf_text(browser.get(f"/clinic/me/visits/{records.signed}/summary.pdf").data)
    for text in (visit, pdf, _text(browser.get("/clinic/me/visits"))):
        assert day in text
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", _text(browser.get("/clinic/me/results")))
    assert "2027-01-15" in visit and "2027-01-15" in pdf and "January" not in visit + pdf
