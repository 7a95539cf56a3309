"""Error pages and JSON errors: a clear message, never a stack trace. The one mapping of errors
to answers: a DomainError (from a service, a validation hook or a list query) answers its status
(400/403/404/409/422) with its message, a marshmallow ValidationError (an API schema) 422 naming
every broken field; on pages the same message in an error page."""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, current_app, jsonify, make_response, render_template, render_template_string, request
from flask_babel import gettext as _
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.services.errors import DomainError

PAGE = """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ code }} · {{ title }}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>{{ title }}</h1><p>{{ message }}</p><p><a href="/">{{ home }}</a></p></body></html>"""


def _wants_json() -> bool:
    """The REST API, a caller asking for JSON, and the payment providers' webhooks (machines)."""
    return request.path.startswith(("/api/", "/webhooks/")) or request.accept_mimetypes.best == "application/json"


def _respond(code: int, title: str, message: str, payload: dict | None = None):
    if request.path.startswith("/fhir/"):  # the FHIR API answers every refusal as an OperationOutcome
        from app.api.fhir import outcome_response

        return outcome_response(code, message)
    if _wants_json():
        return jsonify(payload or {"message": message}), code
    return render_template_string(PAGE, code=code, title=title, message=message, home=_("Back to the start page"),
                                  lang="en"), code


def error_response(code: int, title: str, message: str, payload: dict | None = None) -> Response:
    """The answer to a refused request, as a response object (so a caller can add headers): JSON on
    the API, else the error page."""
    return make_response(_respond(code, title, message, payload))


def refusal_in_layout(code: int, title: str, message: str, back_label: str) -> Response:
    """A refusal of a page of the site in the site's own layout (the public site's for its pages,
    the back office's for the others), with a link back to the page (a GET of it: the form again);
    JSON on the API as ``error_response``."""
    if _wants_json():
        return error_response(code, title, message)
    back = {"title": title, "message": message, "back_url": request.path, "back_label": back_label}
    if request.blueprint == "public":
        page = render_template("public/message.html", **back)
    else:
        appbuilder = current_app.appbuilder  # type: ignore[attr-defined]
        page = render_template("clinic/message.html", appbuilder=appbuilder, base_template=appbuilder.base_template,
                               **back)
    return make_response(page, code)


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values)


# JSON nested deeper than this is no clinic record (Python's parser fails with RecursionError,
# a 500, at about a thousand levels).
MAX_JSON_DEPTH = 32


def _json_depth(body: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    """A UTF-16 half (``"\\ud800"`` in JSON) is not a character: databases refuse to store it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def _json_refusal() -> str | None:
    body = request.get_data(cache=True)
    if b"\x00" in body or b"\\u0000" in body:
        return _("The request contains characters that are not allowed.")
    if _json_depth(body) > MAX_JSON_DEPTH:
        return _("The JSON is nested too deeply.")
    if b"\\u" in body.lower():  # only escaped text can hold a lone surrogate
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None  # the endpoint answers "not JSON" itself
        if _has_lone_surrogate(data):
            return _("The request contains characters that are not allowed.")
    return None


def _plain(messages: Any) -> Any:
    """Messages as plain text (a schema's translated messages may still be lazy strings)."""
    if isinstance(messages, dict):
        return {str(key): _plain(value) for key, value in messages.items()}
    if isinstance(messages, (list, tuple)):
        return [_plain(value) for value in messages]
    return str(messages)


def register(app: Flask) -> None:
    @app.before_request
    def refuse_bad_characters():
        """A NUL byte or half a UTF-16 pair is never part of a clinic's data; PostgreSQL would
        refuse it deep inside a query. Refuse it at the door, in the address, searches, forms and
        JSON alike; and JSON nested too deeply for the parser."""
        # Form fields are parsed first (files may hold any bytes); a JSON body is read raw and cached.
        message = None
        if "\x00" in request.path or _has_nul(request.args.values()) or _has_nul(request.form.values()):
            message = _("The request contains characters that are not allowed.")
        elif request.is_json:
            message = _json_refusal()
        if message:
            return _respond(400, _("Bad request"), message)

    @app.errorhandler(ValidationError)
    def invalid_input(exc: ValidationError):
        db.session.rollback()
        return _respond(422, _("Request refused"), _("Some fields are missing or wrong."),
                        {"message": _plain(exc.normalized_messages())})

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
        # the URL rule, not the path: paths carry tokens (/clinic/visit/<token>)
        app.logger.exception("unhandled error on %s", request.url_rule.rule if request.url_rule else "?")
        return _respond(500, _("Something went wrong"),
                        _("The server could not finish this request. Nothing was saved; please try again."))
