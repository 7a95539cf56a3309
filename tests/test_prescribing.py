"""Prescribing in the visit (issue 9, item 5): quantities, field errors, the warnings (allergy,
same ingredient twice, interactions) that are never a silent pass, override reasons kept on the
item, the interaction table's CLI, issuing at signing, the printable page and the REST API."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

WARFARIN_ASPIRIN = ("ingredient_a,ingredient_b,severity,description_en,description_vi\n"
                    "Warfarin,Aspirin,severe,Serious bleeding risk.,Nguy cơ chảy máu nặng.\n"
                    "Ibuprofen,Losartan,moderate,Less effect of losartan.,Giảm tác dụng của losartan.\n")


@pytest.fixture
def rx(app, db, clinic):
    """The doctor login's own draft encounter with the test patient, some medicines, and the
    interaction table; ``rx.call(fn, *args)`` runs a service as that doctor in a request."""
    from app.models import Doctor, Encounter, Medicine
    from app.services import prescribing

    user = app.appbuilder.sm.find_user(username="doctor")
    doctor = Doctor(full_name="Lê Văn Bác Sĩ", title="BS.", user_id=user.id)
    db.session.add(doctor)
    db.session.commit()

    class Rx:
        pass

    r = Rx()
    r.doctor = doctor.id
    r.user_id = user.id
    r.encounter = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=doctor.id, chief_complaint="Đau đầu"))
    meds = {
        "warfarin": Medicine(code="WAR5", name="Warfarin", active_ingredient="Warfarin natri", strength="5 mg",
                             unit="viên"),
        "aspirin": Medicine(code="ASP81", name="Aspirin", active_ingredient="Acid acetylsalicylic", strength="81 mg",
                            unit="viên"),
        "para500": Medicine(code="PARA500", name="Paracetamol", active_ingredient="Paracetamol", strength="500 mg",
                            unit="viên"),
        "para250": Medicine(code="PARA250", name="Paracetamol", active_ingredient="Paracetamol", strength="250 mg",
                            unit="gói"),
        "amoclav": Medicine(code="AMC625", name="Amoxicillin + Acid clavulanic",
                            active_ingredient="Amoxicillin, Clavulanic acid", strength="500/125 mg", unit="viên"),
        "ibuprofen": Medicine(code="IBU400", name="Ibuprofen", active_ingredient="Ibuprofen", strength="400 mg",
                              unit="viên"),
        "losartan": Medicine(code="LOS50", name="Losartan", active_ingredient="Losartan kali", strength="50 mg",
                             unit="viên"),
        "cream": Medicine(code="CLO1", name="Clotrimazole", active_ingredient="Clotrimazole", strength="1%",
                          unit="tuýp"),
        "retired": Medicine(code="OLD1", name="Old drug", active_ingredient="Oldium", unit="viên", active=False),
    }
    db.session.add_all(meds.values())
    db.session.commit()
    r.med = {k: m.id for k, m in meds.items()}
    prescribing.load_interactions(db.session, WARFARIN_ASPIRIN)

    def call(fn, *args, **kwargs):
        from flask import g

        with app.test_request_context():
            g.user = app.appbuilder.sm.get_user_by_id(user.id)
            kwargs.setdefault("now", _now())
            return fn(db.session, *args, **kwargs)

    r.call = call
    r.user = lambda: app.appbuilder.sm.get_user_by_id(user.id)
    return r


def _now():
    from app.models.types import utcnow

    return utcnow()


def _item(medicine_id, **kw):
    from app.services.prescribing import ItemInput

    values = dict(medicine_id=medicine_id, dose_amount="1", times_per_day=2, duration_days=5, route="oral")
    values.update(kw)
    return ItemInput(**values)


def _add(rx, medicine_id, **kw):
    from app.services import prescribing

    return rx.call(prescribing.add_item, rx.encounter, rx.user(), _item(medicine_id, **kw))


def _items(db, encounter_id):
    from app.models import Prescription, PrescriptionItem

    db.session.expire_all()
    return db.session.query(PrescriptionItem).join(Prescription).filter(Prescription.encounter_id == encounter_id).all()


def test_the_quantity_is_computed_for_countable_units_and_can_be_changed(rx, db):
    from app.services.errors import ValidationFailed

    item = _add(rx, rx.med["para500"], dose_amount="0,5", times_per_day=3, duration_days=5)
    assert item.quantity == 8  # ceil(0.5 x 3 x 5 = 7.5)
    assert item.dose == "0,5 viên" and item.frequency == "3 lần/ngày" and item.dose_amount == Decimal("0.5")
    edited = _add(rx, rx.med["losartan"], quantity=30)
    assert edited.quantity == 30  # the doctor's own figure wins
    with pytest.raises(ValidationFailed) as refused:
        _add(rx, rx.med["cream"], dose_amount="1", times_per_day=2, duration_days=14)
    assert set(refused.value.as_dict()["message"]) == {"quantity"}  # a tube is not counted by doses
    assert _add(rx, rx.med["cream"], quantity=1).quantity == 1
    assert len(_items(db, rx.encounter)) == 3


def test_every_broken_field_is_named_at_once_and_nothing_is_written(rx, db):
    from app.services.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        _add(rx, rx.med["retired"], dose_amount="0", times_per_day=30, duration_days=0, route="by mail",
             quantity=-1)
    fields = set(refused.value.as_dict()["message"])
    assert fields == {"medicine_id", "dose_amount", "times_per_day", "duration_days", "route", "quantity"}
    with pytest.raises(ValidationFailed) as absurd:
        _add(rx, rx.med["para500"], dose_amount="-2", duration_days=1000, times_per_day="abc")
    assert set(absurd.value.as_dict()["message"]) == {"dose_amount", "duration_days", "times_per_day"}
    assert _items(db, rx.encounter) == []
    from app.models import Prescription

    assert db.session.query(Prescription).count() == 0  # not even an empty draft


def test_an_allergy_written_with_other_accents_and_case_needs_a_reason_kept_on_the_item(rx, db, clinic):
    from app.models import Patient
    from app.services import prescribing
    from app.services.errors import Conflict, ValidationFailed

    patient = db.session.get(Patient, clinic.patient)
    patient.allergies = "Hải sản; AMOXICILIN (nổi mề đay)"  # Vietnamese spelling, upper case
    db.session.commit()
    preview = rx.call(prescribing.preview_item, rx.encounter, rx.user(), _item(rx.med["amoclav"]))
    assert [w["kind"] for w in preview["warnings"]] == ["allergy"] and preview["needs_reason"]
    with pytest.raises(Conflict) as unconfirmed:
        _add(rx, rx.med["amoclav"])
    assert unconfirmed.value.as_dict()["warnings"][0]["kind"] == "allergy"
    with pytest.raises(ValidationFailed) as no_reason:
        _add(rx, rx.med["amoclav"], acknowledged=True)
    assert "allergy" in no_reason.value.as_dict()["message"]["override_reason"][0]
    assert _items(db, rx.encounter) == []
    item = _add(rx, rx.med["amoclav"], acknowledged=True, override_reason="Đã test da âm tính, theo dõi")
    stored = _items(db, rx.encounter)[0]
    assert stored.id == item.id and stored.override_reason == "Đã test da âm tính, theo dõi"
    assert json.loads(stored.warnings)[0]["kind"] == "allergy"


@pytest.mark.parametrize("allergy, medicine, warned", [
    ("Penicilin", "Penicillin V", True), ("aspirin", "Acid acetylsalicylic", True),
    ("ACETAMINOPHEN", "Paracetamol", True), ("Kháng sinh nhóm penicilin", "Penicillin", True),
    ("hải sản, phấn hoa", "Paracetamol", False), ("acid", "Acid acetylsalicylic", False),
])
def test_allergy_matching(allergy, medicine, warned):
    from app.models import Medicine
    from app.services.prescribing import allergy_matches

    assert bool(allergy_matches(allergy, Medicine(name=medicine, active_ingredient=medicine))) is warned


@pytest.mark.parametrize("first, second", [("warfarin", "aspirin"), ("aspirin", "warfarin")])
def test_a_severe_interaction_is_found_in_both_orders_and_needs_a_reason(rx, db, first, second):
    from app.services.errors import ValidationFailed

    _add(rx, rx.med[first])
    with pytest.raises(ValidationFailed) as refused:
        _add(rx, rx.med[second], acknowledged=True)
    assert "severe interaction" in refused.value.as_dict()["message"]["override_reason"][0]
    item = _add(rx, rx.med[second], acknowledged=True, override_reason="INR theo dõi hằng tuần")
    warnings = json.loads(item.warnings)
    assert warnings[0]["kind"] == "interaction" and warnings[0]["severity"] == "severe"
    assert item.override_reason == "INR theo dõi hằng tuần"


def test_the_interaction_table_keeps_one_row_per_pair(rx, db):
    from app.services.prescribing import interaction_between

    assert interaction_between(db.session, "Aspirin", "Warfarin").id == \
        interaction_between(db.session, "warfarin", "Acid acetylsalicylic").id


def test_a_moderate_interaction_and_a_duplicate_need_confirming_but_no_reason(rx, db):
    from app.services.errors import Conflict

    _add(rx, rx.med["ibuprofen"])
    with pytest.raises(Conflict):
        _add(rx, rx.med["losartan"])
    item = _add(rx, rx.med["losartan"], acknowledged=True)
    assert json.loads(item.warnings)[0]["severity"] == "moderate" and item.override_reason is None
    _add(rx, rx.med["para500"])
    with pytest.raises(Conflict) as duplicate:
        _add(rx, rx.med["para250"], quantity=10)
    assert duplicate.value.as_dict()["warnings"][0]["kind"] == "duplicate"
    assert _add(rx, rx.med["para250"], quantity=10, acknowledged=True).id


def test_an_interaction_with_another_active_prescription_is_shown(rx, db, clinic):
    from app.models import Encounter, Prescription, PrescriptionItem
    from app.services import prescribing

    older = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=rx.doctor, chief_complaint="Tim mạch"))
    db.session.add(Prescription(encounter_id=older, patient_id=clinic.patient, doctor_id=rx.doctor,
                                status="issued", issued_at=_now(), items=[PrescriptionItem(
                                    medicine_id=rx.med["warfarin"], dose="1 viên", frequency="1 lần/ngày",
                                    duration_days=30, quantity=30)]))
    db.session.commit()
    preview = rx.call(prescribing.preview_item, rx.encounter, rx.user(), _item(rx.med["aspirin"]))
    assert preview["warnings"][0]["kind"] == "interaction"
    assert "active prescription" in preview["warnings"][0]["message"]


def test_update_and_remove_follow_the_same_rules(rx, db):
    from app.services import prescribing
    from app.services.errors import ValidationFailed

    first = _add(rx, rx.med["warfarin"])
    second = _add(rx, rx.med["para500"])
    with pytest.raises(ValidationFailed):
        rx.call(prescribing.update_item, rx.encounter, second.id, rx.user(),
                _item(rx.med["aspirin"], acknowledged=True))
    changed = rx.call(prescribing.update_item, rx.encounter, second.id, rx.user(),
                      _item(rx.med["para500"], duration_days=3))
    assert changed.quantity == 6
    rx.call(prescribing.remove_item, rx.encounter, first.id, rx.user())
    assert [i.id for i in _items(db, rx.encounter)] == [second.id]


def test_a_signed_record_or_another_doctor_cannot_change_the_prescription(rx, db, app):
    from app.models import Encounter
    from app.services import prescribing
    from app.services.errors import Conflict, Forbidden

    _add(rx, rx.med["para500"])
    admin = app.appbuilder.sm.find_user(username="admin")
    from app.services import access

    with app.test_request_context():
        access.break_glass(db.session, admin, db.session.get(Encounter, rx.encounter).patient_id, "Kiểm tra hồ sơ",
                           _now(), 60)
    with pytest.raises(Forbidden):
        rx.call(prescribing.add_item, rx.encounter, admin, _item(rx.med["ibuprofen"]))
    encounter = db.session.get(Encounter, rx.encounter)
    encounter.signed_at = _now()
    db.session.commit()
    with pytest.raises(Conflict):
        _add(rx, rx.med["ibuprofen"])
    assert len(_items(db, rx.encounter)) == 1


def test_signing_issues_the_draft_prescription_to_the_pharmacy(rx, db, app, clinic):
    from app.models import Encounter, Prescription
    from app.services import prescribing

    _add(rx, rx.med["para500"])
    now = _now()
    encounter = db.session.get(Encounter, rx.encounter)
    prescribing.issue_for_encounter(db.session, encounter, rx.user_id, now)
    db.session.commit()
    issued = db.session.query(Prescription).filter_by(encounter_id=rx.encounter).one()
    assert issued.status == "issued" and issued.issued_at == now
    empty_visit = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=rx.doctor, chief_complaint="Khám"))
    db.session.add(Prescription(encounter_id=empty_visit, patient_id=clinic.patient, doctor_id=rx.doctor))
    db.session.commit()
    prescribing.issue_for_encounter(db.session, db.session.get(Encounter, empty_visit), rx.user_id, now)
    db.session.commit()
    assert db.session.query(Prescription).filter_by(encounter_id=empty_visit).one().status == "draft"


def test_the_cli_loads_a_good_file_and_refuses_a_bad_one_whole(app, db, tmp_path):
    from app.models import DrugInteraction

    good = tmp_path / "good.csv"
    good.write_text(WARFARIN_ASPIRIN, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["interactions", "load", str(good)])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    again = app.test_cli_runner().invoke(args=["interactions", "load", str(good)])
    assert "0 added, 2 updated" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_text("ingredient_a,ingredient_b,severity,description_en,description_vi\n"
                   "Clarithromycin,Simvastatin,severe,Myopathy.,Bệnh cơ.\n"
                   "Metformin,,moderate,x,y\n"
                   "Digoxin,Digoxin,fatal,x,y\n", encoding="utf-8")
    refused = app.test_cli_runner().invoke(args=["interactions", "load", str(bad)])
    assert refused.exit_code != 0
    assert "line 3:" in refused.output and "ingredient_b is empty" in refused.output
    assert "line 4:" in refused.output and "severity" in refused.output
    db.session.expire_all()
    assert db.session.query(DrugInteraction).count() == 2  # the good row of the bad file was not loaded


def test_the_demo_interactions_name_ingredients_of_the_demo_medicines():
    from pathlib import Path

    from app.models import Medicine
    from app.services import prescribing
    from app.services.demo_data.medicines import MEDICINES

    text = (Path(prescribing.__file__).parent / "demo_data" / "interactions.csv").read_text(encoding="utf-8")
    pairs = prescribing.parse_interactions(text)
    assert 20 <= len(pairs) <= 40
    ingredients = [w for med in MEDICINES for w in prescribing.medicine_ingredients(
        Medicine(name=med.name, active_ingredient=med.ingredient))]
    for pair in pairs:
        for key in pair:
            words = tuple(key.split())
            assert any(words == i[:len(words)] or words == i for i in ingredients), key
    assert pairs[(prescribing.ingredient_key("Clarithromycin"), prescribing.ingredient_key("Simvastatin"))][
        "severity"] == "severe"


def test_the_printable_prescription(rx, db, login_as, clinic):
    from app.models import Diagnosis, Patient

    db.session.add(Diagnosis(encounter_id=rx.encounter, icd10_code="J06.9", text="Viêm hô hấp trên cấp",
                             is_primary=True))
    patient = db.session.get(Patient, clinic.patient)
    patient.address = "12 Lý Thường Kiệt, Hà Nội"
    patient.sex = "male"
    db.session.commit()
    _add(rx, rx.med["para500"], dose_amount="1", times_per_day=3, duration_days=5, instructions="Uống sau ăn")
    browser = login_as("doctor")
    page = browser.get(f"/visit/{rx.encounter}/prescription/print", headers={"Accept-Language": "vi"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "size: A5" in html and "ĐƠN THUỐC" in html
    for text in ("Nguyễn Văn An", "12 Lý Thường Kiệt, Hà Nội", "J06.9 Viêm hô hấp trên cấp", "Paracetamol 500 mg",
                 "15 viên", "Uống sau ăn", "BS. Lê Văn Bác Sĩ", "ngày 3 lần, mỗi lần 1 viên, trong 5 ngày"):
        assert text in html, text


def test_the_print_page_is_refused_outside_the_care_team(rx, db, login_as, clinic, app):
    from app.models import Doctor, Encounter

    other = Doctor(full_name="Phạm Minh Khoa")
    db.session.add(other)
    db.session.commit()
    foreign = clinic.save(Encounter(patient_id=clinic.patient, doctor_id=other.id, chief_complaint="Ho"))
    # The login "doctor" cares for the patient (its own encounter): it reads the other visit too;
    # the pharmacist (no clinical read of encounters) does not.
    assert login_as("doctor").get(f"/visit/{foreign}/prescription/print").status_code == 200
    assert login_as("pharmacist").get(f"/visit/{foreign}/prescription/print").status_code in (302, 403)


def test_the_rest_api_has_the_same_rules(rx, db, app, api_token):
    headers = api_token("doctor")
    client = app.test_client()
    base = f"/api/v1/visit_prescription/{rx.encounter}"
    found = client.get("/api/v1/visit_prescription/medicines?q=acetylsalicylic", headers=headers)
    assert [m["code"] for m in found.get_json()["result"]] == ["ASP81"]
    accents = client.get("/api/v1/visit_prescription/medicines?q=AMOXICILIN", headers=headers)
    assert [m["code"] for m in accents.get_json()["result"]] == ["AMC625"]
    body = {"medicine_id": rx.med["warfarin"], "dose_amount": 1, "times_per_day": 1, "duration_days": 30}
    assert client.post(f"{base}/items", json=body, headers=headers).status_code == 201
    aspirin = dict(body, medicine_id=rx.med["aspirin"])
    preview = client.post(f"{base}/preview", json=aspirin, headers=headers)
    assert preview.status_code == 200 and preview.get_json()["result"]["needs_reason"] is True
    unconfirmed = client.post(f"{base}/items", json=aspirin, headers=headers)
    assert unconfirmed.status_code == 409 and unconfirmed.get_json()["warnings"][0]["severity"] == "severe"
    no_reason = client.post(f"{base}/items", json=dict(aspirin, acknowledged=True), headers=headers)
    assert no_reason.status_code == 422 and "override_reason" in no_reason.get_json()["message"]
    bad = client.post(f"{base}/items", json=dict(aspirin, dose_amount=0, duration_days=0), headers=headers)
    assert bad.status_code == 422 and {"dose_amount", "duration_days"} <= set(bad.get_json()["message"])
    saved = client.post(f"{base}/items", json=dict(aspirin, acknowledged=True, override_reason="Theo dõi INR"),
                        headers=headers)
    assert saved.status_code == 201 and saved.get_json()["result"]["override_reason"] == "Theo dõi INR"
    item_id = saved.get_json()["result"]["id"]
    shown = client.get(base, headers=headers).get_json()["result"]
    assert shown["editable"] is True and len(shown["items"]) == 2
    assert client.delete(f"{base}/items/{item_id}", headers=headers).status_code == 200
    assert len(client.get(base, headers=headers).get_json()["result"]["items"]) == 1


def test_the_generic_item_resource_cannot_skip_the_warnings(rx, db, app, api_token, clinic):
    from app.models import Prescription

    prescription = Prescription(patient_id=clinic.patient, doctor_id=rx.doctor, encounter_id=rx.encounter)
    db.session.add(prescription)
    db.session.commit()
    headers = api_token("doctor")
    client = app.test_client()
    base = {"prescription": prescription.id, "dose": "1 viên", "frequency": "1 lần/ngày", "duration_days": 10,
            "route": "oral"}
    first = client.post("/api/v1/prescription_item/", json=dict(base, medicine=rx.med["warfarin"], quantity=10),
                        headers=headers)
    assert first.status_code == 201, first.get_json()
    refused = client.post("/api/v1/prescription_item/", json=dict(base, medicine=rx.med["aspirin"], quantity=10),
                          headers=headers)
    assert refused.status_code == 422 and "override_reason" in refused.get_json()["message"]
    zero = client.post("/api/v1/prescription_item/", json=dict(base, medicine=rx.med["para500"], quantity=10,
                                                               dose_amount=0), headers=headers)
    assert zero.status_code == 422 and "dose_amount" in zero.get_json()["message"]
    computed = client.post("/api/v1/prescription_item/", json=dict(
        base, medicine=rx.med["aspirin"], dose_amount=2, times_per_day=1, override_reason="Đã cân nhắc, theo dõi INR"),
        headers=headers)
    assert computed.status_code == 201, computed.get_json()
    from app.models import PrescriptionItem

    db.session.expire_all()
    item = db.session.get(PrescriptionItem, computed.get_json()["id"])
    assert item.quantity == 20 and json.loads(item.warnings)[0]["severity"] == "severe"


def test_a_signed_visit_shows_its_prescription_read_only(rx, db, login_as):
    from app.models import Encounter

    _add(rx, rx.med["para500"])
    encounter = db.session.get(Encounter, rx.encounter)
    encounter.signed_at = _now()
    db.session.commit()
    browser = login_as("doctor")
    html = browser.get(f"/visit/{rx.encounter}").get_data(as_text=True)
    assert 'id="rx-section"' in html and 'id="rx-form"' not in html and 'id="rx-readonly"' in html
    shown = browser.get(f"/api/v1/visit_prescription/{rx.encounter}").get_json()["result"]
    assert shown["editable"] is False and len(shown["items"]) == 1
