"""Where a login and a logout lead: a patient's login without a ``next`` lands on the patient
portal (also after the two-step code page), staff on the back office; a ``next`` on this site
wins; the public site's logout leads back to the public site (its ``next`` checked by
app.redirects.safe_next); a refused login shows the form again with the username kept."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import PASSWORD
from tests.factories import enrol, form_login, login_code

PORTAL = "/clinic/me/appointments"


@pytest.fixture
def make_user(app):
    """make_user("Patient") -> username of a new login of that role (password PASSWORD)."""

    def make(role: str) -> str:
        with app.app_context():
            sm = app.appbuilder.sm
            name = f"land_{uuid.uuid4().hex[:10]}"
            assert sm.add_user(name, "Hoa", "Lê", f"{name}@test.example", sm.find_role(role), password=PASSWORD)
            return name

    return make


def test_a_patient_login_without_next_lands_on_the_portal(app, make_user):
    name = make_user("Patient")
    response = form_login(app, app.test_client(), name)
    assert response.status_code == 302 and response.headers["Location"] == PORTAL


def test_a_patient_login_with_next_goes_there_and_an_unsafe_next_is_dropped(app, make_user):
    name = make_user("Patient")
    response = form_login(app, app.test_client(), name, next_url="/clinic/me/profile")
    assert response.headers["Location"] == "/clinic/me/profile"
    refused = app.test_client().post("/login/?next=//evil.example", data={"username": name, "password": PASSWORD})
    assert refused.status_code == 303 and refused.headers["Location"] == "/login/"  # no login, no redirect away


def test_staff_land_on_the_back_office(app, make_user):
    response = form_login(app, app.test_client(), make_user("Receptionist"))
    assert response.headers["Location"] == "/"


def test_after_the_code_page_a_patient_lands_on_the_portal_and_staff_on_next(app, make_user):
    patient = make_user("Patient")
    enrol(app, patient)
    client = app.test_client()
    first = client.post("/login/", data={"username": patient, "password": PASSWORD})
    assert first.headers["Location"] == "/login/code/"
    done = client.post("/login/code/", data={"code": login_code(app, patient)})
    assert done.status_code == 303 and done.headers["Location"] == PORTAL

    staff = make_user("Receptionist")
    enrol(app, staff)
    client = app.test_client()
    client.post("/login/?next=/appointmentview/list/", data={"username": staff, "password": PASSWORD})
    done = client.post("/login/code/", data={"code": login_code(app, staff)})
    assert done.headers["Location"] == "/appointmentview/list/"


def test_a_refused_login_keeps_the_username_never_the_password(app, make_user):
    name = make_user("Patient")
    client = app.test_client()
    response = client.post("/login/", data={"username": name, "password": "Not-The-Passw0rd!"})
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and "Invalid login" in page
    assert re.search(rf'name="username"[^>]*value="{name}"', page)
    assert "Not-The-Passw0rd!" not in page
    assert not re.search(r'name="password"[^>]*value="[^"]', page)
    # the typed username is escaped like any value
    page = client.post("/login/", data={"username": '"><script>x</script>', "password": "x"}).get_data(as_text=True)
    assert "<script>x</script>" not in page


def test_the_public_sites_logout_leads_back_to_it(app, make_user):
    name = make_user("Patient")
    client = app.test_client()
    form_login(app, client, name)
    page = client.get(PORTAL).get_data(as_text=True)
    assert re.search(r'<form method="post" action="/logout/"[^>]*>.*?name="next" value="/clinic/"', page, re.S)
    response = client.post("/logout/", data={"next": "/clinic/"})
    assert response.status_code == 303 and response.headers["Location"] == "/clinic/"
    assert client.get(PORTAL).status_code == 302  # logged out


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_a_logout_next_off_this_site_is_ignored(app, make_user, target):
    client = app.test_client()
    form_login(app, client, make_user("Receptionist"))
    response = client.post("/logout/", data={"next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"
