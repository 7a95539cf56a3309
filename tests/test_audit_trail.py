"""The audit trail shows tampering: every row is chained to the one before by a hash, ``flask audit
verify`` names the first broken link, nobody edits or deletes rows through the app, and on
PostgreSQL the database itself refuses UPDATE, DELETE and TRUNCATE. Admins search it; every
permission refusal of a request leaves a row."""
from __future__ import annotations

import json
import threading
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app import audit
from app.models import AuditEvent
from app.services.audit_chain import GENESIS, row_hash, verify_chain


def postgres(db) -> bool:
    return db.engine.dialect.name == "postgresql"


def write_events(app, count: int, entity: str = "Thing") -> list[int]:
    """``count`` audit rows written and committed the way services write them; their ids."""
    with app.app_context():
        from app.extensions import db

        for n in range(count):
            audit.record_event(db.session, "view", entity, n, {"note": f"lần {n} – ünïcode"})
        db.session.commit()
        return list(db.session.scalars(select(AuditEvent.id).where(AuditEvent.entity == entity)
                                       .order_by(AuditEvent.id)))


@contextmanager
def tamperer(db_url: str):
    """A connection of someone with the database's keys: on PostgreSQL the superuser switching off
    triggers for the session (what the app's role cannot do); SQLite has no triggers to pass."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield conn
    finally:
        engine.dispose()


# --- the chain ------------------------------------------------------------------------------------


def test_rows_are_chained_and_verify_counts_them(app, db):
    write_events(app, 3)
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3]
    previous = GENESIS
    for row in rows:  # the database's hash (PostgreSQL) and Python's are the same function
        assert row.hash == row_hash(previous, row.seq, row)
        previous = row.hash
    report = verify_chain(db.session)
    assert report.intact and report.rows == 3
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact: 4 rows" in result.output  # and the check itself is in the trail
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.seq == 4)) == "verify"


def test_empty_trail_is_intact(app):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "intact: 1 rows" in result.output


def test_verify_names_an_edited_row(app, db, db_url):
    ids = write_events(app, 4)
    with tamperer(db_url) as conn:
        conn.execute(text("UPDATE audit_event SET entity_id = '999' WHERE id = :id"), {"id": ids[2]})
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"row id {ids[2]}" in result.output and "changed after it was written" in result.output
    assert "2 rows before it are intact" in result.output


def test_verify_names_a_row_whose_hash_was_recomputed_alone(app, db, db_url):
    """Someone edits a row and writes a fresh hash for it: the next row's link no longer fits."""
    ids = write_events(app, 3)
    with tamperer(db_url) as conn:
        row = conn.execute(select(AuditEvent.__table__).where(AuditEvent.id == ids[1])).one()
        before = conn.execute(select(AuditEvent.hash).where(AuditEvent.id == ids[0])).scalar()
        forged = {**row._mapping, "action": "login"}
        conn.execute(text("UPDATE audit_event SET action = 'login', hash = :h WHERE id = :id"),
                     {"h": row_hash(before, row.seq, forged), "id": ids[1]})
    report = verify_chain(db.session)
    assert report.broken is not None and report.broken.row_id == ids[2]


def test_verify_names_the_gap_of_a_deleted_row(app, db, db_url):
    ids = write_events(app, 5)
    with tamperer(db_url) as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[1]})
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"row id {ids[2]}" in result.output
    assert "chain positions 2 are missing" in result.output and "deleted" in result.output


def test_a_row_written_around_the_chain(app, db, db_url):
    """SQLite: a row without a link is a break. PostgreSQL: it waits for its link like a row
    committed while another transaction was linking (the next commit links it)."""
    write_events(app, 2)
    with tamperer(db_url) as conn:
        new_id = conn.execute(text(
            "INSERT INTO audit_event (at, action, entity) VALUES (CURRENT_TIMESTAMP, 'view', 'Sneaky') RETURNING id"
        )).scalar()
    report = verify_chain(db.session)
    if postgres(db):
        assert report.intact and report.waiting == 1 and report.rows == 2
        write_events(app, 1, entity="Next")
        assert verify_chain(db.session).rows == 4
    else:
        assert report.broken is not None and report.broken.row_id == new_id and report.rows == 2


def test_verify_walks_in_batches(app, db):
    write_events(app, 7)
    assert verify_chain(db.session, batch=3).rows == 7


def test_rows_of_every_writer_are_chained(app, db, api, clinic):
    """Row changes (after_flush), events (record_event) and the booking statement all land in one chain."""
    from tests.test_booking import book

    assert book(api, clinic).status_code == 201
    write_events(app, 1)
    db.session.expire_all()
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert {r.entity for r in rows} >= {"Appointment", "Thing", "Patient"}
    assert all(r.seq is not None for r in rows)
    assert verify_chain(db.session).rows == len(rows)


def test_parallel_writers_do_not_fork_the_chain(app, db):
    """Eight transactions appending at once (each several rows, and a row change): one straight chain."""
    if not postgres(db):
        pytest.skip("SQLite has one writer at a time; the race is PostgreSQL's")
    from app.extensions import db as database

    barrier, errors = threading.Barrier(8), []

    def writer(n: int) -> None:
        try:
            with app.app_context(), Session(database.engine) as session:
                barrier.wait()
                for k in range(5):
                    audit.record_event(session, "view", "Race", f"{n}-{k}")
                    session.flush()
                session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    result = app.test_cli_runner().invoke(args=["audit", "verify"])  # links rows still waiting
    assert result.exit_code == 0 and "intact: 41 rows" in result.output, result.output
    assert db.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) == 41
    assert sorted(db.session.scalars(select(AuditEvent.entity_id).where(AuditEvent.entity == "Race"))) == sorted(
        f"{n}-{k}" for n in range(8) for k in range(5))


def test_bookings_at_once_keep_one_chain(app, db, live_server, api, clinic):
    """Twenty bookings at the same moment through the API (on PostgreSQL the one-statement booking,
    its audit row linked at commit), each for its own slot and patient: one intact chain."""
    from tests.factories import local_time
    from tests.test_booking import race

    patients = [api.create("patient", {"full_name": f"Bệnh nhân {n}"}) for n in range(20)]
    starts = [f"{h:02d}:{m:02d}" for h in range(7, 17) for m in (0, 30)]
    results = race(app, live_server, [
        {"patient_id": p, "doctor_id": clinic.doctor, "service_id": clinic.service, "start": local_time(start)}
        for p, start in zip(patients, starts, strict=True)])
    assert [status for status, _ in results] == [201] * 20, results
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "Appointment", AuditEvent.seq.is_not(None))) == 20


# --- the database refuses changes (PostgreSQL) ----------------------------------------------------


def test_the_apps_role_cannot_update_delete_or_truncate(app, db, db_url):
    if not postgres(db):
        pytest.skip("PostgreSQL only: SQLite has no roles")
    ids = write_events(app, 2)
    role = f"clinic_app_{uuid.uuid4().hex[:8]}"
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON audit_event TO {role}"))
        statements = [
            ("UPDATE audit_event SET entity_id = 'x' WHERE id = :id", "UPDATE"),
            ("DELETE FROM audit_event WHERE id = :id", "DELETE"),
            ("TRUNCATE audit_event", "TRUNCATE"),
        ]
        for who in (role, None):  # the app's role, then the owner (the superuser) itself
            for sql, operation in statements:
                with engine.connect() as conn:
                    if who:
                        conn.execute(text(f"SET ROLE {who}"))
                    with pytest.raises(DBAPIError) as refused:
                        conn.execute(text(sql), {"id": ids[0]})
                    assert "append-only" in str(refused.value) and operation in str(refused.value)
                    conn.rollback()
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"REVOKE ALL ON audit_event FROM {role}"))
            conn.execute(text(f"REVOKE ALL ON SCHEMA public FROM {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        engine.dispose()
    db.session.expire_all()
    assert db.session.scalar(select(AuditEvent.entity_id).where(AuditEvent.id == ids[0])) == "0"
    assert verify_chain(db.session).rows == 2


# --- nobody edits or deletes through the app ------------------------------------------------------


def test_no_route_of_the_app_changes_an_audit_row(app, db, login_as, api_token):
    admin, headers = login_as("admin"), api_token("admin")  # (each login adds its own row)
    ids = write_events(app, 2)
    before = db.session.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)).all()
    for method, path in [
        ("get", "/auditeventview/add"), ("post", "/auditeventview/add"),
        ("get", f"/auditeventview/edit/{ids[0]}"), ("post", f"/auditeventview/edit/{ids[0]}"),
        ("get", f"/auditeventview/delete/{ids[0]}"), ("post", f"/auditeventview/delete/{ids[0]}"),
        ("post", "/auditeventview/action_post"), ("get", f"/auditeventview/api/delete/{ids[0]}"),
        ("put", f"/auditeventview/api/update/{ids[0]}"), ("post", "/auditeventview/api/create"),
    ]:
        assert getattr(admin, method)(path).status_code in (404, 405), (method, path)
    for method, path, body in [
        ("post", "/api/v1/audit_event/", {"action": "view", "entity": "X"}),
        ("put", f"/api/v1/audit_event/{ids[0]}", {"entity_id": "9"}),
        ("patch", f"/api/v1/audit_event/{ids[0]}", {"entity_id": "9"}),
        ("delete", f"/api/v1/audit_event/{ids[0]}", None),
    ]:
        response = getattr(app.test_client(), method)(path, json=body, headers=headers)
        assert response.status_code in (404, 405), (method, path, response.status_code)
    assert app.test_client().get(f"/api/v1/audit_event/{ids[0]}", headers=headers).status_code == 200
    assert admin.get(f"/auditeventview/show/{ids[0]}").status_code == 200
    db.session.expire_all()
    after = db.session.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)).all()
    assert after[:len(before)] == before
    assert not [row for row in after[len(before):] if row.action in ("create", "update", "delete")]
    assert verify_chain(db.session).intact


# --- permission refusals ---------------------------------------------------------------------------


def denials(db) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "denied").order_by(AuditEvent.id)).all()


def test_a_refused_page_and_a_refused_api_call_are_recorded(app, db, login_as, api_token):
    receptionist_id = app.appbuilder.sm.find_user(username="receptionist").id
    receptionist = login_as("receptionist")
    assert receptionist.get("/auditeventview/list/").status_code == 403
    response = app.test_client().get("/api/v1/audit_event/", headers=api_token("receptionist"))
    assert response.status_code == 403
    rows = denials(db)
    assert [(r.action, r.entity, r.user_id) for r in rows] == [
        ("denied", "AuditEvent", receptionist_id), ("denied", "AuditEvent", receptionist_id)]
    assert json.loads(rows[0].details) == {"permission": "can_read", "method": "GET",
                                           "path": "/auditeventview/list/", "view": "AuditEventView"}
    assert json.loads(rows[1].details) == {"permission": "can_read", "method": "GET", "path": "/api/v1/audit_event/"}
    assert rows[0].ip == "127.0.0.1"
    assert verify_chain(db.session).intact


def test_menus_and_buttons_drawn_without_a_permission_are_not_refusals(app, db, login_as):
    """Pages ask has_access for every menu entry and button; only refused requests are recorded."""
    for role in ("receptionist", "pharmacist", "manager"):
        assert login_as(role).get("/").status_code == 200
    assert login_as("receptionist").get("/patientview/list/").status_code == 200
    assert denials(db) == []


def test_a_visitor_who_is_not_logged_in_is_sent_to_log_in_unrecorded(app, db, client):
    assert client.get("/auditeventview/list/").status_code == 302
    assert client.get("/api/v1/audit_event/").status_code == 401
    assert denials(db) == []


# --- the search -------------------------------------------------------------------------------------


def entries(html: str, among: list[int] | None = None) -> list[int]:
    """The ids of the rows on the page (only those ``among`` the given ones: logins add their own)."""
    import re

    found = [int(n) for n in re.findall(r'<tr data-id="(\d+)"', html)]
    return [n for n in found if among is None or n in among]


@pytest.fixture
def trail(app, db):
    """Six rows by two users on two days, from two addresses (written directly, with their times)."""
    from datetime import datetime, timezone

    admin_id = app.appbuilder.sm.find_user(username="admin").id
    doctor_id = app.appbuilder.sm.find_user(username="doctor").id
    made = [
        (admin_id, datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc), "create", "Patient", "7", "10.0.0.5", None),
        (admin_id, datetime(2026, 3, 1, 3, 0, tzinfo=timezone.utc), "update", "Patient", "7", "10.0.0.5",
         {"fields": ["phone"]}),
        (doctor_id, datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc), "view", "Encounter", "3", "192.168.1.9",
         {"reason": "khám lại"}),
        (doctor_id, datetime(2026, 3, 2, 18, 0, tzinfo=timezone.utc), "denied", "AuditEvent", None,
         "192.168.1.9", {"permission": "can_read", "path": "/auditeventview/list/", "view": "AuditEventView"}),
        (None, datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc), "login_failed", "User", None, "203.0.113.1", None),
        (admin_id, datetime(2026, 3, 4, 1, 0, tzinfo=timezone.utc), "delete", "Patient", "8", "10.0.0.6", None),
    ]
    rows = [{"user_id": u, "at": at, "action": a, "entity": e, "entity_id": i, "ip": ip,
             "details": json.dumps(d, ensure_ascii=False) if d else None} for u, at, a, e, i, ip, d in made]
    with app.app_context():
        from app.extensions import db as database

        audit.append_rows(database.session, rows)
        database.session.commit()
    return list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.at)))


@pytest.mark.parametrize("query, expected", [
    ({}, [5, 4, 3, 2, 1, 0]),
    ({"user": "doctor"}, [3, 2]),
    ({"user": "Admin"}, [5, 1, 0]),
    ({"action": "update"}, [1]),
    ({"entity": "Patient"}, [5, 1, 0]),
    ({"entity": "Patient", "entity_id": "7"}, [1, 0]),
    ({"ip": "10.0.0."}, [5, 1, 0]),
    ({"ip": "203.0.113.1"}, [4]),
    # Days are the clinic's (UTC+7): 2 March 18:00 UTC is already 3 March in Vietnam.
    ({"since": "2026-03-02", "until": "2026-03-02"}, [2]),
    ({"since": "2026-03-03"}, [5, 4, 3]),
    ({"until": "2026-03-01"}, [1, 0]),
])
def test_admins_filter_the_trail(trail, login_as, query, expected):
    page = login_as("admin").get("/auditeventview/list/", query_string=query)
    assert page.status_code == 200
    assert entries(page.get_data(as_text=True), trail) == [trail[i] for i in expected]


def test_dates_are_typed_the_vietnamese_way_in_vietnamese(trail, login_as):
    admin = login_as("admin")
    admin.get("/lang/vi")
    try:
        page = admin.get("/auditeventview/list/", query_string={"since": "02/03/2026", "until": "02/03/2026"})
        html = page.get_data(as_text=True)
        assert entries(html, trail) == [trail[2]]
        assert 'placeholder="dd/mm/yyyy"' in html and "khám lại" in html
        wrong = admin.get("/auditeventview/list/", query_string={"since": "03/03/2026", "until": "01/03/2026"})
        assert wrong.status_code == 200 and "Ngày kết thúc trước ngày bắt đầu" in wrong.get_data(as_text=True)
        bad = admin.get("/auditeventview/list/", query_string={"since": "31/02/2026"})
        assert "dd/mm/yyyy" in bad.get_data(as_text=True)
    finally:
        admin.get("/lang/en")


def test_the_trail_is_paged_newest_first(app, db, login_as):
    admin = login_as("admin")
    write_events(app, 30)
    total = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert 30 < total <= 50
    first = entries(admin.get("/auditeventview/list/").get_data(as_text=True))
    second = admin.get("/auditeventview/list/?page=2").get_data(as_text=True)
    assert len(first) == 25 and len(entries(second)) == total - 25
    assert first == sorted(first, reverse=True) and max(entries(second)) < min(first)
    assert "page 2 of 2" in second
    assert entries(admin.get("/auditeventview/list/?page=abc").get_data(as_text=True)) == first


def test_managers_read_the_trail(trail, login_as):
    page = login_as("manager").get("/auditeventview/list/", query_string={"action": "delete"})
    assert page.status_code == 200 and entries(page.get_data(as_text=True), trail) == [trail[5]]


# --- in a browser ------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale, since, until, search", [
    ("en-US", "2026-03-02", "2026-03-03", "Search"), ("vi-VN", "02/03/2026", "03/03/2026", "Tìm kiếm")])
def test_an_admin_filters_the_trail_in_a_browser(trail, page_as, tmp_path, width, locale, since, until, search):
    page = page_as("admin", width=width, locale=locale)
    page.goto(f"{page.base_url}/auditeventview/list/")
    assert page.locator("tr[data-id]").count() >= 6  # and the logins
    page.fill("#user", "doctor")
    page.fill("#since", since)
    page.fill("#until", until)
    page.get_by_role("button", name=search).click()
    page.wait_for_load_state()
    assert [int(i) for i in page.locator("tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")] == [
        trail[3], trail[2]]
    assert page.locator("#since").input_value() == since  # the search stays in the form
    assert "khám lại" in page.locator(f'tr[data-id="{trail[2]}"] pre').inner_text()
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1  # no sideways scrolling
    if width < 768:  # a phone: each entry is a card with labelled cells, not a wide table
        assert not page.locator(".audit-table thead").is_visible()
    page.screenshot(path=str(tmp_path / f"audit-{locale}-{width}.png"), full_page=True)
    import os
    import shutil

    if os.environ.get("AUDIT_SCREENSHOTS"):
        shutil.copy(tmp_path / f"audit-{locale}-{width}.png", os.environ["AUDIT_SCREENSHOTS"])


@pytest.mark.parametrize("language, bad, error", [
    ("en", "2026-02-31", "yyyy-mm-dd"), ("vi", "31/02/2026", "dd/mm/yyyy")])
def test_a_search_with_a_wrong_date_lists_nothing(trail, login_as, language, bad, error):
    """Not every entry as if there were no filter: the error, the typed values kept, a line to correct it."""
    admin = login_as("admin")
    admin.get(f"/lang/{language}")
    try:
        page = admin.get("/auditeventview/list/", query_string={"user": "doctor", "since": bad})
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and entries(html) == []
        assert error in html and f'value="{bad}"' in html and 'value="doctor"' in html
        assert ("Correct the search above to see entries." if language == "en"
                else "Hãy sửa điều kiện tìm kiếm ở trên để xem các mục.") in html
        assert "audit-table" not in html
    finally:
        admin.get("/lang/en")
