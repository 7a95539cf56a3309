"""The waiting room's public pages, no login (``app.services.waiting_room``):

- ``/queue/display?departments=1,2`` (or ``all``): the TV. Per doctor, the number called in and
  the numbers waiting with their predicted waits; a clock; a chime and a spoken call (Vietnamese)
  when a number is called. ``/queue/display/state`` is its JSON, polled every few seconds by
  ``static/js/queue_display.js`` (and fetched at once on the page's ``realtime:queue`` event;
  ``data-departments`` on the page lists the departments shown, for the Socket.IO client to join
  their public rooms ``display:<department_id>``).
- ``/queue/ticket/<token>``: a patient's own ticket (the QR code on the check-in slip): their
  number, place in the queue and predicted wait; ``/queue/ticket/<token>/state`` is its JSON. A
  link that cannot be used answers with a page (or JSON) that says why.

Only numbers, initials, doctor display names and waits leave these routes. Every route counts
against ``QUEUE_RATE_LIMIT`` per client address (``app.limits``, kind "queue"): 429 with
``Retry-After`` beyond it. Language: the TV's is pinned by ``?_l_=vi`` (one request; the JS passes
it on to its polls); a ticket link carries the patient's as ``?lang=vi``, which applies while the
visitor has not chosen a language on the site (the language switch still works there)."""
from __future__ import annotations

from datetime import datetime
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, current_app, jsonify, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _, refresh

from app.extensions import db
from app.limits import RateLimited, check
from app.models.types import utcnow
from app.public.common import helpers, settings
from app.services import waiting_room
from app.services.errors import DomainError

bp = Blueprint("queue_display", __name__, url_prefix="/queue")
bp.context_processor(helpers)  # the public site's template helpers (clinic name, languages, ...)
POLL_SECONDS = 3
SHOWN_WAITING = 5  # numbers listed per doctor on the TV (the rest are counted)


def _wants_json() -> bool:
    return request.path.endswith("/state")


def rate_limited(view: Callable[..., Any]) -> Callable[..., Any]:
    """Count every request (GETs included: these pages are polled) against QUEUE_RATE_LIMIT."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            check("queue")
        except RateLimited as exc:
            if _wants_json():
                response = jsonify(message=_("Too many requests. Please wait a minute."))
                response.status_code = 429
            else:
                from app.limits import too_many

                response = too_many(exc.retry_after)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        return view(*args, **kwargs)

    return wrapper


def _now() -> datetime:
    return utcnow()


def _state(department_ids: list[int] | None) -> dict[str, Any]:
    now = _now()
    queues = waiting_room.display_state(db.session, department_ids, now, settings=settings())
    return waiting_room.display_json(queues, now, settings())


def _language_query() -> str:
    asked = request.args.get("_l_") or ""
    return asked if asked in current_app.config["LANGUAGES"] else ""


@bp.get("/display")
@rate_limited
def display() -> ResponseReturnValue:
    try:
        department_ids = waiting_room.parse_departments(request.args.get("departments"))
    except DomainError as exc:
        return render_template("public/queue_refused.html", message=exc.message, reason="invalid"), 422
    chosen = waiting_room.departments(db.session, department_ids)
    state = _state(department_ids)
    return render_template("public/queue_display.html", state=state, departments=chosen,
                           all_departments=department_ids is None,
                           departments_param=request.args.get("departments") or "all",
                           language=_language_query(), poll_seconds=POLL_SECONDS, shown=SHOWN_WAITING,
                           zone=str(settings().timezone))


@bp.get("/display/state")
@rate_limited
def display_state() -> ResponseReturnValue:
    try:
        department_ids = waiting_room.parse_departments(request.args.get("departments"))
    except DomainError as exc:
        return jsonify(exc.as_dict()), 422
    return jsonify(_state(department_ids))


def _ticket(token: str) -> waiting_room.Ticket:
    return waiting_room.ticket_state(db.session, token, _now(), secret=current_app.config["SECRET_KEY"],
                                     settings=settings())


def _language_from_link() -> None:
    asked = request.args.get("lang")
    if asked in current_app.config["LANGUAGES"] and session.get("locale") not in current_app.config["LANGUAGES"]:
        session["locale"] = asked
        refresh()


@bp.get("/ticket/<token>")
@rate_limited
def ticket(token: str) -> ResponseReturnValue:
    _language_from_link()
    try:
        state = _ticket(token)
    except waiting_room.TicketRefused as exc:
        db.session.rollback()
        return render_template("public/queue_refused.html", message=exc.message, reason=exc.reason,
                               phone=current_app.config.get("CLINIC_PHONE") or ""), exc.status
    return render_template("public/queue_ticket.html", ticket=state, token=token, poll_seconds=POLL_SECONDS)


@bp.get("/ticket/<token>/state")
@rate_limited
def ticket_state(token: str) -> ResponseReturnValue:
    try:
        state = _ticket(token)
    except waiting_room.TicketRefused as exc:
        db.session.rollback()
        return jsonify(message=exc.message, reason=exc.reason), exc.status
    return jsonify(waiting_room.ticket_json(state))
