"""Structured logs (app/logging_setup.py): the event's shape, the request id, the context of jobs
and sockets, the scrubber, and a full request cycle whose DEBUG logs never carry a patient's name,
phone or a password."""
from __future__ import annotations

import json
import logging
import re

import pytest

from app import logging_setup
from tests.conftest import PASSWORD


@pytest.fixture
def json_logs(app, capsys):
    """The app's own handler in JSON at DEBUG for one test; ``read()`` -> the events written since."""
    logging_setup.configure({"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"})
    capsys.readouterr()

    def read() -> tuple[str, list[dict]]:
        text = capsys.readouterr().err
        events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        return text, events

    yield read
    logging_setup.configure(app.config, debug=app.debug)


def test_an_event_is_one_json_line_with_time_level_logger_message_and_context(json_logs):
    with logging_setup.log_context(job_id="j1"):
        logging.getLogger("app.test").info("hello %s", 42, extra={"count": 3})
    text, events = json_logs()
    event = next(e for e in events if e.get("logger") == "app.test")
    assert event["message"] == "hello 42" and event["level"] == "INFO" and event["count"] == 3
    assert event["job_id"] == "j1" and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", event["time"])
    assert "started" not in event


def test_the_console_format_is_one_readable_line(app, capsys):
    logging_setup.configure({"LOG_FORMAT": "console"})
    try:
        capsys.readouterr()
        with logging_setup.log_context(request_id="abc"):
            logging.getLogger("app.test").warning("careful")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert "WARNI" in line and "app.test  careful" in line and "request_id=abc" in line
        assert not line.startswith("{")
    finally:
        logging_setup.configure(app.config, debug=app.debug)


def test_log_format_follows_debug_and_testing_unless_set():
    assert logging_setup.log_format({}) == "json"
    assert logging_setup.log_format({}, debug=True) == "console"
    assert logging_setup.log_format({"TESTING": True}) == "console"
    assert logging_setup.log_format({"LOG_FORMAT": "JSON", "TESTING": True}) == "json"
    with pytest.raises(ValueError):
        logging_setup.log_format({"LOG_FORMAT": "xml"})


def test_configure_twice_keeps_one_handler_and_pytests_own(app, caplog):
    root = logging.getLogger()
    before = len(root.handlers)
    logging_setup.configure(app.config)
    logging_setup.configure(app.config)
    assert len(root.handlers) == before
    assert sum(h.get_name() == logging_setup.HANDLER_NAME for h in root.handlers) == 1
    logging.getLogger("app.test").warning("still caught")
    assert "still caught" in caplog.text


@pytest.mark.parametrize("incoming, kept", [
    ("req-123_abc.def:9", True), ("", False), ("x" * 65, False), ("bad id", False),
    ("<script>", False), ("a\r\nSet-Cookie: x", False), ("Nguyễn", False)])
def test_an_incoming_request_id_is_kept_only_when_sane(incoming, kept):
    made = logging_setup.request_id_from(incoming)
    assert (made == incoming) is kept
    assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,64}", made)


def test_a_request_gets_an_access_event_with_its_id_route_status_duration_and_user(login_as, json_logs):
    browser = login_as("receptionist")
    json_logs()
    response = browser.get("/patientview/show/999999?page=2&q=secret-search", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    text, events = json_logs()
    access = [e for e in events if e["logger"] == "app.access"]
    assert len(access) == 1, text
    event = access[0]
    assert event["request_id"] == "abc-123" and event["method"] == "GET"
    assert event["route"] == "/patientview/show/<pk>" and event["status"] == response.status_code
    assert event["duration_ms"] >= 0 and event["user_id"] and "Receptionist" in event["role"]
    assert event["query"] == "page=2&q=[redacted]"
    assert "999999" not in event["message"] and "secret-search" not in text
    other = browser.get("/health", headers={"X-Request-ID": "not a sane id"})
    new_id = other.headers["X-Request-ID"]
    assert new_id != "not a sane id" and re.fullmatch(r"[0-9a-f]{32}", new_id)


def test_a_token_in_the_path_is_never_logged(client, json_logs):
    secret = "Zq9TokenThatMustNotLeak"
    client.get(f"/video-guest/{secret}")
    client.get(f"/clinic/visit/{secret}")
    text, events = json_logs()
    assert secret not in text
    routes = [e["route"] for e in events if e["logger"] == "app.access"]
    assert routes == ["/video-guest/<token>", "/clinic/visit/<token>"]


def test_the_scrubber_replaces_sensitive_keys_in_extras_and_dict_arguments(json_logs):
    log = logging.getLogger("app.test")
    log.info("login", extra={"password": "pw-1", "patient": {"full_name": "Lê Thị Hoa", "id": 7},
                             "auth_token": "tok-1", "phone": "0900000001", "rows": [{"email": "a@b.c"}]})
    log.info("form %(national_id)s", {"national_id": "001234567890", "count": 2})
    text, events = json_logs()
    for leaked in ("pw-1", "Lê Thị Hoa", "tok-1", "0900000001", "a@b.c", "001234567890"):
        assert leaked not in text
    first = next(e for e in events if e["message"] == "login")
    assert first["password"] == "[redacted]" and first["patient"] == {"full_name": "[redacted]", "id": 7}
    assert first["rows"] == [{"email": "[redacted]"}]


def test_scrub_query_keeps_only_harmless_values():
    assert logging_setup.scrub_query(b"page=2&_flt_0_search_text=Nguyen&phone=0912&token=x") == \
        "page=2&_flt_0_search_text=[redacted]&phone=[redacted]&token=[redacted]"


def test_a_broken_filter_never_fails_the_log_call(monkeypatch, json_logs):
    monkeypatch.setattr(logging_setup, "_user_fields", lambda: 1 / 0)
    logging.getLogger("app.test").info("goes on")
    assert "goes on" in json_logs()[0] and logging_setup.filter_errors >= 1


def test_a_job_logs_with_its_job_id(app, json_logs):
    from app.jobs.queue import enqueue

    with app.app_context():
        job = enqueue(app.config, "tests.test_logging.logging_job")
    text, events = json_logs()
    event = next(e for e in events if e["message"] == "inside the job")
    assert event["job_id"] == job.id and event["job"] == "tests.test_logging.logging_job"


def logging_job() -> None:
    logging.getLogger("app.test").info("inside the job")


def test_a_socket_connect_logs_its_user_and_event(app, live_server, json_logs):
    # A real client on the live server: Flask-SocketIO's test client replaces the server's packet
    # senders for good, and the app (hence its server) lives for the whole session.
    from tests.test_realtime import connected, session_cookie

    with connected(live_server, cookie=session_cookie(app, "receptionist")):
        pass
    text, events = json_logs()
    event = next(e for e in events if e["message"] == "socket connected")
    assert event["socket_event"] == "connect" and event["user_id"] and event["namespace"] == "/"


def test_a_full_request_cycle_logs_no_patient_name_phone_or_password(app, login_as, api_token, json_logs, caplog):
    """Log in, create, search and view a patient through the real pages and the API, everything
    at DEBUG: the captured output (our handler's and pytest's) never has the name, phone or password."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Patient

    name, phone, email, national_id = "Phạm Thị Logtest", "0987 654 321", "logtest@example.vn", "079123456789"
    caplog.set_level(logging.DEBUG)
    desk = login_as("receptionist")
    added = desk.post("/patientview/add", data={
        "full_name": name, "phone": phone, "email": email, "national_id": national_id, "sex": "female",
        "date_of_birth": "1990-01-02", "address": "12 Lê Lợi", "allergies": "penicillin"})
    assert added.status_code in (200, 302)
    with app.app_context():
        patient_id = db.session.scalar(select(Patient.id).where(Patient.full_name == name))
    assert patient_id, added.get_data(as_text=True)[:2000]
    assert desk.get(f"/patientview/list/?_flt_0_search_text={name}").status_code == 200
    assert name in desk.get(f"/patientview/show/{patient_id}").get_data(as_text=True)
    headers = api_token("receptionist")
    assert desk.get(f"/api/v1/patient/{patient_id}", headers=headers).status_code == 200
    rison = f"(filters:!((col:full_name,opr:ct,value:'{name}')))"
    assert desk.get("/api/v1/patient/", query_string={"q": rison}, headers=headers).status_code == 200
    stranger = app.test_client()
    assert stranger.post("/login/", data={"username": "receptionist", "password": PASSWORD + "-wrong"}).status_code

    text, events = json_logs()
    assert any(e["logger"] == "app.access" and e["route"] == "/patientview/show/<pk>" for e in events)
    captured = text + "\n" + caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    digits = re.sub(r"\D", "", phone)
    forbidden = [name, json.dumps(name)[1:-1], "Logtest", digits, digits[1:], email, national_id,
                 PASSWORD, "penicillin", "Lê Lợi"]
    leaks = [word for word in forbidden if word in captured]
    assert not leaks, [line for line in captured.splitlines() if any(w in line for w in leaks)][:5]
