"""Sessions that can be ended (issue 8, item 4): every login is a row in the database; logout,
"end this session", "sign out everywhere", ``end_user_sessions`` (password change) and idle time
end it, and a copy of the cookie taken before is refused afterwards."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.models import UserSession
from app.models.types import utcnow
from app.services.accounts import sessions as service
from tests.conftest import PASSWORD

PAGE = "/account/sessions"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/18.1 Mobile/15E148 Safari/604.1")


@pytest.fixture
def make_user(app):
    """make_user("Receptionist") -> (id, username) of a new user of that role (the shared role
    users stay untouched)."""

    def make(role: str = "Receptionist") -> tuple[int, str]:
        with app.app_context():
            sm = app.appbuilder.sm
            name = f"sess_{uuid.uuid4().hex[:10]}"
            user = sm.add_user(name, "Session", "Tester", f"{name}@test.example", sm.find_role(role),
                               password=PASSWORD)
            return user.id, name

    return make


def browser(app, username: str, agent: str = FIREFOX):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    return client


def logged_in(client) -> bool:
    response = client.get(PAGE)
    if response.status_code == 302:
        assert "/login/" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def copy_of(app, client):
    """A second browser holding a copy of ``client``'s session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def rows(db, user_id: int) -> list[UserSession]:
    db.session.rollback()
    return list(db.session.execute(select(UserSession).where(UserSession.user_id == user_id)
                                   .order_by(UserSession.created_at)).scalars())


def test_a_login_starts_a_session_row_holding_only_a_digest(app, db, make_user):
    user_id, name = make_user()
    client = browser(app, name)
    [row] = rows(db, user_id)
    with client.session_transaction() as cookie:
        secret = cookie["_sid"]
    assert row.id == service.digest(secret) != secret
    assert row.kind == "web" and row.ended_at is None and row.user_agent == FIREFOX
    assert row.idle_seconds == app.config["STAFF_IDLE_MINUTES"] * 60


def test_a_cookie_copied_before_logout_is_refused_after_it(app, db, make_user):
    user_id, name = make_user()
    client = browser(app, name)
    thief = copy_of(app, client)
    assert logged_in(thief)
    response = client.post("/logout/")
    assert response.status_code == 303
    assert not logged_in(client)
    assert not logged_in(thief)
    assert rows(db, user_id)[0].end_reason == "logout"


def test_logout_over_get_asks_first_and_a_cross_site_post_is_refused(app, make_user):
    _, name = make_user()
    client = browser(app, name)
    page = client.get("/logout/")
    assert page.status_code == 200 and 'id="confirm-logout"' in page.get_data(as_text=True)
    assert client.post("/logout/", csrf=False).status_code == 400  # another site's form: no token
    assert logged_in(client)
    assert app.test_client().get("/logout/").status_code == 302  # nobody to log out


def test_the_menus_log_out_with_a_form(app, make_user, login_as):
    _, name = make_user()
    staff = browser(app, name)
    html = staff.get(PAGE).get_data(as_text=True)
    assert 'method="post" action="/logout/"' in html and 'href="/logout/"' not in html
    patient_site = login_as("patient").get("/clinic/").get_data(as_text=True)
    assert 'class="pub-logout"' in patient_site and 'href="/logout/"' not in patient_site


def test_end_user_sessions_ends_web_and_api_sessions_but_the_kept_one(app, db, make_user):
    user_id, name = make_user()
    kept, ended = browser(app, name), browser(app, name)
    thief = copy_of(app, ended)
    api = app.test_client().post("/api/v1/security/login", json={"username": name, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {api.get_json()['access_token']}"}
    assert app.test_client().get("/api/v1/patient/", headers=bearer).status_code == 200
    keep = service.digest(_secret(kept))
    assert service.end_user_sessions(db.session, user_id, utcnow(), keep_session_id=keep) == 2
    db.session.commit()
    assert logged_in(kept)
    assert not logged_in(ended) and not logged_in(thief)
    assert app.test_client().get("/api/v1/patient/", headers=bearer).status_code == 401
    assert service.end_user_sessions(db.session, user_id, utcnow()) == 1
    db.session.commit()
    assert not logged_in(kept)


def _secret(client) -> str:
    with client.session_transaction() as cookie:
        return cookie["_sid"]


def test_staff_sessions_end_after_the_idle_time(app, db, make_user):
    user_id, name = make_user("Pharmacist")  # staff without the two-step login requirement
    client = browser(app, name)
    idle = timedelta(minutes=app.config["STAFF_IDLE_MINUTES"])
    _move_last_seen(db, user_id, utcnow() - idle + timedelta(minutes=1))
    assert logged_in(client)  # used just in time: this request counts as use
    _move_last_seen(db, user_id, utcnow() - idle - timedelta(minutes=1))
    assert not logged_in(client)


def test_patients_stay_longer_but_not_forever(app, db, make_user):
    user_id, name = make_user("Patient")
    client = browser(app, name)
    assert rows(db, user_id)[0].idle_seconds == app.config["PATIENT_IDLE_MINUTES"] * 60
    _move_last_seen(db, user_id, utcnow() - timedelta(minutes=app.config["STAFF_IDLE_MINUTES"] + 5))
    assert logged_in(client)
    db.session.execute(update(UserSession).where(UserSession.user_id == user_id)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert not logged_in(client)


def _move_last_seen(db, user_id: int, when) -> None:
    db.session.execute(update(UserSession).where(UserSession.user_id == user_id).values(last_seen_at=when))
    db.session.commit()


def test_last_use_is_written_at_most_once_a_minute(app, db, make_user):
    user_id, name = make_user()
    client = browser(app, name)
    first = rows(db, user_id)[0].last_seen_at
    assert logged_in(client) and logged_in(client)
    assert rows(db, user_id)[0].last_seen_at == first  # a request normally writes nothing
    _move_last_seen(db, user_id, first - timedelta(minutes=2))
    assert logged_in(client)
    assert rows(db, user_id)[0].last_seen_at > first - timedelta(seconds=1)


def test_sessions_page_lists_devices_and_ends_another_session(app, db, make_user):
    user_id, name = make_user()
    laptop, phone = browser(app, name), browser(app, name, agent=IPHONE)
    html = laptop.get(PAGE).get_data(as_text=True)
    assert "Firefox on Windows" in html and "Safari on iPhone" in html and "This browser" in html
    phone_id = service.digest(_secret(phone))
    response = laptop.post(f"/account/sessions/{phone_id}/end", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Safari on iPhone" not in html and "The session is ended." in html
    assert not logged_in(phone) and logged_in(laptop)


def test_nobody_ends_another_users_session(app, db, make_user):
    _, mine = make_user()
    _, theirs = make_user()
    me, them = browser(app, mine), browser(app, theirs)
    response = me.post(f"/account/sessions/{service.digest(_secret(them))}/end", follow_redirects=True)
    assert "had ended already" in response.get_data(as_text=True)
    assert logged_in(them)
    assert me.post("/account/sessions/not-a-session/end").status_code == 404
    assert me.post(f"/account/sessions/{service.digest(_secret(them))}/end", csrf=False).status_code == 400
    assert logged_in(them)


def test_ending_this_session_from_the_page_logs_out(app, make_user):
    _, name = make_user()
    client = browser(app, name)
    own = service.digest(_secret(client))
    assert client.post(f"/account/sessions/{own}/end").status_code == 302
    assert not logged_in(client)


def test_sign_out_everywhere(app, db, make_user):
    user_id, name = make_user("Patient")
    here, there = browser(app, name), browser(app, name, agent=IPHONE)
    thief = copy_of(app, there)
    api = app.test_client()
    api.post("/api/v1/security/login", json={"username": name, "password": PASSWORD})
    response = here.post("/account/sessions/end-all")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    assert not any(logged_in(client) for client in (here, there, thief))
    assert all(row.ended_at is not None for row in rows(db, user_id))
    refresh = api.post("/api/v1/security/refresh", headers={"X-CSRF-TOKEN": api.get_cookie("refresh_csrf").value})
    assert refresh.status_code == 401


def test_a_new_login_in_a_browser_ends_the_session_its_cookie_still_named(app, db, make_user):
    """FAB's login form sends a logged-in user away; a browser whose cookie still names a session
    (logged out of flask-login some other way) gets a new one, and the old one ends."""
    user_id, name = make_user()
    client = browser(app, name)
    thief = copy_of(app, client)
    with client.session_transaction() as cookie:
        cookie.pop("_user_id")
    client.post("/login/", data={"username": name, "password": PASSWORD})
    assert logged_in(client) and not logged_in(thief)
    assert [row.end_reason for row in rows(db, user_id)] == ["replaced", None]


def test_a_session_cookie_without_a_session_row_is_anonymous(app, make_user):
    """A cookie from before sessions were rows (or forged without the secret) logs nobody in."""
    user_id, name = make_user()
    client = browser(app, name)
    with client.session_transaction() as cookie:
        cookie["_sid"] = "made-up"
    assert not logged_in(client)
    with client.session_transaction() as cookie:
        cookie.pop("_sid")
    assert not logged_in(client)


def test_sessions_page_in_vietnamese(app, make_user):
    _, name = make_user()
    client = browser(app, name)
    client.get("/lang/vi")
    html = client.get(PAGE).get_data(as_text=True)
    assert "Kết thúc phiên này" in html and "Đăng xuất khỏi mọi nơi" in html


def test_the_sessions_page_needs_a_login(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    assert client.post("/account/sessions/end-all").status_code == 302


def test_old_sessions_are_pruned_with_their_tokens(app, db, make_user):
    from app.models import RefreshToken

    user_id, name = make_user()
    old, live = browser(app, name), browser(app, name)
    api = app.test_client()
    api.post("/api/v1/security/login", json={"username": name, "password": PASSWORD})
    now = utcnow()
    service.end_session(db.session, service.digest(_secret(old)), now - timedelta(days=31), reason="logout")
    db.session.execute(update(UserSession).where(UserSession.kind == "api", UserSession.user_id == user_id)
                       .values(expires_at=now - timedelta(days=40)))
    db.session.commit()
    assert service.prune_sessions(db.session, now, keep=timedelta(days=30)) == 2
    db.session.commit()
    assert [row.kind for row in rows(db, user_id)] == ["web"]
    assert logged_in(live)
    assert not db.session.execute(select(RefreshToken).where(RefreshToken.user_id == user_id)).first()
    result = app.test_cli_runner().invoke(args=["prune-sessions", "--days", "30"])
    assert result.exit_code == 0 and "Deleted 0 old sessions." in result.output


def test_sessions_page_shows_times_in_the_clinics_zone_and_the_readers_order(app, db, make_user):
    """17:35 UTC on 12 January is 00:35 on the 13th in Ho Chi Minh City; Vietnamese puts the day first."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    user_id, name = make_user()
    client = browser(app, name)
    seen = utcnow() - timedelta(seconds=30)  # recent: the page does not move it, the session is not idle
    db.session.execute(update(UserSession).where(UserSession.user_id == user_id)
                       .values(created_at=datetime(2026, 1, 12, 17, 35, tzinfo=timezone.utc), last_seen_at=seen))
    db.session.commit()
    local_seen = seen.astimezone(ZoneInfo(app.config["CLINIC_TIMEZONE"]))
    html = client.get(PAGE).get_data(as_text=True)
    assert "Logged in at: 2026-01-13 00:35" in html and f"Last active: {local_seen:%Y-%m-%d %H:%M}" in html
    client.get("/lang/vi")
    html = client.get(PAGE).get_data(as_text=True)
    assert "13/01/2026 00:35" in html and f"{local_seen:%d/%m/%Y %H:%M}" in html
    assert "17:35" not in html
