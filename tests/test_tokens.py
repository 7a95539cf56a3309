"""API tokens (issue 8, item 6): a short-lived access token in the body, the refresh token in an
HttpOnly, SameSite=Strict cookie scoped to the refresh path, rotated on every use; a reused
refresh token ends its family; logout ends the session; forged, expired and foreign tokens are
refused; the revocation holds in another process (a second app on the same database)."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token
from sqlalchemy import select, update

from app.models import RefreshToken, UserSession
from app.models.types import utcnow
from app.services.accounts import second_factor
from tests.conftest import PASSWORD

LOGIN, REFRESH, LOGOUT = "/api/v1/security/login", "/api/v1/security/refresh", "/api/v1/security/logout"
PROTECTED = "/api/v1/patient/?q=(page_size:1)"


@pytest.fixture
def user(app) -> tuple[int, str]:
    """A receptionist of its own (the shared role users are left alone)."""
    with app.app_context():
        sm = app.appbuilder.sm
        name = f"tok_{uuid.uuid4().hex[:10]}"
        made = sm.add_user(name, "Token", "Tester", f"{name}@test.example", sm.find_role("Receptionist"),
                           password=PASSWORD)
        return made.id, name


def login(app, username: str, **extra):
    client = app.test_client()
    response = client.post(LOGIN, json={"username": username, "password": PASSWORD, **extra})
    return client, response


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def refresh(client, csrf: str | None = "cookie"):
    headers = {}
    if csrf == "cookie":
        headers["X-CSRF-TOKEN"] = client.get_cookie("refresh_csrf").value
    elif csrf is not None:
        headers["X-CSRF-TOKEN"] = csrf
    return client.post(REFRESH, headers=headers)


def set_cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_login_answers_an_access_token_and_sets_the_refresh_cookie(app, user):
    client, response = login(app, user[1])
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "csrf_token", "expires_in"}  # never the refresh token
    assert body["expires_in"] == int(app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()) == 15 * 60
    cookies = set_cookies(response)
    refresh_cookie = cookies["refresh_token"]
    assert "HttpOnly" in refresh_cookie and "SameSite=Strict" in refresh_cookie
    assert "Path=/api/v1/security/refresh" in refresh_cookie and "Secure" not in refresh_cookie
    assert "HttpOnly" not in cookies["refresh_csrf"] and "SameSite=Strict" in cookies["refresh_csrf"]
    assert client.get_cookie("refresh_csrf").value == body["csrf_token"]
    assert app.test_client().get(PROTECTED, headers=bearer(body["access_token"])).status_code == 200
    claims = pyjwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(user[0]) and len(claims["sid"]) == 64


def test_the_refresh_cookie_is_secure_over_https(app, user, monkeypatch):
    response = app.test_client().post(LOGIN, base_url="https://localhost",
                                      json={"username": user[1], "password": PASSWORD})
    assert "Secure" in set_cookies(response)["refresh_token"]
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)  # behind a proxy that ends HTTPS
    _, response = login(app, user[1])
    assert all("Secure" in cookie for cookie in set_cookies(response).values())


def test_the_refresh_token_is_stored_only_as_a_digest(app, db, user):
    client, _ = login(app, user[1])
    token = client.get_cookie("refresh_token", path=REFRESH).value
    stored = db.session.execute(select(RefreshToken.id).where(RefreshToken.user_id == user[0])).scalars().all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64


def test_a_wrong_password_or_bad_body_gets_no_token(app, user):
    client = app.test_client()
    wrong = client.post(LOGIN, json={"username": user[1], "password": "wrong"})
    assert wrong.status_code == 401 and "refresh_token" not in set_cookies(wrong)
    bad = client.post(LOGIN, json={"username": "", "password": 5, "code": 7, "provider": "ldap"})
    assert bad.status_code == 400 and set(bad.get_json()["message"]) == {"username", "password", "code", "provider"}


def test_the_second_factor_is_asked_after_the_password(app, db, user, monkeypatch):
    calls = []

    def refuse(session, who, code, now):
        calls.append((who.id, code))
        raise second_factor.SecondFactorRefused("Enter the code from your authenticator app.")

    monkeypatch.setattr(second_factor, "check_api_login", refuse)
    _, response = login(app, user[1], code="123456")
    assert response.status_code == 401 and response.get_json()["message"].startswith("Enter the code")
    assert calls == [(user[0], "123456")]
    assert "refresh_token" not in set_cookies(response)
    assert not db.session.execute(select(UserSession).where(UserSession.user_id == user[0])).first()
    calls.clear()
    app.test_client().post(LOGIN, json={"username": user[1], "password": "wrong", "code": "1"})
    assert calls == []  # no code is checked for a wrong password


def test_refresh_rotates_the_cookie(app, user):
    client, first = login(app, user[1])
    old = client.get_cookie("refresh_token", path=REFRESH).value
    response = refresh(client)
    assert response.status_code == 200
    new = client.get_cookie("refresh_token", path=REFRESH).value
    assert new != old and response.get_json()["csrf_token"] != first.get_json()["csrf_token"]
    assert app.test_client().get(PROTECTED, headers=bearer(response.get_json()["access_token"])).status_code == 200
    assert refresh(client).status_code == 200  # the new one works in turn


def test_a_reused_refresh_token_revokes_its_whole_family(app, user):
    owner, login_response = login(app, user[1])
    stolen = owner.get_cookie("refresh_token", path=REFRESH).value
    stolen_csrf = owner.get_cookie("refresh_csrf").value
    access = login_response.get_json()["access_token"]
    assert refresh(owner).status_code == 200  # the owner rotates first
    thief = app.test_client()
    thief.set_cookie("refresh_token", stolen, path=REFRESH)
    reuse = thief.post(REFRESH, headers={"X-CSRF-TOKEN": stolen_csrf})
    assert reuse.status_code == 401
    assert refresh(owner).status_code == 401  # the first holder's next refresh fails too
    assert app.test_client().get(PROTECTED, headers=bearer(access)).status_code == 401
    with app.app_context():
        from app.extensions import db
        from app.models import AuditEvent

        events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "refresh_reuse",
                                                             AuditEvent.user_id == user[0])).scalars().all()
    assert len(events) == 1 and events[0].entity == "UserSession"


def test_refresh_without_the_csrf_header_is_refused_and_uses_nothing(app, user):
    client, _ = login(app, user[1])
    assert refresh(client, csrf=None).status_code == 403
    assert refresh(client, csrf="forged").status_code == 403
    assert refresh(client).status_code == 200  # the token was not used up by the refused calls


def test_refresh_without_a_cookie_or_with_an_unknown_one(app):
    client = app.test_client()
    assert client.post(REFRESH, headers={"X-CSRF-TOKEN": "x"}).status_code == 401
    client.set_cookie("refresh_token", "made-up", path=REFRESH)
    from app.fab.security_api import csrf_for

    with app.app_context():
        header = csrf_for("made-up")
    assert client.post(REFRESH, headers={"X-CSRF-TOKEN": header}).status_code == 401


def test_an_expired_refresh_token_or_idle_session_is_refused(app, db, user):
    client, _ = login(app, user[1])
    db.session.execute(update(RefreshToken).where(RefreshToken.user_id == user[0])
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert refresh(client).status_code == 401
    client, _ = login(app, user[1])
    idle = timedelta(minutes=app.config["STAFF_IDLE_MINUTES"] + 1)
    db.session.execute(update(UserSession).where(UserSession.user_id == user[0])
                       .values(last_seen_at=utcnow() - idle))
    db.session.commit()
    assert refresh(client).status_code == 401


def test_logout_revokes_the_access_and_refresh_tokens(app, user):
    client, response = login(app, user[1])
    access = response.get_json()["access_token"]
    kept = client.get_cookie("refresh_token", path=REFRESH).value
    out = client.post(LOGOUT, headers=bearer(access))
    assert out.status_code == 200
    assert app.test_client().get(PROTECTED, headers=bearer(access)).status_code == 401
    assert client.post(LOGOUT, headers=bearer(access)).status_code == 401
    cleared = set_cookies(out)["refresh_token"]
    assert "Expires=Thu, 01 Jan 1970" in cleared and "Path=/api/v1/security/refresh" in cleared
    client.set_cookie("refresh_token", kept, path=REFRESH)  # a copy kept from before: refused
    assert refresh(client, csrf=response.get_json()["csrf_token"]).status_code == 401


def test_logout_in_one_process_is_refused_in_another(app, db_url, user):
    """Two app objects on one database stand for two processes (no shared memory)."""
    from app import create_app
    from config import TestConfig

    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=db_url)
    _, response = login(app, user[1])
    access = response.get_json()["access_token"]
    assert other.test_client().get(PROTECTED, headers=bearer(access)).status_code == 200
    assert other.test_client().post(LOGOUT, headers=bearer(access)).status_code == 200
    assert app.test_client().get(PROTECTED, headers=bearer(access)).status_code == 401
    with other.app_context():
        other.extensions["sqlalchemy"].session.remove()
        other.extensions["sqlalchemy"].engine.dispose()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_expired_and_foreign_access_tokens_are_401(app, user):
    _, response = login(app, user[1])
    good = response.get_json()["access_token"]
    claims = pyjwt.decode(good, options={"verify_signature": False})
    header, payload, signature = good.split(".")
    with app.app_context():
        expired = create_access_token(identity=str(user[0]), additional_claims={"sid": claims["sid"]},
                                      expires_delta=timedelta(seconds=-1))
        no_session = create_access_token(identity=str(user[0]))
    tokens = {
        "another key": pyjwt.encode(claims, "not-the-secret-key-of-this-clinic-app", algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "tampered": f"{header}.{_b64({**claims, 'sub': '1'})}.{signature}",
        "expired": expired,
        "no session": no_session,
        "garbage": "not.a.token",
    }
    for name, token in tokens.items():
        answer = app.test_client().get(PROTECTED, headers=bearer(token))
        assert answer.status_code == 401, name
        assert answer.get_json()["message"], name
    assert app.test_client().get(PROTECTED, headers=bearer(good)).status_code == 200
