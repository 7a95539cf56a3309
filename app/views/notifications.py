"""The signed-in user's own notifications (the bell): the back office's list under /notifications,
and the bell's count for every page (one COUNT on the indexed ``(user_id, read_at)``, once per
request). The patient portal's list is app/public/notifications.py; both use the same service
(app.services.notifications) and the same template parts.

Opening a notification is a POST (it marks it read, then redirects to its record): no GET changes
anything."""
from __future__ import annotations

import logging
from typing import Any

from flask import current_app, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.services import notifications as notification_service
from app.views.fields import format_moment

PAGE_SIZE = 50
log = logging.getLogger(__name__)


class NotificationActionForm(FlaskForm):
    """Mark read, mark all read, open: only the CSRF token (the ids are in the URL)."""


def bell_count() -> int | None:
    """The signed-in user's unread count (None for a guest: no bell), one query per request."""
    if not getattr(current_user, "is_authenticated", False):
        return None
    cached = g.get("_bell_count")
    if cached is None:
        try:
            cached = notification_service.unread_count(db.session, current_user.id)
        except SQLAlchemyError:  # an error page after a failed transaction: a bell at 0 rather than no page
            log.warning("unread count unavailable", exc_info=True)
            return None
        g._bell_count = cached
    return int(cached)


def safe_link(link: str | None) -> str | None:
    """A notification's link, if it stays inside this app (a path, never ``//host``)."""
    if link and link.startswith("/") and not link.startswith("//") and "\\" not in link:
        return link
    return None


def before_id_arg() -> int | None:
    try:
        value = int(request.args.get("before", ""))
    except ValueError:
        return None
    return value if 0 < value < 2**31 else None


def page_of_notifications(user_id: int) -> tuple[list, int | None]:
    """The user's notifications (newest first; unread ones are highlighted) and the id to ask for
    the next page with, if there is one."""
    rows = notification_service.list_notifications(db.session, user_id, limit=PAGE_SIZE + 1,
                                                   before_id=before_id_arg())
    more = rows[PAGE_SIZE:]
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].id if more and rows else None)


def open_notification(user_id: int, notification_id: int, fallback: str) -> ResponseReturnValue:
    """Mark one of the user's own notifications read and go to its record (another user's id: back
    to the list, nothing changed)."""
    form = NotificationActionForm()
    if not form.validate():
        flash(_("The form has expired. Please try again."), "danger")
        return redirect(fallback)
    notification_service.mark_read(db.session, user_id, [notification_id])
    link = notification_service.link_of(db.session, user_id, notification_id)
    return redirect(safe_link(link) or fallback)


def mark_notifications(user_id: int, notification_ids: list[int] | None, back: str) -> ResponseReturnValue:
    form = NotificationActionForm()
    if not form.validate():
        flash(_("The form has expired. Please try again."), "danger")
        return redirect(back)
    notification_service.mark_read(db.session, user_id, notification_ids)
    if notification_ids is None:
        flash(_("All your notifications are marked as read."), "success")
    return redirect(back)


class NotificationsView(BaseView):
    """Every signed-in user's own list (no permission beyond being signed in: each sees only their own)."""

    route_base = "/notifications"
    default_view = "index"

    def _login(self) -> Any:
        return redirect(self.appbuilder.get_url_for_login_with(request.full_path.rstrip("?")))

    @expose("/")
    def index(self) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return self._login()
        rows, older = page_of_notifications(current_user.id)
        return self.render_template(
            "notifications/office.html", rows=rows, older=older, form=NotificationActionForm(),
            when=format_moment, title=_("Notifications"), unread=bell_count(),
            endpoints={"open": "NotificationsView.open", "read": "NotificationsView.read",
                       "read_all": "NotificationsView.read_all", "index": "NotificationsView.index"})

    @expose("/<int:notification_id>/open", methods=["POST"])
    def open(self, notification_id: int) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return self._login()
        return open_notification(current_user.id, notification_id, url_for(".index"))

    @expose("/<int:notification_id>/read", methods=["POST"])
    def read(self, notification_id: int) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return self._login()
        return mark_notifications(current_user.id, [notification_id], url_for(".index"))

    @expose("/read-all", methods=["POST"])
    def read_all(self) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return self._login()
        return mark_notifications(current_user.id, None, url_for(".index"))


def register_notification_globals(app: Any = None) -> None:
    (app or current_app).jinja_env.globals["bell_count"] = bell_count
