"""Permission checks come from a per-process cache (``app.permission_cache``): a REST GET costs the
statements its answer needs, and a change of a role's permissions, made by an admin in any process,
counts on the very next request everywhere (a removed permission is refused at once)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import event, select

from app.permission_cache import read_version
from config import TestConfig
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
ROLE, USER = "Auditor", "auditor"  # a role made by an admin: its permissions live in the database


@contextmanager
def statements(app) -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs."""
    from app.extensions import db

    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def add_patient(app) -> int:
    from app.extensions import db
    from app.models import Patient

    with app.app_context():
        patient = Patient(code="BN-CACHE", full_name="Trần Thị Cache", search_text="bn-cache tran thi cache")
        db.session.add(patient)
        db.session.commit()
        return patient.id


def bearer(app, username: str) -> dict[str, str]:
    from tests.factories import login_body

    response = app.test_client().post("/api/v1/security/login", json=login_body(app, username))
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def grant(app, role_name: str, permission: str, view: str, *, granted: bool = True) -> None:
    """Give or take a permission the way FAB's role screens do (the role's list of permissions)."""
    from app.extensions import db

    with app.app_context():
        sm = app.appbuilder.sm
        role, permission_view = sm.find_role(role_name), sm.find_permission_view_menu(permission, view)
        if granted:
            role.permissions.append(permission_view)
        else:
            role.permissions.remove(permission_view)
        db.session.commit()


@pytest.fixture
def auditor(app):
    """The role Auditor, reading patients, and its user; both gone afterwards."""
    from app.extensions import db

    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(ROLE, [sm.find_permission_view_menu("can_read", "Patient")])
        sm.add_user(USER, "Kiểm", "Toán", "auditor@test.example", role, password=PASSWORD)
    yield bearer(app, USER)
    with app.app_context():
        sm = app.appbuilder.sm
        sm.delete_user(sm.find_user(username=USER))
        sm.delete_role(sm.find_role(ROLE))
        db.session.commit()


@pytest.fixture
def other_app(db_url):
    """A second instance of the app on the same database, as another web process would be."""
    from app import create_app
    from app.extensions import db

    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=db_url)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("username", ["admin", "receptionist"])
def test_a_record_get_costs_three_statements(app, username):
    """The user with their roles, the permission version, the record: FAB alone sent 9 (the Public
    role and its permissions twice, the user, roles and groups one by one, the Admin check)."""
    pk = add_patient(app)
    headers, client = bearer(app, username), app.test_client()
    assert client.get(f"/api/v1/patient/{pk}", headers=headers).status_code == 200  # cache filled
    loads = app.appbuilder.sm.permission_cache.loads
    for _ in range(3):
        with statements(app) as sent:
            response = client.get(f"/api/v1/patient/{pk}", headers=headers)
        assert response.status_code == 200
        assert response.get_json()["result"]["full_name"] == "Trần Thị Cache"
        assert len(sent) == 3, sent
        assert "permission_version" in sent[0]
        assert "FROM ab_user" in sent[1] and "ab_user_role" in sent[1] and "ab_user_group" in sent[1]
        assert "FROM patient" in sent[2]
    assert app.appbuilder.sm.permission_cache.loads == loads  # the grants were not read again


def test_a_visitor_refused_costs_one_statement(app):
    client = app.test_client()
    client.get("/api/v1/patient/1")
    with statements(app) as sent:
        response = client.get("/api/v1/patient/1")
    assert response.status_code == 401
    assert len(sent) == 1 and "permission_version" in sent[0]


def test_grants_are_read_again_only_after_a_change(app, auditor):
    pk = add_patient(app)
    client = app.test_client()
    assert client.get(f"/api/v1/patient/{pk}", headers=auditor).status_code == 200
    with statements(app) as unchanged:
        assert client.get(f"/api/v1/patient/{pk}", headers=auditor).status_code == 200
    grant(app, ROLE, "can_read", "Doctor")
    with statements(app) as changed:
        assert client.get(f"/api/v1/patient/{pk}", headers=auditor).status_code == 200
    assert len(changed) == len(unchanged) + 1
    assert any("ab_permission_view_role" in s for s in changed)
    assert not any("ab_permission_view_role" in s for s in unchanged)


def test_every_change_of_roles_or_permissions_raises_the_version(app):
    from app.extensions import db

    with app.app_context():
        sm = app.appbuilder.sm
        before = read_version(db.session)
        role = sm.add_role("Versioned")
        after_add = read_version(db.session)
        sm.add_permission_role(role, sm.find_permission_view_menu("can_read", "Patient"))
        after_grant = read_version(db.session)
        sm.delete_role(role)
        after_delete = read_version(db.session)
        user = sm.find_user(username="doctor")
        user.last_login = None  # a login's bookkeeping changes no permission
        db.session.commit()
        after_user = read_version(db.session)
    assert before < after_add < after_grant < after_delete == after_user


def test_a_change_in_one_instance_counts_in_the_other_at_once(app, other_app, auditor, login_as):
    """An admin takes 'read patients' from a role on the role screen of one instance: the other
    instance refuses the next request (no stale grant), and allows it again once it is given back."""
    pk = add_patient(app)
    other = other_app.test_client()
    assert other.get(f"/api/v1/patient/{pk}", headers=auditor).status_code == 200  # cached there

    admin = login_as("admin")
    with app.app_context():
        sm = app.appbuilder.sm
        role_id = sm.find_role(ROLE).id
        read_doctors = sm.find_permission_view_menu("can_read", "Doctor").id
        read_patients = sm.find_permission_view_menu("can_read", "Patient").id
    response = admin.post(f"/roles/edit/{role_id}", data={"name": ROLE, "permissions": [read_doctors]})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]

    assert other.get(f"/api/v1/patient/{pk}", headers=auditor).status_code == 403
    assert other.get("/api/v1/doctor/", headers=auditor).status_code == 200

    response = admin.post(f"/roles/edit/{role_id}", data={"name": ROLE, "permissions": [read_patients]})
    assert response.status_code == 302
    assert other.get(f"/api/v1/patient/{pk}", headers=auditor).status_code == 200
    assert other.get("/api/v1/doctor/", headers=auditor).status_code == 403


def test_a_permission_removed_by_another_process_is_refused_on_the_next_request(app, db_url, auditor):
    pk = add_patient(app)
    client = app.test_client()
    assert client.get(f"/api/v1/patient/{pk}", headers=auditor).status_code == 200
    script = textwrap.dedent(f"""
        from app import create_app
        from config import TestConfig

        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI={db_url!r})
        with app.app_context():
            sm = app.appbuilder.sm
            sm.del_permission_role(sm.find_role({ROLE!r}), sm.find_permission_view_menu("can_read", "Patient"))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=dict(os.environ), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert client.get(f"/api/v1/patient/{pk}", headers=auditor).status_code == 403


def test_public_permissions_are_cached_and_revoked_at_once(app):
    client = app.test_client()
    assert client.get("/api/v1/specialty/").status_code == 401
    grant(app, "Public", "can_read", "Specialty")
    try:
        assert client.get("/api/v1/specialty/").status_code == 200
        with statements(app) as sent:
            assert client.get("/api/v1/specialty/").status_code == 200
        assert not any("ab_role" in s or "ab_permission_view" in s for s in sent), sent
    finally:
        grant(app, "Public", "can_read", "Specialty", granted=False)
    assert client.get("/api/v1/specialty/").status_code == 401


def test_menus_follow_the_cached_permissions(app, auditor, login_as):
    """The menu shows what the role may open, and stops showing it once the permission is gone."""
    from app.extensions import db

    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.find_role(ROLE)
        for name in ("Patients", "People"):
            sm.add_permission_role(role, sm.find_permission_view_menu("menu_access", name))
        db.session.commit()
    browser = login_as(USER)
    menu_entry = 'tabindex="-1" href="/patientview/list/"'
    assert menu_entry in browser.get("/").get_data(as_text=True)
    grant(app, ROLE, "menu_access", "Patients", granted=False)
    assert menu_entry not in browser.get("/").get_data(as_text=True)


@pytest.fixture
def scratch_app(scratch_url):
    from app import create_app
    from app.extensions import db

    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_url)
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_sync_roles_on_a_new_database_is_quiet_and_removes_what_no_view_declares(scratch_app, caplog):
    from app.extensions import db

    with scratch_app.app_context():
        sm = scratch_app.appbuilder.sm
        with caplog.at_level(logging.WARNING):
            sm.sync_roles()
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
        before = read_version(db.session)

        stale = sm.add_permission_view_menu("can_obsolete", "Patient")
        sm.add_permission_role(sm.find_role("Admin"), stale)
        sm.add_permission_role(sm.find_role("Public"), stale)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            sm.sync_roles()
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
        assert sm.find_permission_view_menu("can_obsolete", "Patient") is None
        assert sm.find_permission("can_obsolete") is None
        assert read_version(db.session) > before
        admin = sm.find_role("Admin")
        assert {(pv.permission.name, pv.view_menu.name) for pv in admin.permissions} >= {
            ("can_read", "Appointment"), ("can_write", "Appointment"), ("can_write", "Doctor")}


def test_fab_still_leaves_a_removed_permission_on_its_roles(scratch_app, caplog):
    """FAB's ``add_permissions_view`` passes a permission where ``del_permission_role`` expects a
    permission-on-view, so a permission that a view no longer declares stays on its roles and its
    deletion is refused. ``ClinicSecurityManager.sync_roles`` takes it off the roles first; when
    this test fails, FAB does it itself and that step can go."""
    from flask_appbuilder.security.sqla.manager import SecurityManager

    with scratch_app.app_context():
        sm = scratch_app.appbuilder.sm
        sm.sync_roles()
        stale = sm.add_permission_view_menu("can_obsolete", "Patient")
        sm.add_permission_role(sm.find_role("Admin"), stale)
        with caplog.at_level(logging.WARNING):
            SecurityManager.add_permissions_view(sm, ["can_read", "can_write"], "Patient")
        assert "Refused to delete permission view" in caplog.text
        assert sm.find_permission_view_menu("can_obsolete", "Patient") is not None


def test_the_version_row_exists_after_the_migrations(app):
    from app.extensions import db
    from app.models import PermissionVersion

    with app.app_context():
        assert db.session.execute(select(PermissionVersion.id)).scalars().all() == [1]
