"""Helpers that build clinic records for tests: through the REST API, as a client would, or
straight through the session where the API cannot write (ledgers and logs are read-only)."""
from __future__ import annotations

import hashlib
import os
import time as time_module
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import cached_property
from typing import Any

import prison
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

# Aware instants, as a client must send them (the clinic is at UTC+7). Bookings must be in the
# future, so the test day is always a few days ahead.
CLINIC_ZONE = timezone(timedelta(hours=7))
DAY = (datetime.now(CLINIC_ZONE) + timedelta(days=5)).date()


def local_time(hhmm: str, days_after: int = 0) -> str:
    """ISO instant at ``hhmm`` clinic time on the test day (plus ``days_after``)."""
    hours, minutes = map(int, hhmm.split(":"))
    moment = datetime.combine(DAY + timedelta(days=days_after), datetime.min.time(), CLINIC_ZONE)
    return (moment + timedelta(hours=hours, minutes=minutes)).isoformat()


START = local_time("09:00")
START_UTC = datetime.fromisoformat(START).astimezone(timezone.utc)


# A screen's own save button: not the log-out button of the navbar (a POST form since logout ends
# the session on the server).
SAVE = "form:not(.menu-form) button[type=submit], form:not(.menu-form) input[type=submit]"


def iso_date(days_from_today: int) -> str:
    """A day counted from the clinic's today (after 17:00 UTC the clinic is already on the next day)."""
    return (datetime.now(CLINIC_ZONE).date() + timedelta(days=days_from_today)).isoformat()


_TOKENS: dict[tuple[int, str], tuple[float, dict]] = {}

# The two-step login secret of the shared users whose role needs it (Admin, Manager, Doctor: conftest).
TOTP_SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"


def enrol(app, username: str, secret: str = TOTP_SECRET) -> None:
    """Turn two-step login on for ``username`` with ``secret`` (no recovery codes)."""
    from app.extensions import db
    from app.models.types import utcnow
    from app.services.accounts.second_factor import enrol_with_secret

    with app.app_context():
        enrol_with_secret(db.session, app.appbuilder.sm.find_user(username=username).id, secret, utcnow())
        db.session.commit()


def login_code(app, username: str) -> str | None:
    """The code for the next login of ``username``, None when they have no two-step login.

    Test only: a code is accepted once (the enrolment keeps the time step of the last code used),
    and the suite logs the same users in many times a minute; so the user's replay marker is
    rewound here before each code. The production check is untouched (tests/test_mfa.py tests it)."""
    import pyotp
    from sqlalchemy import select

    from app.extensions import db
    from app.models.mfa import MfaEnrolment

    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        enrolment = None if user is None else db.session.scalar(
            select(MfaEnrolment).where(MfaEnrolment.user_id == user.id, MfaEnrolment.confirmed_at.is_not(None)))
        if enrolment is None:
            return None
        enrolment.last_used_step, enrolment.failed_codes, enrolment.codes_locked_until = None, 0, None
        db.session.commit()
        return pyotp.TOTP(enrolment.secret).now()


def login_body(app, username: str, password: str | None = None) -> dict:
    """The JSON of an API login, with the two-step code when the user needs one."""
    from tests.conftest import PASSWORD

    body = {"username": username, "password": PASSWORD if password is None else password, "provider": "db"}
    code = login_code(app, username)
    if code is not None:
        body["code"] = code
    return body


def form_login(app, client, username: str, password: str | None = None, next_url: str | None = None):
    """Log ``client`` in through the login form, and the code page when the user has two-step
    login; the last answer (302/303 to where the login leads when it worked)."""
    from tests.conftest import PASSWORD

    url = "/login/" + (f"?next={next_url}" if next_url else "")
    response = client.post(url, data={"username": username, "password": PASSWORD if password is None else password})
    if response.status_code in (302, 303) and response.headers["Location"].startswith("/login/code/"):
        response = client.post("/login/code/", data={"code": login_code(app, username)})
    return response


def token_headers(app, username: str) -> dict:
    """Bearer headers for ``username``, logged in once per few minutes of the test session (a
    password check costs a fifth of a second), renewed well before the token expires
    (JWT_ACCESS_MINUTES: a run on a busy machine lasts longer than one token)."""
    key = (id(app), username)
    made_at, headers = _TOKENS.get(key, (0.0, None))
    lifetime = 60 * int(app.config.get("JWT_ACCESS_MINUTES", 15))
    if headers is None or time_module.monotonic() - made_at > lifetime / 3:
        response = app.test_client().post("/api/v1/security/login", json=login_body(app, username))
        assert response.status_code == 200, response.get_json()
        headers = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
        _TOKENS[key] = (time_module.monotonic(), headers)
    return headers


class Api:
    """A REST client for /api/v1/<resource>/ with one user's token. Every answer is checked for
    a 500, which is always a bug."""

    def __init__(self, client, headers: dict):
        self.client = client
        self.headers = headers

    @staticmethod
    def url(resource: str, pk: Any = None, query: dict | None = None) -> str:
        url = f"/api/v1/{resource}/" + ("" if pk is None else str(pk))
        return url + (f"?q={prison.dumps(query)}" if query else "")

    def _send(self, method: str, url: str, **kwargs):
        response = getattr(self.client, method)(url, headers=self.headers, **kwargs)
        assert response.status_code < 500, f"{method.upper()} {url}: {response.status_code} {response.get_data(True)}"
        return response

    def get(self, resource: str, pk: Any = None, query: dict | None = None):
        return self._send("get", self.url(resource, pk, query))

    def post(self, resource: str, body: Any = None, **kwargs):
        if body is not None:
            kwargs["json"] = body
        return self._send("post", self.url(resource), **kwargs)

    def put(self, resource: str, pk: Any, body: Any = None, **kwargs):
        if body is not None:
            kwargs["json"] = body
        return self._send("put", self.url(resource, pk), **kwargs)

    def delete(self, resource: str, pk: Any):
        return self._send("delete", self.url(resource, pk))

    def create(self, resource: str, body: dict) -> int:
        response = self.post(resource, body)
        assert response.status_code == 201, f"POST {resource} {body}: {response.status_code} {response.get_json()}"
        return response.get_json()["id"]

    def show(self, resource: str, pk: Any) -> dict:
        response = self.get(resource, pk)
        assert response.status_code == 200, f"GET {resource}/{pk}: {response.status_code} {response.get_json()}"
        return response.get_json()["result"]

    def listing(self, resource: str, filters: list[dict] | None = None, page_size: int = 100) -> dict:
        """Rows, ids and count only (``keys: none``: FAB then skips the column metadata, which costs
        as much as the query)."""
        query: dict[str, Any] = {"page_size": page_size, "keys": ["none"]}
        if filters:
            query["filters"] = filters
        response = self.get(resource, query=query)
        assert response.status_code == 200, f"GET {resource} list: {response.status_code} {response.get_json()}"
        return response.get_json()

    def ids(self, resource: str) -> list[int]:
        return self.listing(resource)["ids"]

    def count(self, resource: str) -> int:
        return self.listing(resource, page_size=1)["count"]

    def audit(self, entity: str, entity_id: Any) -> list[dict]:
        return self.listing("audit_event", [
            {"col": "entity", "opr": "eq", "value": entity},
            {"col": "entity_id", "opr": "eq", "value": str(entity_id)},
        ])["result"]


class Clinic:
    """The parent records a test needs, each built once on first use through the same rules every
    screen and the REST API call (``app.services.rules``), as the admin: a test about something
    else does not pay for HTTP, tokens and permission checks. ``add_line`` and ``pay`` stay HTTP
    calls (tests read their answers)."""

    def __init__(self, api: Api, user_id: int, app=None):
        self.api = api
        self.user_id = user_id  # the acting user (admin); also the target of notifications
        self.app = app

    def save(self, item: Any, *more: Any) -> int:
        """Validate ``item`` (and ``more``) with the rules, as the admin in a request, and commit them
        together; the first one's id."""
        from flask import g

        from app.extensions import db
        from app.services import rules
        from app.services.settings import ClinicSettings

        with self.app.test_request_context():
            try:
                settings = ClinicSettings.from_config(self.app.config)
                with db.session.no_autoflush:
                    g.user = self.app.appbuilder.sm.get_user_by_id(self.user_id)  # the audit trail's actor
                    for each in (item, *more):
                        rules.validate(db.session, each, settings, self.user_id)
                        db.session.add(each)
                db.session.commit()
                return item.id
            except Exception:
                db.session.rollback()
                raise
            finally:
                g.pop("user", None)


    def break_glass(self, username: str = "admin", patient: int | None = None) -> None:
        """``username`` (outside the patient's care team: an admin, a doctor with no appointment or
        encounter with them) breaks the glass to read the test patient's clinical record, as they
        must since issue 8 (``app.services.access``): a stated reason, an hour's access."""
        from app.extensions import db
        from app.models.types import utcnow
        from app.services import access

        patient = self.patient if patient is None else patient
        with self.app.test_request_context():
            user = self.app.appbuilder.sm.find_user(username=username)
            access.break_glass(db.session, user, patient, "Test: reads this patient's record", utcnow(), 60)

    @cached_property
    def department(self) -> int:
        from app.models import Department

        return self.save(Department(code="NOI", name="Khoa Nội"))

    @cached_property
    def specialty(self) -> int:
        from app.models import Specialty

        return self.save(Specialty(name="Nội tổng quát"))

    @cached_property
    def doctor(self) -> int:
        """A doctor who works every day from 07:00 to 19:00."""
        from app.models import Doctor, WorkSchedule

        doctor = self.save(Doctor(full_name="Trần Thị Bình", title="BS.", department_id=self.department,
                                  specialty_id=self.specialty, consultation_fee=Decimal(200000)))
        self.save(*(WorkSchedule(doctor_id=doctor, weekday=weekday, start_time=time(7), end_time=time(19),
                                 valid_from=date(2020, 1, 1)) for weekday in range(7)))
        return doctor

    @cached_property
    def patient(self) -> int:
        from app.models import Patient

        return self.save(Patient(full_name="Nguyễn Văn An", phone="0912 345 678"))

    @cached_property
    def service(self) -> int:
        from app.extensions import db
        from app.models import Doctor, Service

        doctor = self.doctor
        with self.app.app_context():
            service = Service(code="KB", name="Khám tổng quát", price=Decimal(150000), duration_minutes=20,
                              department_id=self.department, doctors=[db.session.get(Doctor, doctor)])
            return self.save(service)

    @cached_property
    def appointment(self) -> int:
        from app.models import Appointment

        return self.save(Appointment(patient_id=self.patient, doctor_id=self.doctor, service_id=self.service,
                                     start_at=datetime.fromisoformat(START)))

    @cached_property
    def encounter(self) -> int:
        from app.models import Encounter

        return self.save(Encounter(patient_id=self.patient, doctor_id=self.doctor, appointment_id=self.appointment,
                                   chief_complaint="Sốt"))

    @cached_property
    def lab_order(self) -> int:
        from app.models import LabOrder

        return self.save(LabOrder(patient_id=self.patient, doctor_id=self.doctor, test_code="CBC",
                                  test_name="Công thức máu"))

    @cached_property
    def prescription(self) -> int:
        from app.models import Prescription

        return self.save(Prescription(patient_id=self.patient, doctor_id=self.doctor))

    @cached_property
    def medicine(self) -> int:
        from app.models import Medicine

        return self.save(Medicine(code="PARA500", name="Paracetamol", strength="500 mg", unit="viên",
                                  price=Decimal(1000)))

    @cached_property
    def invoice(self) -> int:
        """An issued invoice of 300 000 VND (two free lines, no VAT), ready to take payments, made
        as the counter makes it (``app.services.billing``)."""
        from app.extensions import db
        from app.services import billing
        from app.services.billing_settings import BillingSettings

        settings = BillingSettings(email_on_issue=False, email_on_payment=False,
                                   vat_rates={"service": Decimal(0), "lab": Decimal(0), "medicine": Decimal(0),
                                              "other": Decimal(0)})
        now = datetime.now(timezone.utc)
        with self.app.app_context():
            draft = billing.new_draft(db.session, self.patient, None, now, settings)
            db.session.commit()
            for description, quantity, unit_price in (("Khám tổng quát", 1, 200000), ("Xét nghiệm máu", 2, 50000)):
                billing.add_line(db.session, draft.id, billing.LineInput(
                    kind="other", description=description, quantity=Decimal(quantity), unit_price=Decimal(unit_price),
                    reason="factory"), None, now, settings, may_change_price=False)
            issued = billing.issue_invoice(db.session, draft.id, None, now, settings, now.year)
            return issued.id

    def pay(self, invoice: int, amount: Any, method: str = "cash") -> int:
        """A payment taken at the counter (``app.services.payments``); its id."""
        from app.extensions import db
        from app.services import payments

        with self.app.app_context():
            payment = payments.record_payment(db.session, invoice, method, amount, None, datetime.now(timezone.utc),
                                              billing=None)
            return payment.id


def add_appointment_event(db, appointment_id: int, to_status: str = "confirmed") -> int:
    from app.models import AppointmentEvent

    event = AppointmentEvent(appointment_id=appointment_id, from_status="requested", to_status=to_status,
                             note="Đã xác nhận qua điện thoại")
    db.session.add(event)
    db.session.commit()
    return event.id


def add_reminder_log(db, appointment_id: int) -> int:
    from app.models import Appointment, ReminderLog

    start = db.session.get(Appointment, appointment_id).start_at
    log = ReminderLog(appointment_id=appointment_id, kind="day_before", channel="email", status="sent",
                      sent_at=datetime.now(timezone.utc), for_start_at=start)
    db.session.add(log)
    db.session.commit()
    return log.id


def as_decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def pick_record(page, picker: str, typed: str, shown: str) -> None:
    """In a browser page, open the search-as-you-type picker after ``picker`` (a CSS selector of
    its select), type ``typed`` and choose the option showing ``shown``."""
    page.click(f"{picker} + .select2 .select2-selection")
    page.fill(".select2-search__field", typed)
    option = page.locator(".select2-results__option", has_text=shown)
    option.wait_for()
    option.click()


class BrowserClient(FlaskClient):
    """The test client as a browser on our pages: every POST/PUT/PATCH/DELETE carries the session's
    CSRF token in the ``X-CSRFToken`` header, as the page's form field or its ``fetch`` call would
    (CSRF protection stays on in the tests). ``csrf=False`` sends a request without it, as another
    site would; a Bearer request needs none and gets none."""

    def open(self, *args: Any, csrf: bool = True, **kwargs: Any):
        method = str(kwargs.get("method") or "GET").upper()
        headers = dict(kwargs.pop("headers", None) or {})
        if csrf and method in {"POST", "PUT", "PATCH", "DELETE"} and not args_have_request(args) \
                and not str(headers.get("Authorization", "")).startswith("Bearer "):
            headers.setdefault("X-CSRFToken", self.csrf_token())
        return super().open(*args, headers=headers, **kwargs)

    def csrf_token(self) -> str:
        """The signed token of this client's session (made and stored as Flask-WTF would)."""
        app = self.application
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
        return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def args_have_request(args: tuple) -> bool:
    """``open()`` called with a ready-made request or environ (Flask's redirect following)."""
    return bool(args) and not isinstance(args[0], str)


def page_csrf_token(html: str) -> str:
    """The CSRF token a page's form carries (the ``csrf_token`` hidden input)."""
    import re

    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html)
    assert tag, "the page has no csrf_token field"
    return re.search(r'value="([^"]+)"', tag.group(0)).group(1)
