"""Lab orders and results (issue 9, item 7): flags by sex, age and critical limits, the decimal
comma, the result stages, release of final results only, the cancel rules, the lab role's
permissions and access, the trend of one analyte, and the pages and API that use them."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def catalogue(app, db):
    from app.services.demo_data.lab_catalogue import seed_lab_catalogue

    ids = seed_lab_catalogue(db.session)
    db.session.commit()
    return ids


def _user(app, username: str):
    return app.appbuilder.sm.find_user(username=username)


def _doctor_of(app, db, username: str = "doctor") -> int:
    from app.models import Doctor

    user = _user(app, username)
    doctor = db.session.execute(select(Doctor).where(Doctor.user_id == user.id)).scalar_one_or_none()
    if doctor is None:
        doctor = Doctor(full_name="Lê Văn Bác Sĩ", user_id=user.id)
        db.session.add(doctor)
        db.session.commit()
    return doctor.id


def _patient(db, sex: str | None, born: date | None, name: str = "Nguyễn Thị Xét Nghiệm") -> int:
    from app.models import Patient
    from app.services.text import fold

    patient = Patient(code=f"LAB{abs(hash((sex, born, name))) % 10**6}", full_name=name, sex=sex,
                      date_of_birth=born, search_text=fold(name))
    db.session.add(patient)
    db.session.commit()
    return patient.id


def _encounter(app, db, patient_id: int, signed: bool = False) -> int:
    from app.models import Encounter

    encounter = Encounter(patient_id=patient_id, doctor_id=_doctor_of(app, db), chief_complaint="Mệt",
                          signed_at=NOW if signed else None)
    db.session.add(encounter)
    db.session.commit()
    return encounter.id


def _order(app, db, patient_id: int, code: str = "CBC") -> int:
    from app.services import lab

    encounter = _encounter(app, db, patient_id)
    return lab.order_tests(db.session, encounter, [code], _user(app, "doctor"), NOW)[0].id


# --- flags: sex, age, critical, decimal comma ----------------------------------------------------

@pytest.mark.parametrize("sex, born, value, flag, shown_range", [
    ("male", date(1980, 5, 1), "125", "low", "130–170"),       # a man: 125 g/L is anaemia
    ("female", date(1980, 5, 1), "125", "normal", "120–155"),  # a woman: normal
    ("female", date(1980, 5, 1), "160", "high", "120–155"),
    ("male", date(2022, 3, 1), "112", "normal", "110–140"),    # a child of four: the children's range
    ("male", date(1980, 5, 1), "65", "critical", "130–170"),   # below the critical limit
    ("male", date(1980, 5, 1), "210", "critical", "130–170"),
    (None, date(1980, 5, 1), "125", "normal", "120–170"),      # sex unknown: the range for any sex
])
def test_the_flag_follows_the_patients_sex_and_age(app, db, catalogue, sex, born, value, flag, shown_range):
    from app.models import LabResult
    from app.services import lab

    order = _order(app, db, _patient(db, sex, born))
    values = {"WBC (Bạch cầu)": "6,5", "RBC (Hồng cầu)": "4.8", "HGB (Huyết sắc tố)": value,
              "HCT (Hematocrit)": "42", "PLT (Tiểu cầu)": "250"}
    lab.enter_results(db.session, order, values, "final", _user(app, "lab"), NOW)
    hgb = db.session.execute(select(LabResult).where(LabResult.lab_order_id == order,
                                                     LabResult.analyte == "HGB (Huyết sắc tố)")).scalar_one()
    assert (hgb.flag, hgb.reference_range, hgb.unit) == (flag, shown_range, "g/L")
    wbc = db.session.execute(select(LabResult).where(LabResult.lab_order_id == order,
                                                     LabResult.analyte == "WBC (Bạch cầu)")).scalar_one()
    assert wbc.value == "6,5" and wbc.numeric_value == Decimal("6.5") and wbc.flag == "normal"


def test_creatinine_differs_for_men_women_and_children(app, db, catalogue):
    from app.models import LabResult
    from app.services import lab

    flags = {}
    for sex, born in (("male", date(1970, 1, 1)), ("female", date(1970, 1, 1)), ("female", date(2019, 1, 1))):
        order = _order(app, db, _patient(db, sex, born, f"Bệnh Nhân {sex} {born.year}"), "KIDNEY")
        lab.enter_results(db.session, order, {"Ure": "5,0", "Creatinin": "110"}, "final", _user(app, "lab"), NOW)
        result = db.session.execute(select(LabResult).where(LabResult.lab_order_id == order,
                                                            LabResult.analyte == "Creatinin")).scalar_one()
        flags[(sex, born.year)] = (result.flag, result.reference_range)
    assert flags == {("male", 1970): ("normal", "62–120"), ("female", 1970): ("high", "53–100"),
                     ("female", 2019): ("high", "27–62")}


def test_the_age_is_counted_on_the_result_date(app, db, catalogue):
    """Born 1 Dec 2008: 17 the day before, 18 on the day: the adult range applies from then on."""
    from app.models import LabAnalyte, LabReferenceRange
    from app.services import lab

    analyte = db.session.execute(select(LabAnalyte).where(LabAnalyte.name == "HGB (Huyết sắc tố)")).scalar_one()
    ranges = list(db.session.execute(select(LabReferenceRange).where(
        LabReferenceRange.analyte_id == analyte.id)).scalars())
    born = date(2008, 12, 1)
    assert lab.age_in_years(born, date(2026, 11, 30)) == 17
    assert lab.age_in_years(born, date(2026, 12, 1)) == 18
    teen = lab.pick_range(ranges, "male", 17)
    adult = lab.pick_range(ranges, "male", 18)
    assert (teen.age_min_years, teen.high) == (12, Decimal(160))
    assert (adult.age_min_years, adult.high) == (18, Decimal(170))
    assert lab.pick_range(ranges, "male", None) is None  # no age: no age band fits


@pytest.mark.parametrize("text, number", [("5,4", Decimal("5.4")), ("5.4", Decimal("5.4")), (" 12 ", Decimal(12)),
                                          ("-0,5", Decimal("-0.5")), ("5,4,3", None), ("1.2.3", None),
                                          ("abc", None), ("", None), ("5e3", None), ("NaN", None)])
def test_numbers_take_a_decimal_comma_or_point(text, number):
    from app.services.lab import parse_number

    assert parse_number(text) == number


def test_every_broken_value_is_refused_at_once_and_nothing_is_written(app, db, catalogue):
    from app.models import LabResult
    from app.services import lab

    order = _order(app, db, _patient(db, "male", date(1980, 1, 1)))
    with pytest.raises(lab.ValuesRefused) as refused:
        lab.enter_results(db.session, order, {"WBC (Bạch cầu)": "abc", "RBC (Hồng cầu)": "4,8",
                                              "HGB (Huyết sắc tố)": "1,2,3", "HCT (Hematocrit)": "",
                                              "PLT (Tiểu cầu)": "250", "Bogus": "1"}, "final", _user(app, "lab"), NOW)
    assert set(refused.value.errors) == {"WBC (Bạch cầu)", "HGB (Huyết sắc tố)", "HCT (Hematocrit)", "Bogus"}
    assert db.session.execute(select(LabResult)).first() is None


def test_text_results_have_no_flag(app, db, catalogue):
    from app.models import LabResult
    from app.services import lab

    order = _order(app, db, _patient(db, "female", date(1990, 1, 1)), "UA")
    lab.enter_results(db.session, order, {"pH nước tiểu": "6,0", "Tỷ trọng": "1,015", "Protein nước tiểu": "Âm tính",
                                          "Glucose nước tiểu": "Âm tính"}, "final", _user(app, "lab"), NOW)
    rows = {r.analyte: r for r in db.session.execute(select(LabResult)).scalars()}
    assert rows["Protein nước tiểu"].flag is None and rows["Protein nước tiểu"].numeric_value is None
    assert rows["Tỷ trọng"].numeric_value == Decimal("1.015") and rows["Tỷ trọng"].flag == "normal"


# --- stages, corrections, release ----------------------------------------------------------------

def test_preliminary_then_final_then_correction_keeps_the_old_value(app, db, catalogue):
    from app.models import AuditEvent, LabOrder, LabResult
    from app.services import lab
    from app.services.errors import Conflict

    patient = _patient(db, "female", date(1985, 6, 1))
    order = _order(app, db, patient, "GLU")
    tech = _user(app, "lab")
    lab.enter_results(db.session, order, {"Glucose": "5,1"}, "preliminary", tech, NOW)
    assert db.session.get(LabOrder, order).status == "in_progress"
    with pytest.raises(Conflict):  # nothing final yet to correct
        lab.enter_results(db.session, order, {"Glucose": "5,2"}, "corrected", tech, NOW)
    with pytest.raises(Conflict):  # preliminary results are never released
        lab.release_results(db.session, order, tech, NOW)
    lab.enter_results(db.session, order, {"Glucose": "7,9"}, "final", tech, NOW + timedelta(hours=1))
    assert db.session.get(LabOrder, order).status == "completed"
    with pytest.raises(Conflict):  # final: only a correction changes it
        lab.enter_results(db.session, order, {"Glucose": "8,0"}, "final", tech, NOW)
    released = lab.release_results(db.session, order, tech, NOW + timedelta(hours=2))
    assert len(released) == 1 and released[0].released_at == NOW + timedelta(hours=2)
    with pytest.raises(Conflict):  # nothing new to release
        lab.release_results(db.session, order, tech, NOW)

    lab.enter_results(db.session, order, {"Glucose": "26,0"}, "corrected", tech, NOW + timedelta(hours=3))
    result = db.session.execute(select(LabResult).where(LabResult.lab_order_id == order)).scalar_one()
    assert (result.value, result.previous_value, result.status, result.flag) == ("26,0", "7,9", "corrected",
                                                                                  "critical")
    assert not result.released_to_patient  # a correction is released again, explicitly
    corrected = db.session.execute(select(AuditEvent).where(AuditEvent.action == "lab_result_corrected")).scalar_one()
    details = json.loads(corrected.details)
    assert (details["old_value"], details["old_flag"], details["new_value"]) == ("7,9", "high", "26,0")
    released_rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == "lab_results_released")).all()
    assert len(released_rows) == 1


def test_final_results_need_every_analyte(app, db, catalogue):
    from app.services import lab

    order = _order(app, db, _patient(db, "male", date(1980, 1, 1)), "LIVER")
    with pytest.raises(lab.ValuesRefused) as refused:
        lab.enter_results(db.session, order, {"AST (GOT)": "30"}, "final", _user(app, "lab"), NOW)
    assert list(refused.value.errors) == ["ALT (GPT)"]
    lab.enter_results(db.session, order, {"AST (GOT)": "30"}, "preliminary", _user(app, "lab"), NOW)


# --- ordering and cancelling ---------------------------------------------------------------------

def test_ordering_from_the_visit(app, db, catalogue):
    from app.models import LabOrder
    from app.services import lab
    from app.services.errors import Conflict, Forbidden, ValidationFailed

    patient = _patient(db, "male", date(1980, 1, 1))
    encounter = _encounter(app, db, patient)
    doctor = _user(app, "doctor")
    orders = lab.order_tests(db.session, encounter, ["cbc", "GLU"], doctor, NOW)
    assert [(o.test_code, o.lab_test_id, o.status) for o in orders] == [
        ("CBC", catalogue["CBC"], "ordered"), ("GLU", catalogue["GLU"], "ordered")]
    with pytest.raises(ValidationFailed) as twice:
        lab.order_tests(db.session, encounter, ["LIPID", "CBC"], doctor, NOW)
    assert twice.value.field == "test_codes" and "CBC" in twice.value.message
    with pytest.raises(ValidationFailed):
        lab.order_tests(db.session, encounter, ["NOPE"], doctor, NOW)
    with pytest.raises(ValidationFailed):
        lab.order_tests(db.session, encounter, ["LIPID", "LIPID"], doctor, NOW)
    assert db.session.execute(select(LabOrder)).scalars().all() == orders  # nothing half-written
    with pytest.raises(Exception) as stranger:  # another doctor is not the author (nor in care)
        lab.order_tests(db.session, encounter, ["LIPID"], _user(app, "admin"), NOW)
    assert isinstance(stranger.value, Forbidden)
    signed = _encounter(app, db, patient, signed=True)
    with pytest.raises(Conflict):
        lab.order_tests(db.session, signed, ["LIPID"], doctor, NOW)
    # A cancelled order may be ordered again.
    lab.cancel_order(db.session, orders[0].id, doctor, NOW)
    assert lab.order_tests(db.session, encounter, ["CBC"], doctor, NOW)[0].test_code == "CBC"


def test_cancel_rules(app, db, catalogue):
    from app.models import Encounter, LabOrder
    from app.services import lab
    from app.services.errors import Conflict

    doctor, tech = _user(app, "doctor"), _user(app, "lab")
    patient = _patient(db, "female", date(1980, 1, 1))
    encounter = _encounter(app, db, patient)
    first, second, third = (o.id for o in lab.order_tests(db.session, encounter, ["CBC", "GLU", "LIPID"], doctor, NOW))
    lab.mark_collected(db.session, second, tech, NOW)
    lab.enter_results(db.session, third, {"Triglyceride": "1,2"}, "preliminary", tech, NOW)
    # Draft visit: collected but not resulted may be cancelled; resulted may not.
    with pytest.raises(Conflict):
        lab.cancel_order(db.session, third, doctor, NOW)
    db.session.get(Encounter, encounter).signed_at = NOW
    db.session.commit()
    # Signed visit: only while still just ordered.
    with pytest.raises(Conflict):
        lab.cancel_order(db.session, second, doctor, NOW)
    assert lab.cancel_order(db.session, first, doctor, NOW).status == "cancelled"
    with pytest.raises(Conflict):
        lab.cancel_order(db.session, first, doctor, NOW)
    assert db.session.get(LabOrder, first).cancelled_by_id == doctor.id


# --- the trend -----------------------------------------------------------------------------------

def test_the_trend_of_one_analyte(app, db, catalogue):
    from app.services import lab

    patient = _patient(db, "male", date(1960, 1, 1))
    tech, doctor = _user(app, "lab"), _user(app, "doctor")
    for days, value in ((60, "6,1"), (30, "7,4"), (0, "5,8")):
        order = _order(app, db, patient, "GLU")
        lab.enter_results(db.session, order, {"Glucose": value}, "final", tech, NOW - timedelta(days=days))
    cancelled = _order(app, db, patient, "GLU")
    lab.cancel_order(db.session, cancelled, doctor, NOW)
    other = _patient(db, "male", date(1960, 1, 1), "Người Khác")
    lab.enter_results(db.session, _order(app, db, other, "GLU"), {"Glucose": "9"}, "final", tech, NOW)

    points = lab.analyte_trend(db.session, patient, "Glucose")
    assert [(p.at, p.value, p.unit, p.low, p.high, p.flag) for p in points] == [
        (NOW - timedelta(days=60), Decimal("6.1"), "mmol/L", Decimal("3.9"), Decimal("6.4"), "normal"),
        (NOW - timedelta(days=30), Decimal("7.4"), "mmol/L", Decimal("3.9"), Decimal("6.4"), "high"),
        (NOW, Decimal("5.8"), "mmol/L", Decimal("3.9"), Decimal("6.4"), "normal"),
    ]
    assert lab.analyte_trend(db.session, patient, "HbA1c") == []


# --- the lab role: permissions and access ----------------------------------------------------------

def test_the_lab_role_reads_active_orders_and_writes_results(app, db, catalogue):
    from app.permissions import readable, writable
    from app.services import access

    assert writable("Lab") == {"LabResult"}
    assert {"LabOrder", "Patient"} <= readable("Lab")
    assert not {"Encounter", "Diagnosis", "Prescription", "Attachment"} & readable("Lab")
    patient = _patient(db, "male", date(1980, 1, 1))
    order, cancelled = _order(app, db, patient), _order(app, db, patient, "GLU")
    from app.models import LabOrder
    from app.services import lab

    lab.cancel_order(db.session, cancelled, _user(app, "doctor"), NOW)
    tech = _user(app, "lab")
    assert access.may_read(db.session, tech, db.session.get(LabOrder, order), NOW)
    assert not access.may_read(db.session, tech, db.session.get(LabOrder, cancelled), NOW)
    assert [item.id for item in lab.worklist(db.session, tech, NOW)] == [order]
    assert [item.id for item in lab.worklist(db.session, tech, NOW, status="cancelled")] == []


def test_a_lab_login_lands_on_the_worklist(app, db, catalogue, client):
    from tests.factories import form_login

    answer = form_login(app, client, "lab")
    assert answer.headers["Location"].endswith("/lab/")
    assert client.get("/lab/").status_code == 200


def test_the_result_form_shows_every_broken_field_and_the_flag(app, db, catalogue, login_as):
    from app.models import LabOrder

    patient = _patient(db, "male", date(1980, 1, 1), "Trần Văn Máu")
    order = _order(app, db, patient)
    tech = login_as("lab")
    worklist = tech.get("/lab/", query_string={"q": "tran van"}).get_data(as_text=True)
    assert "Trần Văn Máu" in worklist and f"/lab/order/{order}" in worklist
    assert "Trần Văn Máu" not in tech.get("/lab/", query_string={"q": "nobody"}).get_data(as_text=True)
    page = tech.get(f"/lab/order/{order}")
    assert page.status_code == 200 and "130–170" in page.get_data(as_text=True)
    broken = tech.post(f"/lab/order/{order}", data={"a0": "x", "a1": "4,8", "a2": "", "a3": "42", "a4": "250",
                                                   "status": "final"})
    html = broken.get_data(as_text=True)
    assert broken.status_code == 422
    assert html.count("help-block") >= 2 and "5,4 or 5.4" in html
    saved = tech.post(f"/lab/order/{order}", data={"a0": "6,5", "a1": "4,8", "a2": "95", "a3": "42", "a4": "250",
                                                  "status": "final"})
    assert saved.status_code == 303
    shown = tech.get(f"/lab/order/{order}").get_data(as_text=True)
    assert "lab-flag-low" in shown and 'id="lab-release"' in shown
    assert tech.post(f"/lab/order/{order}/release").status_code == 303
    db.session.rollback()
    assert all(r.released_to_patient for r in db.session.get(LabOrder, order).results)
    # The doctor (no Lab role) sees the order in the visit section with the flag.
    encounter = db.session.get(LabOrder, order).encounter_id
    section = login_as("doctor").get(f"/visit/{encounter}").get_data(as_text=True)
    assert "lab-flag-low" in section and "HGB" in section


def test_the_api_orders_enters_releases_and_refuses(app, db, catalogue, api_token):
    patient = _patient(db, "female", date(1990, 1, 1))
    encounter = _encounter(app, db, patient)
    client = app.test_client()
    doctor, tech = api_token("doctor"), api_token("lab")
    made = client.post("/api/v1/lab/orders", headers=doctor, json={"encounter_id": encounter, "test_codes": ["GLU"]})
    assert made.status_code == 201, made.get_json()
    order = made.get_json()["result"][0]["id"]
    again = client.post("/api/v1/lab/orders", headers=doctor, json={"encounter_id": encounter, "test_codes": ["GLU"]})
    assert again.status_code == 422 and "test_codes" in again.get_json()["message"]
    # The lab may not order; the doctor orders, the lab results.
    assert client.post("/api/v1/lab/orders", headers=tech,
                       json={"encounter_id": encounter, "test_codes": ["CBC"]}).status_code == 403
    refused = client.post(f"/api/v1/lab/orders/{order}/results", headers=tech,
                          json={"values": {"Glucose": "nhiều"}, "status": "final"})
    assert refused.status_code == 422 and "Glucose" in refused.get_json()["message"]["values"]
    entered = client.post(f"/api/v1/lab/orders/{order}/results", headers=tech,
                          json={"values": {"Glucose": "2,1"}, "status": "final"})
    assert entered.status_code == 200 and entered.get_json()["result"]["results"][0]["flag"] == "critical"
    assert client.post(f"/api/v1/lab/orders/{order}/cancel", headers=doctor, json={}).status_code == 409
    released = client.post(f"/api/v1/lab/orders/{order}/release", headers=tech, json={})
    assert released.status_code == 200 and len(released.get_json()["released"]) == 1
    catalogue_answer = client.get("/api/v1/lab/catalogue", headers=tech, query_string={"q": "glu"})
    assert [t["code"] for t in catalogue_answer.get_json()["result"]] == ["GLU"]
    worklist = client.get("/api/v1/lab/worklist", headers=tech, query_string={"status": "completed"})
    assert [i["id"] for i in worklist.get_json()["result"]] == [order]
    trend = client.get(f"/api/v1/lab/patients/{patient}/trend", headers=doctor, query_string={"analyte": "Glucose"})
    assert trend.status_code == 200 and [p["value"] for p in trend.get_json()["result"]] == ["2.1000"]
    # A pharmacist has no lab permission at all.
    assert client.get("/api/v1/lab/worklist", headers=api_token("pharmacist")).status_code == 403


def test_a_final_result_is_not_changed_on_the_generic_resource(app, db, catalogue, api_token):
    """The generic ``lab_result`` resource cannot overwrite a final value (the old one would be
    lost): corrections go through the lab page or ``/api/v1/lab/``, which keep it."""
    from app.models import LabResult
    from app.services import lab

    order = _order(app, db, _patient(db, "male", date(1980, 1, 1)), "GLU")
    lab.enter_results(db.session, order, {"Glucose": "5,0"}, "final", _user(app, "lab"), NOW)
    result = db.session.execute(select(LabResult)).scalar_one()
    answer = app.test_client().put(f"/api/v1/lab_result/{result.id}", headers=api_token("doctor"),
                                   json={"value": "9,9"})
    assert answer.status_code == 422 and "value" in answer.get_json()["message"]
    db.session.rollback()
    assert db.session.get(LabResult, result.id).value == "5,0"


# --- the tester's walk (polishvisit) ----------------------------------------------------------------

def test_a_critical_final_value_asks_for_confirmation_before_it_is_saved(app, db, catalogue, login_as):
    from app.models import LabOrder

    patient = _patient(db, "male", date(1980, 1, 1), "Trần Văn Nguy")
    order = _order(app, db, patient)
    tech = login_as("lab")
    values = {"a0": "6,5", "a1": "4,8", "a2": "65", "a3": "42", "a4": "250", "status": "final"}
    asked = tech.post(f"/lab/order/{order}", data=values)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 422 and 'id="lab-confirm-critical"' in html and "HGB" in html
    assert 'value="65"' in html  # the values typed stay in the form
    db.session.rollback()
    assert db.session.get(LabOrder, order).results == []
    saved = tech.post(f"/lab/order/{order}", data={**values, "confirm_critical": "1"})
    assert saved.status_code == 303
    db.session.rollback()
    assert any(r.flag == "critical" for r in db.session.get(LabOrder, order).results)


def test_a_fresh_order_offers_the_upload_and_names_the_collect_action(app, db, catalogue, login_as):
    from tests.test_i18n import VI

    order = _order(app, db, _patient(db, "female", date(1990, 1, 1), "Lê Thị Tệp"))
    html = login_as("lab").get(f"/lab/order/{order}", headers=VI).get_data(as_text=True)
    assert 'class="attachment-upload' in html and "attachment-readonly" not in html
    assert "Xác nhận đã lấy mẫu" in html and 'class="col-md-12" id="lab-order-page"' in html
