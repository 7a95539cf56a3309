"""Security headers on every response, the one check of ``next=`` targets, and no page form that
writes the audit fields."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_appbuilder import ModelView

from app.redirects import is_safe_path, safe_next
from tests.factories import local_time, pick_record

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"


def csp_nonce(response) -> str:
    return re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)


@pytest.mark.parametrize("path", ["/health", "/clinic/", "/login/", "/api/v1/patient/", "/no-such-page",
                                  "/static/js/calendar.js"])
def test_every_response_has_the_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "Strict-Transport-Security" not in response.headers  # off unless HSTS_SECONDS says so


def test_hsts_when_configured_and_over_https(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "HSTS_SECONDS", 31536000)
    assert client.get("/health", base_url="https://clinic.example").headers["Strict-Transport-Security"] \
        == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/health").headers  # plain HTTP: never


def test_fab_inline_scripts_carry_this_responses_nonce(login_as):
    """FAB's own templates have inline scripts: each gets the response's nonce; a new one per response."""
    admin = login_as("admin")
    response = admin.get("/patientview/list/")
    nonce = csp_nonce(response)
    scripts = re.findall(r"<script\b[^>]*>", response.get_data(as_text=True))
    assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts), scripts
    assert csp_nonce(admin.get("/patientview/list/")) != nonce


def test_our_templates_have_no_inline_script_or_handler():
    for template in TEMPLATES.rglob("*.html"):
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, f"{template}: inline <script>; put it in app/static/js"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{template}: inline event handler"
        assert "javascript:" not in html, template


# --- next= ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "/clinic/", "/clinic/book?service=1&doctor=2", "/patientview/list/?_flt_0_full_name=Nguy%E1%BB%85n",
    "/clinic/book/confirm?service=1&doctor=1&start=2026-12-01T02:00Z",
])
def test_safe_next_keeps_paths_on_this_site(target):
    assert safe_next(target, "/fallback") == target


@pytest.mark.parametrize("target", [
    None, "", "evil.example", "//evil.example", "///evil.example", "/%09/evil.example", "/\t/evil.example",
    "\\\\evil.example", "/\\evil.example", "/%5Cevil.example", "/%2F/evil.example", "/x\r\nSet-Cookie: a=b",
    "/x%0d%0aSet-Cookie:%20a=b", "https://evil.example/", "http:/evil.example", "javascript:alert(1)",
    "data:text/html,x", " /clinic/", "/clinic/\x00",
])
def test_safe_next_refuses_other_sites_and_tricks(target):
    assert not is_safe_path(target)
    assert safe_next(target, "/fallback") == "/fallback"


def test_the_language_switch_and_sign_up_use_it(client):
    response = client.get("/clinic/language/vi?next=/%09/evil.example")
    assert response.status_code == 302 and response.headers["Location"] == "/clinic/"
    response = client.get("/clinic/language/en?next=/clinic/doctors")
    assert response.headers["Location"] == "/clinic/doctors"
    page = client.get("/clinic/signup?next=//evil.example").get_data(as_text=True)
    assert re.search(r'name="next" type="hidden" value="/clinic/me/appointments"|'
                     r'name="next" value="/clinic/me/appointments"', page)


def test_the_login_uses_it(app, client):
    from tests.conftest import PASSWORD
    from tests.factories import form_login

    for target in ("/%09/evil.example", "/%5Cevil.example", "%5C%5Cevil.example"):  # FAB itself lets "\\" by
        response = client.get(f"/login/?next={target}")
        assert response.status_code == 303 and response.headers["Location"] == "/login/"
    refused = client.post("/login/?next=//evil.example", data={"username": "admin", "password": PASSWORD})
    assert refused.headers["Location"] == "/login/"
    kept = form_login(app, client, "admin", next_url="/clinic/doctors")  # through the two-step login's code page
    assert kept.status_code in (302, 303) and kept.headers["Location"] == "/clinic/doctors"
    again = client.get("/login/?next=/%5C%5Cevil.example")  # already logged in: FAB redirects at once
    assert "evil" not in again.headers["Location"]


# --- audit fields --------------------------------------------------------------------------------

AUDIT_FIELD = re.compile(r"^(created|updated|uploaded|changed|cancelled)_(at|on|by|by_id)$|^actor(_id)?$")


def test_no_page_form_writes_audit_fields(app):
    """Who made or changed a record, and when, is written by the services and the audit hook; no
    generated add/edit form offers those fields, on any view that can write at all."""
    offered = []
    with app.test_request_context():
        for view in app.appbuilder.baseviews:
            if not isinstance(view, ModelView):
                continue
            permissions = view.base_permissions or ["can_add", "can_edit", "can_write"]
            if not {"can_add", "can_edit", "can_write"} & set(permissions):
                continue
            for form in (view.add_form, view.edit_form):
                fields = [name for name, value in vars(form).items() if hasattr(value, "field_class")]
                offered += [(type(view).__name__, name) for name in fields if AUDIT_FIELD.match(name)]
    assert not offered, offered


def test_a_posted_audit_field_is_ignored(app, db, login_as, api, clinic):
    admin = login_as("admin")
    other = app.appbuilder.sm.find_user(username="receptionist").id
    response = admin.post("/appointmentview/add", data={
        "patient": clinic.patient, "doctor": clinic.doctor, "service": clinic.service,
        "start_at": local_time("10:00")[:16], "status": "confirmed", "channel": "phone",
        "created_by": other, "created_by_id": other, "created_at": "2001-01-01 00:00:00"})
    assert response.status_code == 302, re.findall(r'alert-danger">\s*([^<]+)', response.get_data(as_text=True))
    from app.models import Appointment

    (appointment,) = db.session.query(Appointment).all()
    assert appointment.created_by_id != other and appointment.created_at.year != 2001


# --- in a real browser ---------------------------------------------------------------------------

WATCH_CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
    window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber);
});"""


def test_pages_work_under_the_policy_in_chromium(page_as, api, clinic):
    """The back office list (FAB's inline scripts), a form with the record picker, the calendar and
    the public booking run with no Content-Security-Policy violation."""
    assert clinic.appointment
    page = page_as("receptionist")
    page.context.add_init_script(WATCH_CSP)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    visited = []
    for path in ("/appointmentview/list/", f"/patientview/show/{clinic.patient}", "/appointmentview/add",
                 "/calendar/?view=week", f"/appointment-actions/{clinic.appointment}", "/appointment-series/new",
                 "/clinic/", f"/clinic/book?service={clinic.service}&doctor={clinic.doctor}"):
        page.goto(page.base_url + path)
        page.wait_for_load_state("networkidle")
        visited.append((path, page.evaluate("window.__csp")))
    page.goto(page.base_url + "/appointmentview/add")
    pick_record(page, "#patient", "nguyen van an", "Nguyễn Văn An")  # select2 and our picker script ran
    assert [v for v in visited if v[1]] == []
    assert not [m for m in messages if "Content Security Policy" in m], messages


def test_fab_list_deletes_with_a_post_and_the_token_in_chromium(page_as, api):
    """FAB's list page posts its delete (trash button, confirmation dialog) with the CSRF token."""
    kept = api.create("department", {"code": "TIM", "name": "Khoa Tim"})
    gone = api.create("department", {"code": "MAT", "name": "Khoa Mắt"})
    page = page_as("admin")
    requests: list[tuple[str, str]] = []
    page.on("request", lambda request: requests.append((request.method, request.url)))
    page.goto(f"{page.base_url}/departmentview/list/")
    page.click(f"[id$='/departmentview/delete/{gone}']")  # the row's trash button
    page.click("#modal-confirm-ok")
    page.wait_for_load_state()
    assert ("POST", f"{page.base_url}/departmentview/delete/{gone}") in requests
    assert api.get("department", gone).status_code == 404 and api.get("department", kept).status_code == 200
