"""Structured logs: every log line one event with the context of what it happened in.

``init_app`` (called once per app by the factory, idempotent: tests make many apps) puts one
handler on the root logger: JSON lines (python-json-logger) or a readable console line
(``LOG_FORMAT``). Its filter adds the context and scrubs what must not be logged:

- the context lives in a ``ContextVar`` (``bind``, ``log_context``): a web request's id, method and
  start time (set by a WSGI middleware, so Socket.IO's events, which never reach it, cost nothing
  here), a job's id and function, a socket handler's event; the user id and role come from
  ``g.user`` when a request (or a socket event) context has one loaded, never from a query;
- one access event per request (``app.access``) at its end: route rule (never the raw path, which
  carries tokens: ``/clinic/visit/<token>``), status, duration, user; the request id comes from a
  sane ``X-Request-ID`` or is made here, and goes back in the response's ``X-Request-ID``;
- ``scrub`` replaces the values of sensitive keys (passwords, tokens, names, phones, clinical text)
  in a record's extra fields and dict arguments; query strings keep only the values of harmless
  keys (``scrub_query``). Messages themselves are written by our code, which logs ids only.

Logging never fails a request: the filter and the hooks swallow their own errors.
"""
from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Flask, g, has_request_context, request
from flask.wrappers import Response
from pythonjsonlogger.json import JsonFormatter

HANDLER_NAME = "clinic-structured"
FORMATS = ("json", "console")
REDACTED = "[redacted]"
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")

# A key is sensitive when it contains one of these (lower case): credentials, who the patient is,
# how to reach them, and clinical text.
SENSITIVE_PARTS = (
    "password", "passwd", "pwd", "token", "secret", "authorization", "cookie", "session", "otp",
    "api_key", "apikey", "signature",
    "name", "phone", "email", "mail", "national", "cccd", "cmnd", "id_number", "passport",
    "address", "birth", "dob",
    "complaint", "diagnos", "note", "symptom", "allerg", "history", "finding", "result", "comment",
    "message", "body", "text", "content", "reason", "summary", "instruction",
)
# Query keys whose values are kept in the access event (numbers, dates, enums); any other
# value (a search box's text, FAB's filters, rison ``q``) is replaced.
SAFE_QUERY_KEYS = frozenset({
    "page", "page_size", "psize", "per_page", "order", "order_column", "order_direction", "sort",
    "lang", "locale", "tab", "view", "format", "date", "day", "week", "month", "year", "start",
    "end", "status", "kind", "department", "doctor_id", "patient_id", "appointment_id", "id",
    "since", "after", "before", "limit", "offset", "_", "EIO", "transport", "sid",
})
# Attributes every LogRecord has: never scrubbed (``name`` is the logger's), never treated as extras.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName"}
# The context fields, in the order the console shows them.
CONTEXT_FIELDS = ("request_id", "user_id", "role", "method", "route", "status", "duration_ms",
                  "job_id", "job", "socket_event", "namespace")

_context: ContextVar[Mapping[str, Any]] = ContextVar("clinic_log_context", default=MappingProxyType({}))
filter_errors = 0  # records the filter failed on (still logged: a log line never breaks its caller)


# --- context -------------------------------------------------------------------------------

def bind(**fields: Any) -> None:
    """Add fields to the current context (until the enclosing ``log_context`` ends)."""
    _context.set({**_context.get(), **fields})


def current_context() -> dict[str, Any]:
    return dict(_context.get())


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Fields on every event logged inside the block (a job, a socket handler, a request)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def socket_context(event: str, namespace: str = "/") -> Any:
    """The context of one Socket.IO event: its name and namespace, and a request id of its own
    (an event is not an HTTP request, and python-socketio runs it in a thread of its own, so it
    inherits none): its log events and the audit rows it writes share that id."""
    return log_context(socket_event=event, namespace=namespace, request_id=uuid.uuid4().hex)


def request_id_from(value: str | None) -> str:
    """An incoming request id when it is sane (1-64 of letters, digits, ``._:-``), else a new one."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


# --- scrubbing -----------------------------------------------------------------------------

def is_sensitive(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in SENSITIVE_PARTS)


def scrub(value: Any, depth: int = 0) -> Any:
    """``value`` with the values of sensitive keys replaced, through nested dicts and lists."""
    if depth > 6:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: REDACTED if isinstance(k, str) and is_sensitive(k) else scrub(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, depth + 1) for v in value)
    return value


def scrub_query(query: str | bytes) -> str:
    """A query string with only harmless keys' values kept (``q=Nguyen`` -> ``q=[redacted]``)."""
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v if k in SAFE_QUERY_KEYS and not is_sensitive(k) else REDACTED)
                      for k, v in pairs], safe="[]")


def _user_fields() -> dict[str, Any]:
    """User id and role from what the request (or socket event) already loaded: no query here."""
    if not has_request_context():
        return {}
    user = g.get("user")
    user_id = getattr(user, "id", None) if user is not None else None
    if user_id is None:
        return {}
    fields: dict[str, Any] = {"user_id": user_id}
    roles = getattr(user, "__dict__", {}).get("roles")  # only when already loaded
    if roles:
        fields["role"] = ",".join(sorted(str(getattr(r, "name", r)) for r in roles))
    return fields


class ContextFilter(logging.Filter):
    """Adds the context to each record and scrubs its extras and dict arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        global filter_errors
        try:
            if record.name == "werkzeug" and isinstance(record.msg, str) and '] "%s" %s %s' in record.msg:
                return False  # the dev server's request line carries the raw path: the access event replaces it
            for key, value in record.__dict__.items():
                if key not in _RECORD_ATTRS and key not in CONTEXT_FIELDS:
                    record.__dict__[key] = REDACTED if is_sensitive(key) else scrub(value)
            if isinstance(record.args, Mapping):
                record.args = scrub(record.args)
            fields = {**_user_fields(), **_context.get()}
            for key, value in fields.items():
                if key != "started" and not hasattr(record, key):
                    setattr(record, key, value)
        except Exception:  # noqa: BLE001 - a log line must never break what it describes
            filter_errors += 1
        return True


# --- formats -------------------------------------------------------------------------------

class _JsonFormatter(JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")


def json_formatter() -> logging.Formatter:
    return _JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


class ConsoleFormatter(logging.Formatter):
    """``12:00:01 INFO  app.access  GET /patients/<int:pk> 200  request_id=... user_id=3 ...``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s  %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{k}={record.__dict__[k]}" for k in CONTEXT_FIELDS if record.__dict__.get(k) is not None]
        extras += [f"{k}={v}" for k, v in record.__dict__.items()
                   if k not in _RECORD_ATTRS and k not in CONTEXT_FIELDS and not k.startswith("_")]
        if not extras:
            return line
        first, _sep, rest = line.partition("\n")
        return f"{first}  {' '.join(extras)}" + (f"\n{rest}" if rest else "")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (pytest swaps it for each test)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def log_format(config: Mapping[str, Any], *, debug: bool = False) -> str:
    chosen = str(config.get("LOG_FORMAT") or "").strip().lower()
    if not chosen:
        return "console" if debug or config.get("TESTING") else "json"
    if chosen not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be json or console, not {chosen!r}")
    return chosen


def configure(config: Mapping[str, Any], *, debug: bool = False) -> logging.Handler:
    """The root logger's one structured handler (made once per process, its format and level set
    again by each call). Handlers others put on the root logger (pytest's caplog) stay."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(HANDLER_NAME)
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(json_formatter() if log_format(config, debug=debug) == "json" else ConsoleFormatter())
    level = logging.getLevelName(str(config.get("LOG_LEVEL") or "INFO").upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    from flask.logging import default_handler

    logging.getLogger("app").removeHandler(default_handler)  # Flask's own plain handler: one line per event
    for name in ("sqlalchemy.engine", "sqlalchemy.pool"):  # they log SQL parameters (patients' names)
        quiet = logging.getLogger(name)
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.WARNING)
    return handler


# --- web requests --------------------------------------------------------------------------

class RequestContextMiddleware:
    """WSGI middleware: the request's id, method and start time for everything logged while it
    runs, and ``X-Request-ID`` on the response. Outside Flask's hooks on purpose: Socket.IO's
    events run Flask's request context teardown but never reach this, so they pay nothing."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        token = _context.set({"request_id": request_id, "method": environ.get("REQUEST_METHOD"),
                              "started": time.perf_counter()})

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if not any(k.lower() == "x-request-id" for k, _v in headers):
                headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.wsgi_app(environ, start)
        finally:
            _context.reset(token)


def _access_event(response: Response) -> Response:
    try:
        context = _context.get()
        started = context.get("started")
        fields: dict[str, Any] = {
            "route": request.url_rule.rule if request.url_rule is not None else "<unmatched>",
            "status": response.status_code,
        }
        if started is not None:
            fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        if request.query_string:
            fields["query"] = scrub_query(request.query_string)
        quiet = request.endpoint in ("static", "health.health") or (request.url_rule is not None and
                                                                    request.url_rule.rule.startswith("/static"))
        level = logging.ERROR if response.status_code >= 500 else logging.DEBUG if quiet else logging.INFO
        logging.getLogger("app.access").log(
            level, "%s %s %s", request.method, fields["route"], response.status_code, extra=fields)
    except Exception:  # noqa: BLE001 - logging never fails a request
        pass
    return response


def _bind_route() -> None:
    try:
        if request.url_rule is not None:
            bind(route=request.url_rule.rule)
    except Exception:  # noqa: BLE001
        pass


def init_app(app: Flask) -> None:
    """Structured logs for this app: the root handler, the request context, the access event."""
    configure(app.config, debug=app.debug)
    app.wsgi_app = RequestContextMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    app.before_request_funcs.setdefault(None, []).insert(0, _bind_route)
    app.after_request(_access_event)
