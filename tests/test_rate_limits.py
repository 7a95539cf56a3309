"""Rate limits of the account routes (app/limits.py): per client address and per account, the form
and the API login counted together; Redis storage shared by every process; the client address is
the proxy's unless TRUSTED_PROXIES says to believe its X-Forwarded-For. The suite's app has the
limits off (TestConfig); these tests build their own apps with them on."""
from __future__ import annotations

import re
import uuid

import pytest
from flask import jsonify
from sqlalchemy import select

from app.limits import limited
from config import TestConfig
from tests.conftest import PASSWORD

WRONG = "Wrong-Passw0rd!"


def build(db_url: str, **overrides):
    from app import create_app
    from tests.factories import BrowserClient

    settings = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://", "LOGIN_RATE_LIMIT": "3 per minute",
                "LOGIN_ACCOUNT_RATE_LIMIT": "1000 per minute", "SIGNUP_RATE_LIMIT": "2 per hour",
                "SIGNUP_ACCOUNT_RATE_LIMIT": "1 per hour", "RESET_RATE_LIMIT": "2 per hour",
                "RESET_ACCOUNT_RATE_LIMIT": "1 per hour", "RESEND_RATE_LIMIT": "2 per hour",
                "RESEND_ACCOUNT_RATE_LIMIT": "1 per hour", **overrides}
    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=db_url, **settings)
    application.test_client_class = BrowserClient

    # stand-ins for the sign-up, reset and resend routes (which carry @limited of their kind)
    for kind in ("signup", "reset", "resend"):
        application.add_url_rule(f"/_probe/{kind}", f"{kind}_probe", limited(kind)(lambda: jsonify(ok=True)),
                                 methods=["GET", "POST"])
    return application


@pytest.fixture(scope="module")
def limited_app(app, db_url):
    """One app with the limits on (memory storage), its counts cleared before each test."""
    return build(db_url)


@pytest.fixture
def fresh(limited_app):
    limited_app.appbuilder.sm.limiter.reset()
    return limited_app


def form(application, username: str, address: str = "198.51.100.1", password: str = WRONG, **headers):
    client = application.test_client()
    return client.post("/login/", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


def api(application, username: str, address: str = "198.51.100.1", password: str = WRONG, **headers):
    client = application.test_client()
    return client.post("/api/v1/security/login", json={"username": username, "password": password, "provider": "db"},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


def someone() -> str:
    return f"nobody_{uuid.uuid4().hex[:8]}"


def test_login_attempts_per_address_count_the_form_and_the_api_together(fresh):
    statuses = [form(fresh, someone()).status_code, api(fresh, someone()).status_code,
                form(fresh, someone()).status_code]
    assert statuses == [401, 401, 401]  # a refused form login: the form again
    refused = api(fresh, someone())
    assert refused.status_code == 429 and refused.is_json and "Too many attempts" in refused.get_json()["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    page = form(fresh, someone())
    assert page.status_code == 429 and "Too many attempts" in page.get_data(as_text=True)
    assert api(fresh, someone(), address="198.51.100.2").status_code == 401  # another address: its own count


def test_showing_the_login_form_does_not_count(fresh):
    client = fresh.test_client()
    for _ in range(5):
        assert client.get("/login/", environ_base={"REMOTE_ADDR": "198.51.100.3"}).status_code == 200
    assert form(fresh, someone(), address="198.51.100.3").status_code == 401


def test_login_attempts_per_account_from_many_addresses(db_url, app):
    application = build(db_url, LOGIN_RATE_LIMIT="1000 per minute", LOGIN_ACCOUNT_RATE_LIMIT="3 per minute")
    name = someone()
    variants = [name, f"  {name.upper()} ", name]  # trimmed and case-folded: one account
    assert [api(application, variant, address=f"203.0.113.{n}").status_code
            for n, variant in enumerate(variants)] == [401] * 3
    assert form(application, name, address="203.0.113.99").status_code == 429
    assert api(application, someone(), address="203.0.113.99").status_code == 401  # another account


def test_the_right_password_counts_too(fresh, app):
    """The limit counts attempts, not failures: nothing tells a guesser which try was right."""
    name = someone()
    with app.app_context():
        sm = app.appbuilder.sm
        assert sm.add_user(name, "Minh", "Lê", f"{name}@test.example", sm.find_role("Receptionist"), password=PASSWORD)
    assert [api(fresh, name, address="198.51.100.7", password=PASSWORD).status_code for _ in range(3)] == [200] * 3
    assert api(fresh, name, address="198.51.100.7", password=PASSWORD).status_code == 429


@pytest.mark.parametrize("kind", ["signup", "reset", "resend"])
def test_other_kinds_take_the_account_from_a_json_email(fresh, kind):
    client = fresh.test_client()
    send = lambda email, address, to=kind: client.post(f"/_probe/{to}", json={"email": email},  # noqa: E731
                                                       environ_base={"REMOTE_ADDR": address}).status_code
    assert send("lan@test.example", "198.51.100.20") == 200
    assert send("LAN@test.example", "198.51.100.21") == 429  # the same address book entry: per account
    assert send("hoa@test.example", "198.51.100.20") == 200
    assert send("minh@test.example", "198.51.100.20") == 429  # the address has had its two
    assert client.get(f"/_probe/{kind}", environ_base={"REMOTE_ADDR": "198.51.100.20"}).status_code == 200
    other = next(k for k in ("signup", "reset", "resend") if k != kind)
    assert send("minh@test.example", "198.51.100.20", other) == 200  # each kind has its own counts


def test_a_form_field_names_the_account_too(fresh):
    client = fresh.test_client()
    post = lambda email, address: client.post("/_probe/reset", data={"email": email},  # noqa: E731
                                              environ_base={"REMOTE_ADDR": address}).status_code
    assert post("lan@test.example", "198.51.100.22") == 200
    assert post(" Lan@Test.Example ", "198.51.100.23") == 429


def test_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        limited("guess")


def test_the_suites_app_has_the_limits_off(client):
    for _ in range(12):
        response = client.post("/api/v1/security/login", json={"username": someone(), "password": WRONG})
        assert response.status_code == 401


# --- who the client is behind a proxy ------------------------------------------------------------

def audited_address(application, username: str) -> str | None:
    from app.extensions import db
    from app.models import AuditEvent

    with application.app_context():
        rows = db.session.execute(select(AuditEvent.ip, AuditEvent.details).where(
            AuditEvent.action == "login_failed")).all()
    (ip,) = [row.ip for row in rows if username in (row.details or "")]
    return ip


def test_without_trusted_proxies_x_forwarded_for_changes_nothing(fresh):
    names = [someone() for _ in range(4)]
    statuses = [api(fresh, name, address="192.0.2.10", **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n, name in enumerate(names)]
    assert statuses == [401, 401, 401, 429]  # one address however the header varies
    assert audited_address(fresh, names[0]) == "192.0.2.10"


def test_behind_one_trusted_proxy_the_forwarded_address_counts(db_url, app):
    application = build(db_url, TRUSTED_PROXIES=1)
    names = [someone() for _ in range(4)]
    statuses = [api(application, name, address="192.0.2.10", **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n, name in enumerate(names)]
    assert statuses == [401] * 4  # each client has its own count
    assert audited_address(application, names[0]) == "203.0.113.0"
    for _ in range(3):
        api(application, someone(), address="192.0.2.10", **{"X-Forwarded-For": "203.0.113.50"})
    assert api(application, someone(), address="192.0.2.11", **{"X-Forwarded-For": "203.0.113.50"}).status_code == 429
    # a client cannot pick its address: only the last hop (the proxy's own entry) is believed
    spoofed = [api(application, someone(), address="192.0.2.10",
                   **{"X-Forwarded-For": f"10.9.9.{n}, 203.0.113.51"}).status_code for n in range(4)]
    assert spoofed == [401, 401, 401, 429]


# --- Redis: one count for every process -----------------------------------------------------------

@pytest.mark.needs_redis
def test_with_redis_every_process_shares_the_counts(db_url, app):
    prefix = f"clinic-test-{uuid.uuid4().hex[:8]}"
    settings = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0", "RATELIMIT_KEY_PREFIX": prefix}
    first, second = build(db_url, **settings), build(db_url, **settings)
    try:
        assert [api(first, someone(), address="198.51.100.30").status_code for _ in range(2)] == [401, 401]
        assert form(second, someone(), address="198.51.100.30").status_code == 401
        assert api(second, someone(), address="198.51.100.30").status_code == 429
        assert api(first, someone(), address="198.51.100.31").status_code == 401
    finally:
        first.appbuilder.sm.limiter.reset()


def test_when_the_storage_is_down_logins_still_work(db_url, app, caplog):
    name = someone()
    with app.app_context():
        sm = app.appbuilder.sm
        assert sm.add_user(name, "Minh", "Lê", f"{name}@test.example", sm.find_role("Receptionist"), password=PASSWORD)
    application = build(db_url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    assert api(application, someone()).status_code == 401
    assert api(application, name, password=PASSWORD).status_code == 200
    assert "rate limit storage unavailable" in caplog.text


def test_both_logins_carry_the_login_limit(app):
    """Whatever rewrites the form or the API login, both stay limited (app.security.register_views)."""
    from app.limits import is_limited

    counting = limited("login")(lambda: None).__code__  # the code of the wrapper that counts
    sm = app.appbuilder.sm
    api_view = next(view for view in app.appbuilder.baseviews if isinstance(view, sm.security_api))
    for blueprint in (sm.auth_view.blueprint, api_view.blueprint):
        view = app.view_functions[f"{blueprint.name}.login"]
        assert is_limited(view) and view.rate_limit_kind == "login"
        chain = []
        while view is not None:
            chain.append(getattr(view, "__func__", view))
            view = getattr(view, "__wrapped__", None)
        assert sum(getattr(f, "__code__", None) is counting for f in chain) == 1, "one count per attempt"


def test_the_refusal_speaks_the_clients_language(fresh):
    for _ in range(3):
        api(fresh, someone(), address="198.51.100.40")
    refused = fresh.test_client().post("/api/v1/security/login?_l_=vi", json={"username": someone(), "password": WRONG},
                                       environ_base={"REMOTE_ADDR": "198.51.100.40"})
    assert refused.status_code == 429 and "Quá nhiều lần thử" in refused.get_json()["message"]


def test_a_refused_page_keeps_the_apps_layout_and_a_way_back(fresh):
    """The 429 of a page is the back office's layout (the public site's for its pages), with the
    message in the reader's language and a link back to the form; the API's stays JSON."""
    for _ in range(3):
        form(fresh, someone(), address="198.51.100.41")
    page = form(fresh, someone(), address="198.51.100.41")
    html = page.get_data(as_text=True)
    assert page.status_code == 429 and 0 < int(page.headers["Retry-After"]) <= 60
    assert page.mimetype == "text/html" and "Too many attempts. Please wait a minute and try again." in html
    assert 'class="navbar' in html and "css/clinic.css" in html  # the app's layout, not a bare page
    assert re.search(r'<a [^>]*href="/login/"[^>]*>Back to the form</a>', html)
    client = fresh.test_client()
    vi = client.post("/login/?_l_=vi", data={"username": someone(), "password": WRONG},
                     environ_base={"REMOTE_ADDR": "198.51.100.41"}).get_data(as_text=True)
    assert "Quá nhiều lần thử. Vui lòng đợi một phút rồi thử lại." in vi and "Quay lại biểu mẫu" in vi
    code_page = fresh.test_client().post("/login/code/", data={"code": "123456"},
                                         environ_base={"REMOTE_ADDR": "198.51.100.41"})
    assert code_page.status_code == 429 and 'href="/login/code/"' in code_page.get_data(as_text=True)
    assert api(fresh, someone(), address="198.51.100.41").is_json


def test_a_refused_public_page_keeps_the_public_layout(fresh):
    client = fresh.test_client()
    ask = lambda: client.post("/clinic/password/forgot", data={"email": f"{someone()}@test.example"},  # noqa: E731
                              environ_base={"REMOTE_ADDR": "198.51.100.42"})
    for _ in range(2):
        assert ask().status_code != 429
    page = ask()
    html = page.get_data(as_text=True)
    assert page.status_code == 429 and 'class="pub-header"' in html and "Too many attempts" in html
    assert 'href="/clinic/password/forgot"' in html and 'href="/clinic/"' in html


def test_a_clinics_staff_behind_one_address_are_not_limited_at_ten(app):
    """The default per-address login limit leaves room for a clinic's staff behind one NAT address
    (each account still has its own limit and the lockout)."""
    from limits import parse_many

    from config import Config

    (per_minute,) = [item for item in parse_many(Config.LOGIN_RATE_LIMIT) if item.GRANULARITY.name == "minute"]
    assert per_minute.amount >= 30
