"""Lockout: more than LOCKOUT_THRESHOLD failed logins in a row (the form and the API counted
together) lock the account for LOCKOUT_MINUTES; during the lock the right password is refused with
the same answer as a wrong one; the owner gets an e-mail; admins see and unlock locked accounts;
every attempt, lock and unlock is audited. Each test makes its own users (the shared role users
never get locked)."""
from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import AccountLock, AuditEvent
from app.models.types import utcnow
from app.services.accounts import lockout
from tests.conftest import PASSWORD

WRONG = "Wrong-Passw0rd!"


@pytest.fixture
def outbox(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    return tmp_path / "outbox"


@pytest.fixture
def new_user(app):
    """new_user() -> (id, username) of a fresh Receptionist login with PASSWORD."""

    def make(role: str = "Receptionist", active: bool = True, email: str | None = None) -> tuple[int, str]:
        name = f"lock_{uuid.uuid4().hex[:10]}"
        with app.app_context():
            sm = app.appbuilder.sm
            user = sm.add_user(name, "Lan", "Nguyễn", email or f"{name}@test.example", sm.find_role(role),
                               password=PASSWORD)
            assert user, "could not create the user"
            if not active:
                user.active = False
                sm.update_user(user)
            return user.id, name

    return make


def form_login(app, username: str, password: str) -> tuple[int, str, str, str]:
    """(status, Location, the message shown, the page) of a form login. A refused login answers
    the form again with the username typed kept; the page is compared with the username, the CSRF
    token and the script nonce (which differ from one answer to the next) blotted out."""
    browser = app.test_client()
    response = browser.post("/login/", data={"username": username, "password": password})
    location = response.headers.get("Location", "")
    page = response.get_data(as_text=True)
    shown = " ".join(re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S))
    shown = re.sub(r"<[^>]+>|&times;|\s+", " ", shown).strip()
    if response.status_code == 401:
        assert re.search(rf'name="username"[^>]*value="{re.escape(username)}"', page), "the username is kept"
        assert password not in page, "the password is never echoed"
    page = page.replace(username, "USERNAME")
    page = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1TOKEN", page)
    page = re.sub(r'nonce="[^"]*"', 'nonce="NONCE"', page)
    return response.status_code, location, shown, page


def api_login(app, username: str, password: str):
    response = app.test_client().post("/api/v1/security/login",
                                      json={"username": username, "password": password, "provider": "db"})
    return response.status_code, response.get_json()


def audit_rows(db, user_id: int | None = None, action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    query = select(AuditEvent).where(AuditEvent.entity == "User")
    if user_id is not None:
        query = query.where(AuditEvent.entity_id == str(user_id))
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(db.session.execute(query.order_by(AuditEvent.id)).scalars())


def test_the_sixth_wrong_password_locks_counting_form_and_api_together(app, db, new_user, outbox):
    user_id, name = new_user()
    wrong_form = form_login(app, name, WRONG)
    wrong_api = api_login(app, name, WRONG)
    assert wrong_form[:2] == (401, "") and "Invalid login" in wrong_form[2]
    assert wrong_api[0] == 401
    form_login(app, name, WRONG)
    api_login(app, name, WRONG)
    form_login(app, name, WRONG)
    assert not lockout.is_locked(db.session, user_id, utcnow())  # five failures: not yet
    assert api_login(app, name, WRONG) == wrong_api  # the sixth
    assert lockout.is_locked(db.session, user_id, utcnow())
    # the right password is refused exactly like a wrong one, on the form and the API
    assert form_login(app, name, PASSWORD) == wrong_form
    assert api_login(app, name, PASSWORD) == wrong_api
    assert [a.action for a in audit_rows(db, user_id)].count("account_locked") == 1


def test_a_success_resets_the_count(app, db, new_user, outbox):
    user_id, name = new_user()
    for _ in range(5):
        api_login(app, name, WRONG)
    assert api_login(app, name, PASSWORD)[0] == 200
    for _ in range(5):
        form_login(app, name, WRONG)
    assert form_login(app, name, PASSWORD)[1] == "/"
    assert not lockout.is_locked(db.session, user_id, utcnow())


def test_the_lock_lapses_after_lockout_minutes(app, db, new_user, outbox):
    user_id, name = new_user()
    for _ in range(6):
        api_login(app, name, WRONG)
    lock = db.session.get(AccountLock, user_id)
    assert lock.locked_until - lock.locked_at == timedelta(minutes=app.config["LOCKOUT_MINUTES"])
    assert api_login(app, name, PASSWORD)[0] == 401
    # fifteen minutes later (moved in the database: the HTTP path reads the clock)
    db.session.execute(update(AccountLock).where(AccountLock.user_id == user_id).values(
        locked_at=lock.locked_at - timedelta(minutes=16), locked_until=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert api_login(app, name, PASSWORD)[0] == 200
    db.session.expire_all()
    assert db.session.get(AccountLock, user_id) is None


def test_unknown_and_inactive_accounts_get_the_same_answer(app, db, new_user, outbox):
    _user_id, name = new_user()
    inactive_id, inactive = new_user(active=False)
    wrong_form, wrong_api = form_login(app, name, WRONG), api_login(app, name, WRONG)
    for other in (f"nobody_{uuid.uuid4().hex[:8]}", inactive):
        assert form_login(app, other, PASSWORD) == wrong_form
        assert api_login(app, other, PASSWORD) == wrong_api
    (row,) = audit_rows(db, inactive_id, "login_failed")[-1:]
    assert json.loads(row.details)["reason"] == "inactive"


def test_the_owner_is_told_by_email(app, db, new_user, outbox):
    user_id, name = new_user(email="lan.nguyen@test.example")
    for _ in range(6):
        form_login(app, name, WRONG)
    (path,) = list(Path(outbox).glob("*.eml"))
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert message["To"] == "lan.nguyen@test.example"
    assert "Your clinic account was locked" in message["Subject"]
    assert "Tài khoản" in message["Subject"]  # the user's language is not known: English and Vietnamese
    body = message.get_content()
    assert "Lan Nguyễn" in body and "not even with the right password" in body
    for _ in range(3):  # further attempts during the lock send nothing more
        form_login(app, name, PASSWORD)
    assert len(list(Path(outbox).glob("*.eml"))) == 1


def test_the_lock_notice_in_one_known_language():
    from flask import Flask
    from flask_babel import Babel

    plain = Flask(__name__)
    Babel(plain, default_translation_directories=str(Path(__file__).parent.parent / "app" / "translations"))
    with plain.app_context():
        subject, body = lockout.lock_notice(name="Lan", locked_until=utcnow(), timezone_name="Asia/Ho_Chi_Minh",
                                            language="vi")
    assert "Tài khoản" in subject and "Your clinic" not in subject and "Xin chào Lan" in body


def test_every_attempt_lock_and_unlock_is_audited_without_passwords(app, db, new_user, login_as, admin_id, outbox):
    user_id, name = new_user()
    api_login(app, name, PASSWORD)
    for _ in range(6):
        api_login(app, name, WRONG)
    form_login(app, name, PASSWORD)  # refused: locked
    login_as("admin").post(f"/locked-accounts/{user_id}/unlock")
    rows = audit_rows(db, user_id)
    assert [r.action for r in rows] == ["login_succeeded", *["login_failed"] * 6, "account_locked", "login_failed",
                                        "account_unlocked"]
    assert all(r.user_id == user_id for r in rows[:-1]) and rows[-1].user_id == admin_id
    assert all(json.loads(r.details)["username"] == name for r in rows if r.action.startswith("login"))
    reasons = [json.loads(r.details)["reason"] for r in rows if r.action == "login_failed"]
    assert reasons == ["password"] * 6 + ["locked"]
    assert not any(PASSWORD in (r.details or "") or WRONG in (r.details or "") for r in rows)
    unknown = f"ghost_{uuid.uuid4().hex[:6]}"
    api_login(app, unknown, WRONG)
    (ghost,) = [r for r in audit_rows(db, action="login_failed") if unknown in (r.details or "")]
    assert ghost.entity_id is None and ghost.user_id is None and json.loads(ghost.details)["reason"] == "unknown"


def test_an_admin_sees_locked_accounts_and_unlocks_them(app, db, new_user, login_as, outbox):
    user_id, name = new_user()
    for _ in range(6):
        api_login(app, name, WRONG)
    admin = login_as("admin")
    page = admin.get("/locked-accounts/").get_data(as_text=True)
    assert name in page and f'data-user="{user_id}"' in page
    refused = admin.post(f"/locked-accounts/{user_id}/unlock", csrf=False)
    assert refused.status_code == 400 and lockout.is_locked(db.session, user_id, utcnow())
    done = admin.post(f"/locked-accounts/{user_id}/unlock")
    assert done.status_code == 303
    assert "unlocked" in admin.get(done.headers["Location"]).get_data(as_text=True)
    assert not lockout.is_locked(db.session, user_id, utcnow())
    assert api_login(app, name, PASSWORD)[0] == 200
    again = admin.post(f"/locked-accounts/{user_id}/unlock")  # nothing to unlock: said, nothing breaks
    assert "not locked" in admin.get(again.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("role", ["manager", "receptionist", "doctor", "patient"])
def test_only_admins_see_or_unlock_locked_accounts(app, db, new_user, login_as, role, outbox):
    user_id, name = new_user()
    for _ in range(6):
        api_login(app, name, WRONG)
    browser = login_as(role)
    listing = browser.get("/locked-accounts/")
    assert listing.status_code in (302, 403) and name not in listing.get_data(as_text=True)
    unlock = browser.post(f"/locked-accounts/{user_id}/unlock")
    assert unlock.status_code in (302, 403)
    assert lockout.is_locked(db.session, user_id, utcnow())
    assert "/locked-accounts/" not in browser.get("/").get_data(as_text=True)


def test_the_menu_shows_locked_accounts_to_admins(login_as):
    assert "/locked-accounts/" in login_as("admin").get("/").get_data(as_text=True)


# --- the service, with the time passed in -------------------------------------------------------

def test_the_service_counts_locks_and_lapses(db, new_user):
    user_id, name = new_user()
    policy_ = lockout.LockoutPolicy(threshold=5, minutes=15)
    now = utcnow()

    def attempt(ok: bool, at):
        return lockout.record_login_attempt(db.session, user_id=user_id, username=name, password_ok=ok, now=at,
                                            policy=policy_)

    assert [attempt(False, now).outcome for _ in range(5)] == [lockout.FAILED] * 5
    sixth = attempt(False, now)
    assert sixth.outcome == lockout.LOCKED_NOW and sixth.failures == 6
    assert sixth.locked_until == now + timedelta(minutes=15)
    assert attempt(True, now + timedelta(minutes=14, seconds=59)).outcome == lockout.LOCKED
    assert lockout.locked_accounts(db.session, now)[0].user_id == user_id
    assert lockout.locked_accounts(db.session, now + timedelta(minutes=15)) == []
    after = attempt(True, now + timedelta(minutes=15))
    assert after.succeeded and after.failures == 0
    # after a lapse the count starts again: five more failures do not lock
    later = now + timedelta(hours=1)
    assert [attempt(False, later).outcome for _ in range(5)] == [lockout.FAILED] * 5


def test_unlocking_an_account_that_is_not_locked_is_not_found(db, new_user):
    from app.services.errors import NotFound

    user_id, _name = new_user()
    with pytest.raises(NotFound):
        lockout.unlock_account(db.session, user_id=user_id, now=utcnow(), actor_id=None)


def test_a_smaller_threshold_from_the_settings():
    assert lockout.LockoutPolicy.from_config({"LOCKOUT_THRESHOLD": "2", "LOCKOUT_MINUTES": "5"}) == \
        lockout.LockoutPolicy(2, 5)


@pytest.mark.needs_postgres  # SQLite has no row locks (it runs one writer at a time)
def test_parallel_wrong_guesses_cannot_pass_the_threshold(app, db, new_user):
    """Twelve wrong guesses at once: exactly one locks the account, the count stops at six, and
    the others are refused as failures before the lock or as locked after it."""
    user_id, name = new_user()
    policy_ = lockout.LockoutPolicy(threshold=5, minutes=15)
    now = utcnow()
    outcomes: list[str] = []
    barrier = threading.Barrier(12)

    def guess() -> None:
        with app.app_context(), Session(db.engine) as session:
            barrier.wait()
            result = lockout.record_login_attempt(session, user_id=user_id, username=name, password_ok=False,
                                                  now=now, policy=policy_)
            outcomes.append(result.outcome)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted([lockout.FAILED] * 5 + [lockout.LOCKED_NOW] + [lockout.LOCKED] * 6)
    db.session.expire_all()
    assert app.appbuilder.sm.get_user_by_id(user_id).fail_login_count == 6


def test_the_rest_api_lists_and_unlocks_for_admins_only(app, db, new_user, api_token, outbox):
    user_id, name = new_user()
    for _ in range(6):
        api_login(app, name, WRONG)
    client = app.test_client()
    for role in ("manager", "receptionist"):
        headers = api_token(role)
        assert client.get("/api/v1/locked_account/", headers=headers).status_code in (401, 403)
        assert client.post(f"/api/v1/locked_account/{user_id}/unlock", headers=headers).status_code in (401, 403)
    admin = api_token("admin")
    (listed,) = [a for a in client.get("/api/v1/locked_account/", headers=admin).get_json()["result"]
                 if a["user_id"] == user_id]
    assert listed["username"] == name and listed["failures"] == 6 and listed["locked_until"] > listed["locked_at"]
    done = client.post(f"/api/v1/locked_account/{user_id}/unlock", headers=admin)
    assert done.status_code == 200 and done.get_json() == {"user_id": user_id, "unlocked": True}
    again = client.post(f"/api/v1/locked_account/{user_id}/unlock", headers=admin)
    assert again.status_code == 404 and "not locked" in str(again.get_json()["message"])
    assert client.post("/api/v1/locked_account/2147483647/unlock", headers=admin).status_code == 404
    assert api_login(app, name, PASSWORD)[0] == 200


def test_the_command_line_unlocks_when_no_admin_can(app, db, new_user):
    user_id, name = new_user(role="Admin")
    for _ in range(6):
        lockout.record_login_attempt(db.session, user_id=user_id, username=name, password_ok=False, now=utcnow(),
                                     policy=lockout.LockoutPolicy())
    runner = app.test_cli_runner()
    done = runner.invoke(args=["unlock-account", name])
    assert done.exit_code == 0 and f"{name} is unlocked" in done.output
    assert not lockout.is_locked(db.session, user_id, utcnow())
    assert (row := audit_rows(db, user_id, "account_unlocked")[-1]).user_id is None and row.entity_id == str(user_id)
    again = runner.invoke(args=["unlock-account", name])
    assert again.exit_code == 1 and "not locked" in again.output
    assert runner.invoke(args=["unlock-account", "no_such_login"]).exit_code == 1


def test_every_refusal_checks_one_password_hash_so_they_take_as_long(app, db, new_user, monkeypatch, outbox):
    """An unknown login, an inactive account, a wrong and a locked one each cost one hash check."""
    import app.security as security

    checks: list[str] = []
    real = security.check_password_hash

    def counting(stored: str, given: str) -> bool:
        checks.append(stored)
        return real(stored, given)

    monkeypatch.setattr(security, "check_password_hash", counting)
    _user_id, name = new_user()
    _inactive_id, inactive = new_user(active=False)
    tries = [f"nobody_{uuid.uuid4().hex[:8]}", inactive, name, *[name] * 6]
    for username in tries:
        checks.clear()
        assert api_login(app, username, WRONG)[0] == 401
        assert len(checks) == 1, username
    checks.clear()
    assert api_login(app, name, PASSWORD)[0] == 401 and len(checks) == 1  # locked: checked all the same
