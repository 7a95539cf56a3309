"""Every permission refusal of a request leaves an audit row ("denied": who, which permission on
which view, the path).

FAB decides refusals in three decorators (``flask_appbuilder.security.decorators``: ``has_access``
for pages, ``protect`` for the REST API, ``has_access_api`` for page-side JSON), and each one says so
in the same single place: ``log.warning(LOGMSG_ERR_SEC_ACCESS_DENIED, permission, view)`` on that
module's logger, just before answering 403 (or, for a visitor who is not logged in, sending them to
the login page). FAB has no hook or signal there, and ``SecurityManager.has_access`` itself cannot
be the place: it is also asked, many times a page, whether to draw a menu entry or a button, and
those "no"s are not requests refused. So a logging handler on that logger records the refusal.

Recorded: refusals of a logged-in user (pages answer 403, the API 403). A visitor who is not logged
in is sent to the login page (pages) or answered 401 (API, before this point); those are not
recorded, or every crawler would fill the trail. The row is written in its own short transaction:
the request's own session is left alone (and it is refused anyway).
``tests/test_audit_trail.py`` fails the day FAB stops logging refusals this way."""
from __future__ import annotations

import logging

from flask import current_app, has_request_context, request
from flask_appbuilder.const import LOGMSG_ERR_SEC_ACCESS_DENIED
from sqlalchemy.orm import Session

FAB_DECORATORS_LOGGER = "flask_appbuilder.security.decorators"


def _resource(view: str) -> str:
    """The permission name asked for: pages log their class name ("AuditEventView"), the API its
    permission name ("AuditEvent"); the row names the permission, shared by both."""
    for registered in current_app.appbuilder.baseviews:  # type: ignore[attr-defined]
        if type(registered).__name__ == view:
            return getattr(registered, "class_permission_name", None) or view
    return view


class DenialRecorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.msg != LOGMSG_ERR_SEC_ACCESS_DENIED or not has_request_context():
            return
        from app.audit import record_event
        from app.extensions import db
        from app.fab.actor import acting_user_id

        if acting_user_id() is None:
            return
        permission, view = (tuple(record.args) + (None, None))[:2] if isinstance(record.args, tuple) else (None, None)
        details = {"permission": str(permission), "method": request.method, "path": request.path}
        resource = _resource(str(view))
        if resource != str(view):
            details["view"] = str(view)
        try:
            with Session(db.engine) as session:
                record_event(session, "denied", resource, None, details)
                session.commit()
        except Exception:  # noqa: BLE001 - the refusal stands; the failure is logged, not raised
            current_app.logger.exception("Could not record a permission refusal in the audit trail")


def install() -> None:
    """Once per process (the logger is global); records are written for whichever app serves the request."""
    logger = logging.getLogger(FAB_DECORATORS_LOGGER)
    if not any(isinstance(handler, DenialRecorder) for handler in logger.handlers):
        logger.addHandler(DenialRecorder())
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)  # a quieter logging setup must not switch the trail off
