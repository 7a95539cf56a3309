"""The portal's notifications: the signed-in user's own list, mark read, open (a POST that marks
it read and goes to its page). Any login may open it (each sees only their own)."""
from __future__ import annotations

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.public.common import bp, current_path, local, login_url
from app.views.notifications import (
    NotificationActionForm,
    bell_count,
    mark_notifications,
    open_notification,
    page_of_notifications,
)

ENDPOINTS = {"open": "public.open_notification", "read": "public.read_notification",
             "read_all": "public.read_all_notifications", "index": "public.my_notifications"}


def _when(moment) -> str:
    """In clinic time (Babel's ``format_datetime`` would turn it back to its own default zone)."""
    from flask_babel import format_date

    at = local(moment)
    return f"{format_date(at.date(), 'short')} {at:%H:%M}"


@bp.get("/me/notifications")
def my_notifications() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(login_url(current_path()))
    rows, older = page_of_notifications(current_user.id)
    return render_template("public/notifications.html", rows=rows, older=older, form=NotificationActionForm(),
                           when=_when, unread=bell_count(), endpoints=ENDPOINTS, title=_("Notifications"))


@bp.post("/me/notifications/<int:notification_id>/open", endpoint="open_notification")
def open_notification_page(notification_id: int) -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(login_url(url_for("public.my_notifications")))
    return open_notification(current_user.id, notification_id, url_for("public.my_notifications"))


@bp.post("/me/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(login_url(url_for("public.my_notifications")))
    return mark_notifications(current_user.id, [notification_id], url_for("public.my_notifications"))


@bp.post("/me/notifications/read-all")
def read_all_notifications() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(login_url(url_for("public.my_notifications")))
    return mark_notifications(current_user.id, None, url_for("public.my_notifications"))
