"""A visit's diagnoses (issue 9, items 2, 3 and 10): codes from the ICD-10 table only, the title
kept as written at the time (in the doctor's language, or the doctor's words), one primary at most
(in the service and in the database), no code twice, a draft of its own doctor only; the same
code check on the generic diagnosis screen and resource; the REST endpoints."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


def _doctor_of(app, db, username: str, name: str) -> int:
    from app.models import Doctor

    user = app.appbuilder.sm.find_user(username=username)
    doctor = db.session.query(Doctor).filter_by(user_id=user.id).one_or_none()
    if doctor is None:
        doctor = Doctor(full_name=name, user_id=user.id)
        db.session.add(doctor)
        db.session.commit()
    return doctor.id


@pytest.fixture
def visit(app, db, clinic):
    """A draft encounter written by the ``doctor`` login."""
    from app.models import Encounter

    doctor = _doctor_of(app, db, "doctor", "Lê Văn Bác Sĩ")
    return clinic.save(Encounter(patient_id=clinic.patient, doctor_id=doctor, chief_complaint="Đau họng"))


def _user(app, username: str):
    return app.appbuilder.sm.find_user(username=username)


def _rows(db, encounter_id: int) -> list[tuple[str, str, bool]]:
    from app.models import Diagnosis

    db.session.expire_all()
    return [(d.icd10_code, d.text, d.is_primary) for d in db.session.execute(
        select(Diagnosis).where(Diagnosis.encounter_id == encounter_id).order_by(Diagnosis.id)).scalars()]


def test_the_title_is_kept_in_the_doctors_language_or_the_doctors_words(app, db, visit):
    from app.services import diagnoses

    doctor = _user(app, "doctor")
    with app.test_request_context():
        diagnoses.add_diagnosis(db.session, visit, "j02.9", True, doctor, NOW, language="vi")
        diagnoses.add_diagnosis(db.session, visit, "R05", False, doctor, NOW, language="en")
        diagnoses.add_diagnosis(db.session, visit, "J30.4", False, doctor, NOW, language="vi",
                                text="Viêm mũi dị ứng theo mùa")
    assert _rows(db, visit) == [("J02.9", "Viêm họng cấp, không đặc hiệu", True), ("R05", "Cough", False),
                                ("J30.4", "Viêm mũi dị ứng theo mùa", False)]


def test_an_unknown_code_is_refused_naming_the_field(app, db, visit):
    from app.services import diagnoses
    from app.services.errors import ValidationFailed

    with app.test_request_context():
        for code in ("X99.9", "J02.99", "", "viem hong"):
            with pytest.raises(ValidationFailed) as refused:
                diagnoses.add_diagnosis(db.session, visit, code, False, _user(app, "doctor"), NOW)
            assert refused.value.field == "icd10_code"
    assert _rows(db, visit) == []


def test_one_primary_making_another_primary_demotes_the_first(app, db, visit):
    from app.services import diagnoses

    doctor = _user(app, "doctor")
    with app.test_request_context():
        first = diagnoses.add_diagnosis(db.session, visit, "J02.9", True, doctor, NOW).id
        diagnoses.add_diagnosis(db.session, visit, "J03.9", True, doctor, NOW)
        assert [r[2] for r in _rows(db, visit)] == [False, True]
        diagnoses.update_diagnosis(db.session, visit, first, doctor, NOW, is_primary=True)
        assert [r[2] for r in _rows(db, visit)] == [True, False]
        diagnoses.update_diagnosis(db.session, visit, first, doctor, NOW, is_primary=False)
        assert [r[2] for r in _rows(db, visit)] == [False, False]
        listed = diagnoses.list_diagnoses(db.session, visit, doctor, NOW)
        assert [d.icd10_code for d in listed] == ["J02.9", "J03.9"]


def test_the_database_refuses_two_primaries_and_a_code_twice(app, db, visit):
    from app.models import Diagnosis

    db.session.add_all([Diagnosis(encounter_id=visit, icd10_code="J02.9", text="a", is_primary=True),
                        Diagnosis(encounter_id=visit, icd10_code="J03.9", text="b", is_primary=True)])
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add_all([Diagnosis(encounter_id=visit, icd10_code="J02.9", text="a", is_primary=False),
                        Diagnosis(encounter_id=visit, icd10_code="J02.9", text="b", is_primary=False)])
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # Any number of secondary ones.
    db.session.add_all([Diagnosis(encounter_id=visit, icd10_code=code, text=code, is_primary=False)
                        for code in ("J02.9", "J03.9", "R05")])
    db.session.commit()


def test_a_code_twice_is_refused(app, db, visit):
    from app.services import diagnoses
    from app.services.errors import Conflict

    doctor = _user(app, "doctor")
    with app.test_request_context():
        diagnoses.add_diagnosis(db.session, visit, "J02.9", True, doctor, NOW)
        with pytest.raises(Conflict) as refused:
            diagnoses.add_diagnosis(db.session, visit, "j02.9", False, doctor, NOW)
    assert refused.value.field == "icd10_code"
    assert len(_rows(db, visit)) == 1


def test_a_signed_record_is_read_only(app, db, visit):
    from app.models import Encounter
    from app.services import diagnoses
    from app.services.errors import Conflict

    doctor = _user(app, "doctor")
    with app.test_request_context():
        kept = diagnoses.add_diagnosis(db.session, visit, "J02.9", True, doctor, NOW).id
        db.session.get(Encounter, visit).signed_at = NOW
        db.session.commit()
        for attempt in (lambda: diagnoses.add_diagnosis(db.session, visit, "R05", False, doctor, NOW),
                        lambda: diagnoses.update_diagnosis(db.session, visit, kept, doctor, NOW, is_primary=False),
                        lambda: diagnoses.remove_diagnosis(db.session, visit, kept, doctor, NOW)):
            with pytest.raises(Conflict):
                attempt()
    assert _rows(db, visit) == [("J02.9", "Acute pharyngitis, unspecified", True)]


def test_another_doctor_may_not_change_the_record(app, db, clinic, visit):
    from app.models import Encounter
    from app.services import diagnoses
    from app.services.errors import Forbidden

    sm = app.appbuilder.sm
    other = sm.find_user(username="doctor2") or sm.add_user("doctor2", "Bác sĩ", "Khác", "doctor2@test.example",
                                                             sm.find_role("Doctor"), password="Test-Passw0rd!")
    other_doctor = _doctor_of(app, db, "doctor2", "Phạm Thị Khác")
    # In the patient's care (their own visit with them): still not the author of this one.
    clinic.save(Encounter(patient_id=clinic.patient, doctor_id=other_doctor, chief_complaint="Ho"))
    with app.test_request_context():
        kept = diagnoses.add_diagnosis(db.session, visit, "J02.9", True, _user(app, "doctor"), NOW).id
        with pytest.raises(Forbidden):
            diagnoses.add_diagnosis(db.session, visit, "R05", False, other, NOW)
        with pytest.raises(Forbidden):
            diagnoses.remove_diagnosis(db.session, visit, kept, other, NOW)
    assert len(_rows(db, visit)) == 1


def test_remove_takes_a_diagnosis_off_a_draft(app, db, visit):
    from app.models import AuditEvent
    from app.services import diagnoses
    from app.services.errors import NotFound

    doctor = _user(app, "doctor")
    with app.test_request_context():
        gone = diagnoses.add_diagnosis(db.session, visit, "J02.9", True, doctor, NOW).id
        diagnoses.remove_diagnosis(db.session, visit, gone, doctor, NOW)
        with pytest.raises(NotFound):
            diagnoses.remove_diagnosis(db.session, visit, gone, doctor, NOW)
    assert _rows(db, visit) == []
    assert db.session.query(AuditEvent).filter_by(entity="Diagnosis", entity_id=str(gone), action="delete").count() == 1


# --- the generic diagnosis screen and resource ------------------------------------------------


def test_the_generic_resource_applies_the_same_code_check(app, db, visit, api_token):
    client = app.test_client()
    headers = api_token("doctor")
    unknown = client.post("/api/v1/diagnosis/", headers=headers,
                          json={"encounter": visit, "icd10_code": "X99.9", "text": "Bịa", "is_primary": False})
    assert unknown.status_code == 422 and "icd10_code" in unknown.get_json()["message"]
    good = client.post("/api/v1/diagnosis/", headers=headers,
                       json={"encounter": visit, "icd10_code": "j02.9", "text": "Viêm họng", "is_primary": True})
    assert good.status_code == 201, good.get_json()
    second = client.post("/api/v1/diagnosis/", headers=headers,
                         json={"encounter": visit, "icd10_code": "J03.9", "text": "Viêm amidan", "is_primary": True})
    assert second.status_code == 422 and "is_primary" in second.get_json()["message"]
    twice = client.post("/api/v1/diagnosis/", headers=headers,
                        json={"encounter": visit, "icd10_code": "J02.9", "text": "Lại", "is_primary": False})
    assert twice.status_code == 422 and "icd10_code" in twice.get_json()["message"]
    changed = client.put(f"/api/v1/diagnosis/{good.get_json()['id']}", headers=headers, json={"icd10_code": "Q99.9"})
    assert changed.status_code == 422 and "icd10_code" in changed.get_json()["message"]
    assert _rows(db, visit) == [("J02.9", "Viêm họng", True)]


# --- the visit's REST endpoints ----------------------------------------------------------------


def test_the_endpoints_with_the_browser_session_and_csrf(app, db, visit, login_as):
    browser = login_as("doctor")
    url = f"/api/v1/encounter/{visit}/diagnoses"
    added = browser.post(url + "?_l_=vi", json={"icd10_code": "J02.9", "is_primary": True})
    assert added.status_code == 201, added.get_json()
    body = added.get_json()
    assert body["result"]["text"] == "Viêm họng cấp, không đặc hiệu" and body["result"]["is_primary"] is True
    second = browser.post(url, json={"icd10_code": "J03.9", "is_primary": False}).get_json()["result"]
    toggled = browser.patch(f"{url}/{second['id']}", json={"is_primary": True})
    assert toggled.status_code == 200
    assert [(d["icd10_code"], d["is_primary"]) for d in toggled.get_json()["diagnoses"]] == \
        [("J03.9", True), ("J02.9", False)]
    assert browser.get(url).get_json()["result"][0]["icd10_code"] == "J03.9"
    removed = browser.delete(f"{url}/{second['id']}")
    assert removed.status_code == 200 and [d["icd10_code"] for d in removed.get_json()["result"]] == ["J02.9"]
    # Without the CSRF header (another site's page): refused, nothing written.
    assert browser.post(url, json={"icd10_code": "R05"}, csrf=False).status_code == 400
    unknown = browser.post(url, json={"icd10_code": "X99.9"})
    assert unknown.status_code == 422 and "icd10_code" in unknown.get_json()["message"]
    assert browser.post(url, json={"icd10_code": "J02.9"}).status_code == 409
    assert browser.post(url, json={"is_primary": "yes"}).status_code == 422
    assert browser.post(f"/api/v1/encounter/{visit + 1000}/diagnoses", json={"icd10_code": "R05"}).status_code == 404
    assert [r[0] for r in _rows(db, visit)] == ["J02.9"]


def test_the_endpoints_with_jwt_and_the_rules(app, db, visit, api_token):
    from app.models import Encounter

    client = app.test_client()
    url = f"/api/v1/encounter/{visit}/diagnoses"
    assert client.post(url, headers=api_token("doctor"), json={"icd10_code": "R05"}).status_code == 201
    assert client.post(url, headers=api_token("receptionist"), json={"icd10_code": "J02.9"}).status_code == 403
    db.session.get(Encounter, visit).signed_at = NOW
    db.session.commit()
    assert client.post(url, headers=api_token("doctor"), json={"icd10_code": "J02.9"}).status_code == 409
    assert [r[0] for r in _rows(db, visit)] == ["R05"]


def test_the_workspace_shows_the_section_editable_or_read_only(app, db, visit, login_as):
    from app.models import Encounter
    from app.services import diagnoses

    with app.test_request_context():
        diagnoses.add_diagnosis(db.session, visit, "J02.9", True, _user(app, "doctor"), NOW, language="vi")
    browser = login_as("doctor")
    page = browser.get(f"/visit/{visit}").get_data(as_text=True)
    assert 'id="dx-query"' in page and "Viêm họng cấp, không đặc hiệu" in page and "visit_diagnoses.js" in page
    db.session.get(Encounter, visit).signed_at = NOW
    db.session.commit()
    page = browser.get(f"/visit/{visit}").get_data(as_text=True)
    assert 'id="dx-query"' not in page and "dx-remove" not in page and "Viêm họng cấp, không đặc hiệu" in page


def test_the_endpoints_are_in_the_openapi_document(app, api_token):
    document = app.test_client().get("/api/v1/_openapi", headers=api_token("admin")).get_json()
    paths = {path: set(operations) for path, operations in document["paths"].items()
             if "icd10" in path or "diagnoses" in path}
    assert paths == {"/api/v1/icd10/": {"get"}, "/api/v1/encounter/{encounter_id}/diagnoses": {"get", "post"},
                     "/api/v1/encounter/{encounter_id}/diagnoses/{diagnosis_id}": {"patch", "delete"}}, paths
    assert "requestBody" in document["paths"]["/api/v1/encounter/{encounter_id}/diagnoses"]["post"]


def test_the_doctor_rewords_a_diagnosis_but_not_to_nothing(app, db, visit, login_as):
    browser = login_as("doctor")
    url = f"/api/v1/encounter/{visit}/diagnoses"
    added = browser.post(url, json={"icd10_code": "J02.9", "is_primary": True}).get_json()["result"]
    reworded = browser.patch(f"{url}/{added['id']}", json={"text": "Viêm họng cấp do virus"})
    assert reworded.status_code == 200 and reworded.get_json()["result"]["text"] == "Viêm họng cấp do virus"
    for bad in ("   ", "x" * 301, None):
        refused = browser.patch(f"{url}/{added['id']}", json={"text": bad})
        assert refused.status_code == 422 and "text" in refused.get_json()["message"], bad
    assert _rows(db, visit) == [("J02.9", "Viêm họng cấp do virus", True)]


def test_primaries_added_at_the_same_moment_leave_one_primary(app, db, visit, live_server, api_token):
    """Six tabs of the doctor each add a primary diagnosis at once: every answer is 201 or 409
    (never a 500), and the visit ends with exactly one primary diagnosis."""
    import json
    import threading
    import urllib.error
    import urllib.request

    headers = {**api_token("doctor"), "Content-Type": "application/json"}
    codes = ["J02.9", "J03.9", "J06.9", "R05", "J00", "J20.9"]
    barrier, statuses = threading.Barrier(len(codes)), []

    def attempt(code: str) -> None:
        request = urllib.request.Request(f"{live_server}/api/v1/encounter/{visit}/diagnoses", method="POST",
                                         data=json.dumps({"icd10_code": code, "is_primary": True}).encode(),
                                         headers=headers)
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    threads = [threading.Thread(target=attempt, args=(code,)) for code in codes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    rows = _rows(db, visit)
    assert sum(1 for _, _, primary in rows if primary) == 1
    assert len(rows) == statuses.count(201)
