"""The read-only HL7 FHIR R4 API under ``/fhir/R4`` (issue 17, item 5). Thin: who reads (the
REST API's bearer JWT, or the back office's session), then one service call
(``app.services.fhir``); every refusal is an ``OperationOutcome`` with its status.

Access: the permission ``can_read`` on ``FHIR`` (``app.permissions.FHIR_ROLES``), then per resource
type the role's read permission on the records behind it (``Patient``, ``Encounter``, ...), and
the care-team rule of ``app.services.access`` on every patient record. Writes are not served: 405."""
from __future__ import annotations

import logging
from functools import wraps
from typing import Any, Callable

from flask import Response, current_app, g, json, request
from flask_appbuilder.api import BaseApi, expose
from flask_babel import gettext as _
from flask_jwt_extended import get_current_user, verify_jwt_in_request
from flask_login import current_user

from app.extensions import db
from app.fab.hooks import clinic_settings
from app.models.types import utcnow
from app.permissions import FHIR_PERMISSION
from app.services.errors import DomainError
from app.services.fhir import bundle, search
from app.services.fhir.errors import FhirError, operation_outcome
from app.services.roles import is_staff, role_names

log = logging.getLogger(__name__)
READ_PERMISSIONS = sorted({name for names in search.TYPE_PERMISSIONS.values() for name in names})


def fhir_response(data: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status, mimetype=bundle.MEDIA_TYPE)


def outcome_response(status: int, message: str, parameter: str | None = None) -> Response:
    return fhir_response(operation_outcome(status, message, parameter), status)


def _reader() -> search.Reader:
    """The logged-in reader (a session, else a valid bearer JWT) with the permissions it reads;
    401 or 403 ``FhirError`` otherwise."""
    user = current_user if getattr(current_user, "is_authenticated", False) else None
    if user is None:
        try:
            verify_jwt_in_request()
            user = get_current_user()
        except Exception:  # missing, expired, forged, malformed: flask-jwt-extended and PyJWT raise many kinds
            user = None
        if user is None or not getattr(user, "is_active", False):
            raise FhirError(401, _("Log in first: send a bearer token from the REST API's login."))
        g.user = user  # the audit trail's actor
    sm = current_app.appbuilder.sm  # type: ignore[attr-defined]
    if not sm.has_access("can_read", FHIR_PERMISSION):
        raise FhirError(403, _("Your role may not use the FHIR API."))
    permissions = frozenset(name for name in READ_PERMISSIONS if sm.has_access("can_read", name))
    return search.Reader(user, permissions, not is_staff(role_names(user)))


def fhir_endpoint(func: Callable[..., Response]) -> Callable[..., Response]:
    """Every answer of the API in FHIR's terms: errors as ``OperationOutcome``, never a 500 page."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return func(*args, **kwargs)
        except FhirError as exc:
            db.session.rollback()
            return outcome_response(exc.status, exc.message, exc.parameter)
        except DomainError as exc:  # the care-team refusal (403), no such patient (404)
            db.session.rollback()
            return outcome_response(exc.status, exc.message)
        except Exception:
            db.session.rollback()
            log.exception("FHIR request failed: %s", request.url_rule.rule if request.url_rule else "?")
            return outcome_response(500, _("The server could not finish this request."))

    return wrapper


def _base_url() -> str:
    return request.host_url.rstrip("/") + FhirApi.route_base


WRITES = ["POST", "PUT", "PATCH", "DELETE"]


class FhirApi(BaseApi):
    route_base = "/fhir/R4"
    resource_name = "fhir"
    class_permission_name = FHIR_PERMISSION
    base_permissions = ["can_read"]
    allow_browser_login = True

    def add_api_spec(self, api_spec: Any) -> None:
        """Not in the OpenAPI document: FHIR describes itself (``/fhir/R4/metadata``)."""

    @expose("/metadata", methods=["GET"])
    @fhir_endpoint
    def metadata(self) -> Response:
        """The CapabilityStatement: public, as FHIR clients read it before logging in."""
        name = str(current_app.config.get("APP_NAME") or "Clinic")
        return fhir_response(bundle.capability_statement(_base_url(), name, utcnow()))

    @expose("/<type_name>", methods=["GET"])
    @fhir_endpoint
    def search_type(self, type_name: str) -> Response:
        search.check_type(type_name)
        reader = _reader()
        pairs = list(request.args.items(multi=True))
        now = utcnow()
        page = search.search(db.session, reader, type_name, pairs, now, clinic_settings())
        return fhir_response(bundle.search_bundle(_base_url(), type_name, pairs, page, now))

    @expose("/<type_name>/<resource_id>", methods=["GET"])
    @fhir_endpoint
    def read(self, type_name: str, resource_id: str) -> Response:
        search.check_type(type_name)
        reader = _reader()
        return fhir_response(search.read(db.session, reader, type_name, resource_id, utcnow(), clinic_settings()))

    @expose("/Patient/<patient_id>/$everything", methods=["GET"])
    @fhir_endpoint
    def everything(self, patient_id: str) -> Response:
        reader = _reader()
        now = utcnow()
        resources = search.everything(db.session, reader, patient_id, now, clinic_settings())
        return fhir_response(bundle.everything_bundle(_base_url(), patient_id, resources, now))

    @expose("/", methods=WRITES)
    @expose("/<type_name>", methods=WRITES)
    @expose("/<type_name>/<resource_id>", methods=WRITES)
    @fhir_endpoint
    def refuse_write(self, **_ignored: str) -> Response:
        """The API is read-only (the addresses of its reads answer 405 to every write)."""
        response = outcome_response(405, _("This FHIR API is read-only."))
        response.headers["Allow"] = "GET"
        return response
