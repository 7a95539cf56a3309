"""The language switch is remembered: a logged-in user who switches the site to Vietnamese keeps
Vietnamese on their profile (UserProfile.language), so the notices and messages the clinic makes
for them afterwards are in Vietnamese too (app/i18n.py ``remember_switched_language``)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_appbuilder.security.sqla.models import User
from flask_babel import gettext

from app.models import UserProfile
from app.services.notifications import notify_users


def _user_id(db, username: str) -> int:
    return db.session.execute(sa.select(User.id).where(User.username == username)).scalar_one()


@pytest.fixture(autouse=True)
def switch_saves(app, monkeypatch):
    """On for these tests (the suite's configuration turns it off: see config.TestConfig)."""
    monkeypatch.setitem(app.config, "LANGUAGE_SWITCH_SAVES_PROFILE", True)


@pytest.fixture
def receptionist_language(db):
    """The shared receptionist's stored language, put back afterwards (other tests expect English)."""
    user_id = _user_id(db, "receptionist")
    row = db.session.get(UserProfile, user_id)
    before = (row is not None, row.language if row is not None else None)
    yield user_id
    db.session.rollback()
    row = db.session.get(UserProfile, user_id)
    if not before[0] and row is not None:
        db.session.delete(row)
    elif row is not None:
        row.language = before[1]
    db.session.commit()


def _language(db, user_id: int) -> str | None:
    db.session.expire_all()
    row = db.session.get(UserProfile, user_id)
    return row.language if row is not None else None


@pytest.mark.parametrize("switch", ["/lang/vi", "/clinic/language/vi"])
def test_a_receptionist_who_switches_to_vietnamese_gets_notices_in_vietnamese(app, db, login_as,
                                                                              receptionist_language, switch):
    user_id = receptionist_language
    profile = db.session.get(UserProfile, user_id)
    if profile is not None:
        profile.language = None
        db.session.commit()
    browser = login_as("receptionist")
    assert browser.get(switch).status_code in (302, 303)
    assert _language(db, user_id) == "vi"

    def make():
        return gettext("Appointment confirmed: %(patient)s, %(when)s", patient="Nguyễn Văn An", when="08:30"), None

    [notice] = notify_users(db.session, [user_id], "appointment_confirmed", make, default_language="en")
    db.session.commit()
    assert notice.title == "Đã xác nhận lịch hẹn: Nguyễn Văn An, 08:30"

    assert browser.get("/lang/en").status_code in (302, 303)  # and back: English again
    assert _language(db, user_id) == "en"


def test_an_anonymous_visitor_switching_changes_no_profile(app, db):
    before = db.session.execute(sa.select(sa.func.count()).select_from(UserProfile)).scalar()
    visitor = app.test_client()
    assert visitor.get("/clinic/language/vi").status_code in (302, 303)
    assert visitor.get("/lang/vi").status_code in (302, 303)
    assert db.session.execute(sa.select(sa.func.count()).select_from(UserProfile)).scalar() == before
    assert visitor.get("/lang/xx").status_code == 404


def test_switched_off_the_switch_is_for_the_session_only(app, db, login_as, receptionist_language, monkeypatch):
    monkeypatch.setitem(app.config, "LANGUAGE_SWITCH_SAVES_PROFILE", False)
    before = _language(db, receptionist_language)
    assert login_as("receptionist").get("/lang/vi").status_code in (302, 303)
    assert _language(db, receptionist_language) == before
