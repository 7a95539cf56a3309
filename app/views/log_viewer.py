"""Administration → Logs: the kept log events (INFO and above), searched by text, level, time,
user, route, status and request id; one request's events (web, its jobs, socket) in order beside
its audit rows; the filtered events as JSON lines; a live tail over Socket.IO. Admin only (the
permission ``LogEvent`` is in no role's configuration). Read only: no route changes anything."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import Response, current_app, request, stream_with_context
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import TextInput

from app.extensions import db
from app.services import log_events
from app.services.log_events import LEVELS, LogFilters
from app.views.audit_trail import action_label, entity_label, pretty_details
from app.views.fields import LocaleDateField, clinic_zone, format_moment

SOURCE_LABELS = {"web": _l("Web request"), "job": _l("Background job"), "socket": _l("Live connection"),
                 "process": _l("Server")}
_TIME = r"^([01]?\d|2[0-3]):[0-5]\d$"


class LogSearchForm(FlaskForm):
    """The search: a GET form (it changes nothing: no CSRF token, and it can be bookmarked)."""

    class Meta:
        csrf = False

    text = StringField(_l("Text"), [Optional(), Length(max=log_events.TEXT_MAX)],
                       description=_l("Words in the message"))
    level = SelectField(_l("Level"), [Optional()], choices=[])
    since_day = LocaleDateField(_l("From date"), [Optional()], widget=TextInput())
    since_time = StringField(_l("From time"), [Optional(), Regexp(_TIME, message=_l("Write the time as HH:MM."))],
                             render_kw={"placeholder": "HH:MM", "inputmode": "numeric"})
    until_day = LocaleDateField(_l("To date"), [Optional()], widget=TextInput())
    until_time = StringField(_l("To time"), [Optional(), Regexp(_TIME, message=_l("Write the time as HH:MM."))],
                             render_kw={"placeholder": "HH:MM", "inputmode": "numeric"})
    user = StringField(_l("User"), [Optional(), Length(max=100)], description=_l("Login or user number"))
    route = StringField(_l("Page route"), [Optional(), Length(max=200)],
                        description=_l("As written in the events, e.g. /patients/<int:pk>"))
    status = IntegerField(_l("HTTP status"), [Optional(), NumberRange(100, 599)], widget=TextInput(),
                          render_kw={"inputmode": "numeric"})
    request_id = StringField(_l("Request id"), [
        Optional(), Length(max=64),
        Regexp(r"^[A-Za-z0-9._:\-]+$", message=_l("A request id has letters, digits and . _ : - only."))])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.level.choices = [("", "—")] + [(level, level) for level in LEVELS if level != "DEBUG"]
        self.user_id: int | None = None

    def validate_since_time(self, field) -> None:
        if field.data and not self.since_day.data:
            raise ValidationError(_l("Give the date as well."))

    def validate_until_time(self, field) -> None:
        if field.data and not self.until_day.data:
            raise ValidationError(_l("Give the date as well."))

    def validate_until_day(self, field) -> None:
        since, until = self._moment(self.since_day.data, self.since_time.data, False), \
            self._moment(field.data, self.until_time.data, True)
        if since and until and until < since:
            raise ValidationError(_l("The end is before the start."))

    def validate_user(self, field) -> None:
        if field.data:
            self.user_id = log_events.resolve_user(db.session, field.data.strip())
            if self.user_id is None:
                raise ValidationError(_l("No user has this login or number."))

    @staticmethod
    def _moment(day, text: str | None, end: bool) -> datetime | None:
        """The instant a date and an optional HH:MM mean in the clinic's zone (a day without a time:
        its start, or for the end its last moment)."""
        if day is None:
            return None
        if text:
            hours, minutes = (int(part) for part in text.split(":"))
            local = datetime.combine(day, time(hours, minutes), clinic_zone())
            return local + timedelta(seconds=59, microseconds=999000) if end else local
        local = datetime.combine(day, time(0, 0), clinic_zone())
        return local + timedelta(days=1) - timedelta(milliseconds=1) if end else local

    def filters(self) -> LogFilters:
        return LogFilters(
            text=(self.text.data or "").strip(), level=self.level.data or "",
            since=self._moment(self.since_day.data, self.since_time.data, False),
            until=self._moment(self.until_day.data, self.until_time.data, True),
            user_id=self.user_id, route=(self.route.data or "").strip(), status=self.status.data,
            request_id=(self.request_id.data or "").strip())


def _store() -> Any:
    return current_app.extensions["documents"]


def _before() -> datetime | None:
    """The "older" page's bound (an ISO instant from the previous page), if sane."""
    text = request.args.get("before", "")
    try:
        value = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return value if value is not None and value.tzinfo is not None else None


class LogViewerView(BaseView):
    route_base = "/logs"
    default_view = "index"
    class_permission_name = "LogEvent"
    base_permissions = ["can_read"]
    method_permission_name = {"index": "read", "request_events": "read", "export": "read"}

    def _render(self, template: str, **context: Any) -> str:
        return self.render_template(template, when=lambda at: format_moment(at, seconds=True),
                                    source_label=lambda s: str(SOURCE_LABELS.get(s, s)), **context)

    @expose("/")
    @has_access
    def index(self):
        form = LogSearchForm(request.args)
        searched = bool(request.args) and form.validate()
        invalid = bool(request.args) and not searched
        filters = form.filters() if searched else LogFilters()
        events: list[dict[str, Any]] = []
        unavailable = False
        if not invalid:
            try:
                events = log_events.search_log_events(_store(), filters, before=_before())
            except Exception as exc:  # noqa: BLE001 - the store down (MongoDB gone): say so, the page stays
                current_app.logger.warning("log viewer: the document store failed: %s", type(exc).__name__)
                unavailable = True
        names = log_events.usernames(db.session, {e.get("user_id") for e in events})
        db.session.rollback()
        args = {key: value for key, value in request.args.items() if key != "before"}
        older = events[-1]["created_at"].isoformat() if len(events) >= log_events.PAGE_SIZE else None
        return self._render("clinic/log_viewer.html", form=form, events=events, invalid=invalid, args=args,
                            older=older, unavailable=unavailable, names=names,
                            keeping=bool(current_app.config.get("LOG_DOCUMENTS")),
                            retention=current_app.config.get("LOG_RETENTION_DAYS"),
                            title=_("Logs"))

    @expose("/request/<request_id>")
    @has_access
    def request_events(self, request_id: str):
        if not log_events.is_request_id(request_id):
            return self._render("clinic/log_request.html", request_id=request_id, events=[], rows=[],
                                names={}, bad=True, title=_("Request %(id)s", id=request_id[:64])), 404
        events = log_events.request_events(_store(), request_id)
        rows = log_events.request_audit_rows(db.session, request_id)
        names = log_events.usernames(db.session, {e.get("user_id") for e in events} | {r.user_id for r in rows})
        db.session.rollback()
        return self._render("clinic/log_request.html", request_id=request_id, events=events, rows=rows,
                            names=names, bad=False, action_label=action_label, entity_label=entity_label,
                            pretty_details=pretty_details, title=_("Request %(id)s", id=request_id))

    @expose("/export")
    @has_access
    def export(self):
        form = LogSearchForm(request.args)
        if request.args and not form.validate():
            errors = {name: [str(e) for e in field_errors] for name, field_errors in form.errors.items()}
            return {"message": _("Correct the search to export."), "errors": errors}, 422
        filters = form.filters() if request.args else LogFilters()
        db.session.rollback()
        store = _store()
        stamp = datetime.now(clinic_zone()).strftime("%Y%m%d-%H%M")
        return Response(stream_with_context(log_events.export_lines(store, filters)),
                        mimetype="application/x-ndjson",
                        headers={"Content-Disposition": f'attachment; filename="logs-{stamp}.jsonl"'})
