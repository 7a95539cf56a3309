"""Record pickers: /lookup/<resource> finds records as a person types them, only for users who may
read them, and forms and search filters use it instead of listing every record in the page."""
from __future__ import annotations

import pytest

from tests.factories import DAY


@pytest.fixture
def patients(api) -> dict[str, int]:
    people = {"Nguyễn Văn An": "0912 345 678", "Nguyễn Thị Ánh": "0987 654 321", "Trần Đức Thắng": "0903 111 222"}
    return {name: api.create("patient", {"full_name": name, "phone": phone}) for name, phone in people.items()}


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["text"] for item in response.get_json()["results"]]


@pytest.mark.parametrize("typed, expected", [
    ("nguyen van an", ["Nguyễn Văn An"]),
    ("NGUYỄN", ["Nguyễn Văn An", "Nguyễn Thị Ánh"]),
    ("thang", ["Trần Đức Thắng"]),
    ("0912 345 678", ["Nguyễn Văn An"]),  # the phone as people say it, stored as +84912345678
    ("bn00000", ["Nguyễn Văn An", "Nguyễn Thị Ánh", "Trần Đức Thắng"]),
])
def test_patients_are_found_by_name_without_accents_code_or_phone(login_as, patients, typed, expected):
    found = names(login_as("receptionist").get("/lookup/Patient", query_string={"q": typed}))
    assert sorted(name.split(" · ")[1] for name in found) == sorted(expected)


def test_lookup_by_id_gives_the_label_of_a_chosen_record(login_as, patients):
    patient = patients["Trần Đức Thắng"]
    found = names(login_as("doctor").get("/lookup/Patient", query_string={"id": patient}))
    assert len(found) == 1 and found[0].endswith("Trần Đức Thắng")
    assert names(login_as("doctor").get("/lookup/Patient", query_string={"id": 10**20})) == []


def test_appointments_show_their_local_time(api, clinic, login_as):
    assert clinic.appointment
    found = names(login_as("receptionist").get("/lookup/Appointment", query_string={"q": "nguyen van an"}))
    # What the receptionist recognises: the patient, the clinic's local time, the doctor, the service.
    assert found == [f"Nguyễn Văn An (BN000001) · {DAY} 09:00 · BS. Trần Thị Bình · Khám tổng quát"]


def test_a_picker_scoped_to_a_patient_lists_only_that_patients_records(api, clinic, login_as, patients):
    assert clinic.appointment
    other = patients["Trần Đức Thắng"]
    api.create("appointment", {"patient": other, "doctor": clinic.doctor, "service": clinic.service,
                               "start_at": f"{DAY}T10:00:00+07:00"})
    browser = login_as("doctor")
    assert len(names(browser.get("/lookup/Appointment"))) == 2
    mine = names(browser.get("/lookup/Appointment", query_string={"patient": clinic.patient}))
    assert len(mine) == 1 and mine[0].startswith("Nguyễn Văn An (BN")
    theirs = names(browser.get("/lookup/Appointment", query_string={"patient": other}))
    assert len(theirs) == 1 and theirs[0].startswith("Trần Đức Thắng")


def test_an_encounters_appointment_picker_is_scoped_to_the_patient(login_as):
    page = login_as("doctor").get("/encounterview/add").get_data(as_text=True)
    assert 'data-scope="patient"' in page and 'data-url="/lookup/Appointment"' in page


@pytest.mark.parametrize("typed", ["0903 111 222", "0903111222", "+84 903 111 222", "thang"])
def test_the_patient_list_search_finds_a_local_phone_number(login_as, patients, typed):
    page = login_as("receptionist").get("/patientview/list/", query_string={"_flt_0_search_text": typed})
    html = page.get_data(as_text=True)
    assert "Trần Đức Thắng" in html and "Nguyễn Văn An" not in html


def test_invoices_are_found_by_number(api, clinic, login_as):
    number = api.show("invoice", clinic.invoice)["number"]
    found = names(login_as("receptionist").get("/lookup/Invoice", query_string={"q": number[:10].lower()}))
    assert len(found) == 1 and found[0].startswith(f"{number} · Nguyễn Văn An (BN000001) · ")


@pytest.mark.parametrize("user, resource, status", [
    ("receptionist", "Encounter", 403),  # no clinical notes at the front desk
    ("receptionist", "Prescription", 403),
    ("patient", "Patient", 403),
    ("manager", "User", 403),
    ("admin", "User", 200),
    ("doctor", "Encounter", 200),
    ("receptionist", "Nothing", 404),
])
def test_lookup_permissions(login_as, user, resource, status):
    assert login_as(user).get(f"/lookup/{resource}").status_code == status


def test_lookup_needs_a_login(client):
    assert client.get("/lookup/Patient").status_code == 401


def test_forms_and_filters_do_not_list_every_patient(api, login_as, patients):
    browser = login_as("receptionist")
    for path in ("/appointmentview/add", "/appointmentview/list/", "/invoiceview/list/"):
        page = browser.get(path).get_data(as_text=True)
        assert "/lookup/Patient" in page
        assert not any(name in page for name in patients), path


def test_a_form_posts_the_picked_id(api, clinic, login_as, patients):
    browser = login_as("receptionist")
    patient = patients["Nguyễn Thị Ánh"]
    response = browser.post("/appointmentview/add", data={
        "patient": patient, "doctor": clinic.doctor, "service": clinic.service, "start_at": f"{DAY} 10:00",
        "status": "requested", "channel": "phone",
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    listed = api.listing("appointment", [{"col": "patient", "opr": "rel_o_m", "value": patient}])
    assert listed["count"] == 1
    assert listed["result"][0]["start_at"].startswith(f"{DAY}T03:00")  # 10:00 at UTC+7


def test_a_picked_id_that_does_not_exist_is_a_form_error(clinic, login_as):
    response = login_as("receptionist").post("/appointmentview/add", data={
        "patient": 999999, "doctor": clinic.doctor, "service": clinic.service, "start_at": f"{DAY} 10:00",
        "status": "requested", "channel": "phone",
    })
    assert response.status_code == 200
    assert "There is no such record." in response.get_data(as_text=True)


def test_the_edit_form_shows_the_current_record(api, clinic, login_as):
    page = login_as("receptionist").get(f"/appointmentview/edit/{clinic.appointment}").get_data(as_text=True)
    assert f'<option value="{clinic.patient}" selected>' in page
    assert "Nguyễn Văn An" in page


def test_a_filter_by_picked_patient(api, clinic, login_as, patients):
    assert clinic.appointment
    browser = login_as("receptionist")
    page = browser.get(f"/appointmentview/list/?_flt_0_patient={clinic.patient}").get_data(as_text=True)
    assert "Record Count:</strong> 1" in page
    empty = browser.get(f"/appointmentview/list/?_flt_0_patient={patients['Trần Đức Thắng']}").get_data(as_text=True)
    assert "No records found" in empty
