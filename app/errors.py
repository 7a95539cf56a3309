"""Error pages and JSON errors: a clear message, never a stack trace."""
from __future__ import annotations

from flask import Flask, jsonify, render_template_string, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.services.errors import DomainError

PAGE = """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ code }} · {{ title }}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>{{ title }}</h1><p>{{ message }}</p><p><a href="/">{{ home }}</a></p></body></html>"""


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _respond(code: int, title: str, message: str, payload: dict | None = None):
    if _wants_json():
        return jsonify(payload or {"message": message}), code
    return render_template_string(PAGE, code=code, title=title, message=message, home=_("Back to the start page"),
                                  lang="en"), code


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values)


def register(app: Flask) -> None:
    @app.before_request
    def refuse_nul_bytes():
        """A NUL byte is never part of a clinic's data; PostgreSQL would refuse it deep inside a
        query. Refuse it at the door, for searches, forms and JSON alike."""
        # Form fields are parsed first (files may hold any bytes); a JSON body is read raw and cached.
        refused = _has_nul(request.args.values()) or _has_nul(request.form.values())
        if not refused and request.is_json:
            body = request.get_data(cache=True)
            refused = b"\x00" in body or b"\\u0000" in body
        if refused:
            return _respond(400, _("Bad request"), _("The request contains characters that are not allowed."))

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        return _respond(exc.status, _("Request refused"), exc.message, exc.as_dict())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _respond(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s", request.path)
        return _respond(500, _("Something went wrong"),
                        _("The server could not finish this request. Nothing was saved; please try again."))
