"""The lab test catalogue in the back office (Clinic -> Lab test catalogue): managers set a test's
price (what a visit that orders it bills), the other staff who need it read it; analytes and
reference ranges are shown on the test's page, read-only. And the automatic invoice lines of a
signed visit, written in the clinic's language whatever the signer's screen language."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.test_billing_rules import _patient_invoices, _sign, visit  # noqa: F401 - the signed-visit fixture
from tests.test_labels import cells

VI = {"Accept-Language": "vi"}


@pytest.fixture
def lab_test(db) -> int:
    """A catalogue test with two analytes: haemoglobin with ranges by sex and age (critical limits),
    a urine protein reported as text (no range)."""
    from app.models import LabAnalyte, LabReferenceRange, LabTest

    test = LabTest(code="CBC", name="Tổng phân tích tế bào máu", specimen="Máu toàn phần (EDTA)", price=Decimal(0))
    hgb = LabAnalyte(position=0, name="HGB (Huyết sắc tố)", unit="g/L", decimals=0)
    hgb.ranges.append(LabReferenceRange(sex="male", age_min_years=18, low=Decimal(130), high=Decimal(170),
                                        critical_low=Decimal(70), critical_high=Decimal(200)))
    hgb.ranges.append(LabReferenceRange(sex="any", age_min_years=0, age_max_years=6, low=Decimal(110),
                                        high=Decimal(140)))
    test.analytes.append(hgb)
    test.analytes.append(LabAnalyte(position=1, name="Protein nước tiểu", unit=None, decimals=1))
    db.session.add(test)
    db.session.commit()
    return test.id


def _price(db, pk: int) -> Decimal:
    from app.models import LabTest

    db.session.expire_all()
    return db.session.get(LabTest, pk).price


def test_a_manager_sets_a_lab_tests_price_on_its_screen(db, login_as, lab_test):
    browser = login_as("manager")
    listing = browser.get("/labtestview/list/")
    assert listing.status_code == 200
    assert "CBC" in cells(listing.get_data(as_text=True))
    form = browser.get(f"/labtestview/edit/{lab_test}").get_data(as_text=True)
    # Code, name, specimen, price and active are edited here; the analytes are not.
    for name in ("code", "name", "specimen", "price", "active"):
        assert f'name="{name}"' in form, name
    assert 'name="analytes"' not in form
    response = browser.post(f"/labtestview/edit/{lab_test}", headers=VI, data={
        "code": "cbc", "name": "Tổng phân tích tế bào máu", "specimen": "Máu toàn phần (EDTA)",
        "price": "120.000", "active": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _price(db, lab_test) == Decimal(120_000)
    shown = cells(browser.get(f"/labtestview/show/{lab_test}", headers=VI).get_data(as_text=True))
    assert "120.000\xa0₫" in shown  # the reader's grouping, no decimals (VND)


@pytest.mark.parametrize("price, message", [("-5000", "zero or more"), ("1500.5", "no smaller unit")])
def test_a_negative_or_fractional_price_is_refused_naming_the_price(api, lab_test, db, price, message):
    response = api.put("lab_test", lab_test, {"price": price})
    assert response.status_code == 422, response.get_json()
    assert message in response.get_json()["message"]["price"][0]
    assert _price(db, lab_test) == 0


def test_the_codes_are_unique_and_upper_case(api, lab_test):
    created = api.post("lab_test", {"code": "glu", "name": "Glucose máu", "price": 45000})
    assert created.status_code == 201, created.get_json()
    assert api.show("lab_test", created.get_json()["id"])["code"] == "GLU"
    again = api.post("lab_test", {"code": "cbc", "name": "Công thức máu", "price": 1000})
    assert again.status_code == 422 and "already has this code" in again.get_json()["message"]["code"][0]


def test_analytes_are_not_written_through_the_api(api, lab_test, db):
    from app.models import LabAnalyte

    response = api.put("lab_test", lab_test, {"analytes": []})
    assert response.status_code == 422, response.get_json()
    assert db.session.execute(select(LabAnalyte).where(LabAnalyte.test_id == lab_test)).scalars().all()


@pytest.mark.parametrize("username", ["doctor", "lab", "cashier", "receptionist"])
def test_staff_who_need_the_catalogue_read_it_but_only_managers_write(app, lab_test, username, api_token):
    client = app.test_client()
    headers = api_token(username)
    assert client.get(f"/api/v1/lab_test/{lab_test}", headers=headers).status_code == 200
    response = client.put(f"/api/v1/lab_test/{lab_test}", json={"price": 1}, headers=headers)
    assert response.status_code == 403
    assert client.put(f"/api/v1/lab_test/{lab_test}", json={"price": 99000},
                      headers=api_token("manager")).status_code == 200


def test_pharmacists_and_patients_do_not_see_it(app, lab_test, api_token):
    client = app.test_client()
    for username in ("pharmacist", "patient"):
        assert client.get(f"/api/v1/lab_test/{lab_test}", headers=api_token(username)).status_code in (401, 403)


def test_the_tests_page_shows_its_analytes_and_ranges_read_only(login_as, lab_test):
    browser = login_as("lab")
    en = browser.get(f"/labtestview/show/{lab_test}").get_data(as_text=True)
    assert "Analytes and reference ranges" in en
    assert "HGB (Huyết sắc tố)" in en and "Protein nước tiểu" in en
    assert "Male, 18 years and over: 130–170 (critical below 70, critical above 200)" in en
    assert "Any, from 0 to under 6 years: 110–140" in en
    vi = browser.get(f"/labtestview/show/{lab_test}", headers=VI).get_data(as_text=True)
    assert "Chỉ số và khoảng tham chiếu" in vi
    assert "Nam, từ 18 tuổi trở lên: 130–170 (nguy hiểm dưới 70, nguy hiểm trên 200)" in vi
    # Read-only for the lab: no edit link.
    assert f"/labtestview/edit/{lab_test}" not in en


def test_a_test_ordered_at_a_visit_is_made_inactive_not_deleted(api, clinic, lab_test, db):
    from app.models import LabOrder

    clinic.break_glass("admin")
    db.session.add(LabOrder(patient_id=clinic.patient, doctor_id=clinic.doctor, lab_test_id=lab_test,
                            test_code="CBC", test_name="Tổng phân tích tế bào máu"))
    db.session.commit()
    response = api.delete("lab_test", lab_test)
    assert response.status_code == 409 and "Active" in response.get_json()["message"]
    assert api.get("lab_test", lab_test).status_code == 200
    assert api.put("lab_test", lab_test, {"active": False}).status_code == 200


def test_the_price_set_by_the_manager_is_what_the_visit_bills(app, db, clinic, visit, api_token):  # noqa: F811
    response = app.test_client().put(f"/api/v1/lab_test/{visit['lab_test']}", json={"price": 135000},
                                     headers=api_token("manager"))
    assert response.status_code == 200, response.get_json()
    _sign(app, db, visit)
    [invoice] = _patient_invoices(db, clinic)
    [lab_line] = [line for line in invoice.lines if line.kind == "lab"]
    assert lab_line.unit_price == Decimal(135_000)


# ---- the automatic lines are in the clinic's language ---------------------------------------

def _sign_in(app, db, visit, language: str) -> None:  # noqa: F811
    """Sign the visit from a screen in ``language`` (the signer's choice, kept in the session)."""
    from datetime import datetime, timezone

    from app.services import encounters

    with app.test_request_context(headers={"Accept-Language": language}):
        from flask_babel import get_locale, refresh

        refresh()  # the test's app context may hold an earlier request's language
        assert str(get_locale()) == language
        encounters.sign_encounter(db.session, visit["encounter"], visit["user"], datetime.now(timezone.utc))


def test_a_doctor_signing_in_english_bills_in_the_clinics_vietnamese(app, db, clinic, visit, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "vi")
    _sign_in(app, db, visit, "en")
    [invoice] = _patient_invoices(db, clinic)
    descriptions = [line.description for line in invoice.lines]
    assert descriptions == ["Khám tổng quát", "Phí khám: Lê Văn Bác Sĩ", "Xét nghiệm: Công thức máu"]


def test_a_doctor_signing_in_vietnamese_bills_in_an_english_clinics_language(app, db, clinic, visit,  # noqa: F811
                                                                              monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    _sign_in(app, db, visit, "vi")
    [invoice] = _patient_invoices(db, clinic)
    descriptions = [line.description for line in invoice.lines]
    assert descriptions == ["Khám tổng quát", "Consultation fee: Lê Văn Bác Sĩ", "Lab test: Công thức máu"]
