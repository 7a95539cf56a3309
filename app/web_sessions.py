"""The request side of ``app.services.accounts.sessions``: a session row for every login, the
session's id for the request that carries it, ending the caller's own session.

- Web: whenever ``flask_login.login_user`` finishes a login (FAB's form, the sign-up, the second
  login step), a ``web`` session starts and the Flask session cookie carries its secret
  (``SESSION_KEY``). ``app.security.ClinicSecurityManager.load_user`` reads the user and the
  session row in one SELECT on every request and refuses an ended, idle or expired one: a cookie
  copied before logout is worth nothing after it.
- API: the login starts an ``api`` session; its access tokens carry the row's id in ``sid``
  (``load_user_jwt`` checks it the same way), its refresh tokens belong to it.

How long a session lives depends on who logs in: staff (any role other than Patient)
``STAFF_IDLE_MINUTES`` without a request, patients ``PATIENT_IDLE_MINUTES``; every session at
most ``SESSION_MAX_HOURS`` (web) or ``JWT_REFRESH_DAYS`` (API)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, current_app, g, has_request_context, request, session
from flask_login import logout_user, user_logged_in

from app.extensions import db
from app.models.types import utcnow
from app.services.accounts import sessions as service
from app.services.roles import is_staff, role_names

SESSION_KEY = "_sid"  # in the Flask session cookie: the session's secret


def is_patient(user: Any) -> bool:
    """A login with the Patient role only (a login without roles keeps the staff limits)."""
    names = role_names(user)
    return bool(names) and not is_staff(names)


def policy_for(user: Any, kind: str) -> service.Policy:
    config = current_app.config
    minutes = config["PATIENT_IDLE_MINUTES"] if is_patient(user) else config["STAFF_IDLE_MINUTES"]
    lifetime = (timedelta(hours=config["SESSION_MAX_HOURS"]) if kind == "web"
                else timedelta(days=config["JWT_REFRESH_DAYS"]))
    return service.Policy(idle=timedelta(minutes=minutes), lifetime=lifetime)


def _client() -> tuple[str | None, str | None]:
    return request.remote_addr, request.headers.get("User-Agent")


def start_api_session(user: Any) -> str:
    """A new API session for ``user`` (the caller commits); its id, for the tokens' ``sid``."""
    ip, agent = _client()
    _secret, session_id = service.start_session(db.session, user_id=user.id, kind="api", now=utcnow(),
                                                policy=policy_for(user, "api"), ip=ip, user_agent=agent)
    return session_id


def _on_login(app: Flask, user: Any, **_extra: Any) -> None:
    """A login finished (``flask_login.login_user``): a new web session, the old one (a login
    over another login in the same browser) ended."""
    now = utcnow()
    previous = session.pop(SESSION_KEY, None)
    if previous:
        service.end_session(db.session, service.digest(previous), now, reason="replaced")
    ip, agent = _client()
    secret, session_id = service.start_session(db.session, user_id=user.id, kind="web", now=now,
                                               policy=policy_for(user, "web"), ip=ip, user_agent=agent)
    db.session.commit()
    session[SESSION_KEY] = secret
    g.clinic_session_id = session_id


def cookie_session_id() -> str | None:
    """The id of the session the browser's cookie names (not checked: see ``current_session_id``)."""
    secret = session.get(SESSION_KEY) if has_request_context() else None
    return service.digest(secret) if isinstance(secret, str) and secret else None


def current_session_id() -> str | None:
    """The checked session of this request: the one its user was loaded with (web cookie or
    access token). Pass it as ``keep_session_id`` to ``end_user_sessions`` to spare the caller's
    own session. None outside a request or before the user is loaded."""
    if not has_request_context():
        return None
    if "clinic_session_id" not in g:
        from flask_login import current_user

        getattr(current_user, "is_authenticated", None)  # loads the user (and checks the session)
    return g.get("clinic_session_id")


def mark_loaded(session_id: str, state: service.SessionState) -> None:
    """Called by the user loaders once the session is found live: remembered for this request,
    and its last use recorded (at most once a minute, on its own connection and transaction, so
    that the request's own work is never committed early)."""
    g.clinic_session_id = session_id
    now = utcnow()
    if service.needs_touch(state, now):
        with db.engine.begin() as connection:
            service.touch_session(connection, session_id, now)


def end_current_session(reason: str = "logout") -> None:
    """Log the browser out: its session row ends (the cookie is then dead everywhere) and the
    cookie forgets the user. Commits."""
    session_id = cookie_session_id()
    if session_id is not None:
        service.end_session(db.session, session_id, utcnow(), reason=reason)
        db.session.commit()
    logout_user()
    session.pop(SESSION_KEY, None)
    g.pop("clinic_session_id", None)


def init_app(app: Flask) -> None:
    """``app`` may be ``current_app`` (FAB passes the proxy): the signal needs the app itself."""
    real = getattr(app, "_get_current_object", lambda: app)()
    user_logged_in.connect(_on_login, real)
