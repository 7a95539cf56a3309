"""The permission matrix, driven by the data in ``app.permissions``: every role against every
resource, through the REST API and through the back-office screens, plus the promises the matrix
alone does not show (receptionists never see clinical notes, patients never reach the back office,
menus follow permissions, the API documentation covers every resource)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.api import MODELS, NO_GENERIC_WRITES, READ_ONLY
from app.permissions import (
    CLINICAL,
    RESOURCE_BY_NAME,
    RESOURCES,
    ROLE_CONFIGS,
    STAFF_ROLES,
    fab_roles,
    matrix_markdown,
    readable,
    writable,
)
from tests.conftest import ROLES
from tests.factories import form_login, login_body

RESOURCE_NAMES = [r.name for r in RESOURCES]
MATRIX = [pytest.param(role, name, id=f"{role}-{name}") for role in ROLES for name in RESOURCE_NAMES]
STAFF = ("Admin", *STAFF_ROLES)


def may_read(role: str, resource: str) -> bool:
    return role == "Admin" or resource in readable(role)


def may_write(role: str, resource: str) -> bool:
    """Ledgers and logs are written by the services only: nobody, not even Admin, writes them by hand;
    nor files (uploaded through their own endpoints), through the generic screen and resource."""
    return resource not in NO_GENERIC_WRITES and (role == "Admin" or resource in writable(role))


def view_url(resource: str) -> str:
    from app.views import VIEWS

    return "/" + VIEWS[resource].__name__.lower()


def api_url(resource: str) -> str:
    return f"/api/v1/{RESOURCE_BY_NAME[resource].api}/"


def row_count(app, resource: str) -> int:
    from app.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(MODELS[resource]))


# One login per role for the whole module: logging in hashes a password, and the matrix has
# hundreds of cells.
@pytest.fixture(scope="module")
def tokens(app):
    cache: dict[str, dict] = {}

    def get(role: str) -> dict:
        if role not in cache:
            response = app.test_client().post("/api/v1/security/login", json=login_body(app, role.lower()))
            assert response.status_code == 200, response.get_json()
            cache[role] = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
        return cache[role]

    return get


@pytest.fixture(scope="module")
def browser(app):
    cache: dict = {}

    def get(role: str):
        if role not in cache:
            client = app.test_client()
            response = form_login(app, client, role.lower())
            assert response.status_code in (302, 303) and "/login/" not in response.headers["Location"], role
            cache[role] = client
        return cache[role]

    return get


def assert_no_data(response) -> None:
    """A refusal carries a message and nothing else: no rows, no ids, no count, no columns."""
    body = response.get_json()
    assert isinstance(body, dict) and set(body) <= {"message", "msg", "severity"}, body


def assert_no_rows_page(response) -> None:
    html = response.get_data(as_text=True)
    assert "<table" not in html and "list-search" not in html.lower(), html[:500]


def assert_redirects_to_login(response) -> None:
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].split("?")[0].endswith("/login/"), response.headers["Location"]


# --------------------------------------------------------------------------------------------
# The data itself
# --------------------------------------------------------------------------------------------


def test_role_configs_name_only_known_resources():
    for role, config in ROLE_CONFIGS.items():
        assert set(config) == {"read", "write"}, role
        for action in ("read", "write"):
            unknown = set(config[action]) - set(RESOURCE_NAMES)
            assert not unknown, f"{role} {action} names unknown resources {unknown}"
            assert len(config[action]) == len(set(config[action])), f"{role} {action} lists a resource twice"
        both = set(config["read"]) & set(config["write"])
        assert not both, f"{role} lists {both} as both read and write"
        assert not set(config["write"]) & READ_ONLY, f"{role} may write a ledger: {set(config['write']) & READ_ONLY}"
    assert set(CLINICAL) <= set(RESOURCE_NAMES)
    assert set(STAFF_ROLES) <= set(ROLE_CONFIGS)
    assert set(ROLE_CONFIGS) | {"Admin"} == set(ROLES), "the test users do not cover every role"


def test_every_resource_has_one_screen_and_one_api():
    from app.views import VIEWS

    assert len(RESOURCE_NAMES) == len(set(RESOURCE_NAMES))
    assert len({r.api for r in RESOURCES}) == len(RESOURCES)
    assert set(VIEWS) == set(RESOURCE_NAMES)
    assert set(MODELS) == set(RESOURCE_NAMES)
    for name, view in VIEWS.items():
        assert view.class_permission_name == name
        ledger = "can_write" not in (view.base_permissions or ["can_write"])
        assert ledger == (name in NO_GENERIC_WRITES), f"{name}: screen and API disagree on being read-only"


def test_matrix_markdown_has_one_row_per_resource():
    lines = matrix_markdown().splitlines()
    header, rule, rows = lines[0], lines[1], lines[2:]
    roles = [cell.strip() for cell in header.strip("|").split("|")][1:]
    assert roles == ["Admin", *ROLE_CONFIGS]
    assert rule.count("---") == len(roles) + 1
    assert len(rows) == len(RESOURCES)
    for resource, row in zip(RESOURCES, rows, strict=True):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[0] == f"{resource.menu} (`{resource.api}`)"
        for role, cell in zip(roles, cells[1:], strict=True):
            if role == "Admin" or resource.name in writable(role):
                assert cell == "RW", (resource.name, role)
            elif resource.name in readable(role):
                assert cell == "R", (resource.name, role)
            else:
                assert cell == "–", (resource.name, role)


def test_fab_roles_grant_exactly_the_configured_resources():
    """The regexes FAB matches at every request name whole resources, never a prefix of another."""
    roles = fab_roles()
    assert set(roles) == set(ROLE_CONFIGS)
    for role in ROLE_CONFIGS:
        rules = roles[role]
        for action, expected in (("can_read", readable(role)), ("can_write", writable(role))):
            granted = {
                name for name in RESOURCE_NAMES
                if any(re.match(view, name) and re.match(perm, action) for view, perm in rules)
            }
            assert granted == expected, (role, action)


# --------------------------------------------------------------------------------------------
# REST API
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role,resource", MATRIX)
def test_api_matrix(app, client, tokens, role, resource):
    headers = tokens(role)
    url = api_url(resource)

    response = client.get(url, headers=headers)
    if may_read(role, resource):
        assert response.status_code == 200, response.get_json()
        assert "result" in response.get_json()
    else:
        assert response.status_code == 403, response.status_code
        assert_no_data(response)
        info = client.get(url + "_info", headers=headers)
        assert info.status_code == (404 if resource in NO_GENERIC_WRITES else 403)  # ledgers have no forms
        assert_no_data(info)
        one = client.get(f"{url}1", headers=headers)
        assert one.status_code == 403
        assert_no_data(one)

    before = row_count(app, resource)
    response = client.post(url, json={}, headers=headers)
    if may_write(role, resource):
        assert response.status_code not in (401, 403), response.get_json()
        assert response.status_code < 500, response.get_json()
    else:
        # Ledgers have no POST route at all; everything else refuses.
        expected = 405 if resource in NO_GENERIC_WRITES else 403
        assert response.status_code == expected, (response.status_code, response.get_json())
        if resource not in NO_GENERIC_WRITES:
            assert_no_data(response)
        assert row_count(app, resource) == before
        if resource not in NO_GENERIC_WRITES:
            for method in (client.put, client.delete):
                refused = method(f"{url}1", json={}, headers=headers)
                assert refused.status_code == 403, (method, refused.status_code)


@pytest.mark.parametrize("resource", RESOURCE_NAMES)
def test_api_without_credentials_is_401(app, client, resource):
    url = api_url(resource)
    assert client.get(url).status_code == 401
    assert client.get(f"{url}1").status_code == 401
    before = row_count(app, resource)
    response = client.post(url, json={})
    assert response.status_code == (405 if resource in NO_GENERIC_WRITES else 401)
    assert row_count(app, resource) == before


def test_api_with_forged_token_is_refused(client):
    """A malformed or wrongly signed token is 401, like no token at all."""
    import jwt

    forged = jwt.encode({"sub": "1", "fresh": True, "type": "access", "jti": "forged", "iat": 0, "nbf": 0,
                         "exp": 4102444800}, "not-the-secret-key-of-this-clinic", algorithm="HS256")
    for token in ("not.a.token", forged):
        response = client.get(api_url("Patient"), headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.status_code
        assert_no_data(response)


# --------------------------------------------------------------------------------------------
# Screens
# --------------------------------------------------------------------------------------------


# Screens with no add, edit or delete route at all, for anyone (the audit trail): those URLs are 404.
NO_WRITE_ROUTES = {"AuditEvent", "EncounterAmendment"}


@pytest.mark.parametrize("role,resource", MATRIX)
def test_page_matrix(browser, role, resource):
    client = browser(role)
    base = view_url(resource)

    response = client.get(f"{base}/list/")
    if may_read(role, resource):
        assert response.status_code == 200, response.status_code
    else:
        assert response.status_code == 403, response.status_code
        assert_no_rows_page(response)
        assert client.get(f"{base}/show/1").status_code == 403

    response = client.get(f"{base}/add")
    if resource in NO_WRITE_ROUTES:
        for path in ("add", "edit/1", "delete/1"):
            assert client.get(f"{base}/{path}").status_code == 404
        assert client.post(f"{base}/add", data={}).status_code == 404
    elif may_write(role, resource):
        assert response.status_code == 200, response.status_code
        assert "<form" in response.get_data(as_text=True)
    else:
        assert response.status_code == 403, response.status_code
        assert client.post(f"{base}/add", data={}).status_code == 403
        assert client.get(f"{base}/edit/1").status_code == 403
        assert client.get(f"{base}/delete/1").status_code == 403


@pytest.mark.parametrize("resource", RESOURCE_NAMES)
def test_anonymous_pages_redirect_to_login(client, resource):
    base = view_url(resource)
    assert_redirects_to_login(client.get(f"{base}/list/"))
    assert_redirects_to_login(client.get(f"{base}/show/1"))
    if resource in NO_WRITE_ROUTES:
        assert client.get(f"{base}/add").status_code == 404
    else:
        assert_redirects_to_login(client.get(f"{base}/add"))


def test_anonymous_home_has_no_back_office_menu(client):
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    for resource in RESOURCES:
        assert view_url(resource.name) + "/list/" not in html, resource.name


# --------------------------------------------------------------------------------------------
# Specific promises
# --------------------------------------------------------------------------------------------

COMPLAINT = "Zygomatic-quokka-ache 7741"
DIAGNOSIS_TEXT = "Quokka-induced neuralgia 7742"
LAB_TEST = "Serum quokkaglobulin 7743"


def _post(client, headers, resource: str, payload: dict) -> int:
    response = client.post(api_url(resource), json=payload, headers=headers)
    assert response.status_code == 201, (resource, response.get_json())
    return response.get_json()["id"]


@pytest.fixture
def clinical_record(app, db, client, tokens):
    """A patient with an encounter, a diagnosis and a lab order, written by the API as admin
    (the encounter) and as the doctor (the rest). The ``doctor`` login is the encounter's doctor
    (the care team, issue 8); the admin has broken the glass to read this patient's record."""
    from app.models import Doctor
    from app.models.types import utcnow
    from app.services import access

    admin, doctor = tokens("Admin"), tokens("Doctor")
    patient = _post(client, admin, "Patient", {"full_name": "Trần Thị Quokka"})
    doc = _post(client, admin, "Doctor", {"full_name": "Lê Văn Bác Sĩ"})
    db.session.get(Doctor, doc).user_id = app.appbuilder.sm.find_user(username="doctor").id
    db.session.commit()
    access.break_glass(db.session, app.appbuilder.sm.find_user(username="admin"), patient,
                       "Test: the admin reads every resource", utcnow(), 60)
    encounter = _post(client, admin, "Encounter", {"patient": patient, "doctor": doc, "chief_complaint": COMPLAINT})
    diagnosis = _post(client, doctor, "Diagnosis", {"encounter": encounter, "icd10_code": "R52",
                                                    "text": DIAGNOSIS_TEXT})
    lab_order = _post(client, doctor, "LabOrder", {"patient": patient, "encounter": encounter, "doctor": doc,
                                                   "test_code": "QKG", "test_name": LAB_TEST})
    # Issued to the pharmacy: what a pharmacist reads (a draft stays with the care team).
    prescription = _post(client, doctor, "Prescription", {"patient": patient, "doctor": doc,
                                                          "encounter": encounter, "status": "issued"})
    return {"Patient": patient, "Doctor": doc, "Encounter": encounter, "Diagnosis": diagnosis,
            "LabOrder": lab_order, "Prescription": prescription}


SECRETS = (COMPLAINT, DIAGNOSIS_TEXT, LAB_TEST)
# Which resource each secret belongs to: a role that may not read it must never see it.
SECRET_OWNERS = {COMPLAINT: "Encounter", DIAGNOSIS_TEXT: "Diagnosis", LAB_TEST: "LabOrder"}


def _assert_secret_free(response) -> None:
    text = response.get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked ({response.status_code})"


def test_receptionist_never_sees_clinical_notes(client, tokens, browser, clinical_record):
    headers = tokens("Receptionist")
    reception = browser("Receptionist")
    for resource in CLINICAL:
        assert not may_read("Receptionist", resource), resource
        record_id = clinical_record.get(resource, 1)
        for response in (
            client.get(api_url(resource), headers=headers),
            client.get(f"{api_url(resource)}{record_id}", headers=headers),
            reception.get(api_url(resource)),  # the API through the browser session
            reception.get(f"{view_url(resource)}/list/"),
            reception.get(f"{view_url(resource)}/show/{record_id}"),
            reception.get(f"{view_url(resource)}/edit/{record_id}"),
        ):
            assert response.status_code == 403, (resource, response.request.path, response.status_code)
            _assert_secret_free(response)
        info = client.get(f"{api_url(resource)}_info", headers=headers)  # files have no forms: no _info at all
        assert info.status_code == (404 if resource in NO_GENERIC_WRITES else 403), (resource, info.status_code)
        _assert_secret_free(info)
        # There are no file columns: the download route does not exist for anyone.
        for response in (reception.get(f"{view_url(resource)}/download/csv"),):
            assert response.status_code == 404, (resource, response.request.path, response.status_code)
            _assert_secret_free(response)


def test_patient_page_hides_encounters_from_receptionist(browser, clinical_record):
    patient = clinical_record["Patient"]
    for path in (f"/patientview/show/{patient}", f"/patientview/edit/{patient}"):
        response = browser("Receptionist").get(path)
        assert response.status_code == 200, (path, response.status_code)
        html = response.get_data(as_text=True)
        assert "Trần Thị Quokka" in html
        _assert_secret_free(response)
        assert 'id="EncounterView"' not in html and 'href="#EncounterView"' not in html
        assert 'href="#LabOrderView"' not in html and 'href="#PrescriptionView"' not in html
        # What a receptionist may read stays on the page.
        assert 'href="#AppointmentView"' in html and 'href="#InvoiceView"' in html

        response = browser("Doctor").get(path)
        assert response.status_code == 200, (path, response.status_code)
        html = response.get_data(as_text=True)
        assert COMPLAINT in html
        assert 'href="#EncounterView"' in html


@pytest.mark.parametrize("role", [r for r in ROLES if may_read(r, "Patient")])
def test_patient_page_shows_only_readable_related_views(browser, clinical_record, role):
    from app.views import VIEWS

    response = browser(role).get(f"/patientview/show/{clinical_record['Patient']}")
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    for view in VIEWS["Patient"].related_views:
        tab = f'href="#{view.__name__}"'
        assert (tab in html) == may_read(role, view.class_permission_name), (role, view.__name__)
    assert (COMPLAINT in html) == may_read(role, "Encounter"), role


@pytest.mark.parametrize("role", [r for r in ROLES if may_read(r, "Doctor")])
def test_doctor_page_shows_only_readable_related_views(browser, clinical_record, role):
    from app.views import VIEWS

    response = browser(role).get(f"/doctorview/show/{clinical_record['Doctor']}")
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    for view in VIEWS["Doctor"].related_views:
        tab = f'href="#{view.__name__}"'
        assert (tab in html) == may_read(role, view.class_permission_name), (role, view.__name__)


def test_patient_role_never_reaches_the_back_office(client, tokens, browser, clinical_record):
    headers = tokens("Patient")
    portal = browser("Patient")
    for resource in RESOURCE_NAMES:
        for response in (
            client.get(api_url(resource), headers=headers),
            portal.get(api_url(resource)),
            portal.get(f"{view_url(resource)}/list/"),
            portal.get(f"{view_url(resource)}/show/{clinical_record.get(resource, 1)}"),
        ):
            assert response.status_code == 403, (resource, response.request.path, response.status_code)
            _assert_secret_free(response)
            assert "Trần Thị Quokka" not in response.get_data(as_text=True)
    html = portal.get("/", follow_redirects=True).get_data(as_text=True)
    for resource in RESOURCES:
        assert view_url(resource.name) + "/list/" not in html, resource.name
    assert portal.get("/swagger/v1").status_code == 403


def _hidden_secrets(role: str) -> list[str]:
    return [secret for secret, owner in SECRET_OWNERS.items() if not may_read(role, owner)]


@pytest.mark.parametrize("role", [r for r in ROLES if r != "Admin"])
def test_screens_never_show_clinical_text_a_role_may_not_read(browser, clinical_record, role):
    """Not through the screens of the resources the role does read either (a pharmacist reads
    prescriptions, whose encounter is described by its chief complaint)."""
    hidden = _hidden_secrets(role)
    client = browser(role)
    for resource in RESOURCE_NAMES:
        if not may_read(role, resource):
            continue
        paths = [f"{view_url(resource)}/list/"]
        if resource in clinical_record:
            paths.append(f"{view_url(resource)}/show/{clinical_record[resource]}")
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            text = response.get_data(as_text=True)
            for secret in hidden:
                assert secret not in text, f"{role} sees {secret!r} on {path}"


@pytest.mark.parametrize("role", [r for r in ROLES if r != "Admin"])
def test_api_never_shows_clinical_text_a_role_may_not_read(client, tokens, clinical_record, role):
    hidden = _hidden_secrets(role)
    for resource in RESOURCE_NAMES:
        if not may_read(role, resource):
            continue
        paths = [api_url(resource)]
        if resource in clinical_record:
            paths.append(f"{api_url(resource)}{clinical_record[resource]}")
        for path in paths:
            response = client.get(path, headers=tokens(role))
            assert response.status_code == 200, (path, response.status_code)
            text = response.get_data(as_text=True)
            for secret in hidden:
                assert secret not in text, f"{role} sees {secret!r} on {path}"


@pytest.mark.parametrize("role", [r for r in ROLES if r != "Admin"])
def test_api_info_never_shows_clinical_text_a_role_may_not_read(client, tokens, clinical_record, role):
    """``_info`` lists choices from related records (a prescription's encounters): it is for
    writers only, so a pharmacist who reads prescriptions never gets the encounters' complaints."""
    hidden = _hidden_secrets(role)
    for resource in RESOURCE_NAMES:
        if not may_read(role, resource):
            continue
        text = client.get(f"{api_url(resource)}_info", headers=tokens(role)).get_data(as_text=True)
        for secret in hidden:
            assert secret not in text, f"{role} sees {secret!r} in {resource} _info"


def _menu_links(html: str) -> set[str]:
    return set(re.findall(r'href="(/[a-z]+view/list/)', html))


@pytest.mark.parametrize("role", STAFF)
def test_menu_lists_exactly_the_readable_resources(browser, role):
    response = browser(role).get("/", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    expected = {view_url(name) + "/list/" for name in RESOURCE_NAMES if may_read(role, name)}
    assert _menu_links(html) == expected


def test_receptionist_menu(browser):
    html = browser("Receptionist").get("/", follow_redirects=True).get_data(as_text=True)
    assert "Patients" in html
    assert "/patientview/list/" in html
    assert "Encounters" not in html and "/encounterview/list/" not in html
    assert "Audit trail" not in html and "/auditeventview/list/" not in html


def test_admin_reads_and_writes_everything(client, tokens, browser):
    headers = tokens("Admin")
    admin = browser("Admin")
    for resource in RESOURCE_NAMES:
        assert client.get(api_url(resource), headers=headers).status_code == 200, resource
        assert admin.get(f"{view_url(resource)}/list/").status_code == 200, resource
        if resource in NO_GENERIC_WRITES:
            continue
        info = client.get(f"{api_url(resource)}_info", headers=headers).get_json()
        assert {"can_read", "can_write"} <= set(info["permissions"]), (resource, info["permissions"])
        assert admin.get(f"{view_url(resource)}/add").status_code == 200, resource
    # And a real write goes through, not just past the permission check.
    created = client.post(api_url("Specialty"), json={"name": "Admin-made specialty"}, headers=headers)
    assert created.status_code == 201, created.get_json()


@pytest.mark.parametrize("role", [r for r in ROLES if r != "Admin"])
def test_api_info_reports_the_role_permissions(client, tokens, role):
    """``_info`` describes the forms to writers and agrees with the matrix; readers get 403."""
    for resource in RESOURCE_NAMES:
        response = client.get(f"{api_url(resource)}_info", headers=tokens(role))
        if may_write(role, resource):
            assert set(response.get_json()["permissions"]) == {"can_read", "can_write"}, (role, resource)
        else:
            assert response.status_code in (403, 404), (role, resource, response.status_code)


# --------------------------------------------------------------------------------------------
# API documentation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF)
def test_swagger_ui_for_staff(browser, role):
    response = browser(role).get("/swagger/v1")
    assert response.status_code == 200
    assert "swagger" in response.get_data(as_text=True).lower()


def test_swagger_ui_requires_login(client):
    assert_redirects_to_login(client.get("/swagger/v1"))


def test_openapi_lists_every_resource(client, tokens):
    response = client.get("/api/v1/_openapi", headers=tokens("Manager"))
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    for resource in RESOURCES:
        collection, item = f"/api/v1/{resource.api}/", f"/api/v1/{resource.api}/{{pk}}"
        assert collection in paths, collection
        assert item in paths, item
        assert "get" in paths[collection] and "get" in paths[item]
        if resource.name in NO_GENERIC_WRITES:
            assert "post" not in paths[collection] and not {"put", "delete"} & set(paths[item]), resource.name
        else:
            assert "post" in paths[collection] and {"put", "delete"} <= set(paths[item]), resource.name
