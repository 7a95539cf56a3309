"""CSRF: every route that can change something refuses a logged-in browser session that does not
send the session's token, and nothing is written; no GET changes anything; the token (form field
or X-CSRFToken header) or a Bearer JWT lets the same requests through."""
from __future__ import annotations

import hashlib

import pytest
from flask_appbuilder import Model
from sqlalchemy import inspect as sa_inspect, select, text

from tests.factories import START, add_appointment_event, add_reminder_log, page_csrf_token, token_headers

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Authenticates by the credentials in its JSON body, never by the session cookie (app/csrf.py).
TOKEN_FREE = {"SecurityApi.login", "SecurityApi.refresh"}
# Payment providers' server-to-server callbacks: no cookie, proved by an HMAC signature over what
# they carry, idempotent (app/csrf.py SIGNED_CALLBACK_ENDPOINTS). VNPay's IPN is also the one route
# that may change state on GET (VNPay calls it so); test_no_get_changes_anything visits it
# unsigned, and it must then change nothing. Signed deliveries: tests/test_vnpay.py and
# tests/test_stripe.py (Stripe's webhook, POST only). The webhooks' test receiver only keeps what
# it is sent (for the admin's page) under a token from the secret key: tests/test_webhooks.py.
SIGNED_CALLBACKS = {"vnpay.ipn", "stripe_webhook.receive", "webhook_receiver.receive"}
TOKEN_FREE |= SIGNED_CALLBACKS
# Whatever a request might try to write, were it let through.
FORM = {"name": "CSRF", "full_name": "CSRF Test", "code": "CSRF", "status": "cancelled", "reason": "csrf",
        "username": "csrf", "password": "csrf-password", "email": "csrf@example.test", "start": START}
# URL arguments that are not record ids.
WORDS = {"locale": "vi", "name": "muldelete", "resource": "Patient", "token": "not-a-token", "filename": "x.txt"}
# Routes whose <pk>/<id> names a record of this model (FAB views and APIs are found through their datamodel).
CUSTOM_MODELS = {
    "AppointmentActionsView": "Appointment", "BookingApi": "Appointment", "SeriesApi": "Appointment",
    "calendar": "Doctor", "public": "Appointment", "BillingApi": "Invoice",
}


@pytest.fixture
def records(app, db, clinic, api):
    """At least one row in the clinic's main tables, so every URL names an existing record."""
    for name in ("patient", "doctor", "service", "appointment", "encounter", "lab_order", "prescription",
                 "medicine", "invoice"):
        getattr(clinic, name)
    clinic.pay(clinic.invoice, 1000)
    clinic.break_glass("admin")  # the admin writes and reads the clinical record (issue 8)
    from app.models import Diagnosis

    # written as the visit's own section does (the generic API lets only the record's author write it)
    clinic.save(Diagnosis(encounter_id=clinic.encounter, icd10_code="J06.9", text="Cảm", is_primary=True))
    add_appointment_event(db, clinic.appointment)
    add_reminder_log(db, clinic.appointment)
    return clinic


def model_of(app, endpoint: str) -> type | None:
    prefix = endpoint.split(".", 1)[0]
    for view in app.appbuilder.baseviews:
        if getattr(view, "endpoint", None) == prefix or type(view).__name__ == prefix:
            datamodel = getattr(view, "datamodel", None)
            if datamodel is not None:
                return datamodel.obj
    name = CUSTOM_MODELS.get(prefix)
    if name is None:
        return None
    import app.models as models

    return getattr(models, name)


def existing_id(db, model: type | None) -> int:
    if model is None:
        return 1
    key = sa_inspect(model).primary_key[0]
    found = db.session.execute(select(key).order_by(key).limit(1)).scalar()
    return found if found is not None else 1


def url_for_rule(app, db, rule) -> str:
    values = {}
    for argument in rule.arguments:
        values[argument] = WORDS.get(argument) or existing_id(db, model_of(app, rule.endpoint))
    return rule.build(values, append_unknown=False)[1]


def snapshot(db) -> dict[str, str]:
    """A fingerprint of every table's rows (FAB's included): any insert, update or delete shows."""
    db.session.rollback()
    prints = {}
    for table in Model.metadata.sorted_tables:
        rows = db.session.execute(text(f"SELECT * FROM {table.name}")).all()
        prints[table.name] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    db.session.rollback()
    return prints


# The audit trail records requests too (a refused permission, a read of patient data): a GET may
# add such rows. It must never record a change: row changes are checked apart (``row_changes``).
RECORDS_OF_REQUESTS = {"audit_event"}


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [name for name in before if before[name] != after[name] and name not in RECORDS_OF_REQUESTS]


def row_changes(db) -> int:
    """Audit rows of created, changed or deleted records."""
    db.session.rollback()
    count = db.session.execute(text("SELECT count(*) FROM audit_event WHERE action IN ('create', 'update', 'delete')"))
    return count.scalar()


def unsafe_rules(app):
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & UNSAFE
        if methods and rule.endpoint not in TOKEN_FREE:
            yield rule, sorted(methods)


def test_the_walk_covers_the_routes_that_matter(app):
    endpoints = {rule.endpoint for rule, _ in unsafe_rules(app)}
    for endpoint in ("PatientView.delete", "PatientView.add", "AppointmentActionsView.status",
                     "SeriesBookingView.new", "public.book_confirm", "public.signup_post", "public.cancel_appointment",
                     "public.confirm", "public.resend_confirmation", "public.forgot_password_post",
                     "public.reset_password_post",
                     "public.change_password", "ResetMyPasswordView.this_form_post",
                     "BookingApi.book", "PatientApi.post", "PatientApi.delete", "calendar.calendar_token",
                     "BillingApi.create_invoice", "BillingApi.pay", "BillingApi.refund", "BillingApi.checkout",
                     "BillingApi.remove_line", "BillingApi.set_discount",
                     "ClinicAuthDBView.login", "ClinicAuthDBView.logout", "SecurityApi.logout"):
        assert endpoint in endpoints
    token_free = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint in TOKEN_FREE}
    assert token_free == TOKEN_FREE


def test_every_state_changing_route_refuses_a_session_without_the_token(app, db, records, login_as):
    admin = login_as("admin")
    before = snapshot(db)
    wrong = []
    for rule, methods in unsafe_rules(app):
        url = url_for_rule(app, db, rule)
        for method in methods:
            if url.startswith("/api/"):
                response = admin.open(url, method=method, json=FORM, csrf=False)
            else:
                response = admin.open(url, method=method, data=FORM, csrf=False)
            body = response.get_data(as_text=True)
            if response.status_code != 400 or "security token" not in body:
                wrong.append((method, url, response.status_code))
            elif url.startswith("/api/") and not response.is_json:
                wrong.append((method, url, "not JSON"))
    assert not wrong, wrong
    assert not changed(before, snapshot(db))


def test_a_forged_or_other_sessions_token_is_refused(app, db, records, login_as):
    admin, other = login_as("admin"), login_as("receptionist")
    url = f"/patientview/delete/{records.patient}"
    before = snapshot(db)
    assert admin.post(url, data={"csrf_token": "forged"}, csrf=False).status_code == 400
    assert admin.post(url, data={"csrf_token": other.csrf_token()}, csrf=False).status_code == 400
    assert admin.post(url, headers={"X-CSRFToken": other.csrf_token()}, csrf=False).status_code == 400
    assert not changed(before, snapshot(db))


def generic_page(endpoint: str) -> bool:
    """FAB's list/show/add/edit pages of a model view: the same FAB code renders each of them (the
    Patient and Appointment ones stand for all; tests/test_smoke_pages.py opens every page)."""
    view, _, method = endpoint.partition(".")
    return method in {"list", "show", "add", "edit"} and view.endswith("View") \
        and view not in {"PatientView", "AppointmentView"}


def test_no_get_changes_anything(app, db, records, login_as):
    """Every GET route, FAB's delete and action URLs included, as a logged-in admin: nothing written."""
    admin = login_as("admin")
    before, changes = snapshot(db), row_changes(db)
    visited = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint.endswith("static") or "logout" in rule.rule:
            continue
        if generic_page(rule.endpoint):
            continue
        admin.get(url_for_rule(app, db, rule))
        visited += 1
    assert visited > 60
    assert not changed(before, snapshot(db)) and row_changes(db) == changes
    # A GET of the logout asks first (a POST logs out: tests/test_sessions.py); the user stays in.
    assert admin.get("/logout/").status_code == 200
    assert not changed(before, snapshot(db)) and row_changes(db) == changes
    assert admin.get("/departmentview/add").status_code == 200


def test_get_on_fab_delete_urls_deletes_nothing(app, db, records, login_as, api):
    admin = login_as("admin")
    for view, resource, pk in (("patientview", "patient", records.patient),
                               ("appointmentview", "appointment", records.appointment),
                               ("encounterview", "encounter", records.encounter),
                               ("departmentview", "department", records.department)):
        response = admin.get(f"/{view}/delete/{pk}", follow_redirects=True)
        assert response.status_code == 200
        assert api.get(resource, pk).status_code == 200, view
    user_id = app.appbuilder.sm.find_user(username="pharmacist").id
    admin.get(f"/users/delete/{user_id}")
    assert app.appbuilder.sm.find_user(username="pharmacist") is not None


def test_the_token_lets_the_same_requests_through(app, db, records, login_as, client, api):
    admin = login_as("admin")
    form = admin.get("/departmentview/add").get_data(as_text=True)
    token = page_csrf_token(form)  # the token the page itself carries, sent as its form would
    response = admin.post("/departmentview/add", csrf=False,
                          data={"code": "TIM", "name": "Khoa Tim", "active": "y", "csrf_token": token})
    assert response.status_code == 302
    department = api.listing("department", [{"col": "code", "opr": "eq", "value": "TIM"}])["ids"][0]
    assert admin.post(f"/departmentview/delete/{department}", data={"csrf_token": token},
                      csrf=False).status_code == 302
    assert api.get("department", department).status_code == 404

    # The REST API with the browser's session: the X-CSRFToken header, as the calendar's fetch sends it.
    response = admin.post("/api/v1/specialty/", json={"name": "Tim mạch"},
                          headers={"X-CSRFToken": admin.csrf_token()}, csrf=False)
    assert response.status_code == 201, response.get_json()
    # A Bearer JWT needs no token: browsers never add that header on their own.
    response = client.post("/api/v1/specialty/", json={"name": "Da liễu"}, headers=token_headers(app, "admin"),
                           csrf=False)
    assert response.status_code == 201

    response = admin.post(f"/appointment-actions/{records.appointment}/status",
                          data={"status": "cancelled", "reason": "Bệnh nhân báo bận", "csrf_token": token},
                          csrf=False)
    assert response.status_code == 302
    assert api.show("appointment", records.appointment)["status"] == "cancelled"


def test_refusals_are_readable_pages_and_json(records, login_as):
    admin = login_as("admin")
    page = admin.post(f"/patientview/delete/{records.patient}", csrf=False)
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "security token is missing or has expired" in page.get_data(as_text=True)
    api = admin.delete(f"/api/v1/patient/{records.patient}", csrf=False)
    assert api.status_code == 400 and api.is_json
    assert "security token" in api.get_json()["message"]
    public = admin.post("/clinic/signup", data={"username": "x"}, csrf=False)
    assert public.status_code == 400 and "Page expired" in public.get_data(as_text=True)


def test_a_bearer_header_does_not_pass_for_a_session_without_a_valid_jwt(records, login_as):
    """Skipping the token for Bearer requests gives a cookie nothing: the bad JWT is refused (401)."""
    admin = login_as("admin")
    response = admin.delete(f"/api/v1/patient/{records.patient}", headers={"Authorization": "Bearer forged"},
                            csrf=False)
    assert response.status_code == 401


def test_the_token_api_needs_no_csrf_token(app):
    """The REST login carries credentials, the refresh its refresh token: neither uses the cookie."""
    from tests.factories import login_body

    client = app.test_client()
    login = client.post("/api/v1/security/login", csrf=False, json={**login_body(app, "doctor"), "refresh": True})
    assert login.status_code == 200
    refreshed = client.post("/api/v1/security/refresh", csrf=False,
                            headers={"X-CSRF-TOKEN": login.get_json()["csrf_token"]})
    assert refreshed.status_code == 200 and refreshed.get_json()["access_token"]
