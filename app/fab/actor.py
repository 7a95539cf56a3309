"""Who is acting: one answer for pages, REST calls and the audit trail."""
from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request
from flask_jwt_extended import get_current_user
from flask_login import current_user


def acting_user() -> Any | None:
    """The logged-in user of this request; None outside a request or when nobody is logged in.

    FAB keeps ``g.user``: the browser session's user before every request, replaced by the
    token's user once an ``Authorization: Bearer`` JWT is checked. Where FAB has not set it (a
    route outside FAB's request hooks), the JWT's user for Bearer calls, else the session's."""
    if not has_request_context():
        return None
    user = g.get("user")
    if user is None and request.headers.get("Authorization", "").startswith("Bearer "):
        try:
            user = get_current_user()
        except RuntimeError:  # the token has not been checked in this request
            user = None
    elif user is None:
        user = current_user
    return user if getattr(user, "is_authenticated", False) else None


def acting_user_id() -> int | None:
    return getattr(acting_user(), "id", None)


def client_address() -> str | None:
    return request.remote_addr if has_request_context() else None
