"""Who is acting: one answer for pages, REST calls and the audit trail."""
from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_jwt_extended import get_current_user
from flask_login import current_user


def acting_user() -> Any | None:
    """The logged-in user of this request: the JWT's for ``Authorization: Bearer`` calls, the
    browser session's otherwise; None outside a request or when nobody is logged in."""
    if not has_request_context():
        return None
    if request.headers.get("Authorization", "").startswith("Bearer "):
        try:
            user = get_current_user()
        except RuntimeError:  # the token has not been checked (yet) in this request
            return None
    else:
        user = current_user
    return user if getattr(user, "is_authenticated", False) else None


def acting_user_id() -> int | None:
    return getattr(acting_user(), "id", None)


def client_address() -> str | None:
    return request.remote_addr if has_request_context() else None
