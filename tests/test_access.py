"""Care-team access to patient records (issue 8): who reads which patient's records, through every
entry point: the back-office pages (show, edit, list), the REST API (one record, lists), the record
pickers (``/lookup``), file URLs, the search box (``/search/json``), and the patient portal. And
break the glass.

THE PATTERN LATER ISSUES EXTEND. ``OWNED`` is the one registry of patient-owned resources. Each
entry says how to create a record for a patient (``make``: returns the id and puts a marker text
in the record, which must never reach a reader who is refused), its page (``page``: the FAB view's
route base), its REST resource (``api``), its picker (``lookup``, or None), whether it has a
file URL (``file``) and its search kind (``search``, or None). ``test_every_entry_point`` runs
every resource × every role (``ROLES``) and checks, per entry point, the expected answer from
``expected()``: allowed (200 with the marker, an audit ``read`` row), refused by care-team access
(403, no marker, an audit ``denied`` row) or refused by the role (403 or a redirect, no marker).

To add a patient-owned resource (a chat conversation, a document):
1. add its model to ``app.services.access.PATIENT_OWNED`` (and ``PARENTS`` if it reaches its
   patient through a parent record) and its reads go through ``access.open_record`` /
   ``access.readable_condition`` (the generated screens and REST API do so already through
   ``ClinicInterface``; a hand-written endpoint calls them itself);
2. add one ``Owned(...)`` entry below with a ``make`` that creates a record for the patient;
3. if it is not clinical (the care team does not read it), set ``clinical=False`` and say who reads
   it in ``expected()``.
The test then covers it for every role and entry point.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.factories import START, token_headers

# --- the people --------------------------------------------------------------------------------

# role key -> (username, FAB role). Own logins: the shared role users stay as they are.
USERS = {
    "admin": ("admin", "Admin"),
    "manager": ("manager", "Manager"),
    "receptionist": ("receptionist", "Receptionist"),
    "doctor_care": ("acc_doctor_care", "Doctor"),
    "doctor_other": ("acc_doctor_other", "Doctor"),
    "pharmacist": ("pharmacist", "Pharmacist"),
    "lab": ("lab", "Lab"),
    "cashier": ("cashier", "Cashier"),
    "patient_owner": ("acc_patient_owner", "Patient"),
    "patient_other": ("acc_patient_other", "Patient"),
}
ROLES = tuple(USERS)
MARK = "MARK-7f3a"  # in every record made for the owner; a refused reader never sees it
OWNER_NAME = "Chủ Hồ Sơ"


def ensure_user(app, username: str, role: str) -> int:
    """A login of the test's own (made once per session); enrolled in two-step login when its role
    needs it, as the shared users are (tests/conftest.py)."""
    from tests.conftest import MFA_ROLES
    from tests.factories import enrol, login_code

    sm = app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        user = sm.add_user(username, username, "Tester", f"{username}@test.example", sm.find_role(role),
                           password=PASSWORD)
    if role in MFA_ROLES and login_code(app, username) is None:
        enrol(app, username)
    return user.id


@dataclass
class World:
    """Patient ``owner`` (login ``acc_patient_owner``) with an appointment at ``doctor_care``;
    patient ``other`` (login ``acc_patient_other``); ``doctor_other`` has no relation to ``owner``."""

    owner: int
    other: int
    doctor_care: int
    doctor_other: int
    service: int
    appointment: int
    users: dict[str, int]


def _save(db, *items):
    for item in items:
        db.session.add(item)
    db.session.commit()
    return items[0].id


@pytest.fixture
def world(app, db, clinic) -> World:
    from app.models import Appointment, Doctor, Patient

    users = {key: ensure_user(app, name, role) for key, (name, role) in USERS.items()}
    service = clinic.service  # and clinic.doctor, who works every day
    owner = _save(db, Patient(code="ACC1", full_name="Chủ Hồ Sơ", search_text="chu ho so acc1",
                              user_id=users["patient_owner"]))
    other = _save(db, Patient(code="ACC2", full_name="Người Khác", search_text="nguoi khac acc2",
                              user_id=users["patient_other"]))
    doctor_care = _save(db, Doctor(full_name="Bác Sĩ Điều Trị", user_id=users["doctor_care"]))
    doctor_other = _save(db, Doctor(full_name="Bác Sĩ Khác", user_id=users["doctor_other"]))
    appointment = _save(db, Appointment(patient_id=owner, doctor_id=doctor_care, service_id=service,
                                        start_at=datetime.fromisoformat(START),
                                        end_at=datetime.fromisoformat(START) + timedelta(minutes=20)))
    return World(owner, other, doctor_care, doctor_other, service, appointment, users)


# --- the registry of patient-owned resources ---------------------------------------------------

def _encounter(db, w: World) -> int:
    from app.models import Encounter

    return _save(db, Encounter(patient_id=w.owner, doctor_id=w.doctor_care, chief_complaint=MARK))


def _diagnosis(db, w: World) -> int:
    from app.models import Diagnosis

    return _save(db, Diagnosis(encounter_id=_encounter(db, w), icd10_code="J06.9", text=MARK))


def _lab_order(db, w: World) -> int:
    from app.models import LabOrder

    return _save(db, LabOrder(patient_id=w.owner, doctor_id=w.doctor_care, test_code="CBC", test_name=MARK))


def _lab_result(db, w: World) -> int:
    from app.models import LabResult

    return _save(db, LabResult(lab_order_id=_lab_order(db, w), analyte=MARK, value="4.5"))


def _attachment(db, w: World) -> int:
    from flask import current_app

    from app.models import Attachment

    key = f"acc-{os.urandom(6).hex()}.txt"
    folder = current_app.config["UPLOAD_DIR"]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, key), "w") as handle:
        handle.write(f"scan {MARK}")
    return _save(db, Attachment(patient_id=w.owner, owner_type="patient", owner_id=w.owner, file_name=f"{MARK}.txt",
                                content_type="text/plain", size_bytes=20, storage_key=key))


def _prescription(db, w: World) -> int:
    from app.models import Prescription

    return _save(db, Prescription(patient_id=w.owner, doctor_id=w.doctor_care, status="issued", notes=MARK))


def _prescription_item(db, w: World) -> int:
    from app.models import Medicine, PrescriptionItem

    medicine = _save(db, Medicine(code=f"M{os.urandom(3).hex()}", name="Paracetamol", unit="viên",
                                  price=Decimal(1000)))
    return _save(db, PrescriptionItem(prescription_id=_prescription(db, w), medicine_id=medicine, dose="1 viên",
                                      frequency="3 lần/ngày", quantity=9, instructions=MARK))


def _amendment(db, w: World) -> int:
    from app.models import EncounterAmendment

    encounter = _encounter(db, w)
    return _save(db, EncounterAmendment(encounter_id=encounter, field="history", original_text="Ho",
                                        new_text=f"Ho khan {MARK}", reason="Ghi thiếu",
                                        amended_at=datetime.now(timezone.utc)))


def _invoice(db, w: World) -> int:
    from app.models import Invoice

    return _save(db, Invoice(number=f"INV-ACC-{os.urandom(3).hex()}", patient_id=w.owner, notes=MARK))


def _issued_invoice(db, w: World) -> int:
    from app.models import Invoice

    return _save(db, Invoice(number=f"INV-ACC-{os.urandom(3).hex()}", patient_id=w.owner, status="issued",
                             subtotal=Decimal(1000), total=Decimal(1000), amount_paid=Decimal(1000)))


def _invoice_line(db, w: World) -> int:
    from app.models import InvoiceLine

    return _save(db, InvoiceLine(invoice_id=_invoice(db, w), kind="other", description=f"Phí {MARK}",
                                 quantity=Decimal(1), unit_price=Decimal(1000), amount=Decimal(1000)))


def _payment(db, w: World) -> int:
    from app.models import Payment

    return _save(db, Payment(invoice_id=_issued_invoice(db, w), method="cash", amount=Decimal(1000),
                             status="succeeded", note=MARK, paid_at=datetime.now(timezone.utc)))


def _refund(db, w: World) -> int:
    from app.models import Payment, Refund

    payment = _save(db, Payment(invoice_id=_issued_invoice(db, w), method="cash", amount=Decimal(1000),
                                status="succeeded", amount_refunded=Decimal(500), paid_at=datetime.now(timezone.utc)))
    with_invoice = db.session.get(Payment, payment).invoice_id
    return _save(db, Refund(payment_id=payment, invoice_id=with_invoice, amount=Decimal(500), method="cash",
                            reason=MARK, refunded_at=datetime.now(timezone.utc)))


def _review(db, w: World) -> int:
    from app.models import Review

    return _save(db, Review(patient_id=w.owner, doctor_id=w.doctor_care, service_id=w.service,
                            appointment_id=w.appointment, rating_professional=4, rating_attitude=4,
                            rating_waiting_time=3, rating_overall=4, comment=MARK))


@dataclass(frozen=True)
class Owned:
    name: str  # model and permission name
    make: Callable[..., int]  # (db, world) -> id of a record of ``world.owner`` holding MARK
    page: str  # the FAB view's route base
    api: str  # REST resource under /api/v1/
    lookup: str | None = None  # /lookup/<name>
    file: str | None = None  # file URL pattern with {id}
    clinical: bool = True  # read by the care team (False: by whoever's role reads it, e.g. invoices)
    # False: a read-only resource, no edit page (amendments of a record; files come only through uploads)
    edit_page: bool = True
    search: str | None = None  # the search box's kind (app.services.search.kinds) holding this resource


OWNED = (
    Owned("Encounter", _encounter, "encounterview", "encounter", lookup="Encounter", search="visits"),
    Owned("Diagnosis", _diagnosis, "diagnosisview", "diagnosis"),
    Owned("LabOrder", _lab_order, "laborderview", "lab_order", lookup="LabOrder"),
    Owned("LabResult", _lab_result, "labresultview", "lab_result"),
    Owned("Attachment", _attachment, "attachmentview", "attachment", file="/attachmentview/file/{id}",
          edit_page=False),
    Owned("Prescription", _prescription, "prescriptionview", "prescription", lookup="Prescription",
          search="prescriptions"),
    Owned("PrescriptionItem", _prescription_item, "prescriptionitemview", "prescription_item"),
    Owned("EncounterAmendment", _amendment, "encounteramendmentview", "encounter_amendment", edit_page=False),
    # money: read-only screens (it moves only through the counter and the billing API)
    Owned("Invoice", _invoice, "invoiceview", "invoice", lookup="Invoice", clinical=False, edit_page=False,
          search="invoices"),
    Owned("InvoiceLine", _invoice_line, "invoicelineview", "invoice_line", clinical=False, edit_page=False),
    Owned("Payment", _payment, "paymentview", "payment", clinical=False, edit_page=False),
    Owned("Refund", _refund, "refundview", "refund", clinical=False, edit_page=False),
    # reviews: read by staff whose role reads them (moderation), written only through app.services.reviews
    Owned("Review", _review, "reviewview", "review", clinical=False, edit_page=False),
)

ALLOW, CARE_DENY, ROLE_DENY = "allow", "care-deny", "role-deny"


def expected(resource: Owned, role: str) -> str:
    """What ``role`` gets when reading the owner's record of ``resource``."""
    from app.permissions import readable

    fab_role = USERS[role][1]
    if fab_role != "Admin" and resource.name not in readable(fab_role):
        return ROLE_DENY  # the role never reads this resource (patients use the portal only)
    if not resource.clinical:
        return ALLOW  # invoices: staff whose role reads them, as before (audited)
    if role == "doctor_care":
        return ALLOW
    if role == "pharmacist" and resource.name in ("Prescription", "PrescriptionItem"):
        return ALLOW  # issued prescriptions: dispensing is the pharmacist's part of the care
    if role == "lab" and resource.name in ("LabOrder", "LabResult"):
        return ALLOW  # ordered (not cancelled) lab work: collecting and resulting is the lab's part of the care
    return CARE_DENY  # admin, a doctor outside the care team: break the glass first


def expected_edit(resource: Owned, role: str) -> str:
    """The edit page: as reading, for roles that write the resource; refused by the role otherwise."""
    from app.permissions import writable

    outcome = expected(resource, role)
    fab_role = USERS[role][1]
    if not resource.edit_page:
        return ROLE_DENY
    if outcome == ALLOW and fab_role != "Admin" and resource.name not in writable(fab_role):
        return ROLE_DENY
    return outcome


def _check_search(app, db, browser, kind: str, record: int, outcome: str, role: str) -> None:
    """The back office's search box: the record is among the hits of its kind only for a reader
    allowed to read it; patients are refused the box (their portal search: tests/test_search.py)."""
    from app.services import search
    from app.services.search.base import OK

    with app.app_context():
        engine = search.make_engine(app.config, db.engine)
        if engine.health().state != OK:
            engine.clear()
            engine.mark_complete()
        search.index_records(db.session, engine, [(kind, record)])
        db.session.commit()
    response = browser.get("/search/json", query_string={"q": "chu ho so", "kind": kind})
    if USERS[role][1] == "Patient":
        assert response.status_code == 403 and MARK not in response.get_data(as_text=True)
        return
    assert response.status_code == 200 and response.get_json()["state"] == "ok", response.get_data(as_text=True)
    hits = [r["id"] for g in response.get_json()["groups"] if g["kind"] == kind for r in g["results"]]
    assert (record in hits) == (outcome == ALLOW), ("search box", hits)
    assert (outcome == ALLOW) or MARK not in response.get_data(as_text=True), "search box"


def audit_rows(db, action: str, entity: str, user_id: int) -> list:
    from app.models import AuditEvent

    db.session.rollback()
    return list(db.session.execute(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.entity == entity, AuditEvent.user_id == user_id)).scalars())


def check(response, outcome: str, what: str) -> None:
    body = response.get_data(as_text=True)
    if outcome == ALLOW:
        assert response.status_code == 200, (what, response.status_code, body[:300])
        assert MARK in body, what
    else:
        assert response.status_code in ((403,) if outcome == CARE_DENY else (302, 401, 403, 404)), \
            (what, response.status_code)
        assert MARK not in body, what


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("resource", OWNED, ids=[r.name for r in OWNED])
def test_every_entry_point(app, db, world, login_as, resource, role):
    record = resource.make(db, world)
    outcome = expected(resource, role)
    username, _fab_role = USERS[role]
    user_id = world.users[role]
    browser = login_as(username)
    headers = token_headers(app, username)
    reads_before = len(audit_rows(db, "read", resource.name, user_id))

    check(browser.get(f"/{resource.page}/show/{record}"), outcome, "show page")
    if resource.edit_page:
        check(browser.get(f"/{resource.page}/edit/{record}"), expected_edit(resource, role), "edit page")
    check(app.test_client().get(f"/api/v1/{resource.api}/{record}", headers=headers), outcome, "API get")

    # Lists hold only what the reader may read: the record is there or it is not, never refused whole.
    listing = app.test_client().get(f"/api/v1/{resource.api}/", headers=headers)
    page = browser.get(f"/{resource.page}/list/")
    if outcome == ROLE_DENY:
        assert listing.status_code == 403 and page.status_code in (302, 403)
    else:
        assert listing.status_code == 200 and page.status_code == 200
        assert (record in listing.get_json()["ids"]) == (outcome == ALLOW), "API list"
        assert (OWNER_NAME in page.get_data(as_text=True)) == (outcome == ALLOW), "list page"

    if resource.lookup:
        by_id = browser.get(f"/lookup/{resource.lookup}", query_string={"id": record})
        if outcome == ALLOW:
            assert by_id.status_code == 200 and [r["id"] for r in by_id.get_json()["results"]] == [record]
        else:
            assert by_id.status_code == 403 and OWNER_NAME not in json.dumps(by_id.get_json(), ensure_ascii=False)
        search = browser.get(f"/lookup/{resource.lookup}", query_string={"q": "chu ho so"})
        if outcome == ROLE_DENY:
            assert search.status_code == 403
        else:
            assert search.status_code == 200
            found = [item["id"] for item in search.get_json()["results"]]
            assert (record in found) == (outcome == ALLOW), "lookup search"
    if resource.file:
        check(browser.get(resource.file.format(id=record)), outcome, "file")
    if resource.search:
        _check_search(app, db, browser, resource.search, record, outcome, role)

    if outcome == CARE_DENY:
        denied = audit_rows(db, "denied", resource.name, user_id)
        if not resource.edit_page:  # its edit page is refused by the role, before any record is read
            denied = [row for row in denied if row.entity_id is not None]
        assert {row.entity_id for row in denied} == {str(record)}
        assert all(json.loads(row.details)["patient_id"] == world.owner for row in denied)
        # the show page, the edit page, the API, the lookup by id and the file: one row each
        assert len(denied) == 2 + resource.edit_page + bool(resource.lookup) + bool(resource.file)
    if outcome == ALLOW:
        reads = audit_rows(db, "read", resource.name, user_id)
        assert len(reads) > reads_before
        one = [row for row in reads if row.entity_id == str(record)]
        assert one and json.loads(one[0].details)["patient_id"] == world.owner
        listed = [json.loads(row.details) for row in reads if row.entity_id is None]
        assert any(record in d["ids"] and world.owner in d["patients"] for d in listed)


def test_the_patient_portal_shows_only_the_patients_own_appointments(app, db, world, login_as):
    """Another patient asking for the owner's appointment by id: not found, nothing shown, audited."""
    other = login_as("acc_patient_other")
    for response in (other.get(f"/clinic/me/appointments/{world.appointment}/move"),
                     other.post(f"/clinic/me/appointments/{world.appointment}/cancel", data={"reason": "x"})):
        assert response.status_code == 404
        assert "Chủ Hồ Sơ" not in response.get_data(as_text=True)
    rows = audit_rows(db, "denied", "Appointment", world.users["patient_other"])
    assert [row.entity_id for row in rows] == [str(world.appointment)] * 2
    own = login_as("acc_patient_owner").get(f"/clinic/me/appointments/{world.appointment}/move")
    assert own.status_code == 200


def test_lab_staff_do_not_read_cancelled_lab_orders(app, db, world, login_as):
    from app.models import LabOrder, LabResult

    cancelled = _save(db, LabOrder(patient_id=world.owner, doctor_id=world.doctor_care, test_code="CBC",
                                   test_name=MARK, status="cancelled"))
    result = _save(db, LabResult(lab_order_id=cancelled, analyte=MARK, value="1"))
    lab = login_as("lab")
    check(lab.get(f"/laborderview/show/{cancelled}"), CARE_DENY, "cancelled lab order")
    check(lab.get(f"/labresultview/show/{result}"), CARE_DENY, "result of a cancelled order")
    check(lab.get(f"/lab/order/{cancelled}"), CARE_DENY, "result entry page of a cancelled order")


def test_a_pharmacist_does_not_read_draft_prescriptions(app, db, world, login_as):
    from app.models import Prescription

    draft = _save(db, Prescription(patient_id=world.owner, doctor_id=world.doctor_care, status="draft", notes=MARK))
    check(login_as("pharmacist").get(f"/prescriptionview/show/{draft}"), CARE_DENY, "draft prescription")


def test_a_doctor_reads_the_patients_of_their_encounters_and_past_appointments(app, db, world):
    """The care relationship: an appointment (past, today or upcoming; not a cancelled one) or an
    encounter with the patient."""
    from app.models import Appointment, Encounter
    from app.services import access

    doctor = app.appbuilder.sm.get_user_by_id(world.users["doctor_other"])
    now = datetime.now(timezone.utc)
    assert not access.in_care(db.session, doctor, world.owner, now)
    past = datetime.now(timezone.utc) - timedelta(days=400)
    visit = _save(db, Appointment(patient_id=world.owner, doctor_id=world.doctor_other, service_id=world.service,
                                  start_at=past, end_at=past + timedelta(minutes=20), status="cancelled"))
    assert not access.in_care(db.session, doctor, world.owner, now)  # a cancelled visit is no relation
    db.session.get(Appointment, visit).status = "completed"
    db.session.commit()
    assert access.in_care(db.session, doctor, world.owner, now)
    assert not access.in_care(db.session, doctor, world.other, now)
    _save(db, Encounter(patient_id=world.other, doctor_id=world.doctor_other))
    assert access.in_care(db.session, doctor, world.other, now)


# --- break the glass ---------------------------------------------------------------------------

def test_break_the_glass(app, db, world, login_as):
    """A doctor outside the care team: refused and told to break the glass; without a reason the form
    refuses; with one the record opens for BREAK_GLASS_MINUTES; after that it is closed again; the
    access is on the managers' page and in the audit trail."""
    from app.models import CareAccessGrant

    record = _encounter(db, world)
    doctor = login_as("acc_doctor_other")
    refused = doctor.get(f"/encounterview/show/{record}")
    assert refused.status_code == 403 and MARK not in refused.get_data(as_text=True)
    link = f"/care/break-glass/{world.owner}?next="
    assert link in refused.get_data(as_text=True)
    api = app.test_client().get(f"/api/v1/encounter/{record}", headers=token_headers(app, "acc_doctor_other"))
    assert api.status_code == 403 and api.get_json()["break_glass"].startswith(f"/care/break-glass/{world.owner}")

    form = doctor.get(f"/care/break-glass/{world.owner}?next=/encounterview/show/{record}")
    assert form.status_code == 200 and "Chủ Hồ Sơ" in form.get_data(as_text=True)
    for reason in ("", "   ", "abc"):
        answer = doctor.post(f"/care/break-glass/{world.owner}", data={"reason": reason})
        assert answer.status_code == 422
    assert db.session.execute(select(CareAccessGrant)).first() is None

    answer = doctor.post(f"/care/break-glass/{world.owner}", data={
        "reason": "Cấp cứu: bệnh nhân ngất tại phòng chờ", "next": f"/encounterview/show/{record}"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/encounterview/show/{record}")
    opened = doctor.get(f"/encounterview/show/{record}")
    assert opened.status_code == 200 and MARK in opened.get_data(as_text=True)

    db.session.rollback()
    grant = db.session.execute(select(CareAccessGrant)).scalar_one()
    assert grant.expires_at - grant.granted_at == timedelta(minutes=app.config["BREAK_GLASS_MINUTES"])
    assert app.config["BREAK_GLASS_MINUTES"] == 60
    assert [json.loads(row.details)["reason"] for row in audit_rows(db, "break_glass", "Patient",
                                                                      world.users["doctor_other"])] \
        == ["Cấp cứu: bệnh nhân ngất tại phòng chờ"]
    # Only that patient: another patient's record stays closed.
    from app.models import Encounter

    theirs = _save(db, Encounter(patient_id=world.other, doctor_id=world.doctor_care, chief_complaint=MARK))
    assert doctor.get(f"/encounterview/show/{theirs}").status_code == 403

    log = login_as("manager").get("/care/break-glass-log")
    html = log.get_data(as_text=True)
    assert log.status_code == 200
    assert "acc_doctor_other" in html and "Chủ Hồ Sơ" in html and "bệnh nhân ngất" in html

    listed = app.test_client().get("/api/v1/care_access/break_glass", headers=token_headers(app, "manager"))
    assert listed.status_code == 200
    assert [(row["patient_id"], row["reason"], row["active"]) for row in listed.get_json()["result"]] \
        == [(world.owner, "Cấp cứu: bệnh nhân ngất tại phòng chờ", True)]
    for role in ("receptionist", "acc_doctor_other"):
        refused = app.test_client().get("/api/v1/care_access/break_glass", headers=token_headers(app, role))
        assert refused.status_code == 403 and "ngất" not in refused.get_data(as_text=True)

    # The time is up: move the grant back in the database.
    grant.granted_at -= timedelta(minutes=61)
    grant.expires_at -= timedelta(minutes=61)
    db.session.commit()
    expired = doctor.get(f"/encounterview/show/{record}")
    assert expired.status_code == 403 and MARK not in expired.get_data(as_text=True)


def test_break_the_glass_service_checks_its_input(app, db, world):
    from app.services import access
    from app.services.errors import NotFound, ValidationFailed

    user = app.appbuilder.sm.get_user_by_id(world.users["admin"])
    now = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    with pytest.raises(ValidationFailed) as error:
        access.break_glass(db.session, user, world.owner, None, now, 60)
    assert error.value.field == "reason"
    with pytest.raises(ValidationFailed):
        access.break_glass(db.session, user, world.owner, "x" * 501, now, 60)
    with pytest.raises(NotFound):
        access.break_glass(db.session, user, 10**6, "Kiểm tra hồ sơ theo yêu cầu", now, 60)
    grant = access.break_glass(db.session, user, world.owner, "Kiểm tra hồ sơ theo yêu cầu", now, 30)
    assert access.in_care(db.session, user, world.owner, now + timedelta(minutes=29))
    assert not access.in_care(db.session, user, world.owner, now + timedelta(minutes=30))
    assert grant.expires_at == now + timedelta(minutes=30)


@pytest.mark.parametrize("role, status", [("manager", 200), ("admin", 200), ("receptionist", 403), ("doctor", 403)])
def test_only_readers_of_the_audit_trail_see_the_break_glass_log(login_as, role, status):
    assert login_as(role).get("/care/break-glass-log").status_code == status


def test_roles_without_clinical_records_cannot_break_the_glass(world, login_as):
    assert login_as("receptionist").get(f"/care/break-glass/{world.owner}").status_code == 403
    assert login_as("manager").post(f"/care/break-glass/{world.owner}",
                                    data={"reason": "Tò mò muốn xem hồ sơ"}).status_code == 403


def test_writing_a_clinical_record_needs_the_same_access(app, db, world):
    """A doctor outside the care team adds nothing to the patient's record (a diagnosis on their
    encounter, a lab order) and cannot move a record to a patient outside their care; opening an
    encounter of their own starts the care relationship, as booking an appointment does."""
    from app.models import Diagnosis, LabOrder

    encounter = _encounter(db, world)
    client = app.test_client()
    other = token_headers(app, "acc_doctor_other")
    refused = [
        client.post("/api/v1/diagnosis/", headers=other, json={"encounter": encounter, "icd10_code": "J06.9",
                                                                 "text": "Cảm"}),
        client.post("/api/v1/lab_order/", headers=other, json={"patient": world.owner, "doctor": world.doctor_other,
                                                                 "test_code": "CBC", "test_name": "Máu"}),
        client.put(f"/api/v1/encounter/{encounter}", headers=token_headers(app, "acc_doctor_care"),
                   json={"patient": world.other}),
    ]
    assert [response.status_code for response in refused] == [403, 403, 403]
    db.session.rollback()
    assert db.session.execute(select(Diagnosis)).first() is None
    assert db.session.execute(select(LabOrder)).first() is None
    writes = [json.loads(row.details) for entity in ("Diagnosis", "LabOrder", "Encounter")
              for user in ("doctor_other", "doctor_care")
              for row in audit_rows(db, "denied", entity, world.users[user])]
    assert writes == [{"patient_id": world.owner, "write": True}] * 2 + [{"patient_id": world.other, "write": True}]

    started = client.post("/api/v1/encounter/", headers=other, json={
        "patient": world.owner, "doctor": world.doctor_other, "chief_complaint": "Khám lần đầu"})
    assert started.status_code == 201, started.get_json()
    assert client.get(f"/api/v1/encounter/{encounter}", headers=other).status_code == 200


def test_the_patient_page_says_why_the_clinical_tabs_are_empty(app, db, world, login_as):
    """Outside the care team a patient's visit tab lists nothing: the page must say so, with the
    way to break the glass, not look like a patient without history. In the care team, or for a
    role without clinical records, there is nothing to say."""
    _encounter(db, world)
    page = f"/patientview/show/{world.owner}"
    outside = login_as("acc_doctor_other").get(page).get_data(as_text=True)
    assert 'id="care-hidden"' in outside and MARK not in outside
    assert f"/care/break-glass/{world.owner}?next=" in outside
    vi = login_as("acc_doctor_other").get(page, headers={"Accept-Language": "vi"}, query_string={"_l_": "vi"})
    assert "Bạn không thuộc nhóm điều trị của bệnh nhân này." in vi.get_data(as_text=True)
    for username in ("acc_doctor_care", "receptionist"):
        assert 'id="care-hidden"' not in login_as(username).get(page).get_data(as_text=True), username
    doctor = login_as("acc_doctor_other")
    doctor.post(f"/care/break-glass/{world.owner}", data={"reason": "Hội chẩn theo yêu cầu của khoa"})
    after = doctor.get(page).get_data(as_text=True)
    assert 'id="care-hidden"' not in after and MARK in after  # the visit tab now lists the encounter


@pytest.mark.parametrize("role", ROLES)
def test_the_patient_chart_follows_the_care_team_rule(app, db, world, login_as, role):
    """/chart/<patient> (issue 9) shows the whole clinical record: the care team reads it (an audit
    ``read`` row), a reader of clinical records outside the team is refused with the way to break
    the glass (a ``denied`` row), the other roles never reach it."""
    _encounter(db, world)
    username, fab_role = USERS[role]
    answer = login_as(username).get(f"/chart/{world.owner}")
    body = answer.get_data(as_text=True)
    chart_rows = [json.loads(row.details) for action in ("read", "denied")
                  for row in audit_rows(db, action, "Patient", world.users[role])]
    if role == "doctor_care":
        assert answer.status_code == 200 and MARK in body
        assert chart_rows == [{"patient_id": world.owner, "view": "chart"}]
    elif fab_role in ("Admin", "Doctor"):
        assert answer.status_code == 403 and MARK not in body
        assert f"/care/break-glass/{world.owner}?next=" in body
        assert chart_rows == [{"patient_id": world.owner, "view": "chart"}]
        assert audit_rows(db, "denied", "Patient", world.users[role])
    else:
        assert answer.status_code in (302, 403) and MARK not in body
        assert chart_rows == []


# --- chat conversations (issue 13): not a generated resource, the same rule ----------------------

# Who reads the owner's chat: the patient themself, the front desk (and admins), a doctor of the
# care team; nobody else (another patient, a doctor outside the care team, other staff).
CHAT_READERS = {"admin", "manager", "receptionist", "doctor_care", "patient_owner"}


@pytest.mark.parametrize("role", ROLES)
def test_chat_conversations_follow_the_care_team_rule(app, db, world, login_as, role):
    from app.services import chat

    now = datetime.now(timezone.utc)
    owner = app.appbuilder.sm.get_user_by_id(world.users["patient_owner"])
    conversation = chat.patient_conversation(db.session, world.owner, now).id
    chat.post_message(db.session, app.extensions["documents"], owner, conversation, f"Hỏi giá {MARK}", now)
    allowed = role in CHAT_READERS
    username = USERS[role][0]
    user_id = world.users[role]
    headers = token_headers(app, username)
    client = app.test_client()

    check(client.get(f"/api/v1/chat/conversations/{conversation}/messages", headers=headers),
          ALLOW if allowed else CARE_DENY, "chat API")
    posted = client.post(f"/api/v1/chat/conversations/{conversation}/messages", headers=headers, json={"text": "hi"})
    assert posted.status_code == (201 if allowed else 403)
    listing = client.get("/api/v1/chat/conversations", headers=headers).get_json()["result"]
    assert ([row["id"] for row in listing] == [conversation]) == allowed, "chat list"
    assert all(row["patient_name"] == OWNER_NAME for row in listing)
    browser = login_as(username)
    if role.startswith("patient"):
        page = browser.get("/clinic/me/chat")
        assert page.status_code == 200 and (MARK in page.get_data(as_text=True)) == allowed
    else:
        page = browser.get(f"/chat-inbox/{conversation}", follow_redirects=True)
        assert (MARK in page.get_data(as_text=True)) == allowed
        if allowed:
            assert OWNER_NAME in browser.get("/chat-inbox/").get_data(as_text=True)
    reads = audit_rows(db, "read", "ChatConversation", user_id)
    denied = audit_rows(db, "denied", "ChatConversation", user_id)
    if allowed:
        assert any(json.loads(row.details).get("patient_id") == world.owner for row in reads)
        assert not denied
    else:
        assert denied and all(json.loads(row.details)["patient_id"] == world.owner for row in denied)
        assert not [row for row in reads if row.entity_id == str(conversation)]


DASHBOARD_READERS = {"admin", "manager"}


@pytest.mark.parametrize("role", ROLES)
def test_dashboards_are_for_managers_and_name_no_patient(app, world, login_as, role):
    """The dashboards (page, downloads, JSON API) are managers' and admins'; they show sums and
    counts, never a patient's name or record."""
    username = USERS[role][0]
    allowed = role in DASHBOARD_READERS
    today = datetime.now(timezone.utc).date()
    window = {"start": (today - timedelta(days=60)).isoformat(), "end": (today + timedelta(days=30)).isoformat()}
    api = app.test_client().get("/api/v1/dashboards/figure", headers=token_headers(app, username),
                                query_string={"figure": "revenue_by_doctor", **window})
    assert api.status_code == (200 if allowed else 403)
    browser = login_as(username)
    page = browser.get("/dashboards/", query_string={**window, "grain": "week"})
    download = browser.get("/dashboards/visits.csv", query_string=window)
    if allowed:
        assert page.status_code == 200 and download.status_code == 200
        for text in (page.get_data(as_text=True), download.get_data(as_text=True), api.get_data(as_text=True)):
            assert OWNER_NAME not in text and MARK not in text
    else:
        assert page.status_code in (302, 403) and download.status_code in (302, 403)


# --- video call recordings (issue 15): played back from their own URL, the same rule ------------

# The clinical rule (access.may_read): the doctor of the care team and the patient themself; every
# other reader (admin, another doctor, other staff, another patient) is refused and logged.
RECORDING_READERS = {"doctor_care", "patient_owner"}


def _recording(app, db, w: World) -> int:
    from app.models import RecordingChunk, VideoCall, VideoRecording
    from app.services.storage import file_store
    from app.services.video_recording import RecordingSetup, key_fingerprint, seal

    setup = RecordingSetup.from_config(app.config, file_store(app.config))
    now = datetime.now(timezone.utc)
    call = VideoCall(appointment_id=w.appointment, room_key=os.urandom(16).hex())
    recording = VideoRecording(video_call=call, patient_id=w.owner, state="stopped", requested_at=now,
                               started_at=now, stopped_at=now, key_id=key_fingerprint(setup.key),
                               retain_until=now + timedelta(days=30))
    _save(db, call, recording)
    key = f"recordings/acc-{os.urandom(6).hex()}.bin"
    setup.store.put(key, seal(setup.key, recording.id, 0, f"webm {MARK}".encode()), "application/octet-stream")
    _save(db, RecordingChunk(recording_id=recording.id, seq=0, storage_key=key, size_bytes=9))
    return recording.id


@pytest.mark.parametrize("role", ROLES)
def test_call_recordings_follow_the_care_team_rule(app, db, world, login_as, role):
    recording = _recording(app, db, world)
    username = USERS[role][0]
    allowed = role in RECORDING_READERS
    answer = login_as(username).get(f"/video-call/recordings/{recording}/play")
    check(answer, ALLOW if allowed else CARE_DENY, "recording playback")
    reads = audit_rows(db, "read", "VideoRecording", world.users[role])
    denied = audit_rows(db, "denied", "VideoRecording", world.users[role])
    rows = reads if allowed else denied
    assert [row.entity_id for row in rows] == [str(recording)] and not (denied if allowed else reads)
    assert json.loads(rows[0].details)["patient_id"] == world.owner


# Files sent in a video call are read back from the call (/video-call/<appointment>/files/<id>): only
# the call's two participants, whose seat is the permission; anyone else is refused and logged.
CALL_FILE_READERS = {"doctor_care", "patient_owner"}


@pytest.mark.parametrize("role", ROLES)
def test_files_sent_in_a_call_reach_only_its_participants(app, db, world, login_as, role):
    from app.models import Appointment, VideoCall, VideoCallFile

    now = datetime.now(timezone.utc).replace(microsecond=0)
    visit = _save(db, Appointment(patient_id=world.owner, doctor_id=world.doctor_care, service_id=world.service,
                                  mode="video", status="confirmed", start_at=now - timedelta(minutes=5),
                                  end_at=now + timedelta(minutes=15)))
    call = _save(db, VideoCall(appointment_id=visit, room_key=os.urandom(16).hex()))
    attachment = _attachment(db, world)
    _save(db, VideoCallFile(video_call_id=call, attachment_id=attachment))
    allowed = role in CALL_FILE_READERS
    answer = login_as(USERS[role][0]).get(f"/video-call/{visit}/files/{attachment}")
    check(answer, ALLOW if allowed else CARE_DENY, "file sent in a call")
    if allowed:
        assert [row.entity_id for row in audit_rows(db, "read", "Attachment", world.users[role])] == [str(attachment)]
    else:
        denied = audit_rows(db, "denied", "Appointment", world.users[role])
        assert [(row.entity_id, json.loads(row.details)["video_call"]) for row in denied] == [(str(visit), "not_yours")]


# The FHIR R4 API (issue 17, item 5) reads the same records under the same rule: the resource type
# of each patient-owned record it serves, and the reference of that record.
FHIR_TYPES = {"Encounter": ("Encounter", "{id}"), "Diagnosis": ("Condition", "{id}"),
              "LabResult": ("Observation", "lab-{id}"), "PrescriptionItem": ("MedicationRequest", "{id}"),
              "Invoice": ("Invoice", "{id}")}
# What the owner's own login sees of the records made above: what the portal shows (an unsigned
# visit, its diagnoses and an unreleased result are not shown yet; an issued prescription and an
# invoice are).
FHIR_OWNER_SEES = {"PrescriptionItem", "Invoice"}


def expected_fhir(resource: Owned, role: str) -> str:
    if role == "patient_owner":
        return ALLOW if resource.name in FHIR_OWNER_SEES else CARE_DENY
    if role == "patient_other":
        return CARE_DENY if resource.name in FHIR_OWNER_SEES or resource.clinical else ROLE_DENY
    return expected(resource, role)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("resource", [r for r in OWNED if r.name in FHIR_TYPES],
                         ids=[r.name for r in OWNED if r.name in FHIR_TYPES])
def test_the_fhir_api_follows_the_same_rule(app, db, world, resource, role):
    """``GET /fhir/R4/<Type>/<id>`` and the type's search, for every role: allowed (200 with the
    marker, a ``read`` row), refused by care (403, a ``denied`` row), refused by the role (403)."""
    record = resource.make(db, world)
    type_name, key = FHIR_TYPES[resource.name]
    username = USERS[role][0]
    headers = token_headers(app, username)
    outcome = expected_fhir(resource, role)
    client = app.test_client()
    response = client.get(f"/fhir/R4/{type_name}/{key.format(id=record)}", headers=headers)
    check(response, outcome, "FHIR read")
    if outcome != ALLOW:
        assert response.get_json()["resourceType"] == "OperationOutcome"
    listing = client.get(f"/fhir/R4/{type_name}", headers=headers)
    if outcome == ROLE_DENY:
        assert listing.status_code == 403
    else:
        assert listing.status_code == 200
        found = [entry["resource"]["id"] for entry in listing.get_json().get("entry", [])]
        assert (key.format(id=record) in found) == (outcome == ALLOW), "FHIR search"
    if outcome == CARE_DENY:
        denied = audit_rows(db, "denied", resource.name, world.users[role])
        assert {row.entity_id for row in denied} == {str(record)}
