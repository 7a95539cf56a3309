"""The read-only FHIR R4 API (issue 17, item 5): every resource type validated by fhir.resources'
R4B models, the search parameters and paging, ``$everything``, the capability statement, and who
reads what (a patient their own; a doctor their care team's; staff by role; nobody without a token)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from fhir.resources.R4B import get_fhir_model_class

from tests.factories import token_headers
from tests.test_access import ensure_user

BASE = "/fhir/R4"
FHIR_JSON = "application/fhir+json"
USERS = {"owner": ("fhir_patient_owner", "Patient"), "other": ("fhir_patient_other", "Patient"),
         "doctor_care": ("fhir_doctor_care", "Doctor"), "doctor_other": ("fhir_doctor_other", "Doctor")}
WHEN = datetime(2025, 3, 10, 2, 0, tzinfo=timezone.utc)  # 09:00 in Hanoi


@dataclass
class World:
    owner: int
    other: int
    doctor_care: int
    doctor_other: int
    appointment: int
    encounter: int
    draft_encounter: int
    diagnosis: int
    result: int
    item: int
    invoice: int
    department: int


def _save(db, *items):
    for item in items:
        db.session.add(item)
    db.session.commit()
    return items[0].id


@pytest.fixture
def world(app, db, clinic) -> World:
    from app.models import (
        Appointment,
        Department,
        Diagnosis,
        Doctor,
        Encounter,
        Invoice,
        InvoiceLine,
        LabOrder,
        LabResult,
        Medicine,
        Patient,
        Prescription,
        PrescriptionItem,
    )

    users = {key: ensure_user(app, name, role) for key, (name, role) in USERS.items()}
    department = _save(db, Department(code="FHIRK", name="Khoa Nội tổng hợp"))
    owner = _save(db, Patient(code="BN000101", full_name="Nguyễn Thị Hoa", search_text="nguyen thi hoa bn000101",
                              date_of_birth=date(1990, 5, 17), sex="female", national_id="001190000111",
                              insurance_number="DN4010000000111", phone="0903123456",
                              user_id=users["owner"]))
    other = _save(db, Patient(code="BN000102", full_name="Trần Văn Nam", search_text="tran van nam bn000102",
                              date_of_birth=date(1985, 1, 2), sex="male", user_id=users["other"]))
    doctor_care = _save(db, Doctor(full_name="Lê Minh Tâm", title="BS.", department_id=department,
                                   user_id=users["doctor_care"]))
    doctor_other = _save(db, Doctor(full_name="Phạm Quốc Bảo", user_id=users["doctor_other"]))
    appointment = _save(db, Appointment(patient_id=owner, doctor_id=doctor_care, service_id=clinic.service,
                                        start_at=WHEN, end_at=WHEN + timedelta(minutes=20), status="completed"))
    _save(db, Appointment(patient_id=other, doctor_id=doctor_other, service_id=clinic.service,
                          start_at=WHEN + timedelta(days=30), end_at=WHEN + timedelta(days=30, minutes=20)))
    encounter = _save(db, Encounter(patient_id=owner, doctor_id=doctor_care, appointment_id=appointment,
                                    chief_complaint="Sốt, ho", systolic_bp=120, diastolic_bp=80, pulse=72,
                                    temperature_c=Decimal("37.5"), respiratory_rate=16, spo2=98,
                                    weight_kg=Decimal("55.0"), height_cm=Decimal("160.0"), created_at=WHEN,
                                    signed_at=WHEN + timedelta(minutes=30)))
    draft = _save(db, Encounter(patient_id=owner, doctor_id=doctor_care, chief_complaint="Tái khám", pulse=80,
                                created_at=WHEN + timedelta(days=7)))
    diagnosis = _save(db, Diagnosis(encounter_id=encounter, icd10_code="J06.9", text="Viêm đường hô hấp trên",
                                    is_primary=True))
    order = _save(db, LabOrder(patient_id=owner, doctor_id=doctor_care, encounter_id=encounter, test_code="CBC",
                               test_name="Công thức máu", status="completed"))
    result = _save(db, LabResult(lab_order_id=order, analyte="WBC", value="11.2", numeric_value=Decimal("11.2"),
                                 unit="10^9/L", reference_range="4-10", ref_low=Decimal(4), ref_high=Decimal(10),
                                 flag="high", status="final", resulted_at=WHEN + timedelta(hours=2),
                                 released_to_patient=True))
    _save(db, LabResult(lab_order_id=order, analyte="HGB", value="130", numeric_value=Decimal(130), unit="g/L",
                        status="preliminary"))
    medicine = _save(db, Medicine(code="PARA500", name="Paracetamol", strength="500 mg", unit="viên",
                                  price=Decimal(1000)))
    prescription = _save(db, Prescription(patient_id=owner, doctor_id=doctor_care, encounter_id=encounter,
                                          status="issued", issued_at=WHEN + timedelta(minutes=30)))
    item = _save(db, PrescriptionItem(prescription_id=prescription, medicine_id=medicine, dose="1 viên",
                                      frequency="3 lần/ngày", times_per_day=3, duration_days=3, quantity=9))
    invoice = _save(db, Invoice(number="HD-0001", patient_id=owner, status="paid", subtotal=Decimal(150000),
                                total=Decimal(150000), amount_paid=Decimal(150000), issued_at=WHEN))
    _save(db, InvoiceLine(invoice_id=invoice, kind="service", description="Khám bệnh", quantity=Decimal(1),
                          unit_price=Decimal(150000), amount=Decimal(150000)))
    return World(owner, other, doctor_care, doctor_other, appointment, encounter, draft, diagnosis, result, item,
                  invoice, department)


DOCTOR = "fhir_doctor_care"  # reads the owner's whole record (their care team)


def get(client, app, url: str, user: str | None = DOCTOR):
    headers = token_headers(app, user) if user else {}
    return client.get(url, headers=headers)


def check_resource(data: dict) -> None:
    get_fhir_model_class(data["resourceType"]).model_validate(data)


def ids(bundle: dict) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_every_type_reads_and_validates(app, client, world):
    reads = {"Patient": world.owner, "Practitioner": world.doctor_care, "Organization": "clinic",
             "Appointment": world.appointment, "Encounter": world.encounter, "Condition": world.diagnosis,
             "Observation": f"lab-{world.result}", "MedicationRequest": world.item, "Invoice": world.invoice}
    for type_name, key in reads.items():
        user = "cashier" if type_name == "Invoice" else DOCTOR
        response = get(client, app, f"{BASE}/{type_name}/{key}", user)
        assert response.status_code == 200, (type_name, response.get_json())
        assert response.mimetype == FHIR_JSON
        data = response.get_json()
        assert data["resourceType"] == type_name and data["id"] == str(key)
        check_resource(data)
        bundle = get(client, app, f"{BASE}/{type_name}", user).get_json()
        check_resource(bundle)
        assert bundle["total"] >= 1 and str(key) in ids(bundle), type_name
    organization = get(client, app, f"{BASE}/Organization/{world.department}").get_json()
    assert organization["partOf"]["reference"] == "Organization/clinic"


def test_patient_resource(app, client, world):
    data = get(client, app, f"{BASE}/Patient/{world.owner}").get_json()
    assert data["name"][0]["family"] == "Nguyễn" and data["name"][0]["given"] == ["Thị", "Hoa"]
    assert data["birthDate"] == "1990-05-17" and data["gender"] == "female"
    assert {i["value"] for i in data["identifier"]} == {"BN000101", "001190000111", "DN4010000000111"}


def test_vital_signs(app, client, world):
    query = f"category=vital-signs&encounter=Encounter/{world.encounter}"
    bundle = get(client, app, f"{BASE}/Observation?{query}").get_json()
    by_code = {entry["resource"]["code"]["coding"][0]["code"]: entry["resource"] for entry in bundle["entry"]}
    assert set(by_code) == {"85354-9", "8867-4", "8310-5", "9279-1", "59408-5", "29463-7", "8302-2"}
    panel = by_code["85354-9"]
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"], c["valueQuantity"]["code"])
            for c in panel["component"]] == [("8480-6", 120, "mm[Hg]"), ("8462-4", 80, "mm[Hg]")]
    assert by_code["8310-5"]["valueQuantity"] == {"value": 37.5, "unit": "°C", "system": "http://unitsofmeasure.org",
                                                  "code": "Cel"}
    assert {c["code"] for c in by_code["59408-5"]["code"]["coding"]} == {"59408-5", "2708-6"}
    assert by_code["29463-7"]["valueQuantity"]["code"] == "kg" and by_code["8302-2"]["valueQuantity"]["code"] == "cm"
    assert all(r["status"] == "final" for r in by_code.values())
    one = get(client, app, f"{BASE}/Observation/vs-bp-{world.encounter}")
    assert one.status_code == 200 and one.get_json()["component"][0]["valueQuantity"]["value"] == 120
    assert get(client, app, f"{BASE}/Observation/vs-resp-{world.draft_encounter}").status_code == 404  # no value
    loinc = get(client, app, f"{BASE}/Observation?code=http://loinc.org|8867-4").get_json()
    assert sorted(ids(loinc)) == sorted([f"vs-pulse-{world.encounter}", f"vs-pulse-{world.draft_encounter}"])


def test_condition_and_lab(app, client, world):
    condition = get(client, app, f"{BASE}/Condition/{world.diagnosis}").get_json()
    assert condition["code"]["coding"] == [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J06.9"}]
    assert ids(get(client, app, f"{BASE}/Condition?code=http://hl7.org/fhir/sid/icd-10|J06.9").get_json()) == [
        str(world.diagnosis)]
    lab = get(client, app, f"{BASE}/Observation/lab-{world.result}").get_json()
    assert lab["valueQuantity"]["value"] == 11.2 and lab["interpretation"][0]["coding"][0]["code"] == "H"
    assert ids(get(client, app, f"{BASE}/Observation?code=CBC:WBC").get_json()) == [f"lab-{world.result}"]


def test_search_parameters(app, client, world):
    def found(query: str) -> list[str]:
        response = get(client, app, f"{BASE}/{query}", "cashier" if query.startswith("Invoice") else DOCTOR)
        assert response.status_code == 200, (query, response.get_json())
        return ids(response.get_json())

    owner, other = str(world.owner), str(world.other)
    assert found("Patient?name=Nguyễn") == [owner]
    assert found("Patient?name=nguyen") == [owner]
    assert found("Patient?name=hoa,nam") == [other, owner]
    assert found("Patient?identifier=BN000101") == [owner]
    assert found("Patient?identifier=urn:clinic:national-id|001190000111") == [owner]
    assert found("Patient?identifier=urn:clinic:insurance-number|DN4010000000111") == [owner]
    assert found("Patient?identifier=urn:clinic:national-id|BN000101") == []
    assert found("Patient?birthdate=1990-05-17") == [owner]
    assert found("Patient?birthdate=1990") == [owner]
    assert found("Patient?birthdate=ge1986-01-01") == [owner]
    assert found("Patient?birthdate=lt1986-01-01") == [other]
    assert found("Patient?birthdate=ge1980&birthdate=le1989-12") == [other]
    assert found("Patient?gender=male") == [other]
    assert found(f"Patient?_id={owner}") == [owner]
    assert found(f"Appointment?patient=Patient/{owner}") == [str(world.appointment)]
    assert found(f"Appointment?patient={owner}&status=fulfilled") == [str(world.appointment)]
    assert found(f"Appointment?patient={owner}&status=booked") == []
    assert found("Appointment?date=2025-03-10") == [str(world.appointment)]
    assert found("Appointment?date=gt2025-03-10") != [str(world.appointment)]
    assert found("Appointment?date=ge2025-03-10T09:00:00%2B07:00&date=lt2025-03-10T09:01:00%2B07:00") == [
        str(world.appointment)]
    assert found("Encounter?status=finished") == [str(world.encounter)]
    assert found("Encounter?status=in-progress") == [str(world.draft_encounter)]
    assert found("Encounter?date=le2025-03-10") == [str(world.encounter)]
    assert found("Encounter?date=eq2025-03") == [str(world.draft_encounter), str(world.encounter)]
    assert found("Encounter?date=ne2025-03-10") == [str(world.draft_encounter)]
    assert found(f"Encounter?practitioner=Practitioner/{world.doctor_other}") == []
    assert found("MedicationRequest?status=active") == [str(world.item)]
    assert found("Invoice?status=balanced&identifier=HD-0001") == [str(world.invoice)]
    assert found("Practitioner?name=tâm") == [str(world.doctor_care)]
    assert found("Organization?name=tổng hợp") == [str(world.department)]


def test_paging_links_to_the_end(app, client, world):
    from app.extensions import db
    from app.models import Patient

    for number in range(23):
        db.session.add(Patient(code=f"PG{number:04d}", full_name=f"Nguyễn Văn Trang {number}",
                               search_text=f"nguyen van trang {number} pg{number:04d}"))
    db.session.commit()
    url = f"{BASE}/Patient?name=trang&_count=5"
    seen: list[str] = []
    pages = 0
    while url:
        response = get(client, app, url)
        assert response.status_code == 200
        bundle = response.get_json()
        assert bundle["total"] == 23
        seen += ids(bundle)
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert "self" in links
        if pages:
            assert "previous" in links
        parts = urlsplit(links["next"]) if "next" in links else None
        url = f"{parts.path}?{parts.query}" if parts else None
        pages += 1
    assert pages == 5 and len(seen) == 23 == len(set(seen))
    default = get(client, app, f"{BASE}/Patient").get_json()
    assert len(default["entry"]) == 20 and default["total"] == 25
    assert get(client, app, f"{BASE}/Patient?_count=0").get_json()["total"] == 25


@pytest.mark.parametrize("query, parameter", [
    ("Patient?colour=blue", "colour"), ("Patient?_count=101", "_count"), ("Patient?_count=-1", "_count"),
    ("Patient?_count=abc", "_count"), ("Patient?_offset=x", "_offset"), ("Patient?birthdate=1990-13-01", "birthdate"),
    ("Patient?birthdate=xx1990", "birthdate"), ("Patient?birthdate=sa1990", "birthdate"),
    ("Encounter?patient=Practitioner/1", "patient"), ("Encounter?patient=abc", "patient"),
    ("Encounter?status=nonsense", "status"), ("Appointment?date=2025-02-30", "date"),
    ("Observation?category=imaging", "category"), ("Patient?name:exact=An", "name:exact"),
    ("Patient?_sort=name", "_sort"), ("Appointment?patient=99999999999", "patient"), ("Patient?gender=x", "gender"),
])
def test_bad_parameters(app, db, client, query, parameter):
    ensure_user(app, DOCTOR, "Doctor")  # the login exists whichever test this worker ran first
    response = get(client, app, f"{BASE}/{query}")
    assert response.status_code == 400, response.get_json()
    outcome = response.get_json()
    check_resource(outcome)
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["expression"] == [parameter]


def test_errors_are_operation_outcomes(app, client, world):
    cases = [("/Medication", 404), ("/Medication/1", 404), ("/Patient/999999", 404), ("/Patient/abc", 404),
             ("/Observation/vs-xx-1", 404), ("/Patient/1/history", 404), ("/Patient/" + "9" * 80, 404)]
    for path, status in cases:
        response = get(client, app, BASE + path)
        assert response.status_code == status, (path, response.get_data(as_text=True)[:200])
        check_resource(response.get_json())
    headers = token_headers(app, "admin")
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(f"{BASE}/Patient/{world.owner}", headers=headers, json={})
        assert response.status_code == 405 and response.get_json()["resourceType"] == "OperationOutcome"
    assert client.post(f"{BASE}/Patient", headers=headers, json={}).status_code == 405
    anonymous = get(client, app, f"{BASE}/Patient/{world.owner}", user=None)
    assert anonymous.status_code == 401 and anonymous.get_json()["issue"][0]["code"] == "login"
    forged = client.get(f"{BASE}/Patient", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401 and forged.get_json()["resourceType"] == "OperationOutcome"


def test_metadata(app, client):
    response = client.get(f"{BASE}/metadata")
    assert response.status_code == 200 and response.mimetype == FHIR_JSON
    statement = response.get_json()
    check_resource(statement)
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {"Patient", "Practitioner", "Organization", "Appointment", "Encounter", "Condition",
                              "Observation", "MedicationRequest", "Invoice"}
    for resource in resources.values():
        assert {i["code"] for i in resource["interaction"]} == {"read", "search-type"}
    assert {"identifier", "name", "birthdate"} <= {p["name"] for p in resources["Patient"]["searchParam"]}


def test_everything(app, client, world):
    bundle = get(client, app, f"{BASE}/Patient/{world.owner}/$everything", "fhir_doctor_care").get_json()
    check_resource(bundle)
    kinds = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Patient", "Appointment", "Encounter", "Condition", "Observation", "MedicationRequest"} <= kinds
    assert "Invoice" not in kinds  # a doctor's role does not read invoices
    subjects = {entry["resource"].get("subject", {}).get("reference") for entry in bundle["entry"]} - {None}
    assert subjects == {f"Patient/{world.owner}"}
    own = get(client, app, f"{BASE}/Patient/{world.owner}/$everything", "fhir_patient_owner").get_json()
    own_ids = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in own["entry"]}
    assert ("Invoice", str(world.invoice)) in own_ids
    assert ("Encounter", str(world.draft_encounter)) not in own_ids  # not signed: not shown to the patient
    assert get(client, app, f"{BASE}/Patient/{world.other}/$everything", "fhir_patient_owner").status_code == 403
    assert get(client, app, f"{BASE}/Patient/{world.owner}/$everything", "fhir_doctor_other").status_code == 403
    assert get(client, app, f"{BASE}/Patient/999999/$everything").status_code == 404


def test_patient_reads_only_their_own(app, client, world):
    user = "fhir_patient_owner"
    assert ids(get(client, app, f"{BASE}/Patient", user).get_json()) == [str(world.owner)]
    assert get(client, app, f"{BASE}/Patient/{world.other}", user).status_code == 403
    assert get(client, app, f"{BASE}/Patient/{world.owner}", user).status_code == 200
    appointments = get(client, app, f"{BASE}/Appointment", user).get_json()
    assert ids(appointments) == [str(world.appointment)]
    assert ids(get(client, app, f"{BASE}/Appointment?patient={world.other}", user).get_json()) == []
    assert ids(get(client, app, f"{BASE}/Encounter", user).get_json()) == [str(world.encounter)]
    assert get(client, app, f"{BASE}/Encounter/{world.draft_encounter}", user).status_code == 403
    observations = ids(get(client, app, f"{BASE}/Observation?category=laboratory", user).get_json())
    assert observations == [f"lab-{world.result}"]  # the preliminary result is not released
    assert get(client, app, f"{BASE}/Invoice/{world.invoice}", user).status_code == 200
    other = "fhir_patient_other"
    for path in (f"Patient/{world.owner}", f"Encounter/{world.encounter}", f"Condition/{world.diagnosis}",
                 f"Observation/lab-{world.result}", f"Observation/vs-bp-{world.encounter}",
                 f"MedicationRequest/{world.item}", f"Invoice/{world.invoice}", f"Appointment/{world.appointment}"):
        response = get(client, app, f"{BASE}/{path}", other)
        assert response.status_code == 403, path
        assert "Nguyễn" not in response.get_data(as_text=True)
    assert get(client, app, f"{BASE}/Encounter", other).get_json()["total"] == 0


def test_doctors_and_staff(app, client, world):
    care, outside = "fhir_doctor_care", "fhir_doctor_other"
    assert get(client, app, f"{BASE}/Encounter/{world.encounter}", care).status_code == 200
    for path in (f"Encounter/{world.encounter}", f"Condition/{world.diagnosis}", f"Observation/lab-{world.result}",
                 f"MedicationRequest/{world.item}"):
        assert get(client, app, f"{BASE}/{path}", outside).status_code == 403, path
    assert get(client, app, f"{BASE}/Encounter", outside).get_json()["total"] == 0
    assert get(client, app, f"{BASE}/Invoice", care).status_code == 403  # not the doctor's role
    assert get(client, app, f"{BASE}/Invoice/{world.invoice}", "cashier").status_code == 200
    assert get(client, app, f"{BASE}/Encounter", "cashier").status_code == 403
    assert get(client, app, f"{BASE}/Patient/{world.owner}", "receptionist").status_code == 200
    assert get(client, app, f"{BASE}/Encounter/{world.encounter}", "receptionist").status_code == 403
    lab = get(client, app, f"{BASE}/Observation", "lab").get_json()
    assert set(ids(lab)) == {f"lab-{world.result}", f"lab-{world.result + 1}"}  # results only, no vitals


def test_refusals_are_audited(app, client, db, world):
    from sqlalchemy import select

    from app.models import AuditEvent

    get(client, app, f"{BASE}/Encounter/{world.encounter}", "fhir_doctor_other")
    get(client, app, f"{BASE}/Encounter/{world.encounter}", "fhir_doctor_care")
    rows = db.session.execute(select(AuditEvent.action, AuditEvent.entity, AuditEvent.entity_id)
                              .where(AuditEvent.entity == "Encounter")).all()
    assert ("denied", "Encounter", str(world.encounter)) in rows and ("read", "Encounter", str(world.encounter)) in rows


ODD_VALUES = ("x" * 201, "%", "'", "1e309", "-1", "0", "9" * 30, "Patient/", "|", "a|b|c", "ge", "2025-02-29",
              "9999-12", "le2025-03-10T25:00", "eq2025-03-10T10:00:00+25:00", "ê,", "Nguyễn%_")


def test_no_value_is_a_server_error(app, client, world):
    """Every parameter of every type with odd values (four each, in turn, so that every value meets
    every kind of parameter): a Bundle or a 400 OperationOutcome, never a 500."""
    from app.services.fhir.search import PARAMS

    headers = token_headers(app, "admin")
    turn = 0
    for type_name, params in PARAMS.items():
        for name in ("_id", "_count", "_offset", *params):
            turn += 1
            for value in [ODD_VALUES[(turn * 4 + k) % len(ODD_VALUES)] for k in range(4)]:
                response = client.get(f"{BASE}/{type_name}", query_string={name: value}, headers=headers)
                assert response.status_code in (200, 400), (type_name, name, value, response.get_json())
                kind = response.get_json()["resourceType"]
                assert kind == ("Bundle" if response.status_code == 200 else "OperationOutcome")
    refused = client.get(f"{BASE}/Patient", query_string={"name": "a\x00b"}, headers=headers)
    assert refused.status_code == 400 and refused.get_json()["resourceType"] == "OperationOutcome"
