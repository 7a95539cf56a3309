"""Log events kept as documents (app/log_store.py, app/services/log_events.py): the background
writer never blocks or fails what logs, a store that is down leaves the console working, events
carry their request id through jobs, retention, and the admin log viewer (filters, one request
with its audit rows, export, live tail, access)."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import sessionmaker

from app import log_store
from app.logging_setup import log_context
from app.services import log_events
from app.services.documents import SCALAR_FIELDS, SqlDocumentStore
from app.services.log_events import COLLECTION, LogFilters

ROOT = Path(__file__).resolve().parent.parent
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=timezone.utc)
log = logging.getLogger("app.test.logstore")


class BlockedStore:
    """A store whose writes wait until ``release`` is set (a store slower than the logs)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.written: list[dict] = []

    def insert_many(self, collection: str, docs: list[dict]) -> int:
        self.release.wait(10)
        self.written.extend(docs)
        return len(docs)


class BrokenStore:
    def __init__(self) -> None:
        self.calls = 0

    def insert_many(self, collection: str, docs: list[dict]) -> int:
        self.calls += 1
        raise ConnectionError("the document store is down")


def _sql_store(tmp_path) -> SqlDocumentStore:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'logs.db'}")
    Model.metadata.create_all(engine)
    return SqlDocumentStore(sessionmaker(engine), scalar_fields=SCALAR_FIELDS)


@pytest.fixture
def own_handler():
    """A handler of the test's own on the root logger (the process's one stays detached)."""
    handler = log_store.DocumentLogHandler(capacity=50, batch=20)
    root = logging.getLogger()
    root.addHandler(handler)
    log.setLevel(logging.DEBUG)  # whatever the root's level (no app made yet), the handler decides
    yield handler
    log.setLevel(logging.NOTSET)
    root.removeHandler(handler)
    handler.attach(None, None)


@pytest.fixture
def kept_logs(app):
    """The app's own handler writing to the app's document store for one test; the kept events
    are removed afterwards."""
    store = app.extensions["documents"]
    handler = log_store.handler()
    handler.attach(app, store)
    yield handler
    handler.drain(5)
    handler.attach(None, None)
    with app.app_context():
        store.delete_older_than(COLLECTION, FAR_FUTURE)


def test_an_event_is_kept_with_its_context_and_scrubbed_extras(own_handler, tmp_path):
    store = _sql_store(tmp_path)
    own_handler.attach(None, store)
    with log_context(request_id="req-keep-1", user_id=7, route="/x/<int:pk>", method="POST"):
        log.info("saved %s", 3, extra={"count": 2, "patient_name": "Nguyễn Văn An"})
        log.debug("not kept: below INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")
    assert own_handler.drain(5)
    kept = store.find(COLLECTION, {"request_id": "req-keep-1"})
    assert len(kept) == 1
    event = kept[0]
    assert event["message"] == "saved 3" and event["level"] == "INFO" and event["logger"] == log.name
    assert (event["user_id"], event["route"], event["method"], event["source"]) == (7, "/x/<int:pk>", "POST", "web")
    assert event["count"] == 2 and event["patient_name"] == "[redacted]"
    assert not store.find(COLLECTION, contains={"message": "not kept"})
    failed = store.find(COLLECTION, {"level": "ERROR"})
    assert failed and "ValueError: boom" in failed[0]["exception"]


def test_logging_never_waits_for_a_slow_store_and_drops_what_does_not_fit(own_handler):
    store = BlockedStore()
    own_handler.attach(None, store)
    for n in range(200):  # the writer holds one batch, the queue 50: the rest is dropped, not waited for
        log.info("event %d", n)
    assert not store.release.is_set()  # every call above returned while the store was still blocked
    assert own_handler.dropped >= 200 - 50 - 20
    store.release.set()
    assert own_handler.drain(5)
    assert 50 <= len(store.written) <= 70 and own_handler.written == len(store.written)


def test_a_store_that_is_down_pauses_the_writer_and_the_console_still_logs(own_handler, caplog):
    store = BrokenStore()
    own_handler.attach(None, store)
    log.warning("first while down")
    own_handler.drain(5)
    log.warning("second while down")  # paused: dropped at once, the store is not asked again
    own_handler.drain(1)
    assert store.calls == 1 and own_handler.failures == 1 and own_handler.dropped == 2
    assert "first while down" in caplog.text and "second while down" in caplog.text


def test_retention_removes_only_events_older_than_the_period(tmp_path):
    store = _sql_store(tmp_path)
    now = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)
    store.insert_many(COLLECTION, [
        {"created_at": now - timedelta(days=31), "level": "INFO", "message": "old"},
        {"created_at": now - timedelta(days=29), "level": "INFO", "message": "recent"},
        {"created_at": now - timedelta(days=40), "level": "ERROR", "message": "older"}])
    store.insert("chat", {"created_at": now - timedelta(days=90), "text": "a chat message stays"})
    assert log_events.purge_log_events(store, now, 30) == 2
    assert [e["message"] for e in store.find(COLLECTION)] == ["recent"]
    assert store.count("chat") == 1
    with pytest.raises(ValueError):
        log_events.purge_log_events(store, now, 0)


def test_the_purge_job_uses_the_retention_setting(app, monkeypatch):
    from app.jobs.maintenance import purge_log_events

    store = app.extensions["documents"]
    now = datetime.now(timezone.utc)
    with app.app_context():
        store.insert_many(COLLECTION, [{"created_at": now - timedelta(days=3), "message": "purge-me"},
                                       {"created_at": now - timedelta(hours=1), "message": "keep-me"}])
    monkeypatch.setitem(app.config, "LOG_RETENTION_DAYS", 2)
    try:
        with app.app_context():
            assert purge_log_events() == 1
            assert [e["message"] for e in store.find(COLLECTION)] == ["keep-me"]
    finally:
        with app.app_context():
            store.delete_older_than(COLLECTION, FAR_FUTURE)


def _seed(app) -> datetime:
    """Six events of two requests, by two users, over an hour."""
    store = app.extensions["documents"]
    with app.app_context():
        admin_id = app.appbuilder.sm.find_user(username="admin").id
        desk_id = app.appbuilder.sm.find_user(username="receptionist").id
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    events = [
        {"created_at": t0, "level": "INFO", "logger": "app.access", "message": "GET /patientview/list/ 200",
         "request_id": "req-a", "user_id": desk_id, "route": "/patientview/list/", "status": 200, "method": "GET"},
        {"created_at": t0 + timedelta(minutes=10), "level": "WARNING", "logger": "app.services.stock",
         "message": "stock low for batch 12", "request_id": "req-b", "user_id": admin_id},
        {"created_at": t0 + timedelta(minutes=20), "level": "ERROR", "logger": "app.access",
         "message": "POST /cashier/pay 500", "request_id": "req-b", "user_id": admin_id, "route": "/cashier/pay",
         "status": 500, "method": "POST"},
        {"created_at": t0 + timedelta(minutes=21), "level": "INFO", "logger": "app.jobs.notices",
         "message": "notice queued", "request_id": "req-b", "job_id": "job-1", "job": "app.jobs.notices.x"},
        {"created_at": t0 + timedelta(minutes=40), "level": "INFO", "logger": "app.realtime.events",
         "message": "socket connected <b>bold</b>", "user_id": desk_id, "socket_event": "connect",
         "status": "sent"},  # an extra field of that name that is text, not an HTTP status
        {"created_at": t0 + timedelta(minutes=60), "level": "INFO", "logger": "app.access",
         "message": "GET /patientview/show/<pk> 404", "request_id": "req-c", "route": "/patientview/show/<pk>",
         "status": 404, "method": "GET", "user_id": desk_id},
    ]
    for event in events:
        event["source"] = log_events.source_of(event)
    with app.app_context():
        store.insert_many(COLLECTION, events)
    return t0


@pytest.fixture
def seeded(app):
    t0 = _seed(app)
    yield t0
    with app.app_context():
        app.extensions["documents"].delete_older_than(COLLECTION, FAR_FUTURE)


def _shown(html: str) -> list[str]:
    import re

    return re.findall(r'<tr class="log-event[^"]*" data-level="(\w+)" data-request="([^"]*)"', html)


@pytest.mark.parametrize("query, expected", [
    ({}, ["req-c", "", "req-b", "req-b", "req-b", "req-a"]),
    ({"level": "ERROR"}, ["req-b"]),
    ({"text": "STOCK low"}, ["req-b"]),
    ({"status": "404"}, ["req-c"]),
    ({"route": "/cashier/pay"}, ["req-b"]),
    ({"request_id": "req-b"}, ["req-b", "req-b", "req-b"]),
    ({"user": "admin"}, ["req-b", "req-b"]),
])
def test_the_viewer_filters(login_as, seeded, query, expected):
    html = login_as("admin").get("/logs/", query_string=query).get_data(as_text=True)
    assert [request_id for _level, request_id in _shown(html)] == expected


def test_the_viewer_filters_by_time_in_the_clinics_zone_and_its_date_order(login_as, seeded, app):
    from app.views.fields import clinic_zone

    with app.app_context():
        zone = clinic_zone()
    start = (seeded + timedelta(minutes=15)).astimezone(zone)
    end = (seeded + timedelta(minutes=45)).astimezone(zone)
    admin = login_as("admin")
    query = {"since_day": start.strftime("%d/%m/%Y"), "since_time": start.strftime("%H:%M"),
             "until_day": end.strftime("%d/%m/%Y"), "until_time": end.strftime("%H:%M")}
    admin.get("/lang/vi")
    html = admin.get("/logs/", query_string=query).get_data(as_text=True)
    assert [level for level, _r in _shown(html)] == ["INFO", "INFO", "ERROR"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in html  # a message is text, never markup
    admin.get("/lang/en")


def test_bad_filters_say_what_is_wrong_and_list_nothing(login_as, seeded):
    admin = login_as("admin")
    response = admin.get("/logs/", query_string={"status": "abc", "since_time": "25:00", "user": "nobody-here",
                                                  "until_day": "31/02/2026", "request_id": "a b"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and not _shown(html)
    for message in ("Write the time as HH:MM.", "No user has this login or number.",
                    "A request id has letters, digits and . _ : - only.", "Correct the search above"):
        assert message in html
    export = admin.get("/logs/export", query_string={"status": "abc"})
    assert export.status_code == 422 and "status" in export.get_json()["errors"]


def test_one_request_shows_its_events_in_order_beside_its_audit_rows(app, login_as, kept_logs):
    """A real request: its access event, the in-process job it ran and the audit rows it wrote."""
    desk = login_as("receptionist")
    response = desk.post("/patientview/add", data={"full_name": "Trần Thị Nhật Ký", "phone": "0912 000 111",
                                                   "sex": "female", "date_of_birth": "1991-02-03"},
                         headers={"X-Request-ID": "req-real-1"})
    assert response.status_code in (200, 302) and response.headers["X-Request-ID"] == "req-real-1"
    with app.app_context():
        from app.jobs.queue import enqueue

        with log_context(request_id="req-real-1"):
            enqueue(app.config, "tests.test_log_store.a_job_that_logs")
    kept_logs.drain(5)
    html = login_as("admin").get("/logs/request/req-real-1").get_data(as_text=True)
    events = html.split('id="request-events"')[1].split('id="request-audit"')[0]
    assert "POST /patientview/add" in events and "a job that logs" in events
    assert events.index("POST /patientview/add") < events.index("a job that logs")
    audit = html.split('id="request-audit"')[1]
    assert 'data-action="create"' in audit
    assert "Trần Thị Nhật Ký" not in html


def a_job_that_logs() -> None:
    from app.jobs.context import app_context

    with app_context():  # as every job of the app does: the job's context, and its events written
        logging.getLogger("app.test.logstore").info("a job that logs")


def test_a_request_page_for_a_bad_id_is_404(login_as):
    assert login_as("admin").get("/logs/request/bad%20id").status_code == 404


def test_export_gives_the_filtered_events_as_json_lines(login_as, seeded):
    response = login_as("admin").get("/logs/export", query_string={"request_id": "req-b"})
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [e["level"] for e in lines] == ["INFO", "ERROR", "WARNING"]
    assert lines[1]["route"] == "/cashier/pay" and lines[1]["created_at"].endswith("+00:00")


@pytest.mark.parametrize("role", ["manager", "receptionist", "doctor", "pharmacist", "cashier", "lab"])
def test_only_admins_reach_the_logs(login_as, seeded, role):
    staff = login_as(role)
    for path in ("/logs/", "/logs/request/req-b", "/logs/export"):
        response = staff.get(path)
        assert response.status_code in (302, 403), (role, path)
        assert "stock low" not in response.get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_login(client):
    for path in ("/logs/", "/logs/export", "/logs/request/req-b"):
        response = client.get(path)
        assert response.status_code in (302, 401, 403) and b"stock low" not in response.data


def test_the_viewer_says_when_the_store_cannot_be_reached(app, login_as, monkeypatch):
    class Down:
        def find(self, *args, **kwargs):
            raise ConnectionError("mongo is gone")

    monkeypatch.setitem(app.extensions, "documents", Down())
    response = login_as("admin").get("/logs/")
    assert response.status_code == 200 and 'id="logs-unavailable"' in response.get_data(as_text=True)


def test_the_live_tail_reaches_admins_in_its_room_only(app, live_server, kept_logs):
    from tests.test_realtime import connected, session_cookie

    with connected(live_server, cookie=session_cookie(app, "admin")) as admin, \
            connected(live_server, cookie=session_cookie(app, "manager")) as manager:
        assert admin.call("join", {"room": "logtail:all"})["ok"] is True
        refused = manager.call("join", {"room": "logtail:all"})
        assert not refused.get("ok")
        log.warning("tail me %s", 42)
        for _ in range(20):  # batches of other events (the connections' own) may come first
            got = admin.wait_for("log:events")
            if any(e["message"] == "tail me 42" and e["level"] == "WARNING" for e in got["events"]):
                break
        else:
            raise AssertionError("the event never reached the tail")
        manager.nothing("log:events", within=0.5)


def test_a_full_request_cycle_keeps_no_patient_name_or_phone(app, login_as, kept_logs):
    desk = login_as("receptionist")
    name, phone = "Võ Thị Lưuký", "0977 123 987"
    desk.post("/patientview/add", data={"full_name": name, "phone": phone, "sex": "female",
                                        "date_of_birth": "1989-05-06"})
    desk.get("/patientview/list/", query_string={"_flt_0_search_text": name})
    kept_logs.drain(5)
    with app.app_context():
        kept = app.extensions["documents"].find(COLLECTION, limit=1000)
    assert kept, "the requests left no kept event"
    text = json.dumps([log_events.jsonable(e) for e in kept], ensure_ascii=False)
    for word in (name, "Lưuký", phone, phone.replace(" ", "")):
        assert word not in text


@pytest.mark.needs_redis
def test_a_job_on_a_forked_worker_carries_the_request_id_and_is_kept_before_the_horse_exits(tmp_path):
    """The RQ job's events name the request that queued it, and a fork worker's child writes them
    to the store before it exits."""
    from redis import Redis

    from app.jobs.queue import enqueue
    from tests.test_background_jobs import REDIS_URL, _cleanup

    prefix = f"tlog{os.getpid()}:"
    db_path = tmp_path / "w.db"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MONGO_URI", "MAIL_SERVER"}}
    env.update(FLASK_APP="app:create_app", REDIS_URL=REDIS_URL, RQ_QUEUE_PREFIX=prefix, LOG_FORMAT="json",
               LOG_DOCUMENTS="true", RQ_WORKER_CLASS="fork", INSTANCE_PATH=str(tmp_path / "instance"),
               DATABASE_URL=f"sqlite:///{db_path}", PYTHONPATH=str(ROOT))
    connection = Redis.from_url(REDIS_URL)
    try:
        upgraded = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=180)
        assert upgraded.returncode == 0, upgraded.stderr[-2000:]
        with log_context(request_id="req-from-web-9"):
            job = enqueue({"REDIS_URL": REDIS_URL, "RQ_QUEUE_PREFIX": prefix}, "tests.test_log_store.a_job_that_logs")
        done = subprocess.run([sys.executable, "-m", "flask", "worker", "--burst"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        inside = next(e for e in lines if e.get("message") == "a job that logs")
        assert inside["request_id"] == "req-from-web-9" and inside["job_id"] == job.id
        store = SqlDocumentStore(sessionmaker(sa.create_engine(f"sqlite:///{db_path}")), scalar_fields=SCALAR_FIELDS)
        kept = store.find(COLLECTION, {"request_id": "req-from-web-9"})
        assert [e["message"] for e in kept] == ["a job that logs"] and kept[0]["source"] == "job"
    finally:
        _cleanup(connection, prefix)
        connection.close()


def test_search_filters_reach_the_store_as_equality_and_text(tmp_path):
    store = _sql_store(tmp_path)
    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
    store.insert_many(COLLECTION, [
        {"created_at": t0 + timedelta(minutes=i), "level": "INFO" if i % 2 else "ERROR", "message": f"m{i} 100%_done",
         "user_id": i % 3, "status": 200 + i} for i in range(10)])
    found = log_events.search_log_events(store, LogFilters(level="ERROR", user_id=0))
    assert [e["message"] for e in found] == ["m6 100%_done", "m0 100%_done"]
    assert len(log_events.search_log_events(store, LogFilters(text="100%_"))) == 10
    assert log_events.search_log_events(store, LogFilters(text="0%x")) == []
    page = log_events.search_log_events(store, LogFilters(), limit=3)
    older = log_events.search_log_events(store, LogFilters(), limit=3, before=page[-1]["created_at"])
    assert [e["status"] for e in page + older] == [209, 208, 207, 206, 205, 204]


def test_a_socket_event_is_kept_with_a_request_id_of_its_own(app, live_server, kept_logs):
    from tests.test_realtime import connected, session_cookie

    with connected(live_server, cookie=session_cookie(app, "receptionist")) as desk:
        desk.call("join", {"room": "logtail:all"})  # refused: not an admin
    kept_logs.drain(5)
    with app.app_context():
        kept = app.extensions["documents"].find(COLLECTION, limit=500)
    connect = next(e for e in kept if e.get("socket_event") == "connect")
    refused = next(e for e in kept if e.get("socket_event") == "join")
    assert connect["source"] == "socket" and refused["source"] == "socket"
    assert log_events.is_request_id(connect["request_id"]) and connect["request_id"] != refused["request_id"]
    assert "socket join refused" in refused["message"]


# --- log events in the search box (admins) --------------------------------------------------------


def _log_group(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return [r for g in response.get_json()["groups"] if g["kind"] == "logs" for r in g["results"]]


def test_an_admin_finds_log_events_in_the_search_box_and_each_opens_its_request(login_as, seeded):
    admin = login_as("admin")
    hits = _log_group(admin.get("/search/json", query_string={"q": "STOCK low"}))
    assert [(h["title"], h["url"]) for h in hits] == [("stock low for batch 12", "/logs/request/req-b")]
    assert "WARNING" in hits[0]["detail"]
    pasted = _log_group(admin.get("/search/json", query_string={"q": "req-b"}))  # a request id: its events
    assert [h["title"] for h in pasted] == ["notice queued", "POST /cashier/pay 500", "stock low for batch 12"]
    no_request = _log_group(admin.get("/search/json", query_string={"q": "socket connected"}))
    assert [h["url"] for h in no_request] == ["/logs/?text=socket+connected+%3Cb%3Ebold%3C%2Fb%3E"]
    assert admin.get(no_request[0]["url"]).status_code == 200
    page = admin.get("/search/", query_string={"q": "stock low"}).get_data(as_text=True)
    assert 'data-kind="logs"' in page and "/logs/request/req-b" in page
    assert '<option value="logs"' in page
    assert _log_group(admin.get("/search/json", query_string={"q": "st"})) == []  # too short to scan for


@pytest.mark.parametrize("role", ["manager", "receptionist", "doctor", "cashier"])
def test_only_admins_find_log_events_in_the_search_box(login_as, seeded, role):
    staff = login_as(role)
    for text in ("stock low", "req-b"):
        response = staff.get("/search/json", query_string={"q": text, "kind": "logs"})
        assert _log_group(response) == [] and "batch 12" not in response.get_data(as_text=True)
    page = staff.get("/search/", query_string={"q": "stock low", "kind": "logs"}).get_data(as_text=True)
    assert "batch 12" not in page and '<option value="logs"' not in page


def test_the_search_box_goes_on_without_logs_when_their_store_is_down(app, login_as, monkeypatch):
    class Down:
        def find(self, *args, **kwargs):
            raise ConnectionError("mongo is gone")

    admin = login_as("admin")
    monkeypatch.setitem(app.extensions, "documents", Down())
    response = admin.get("/search/json", query_string={"q": "stock low"})
    assert response.status_code == 200 and _log_group(response) == []
