"""Administration → Webhooks (Admin only: the permission ``Webhook`` is in no role's
configuration): endpoints (list, create, edit, deactivate, reveal the secret), each endpoint's
delivery log with Resend, and the built-in test receiver's page. Every change is a POST with the
CSRF token; the views call ``app.services.webhooks`` and never do HTTP themselves (the jobs do).

``POST /webhooks/test-receiver/<token>`` is the receiver itself: no login, no CSRF token (it is
called by our own delivery job like any outside server would be; ``app.csrf``), the token from
the app's secret key, the signature checked against the endpoints pointing at it."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.validators import Optional

from app.extensions import db
from app.fab.actor import acting_user_id
from app.jobs.webhooks import allow_http, queue_deliveries
from app.models.types import utcnow
from app.services import webhooks as service
from app.services.errors import FieldErrors, NotFound
from app.services.outbox import EVENT_TYPES
from app.views.fields import format_local

# The event types by their first word, for the checkboxes' headings.
EVENT_GROUPS = {
    "appointment": _l("Appointments"), "encounter": _l("Visits"), "lab": _l("Lab"),
    "prescription": _l("Prescriptions"), "stock": _l("Stock"), "invoice": _l("Invoices"), "patient": _l("Patients"),
}
STATUS_LABELS = {"pending": _l("Pending"), "delivered": _l("Delivered"), "failed": _l("Failed")}


def grouped_event_types() -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for kind in EVENT_TYPES:
        groups.setdefault(kind.split(".")[0], []).append(kind)
    return [(str(EVENT_GROUPS.get(name, name)), kinds) for name, kinds in groups.items()]


class EndpointForm(FlaskForm):
    url = StringField(_l("Endpoint URL"))
    description = StringField(_l("Description"), validators=[Optional()])
    event_types = SelectMultipleField(_l("Events"), choices=[(kind, kind) for kind in EVENT_TYPES],
                                      validate_choice=False)  # the service names an unknown one
    active = BooleanField(_l("Active"), default=True)


class ActionForm(FlaskForm):
    """A button: a POST with the CSRF token (what it acts on is in the URL)."""


def _token() -> str:
    return service.receiver_token(str(current_app.secret_key))


def _base_url() -> str:
    return request.host_url.rstrip("/")


class WebhooksView(BaseView):
    route_base = "/webhooks"
    default_view = "index"
    class_permission_name = "Webhook"
    base_permissions = ["can_read", "can_write"]
    method_permission_name = {"index": "read", "show": "read", "receiver": "read", "new": "write",
                              "edit": "write", "activate": "write", "deactivate": "write", "reveal": "write",
                              "resend": "write"}

    def _page(self, template: str, **context):
        return self.render_template(f"clinic/webhooks/{template}", format_local=format_local,
                                    status_labels=STATUS_LABELS, **context)

    def _form_page(self, form: EndpointForm, endpoint_id: int | None, status: int = 200):
        return self._page("form.html", form=form, endpoint_id=endpoint_id, groups=grouped_event_types(),
                          receiver_url=service.receiver_url(_base_url(),
                                                            _token())), status

    @staticmethod
    def _errors_onto(form: EndpointForm, exc: FieldErrors) -> None:
        for name, message in exc.errors.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*(field.errors or []), message]

    @expose("/")
    @has_access
    def index(self):
        return self._page("index.html", endpoints=service.list_endpoints(db.session), form=ActionForm())

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        form = EndpointForm()
        if request.method == "GET":
            form.url.data = request.args.get("url", "")
            return self._form_page(form, None)
        form.validate()
        if form.csrf_token.errors:
            flash(_("The security token is missing or has expired. Reload the page and try again."), "danger")
            return self._form_page(form, None, 400)
        try:
            endpoint_id, secret = service.create_endpoint(
                db.session, url=form.url.data or "", event_types=form.event_types.data or [],
                description=form.description.data, actor_id=acting_user_id(), now=utcnow(),
                allow_http=allow_http(current_app.config))
        except FieldErrors as exc:
            db.session.rollback()
            self._errors_onto(form, exc)
            return self._form_page(form, None, 422)
        flash(_("The endpoint is saved. Copy its signing secret now: it is shown once."), "success")
        return self._endpoint_page(endpoint_id, secret=secret)

    def _endpoint_page(self, endpoint_id: int, secret: str | None = None):
        try:
            endpoint = service.get_endpoint(db.session, endpoint_id)
        except NotFound:
            abort(404)
        return self._page("endpoint.html", endpoint=endpoint, deliveries=service.deliveries(db.session, endpoint_id),
                          secret=secret, form=ActionForm())

    @expose("/<int:endpoint_id>/")
    @has_access
    def show(self, endpoint_id: int):
        return self._endpoint_page(endpoint_id)

    @expose("/<int:endpoint_id>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, endpoint_id: int):
        try:
            current = service.get_endpoint(db.session, endpoint_id)
        except NotFound:
            abort(404)
        if request.method == "GET":
            form = EndpointForm(data={"url": current.url, "description": current.description,
                                      "event_types": current.event_types, "active": current.active})
            return self._form_page(form, endpoint_id)
        form = EndpointForm()
        form.validate()
        if form.csrf_token.errors:
            flash(_("The security token is missing or has expired. Reload the page and try again."), "danger")
            return self._form_page(form, endpoint_id, 400)
        try:
            service.update_endpoint(db.session, endpoint_id, url=form.url.data or "",
                                    event_types=form.event_types.data or [], description=form.description.data,
                                    active=bool(form.active.data), allow_http=allow_http(current_app.config))
        except FieldErrors as exc:
            db.session.rollback()
            self._errors_onto(form, exc)
            return self._form_page(form, endpoint_id, 422)
        flash(_("The endpoint is saved."), "success")
        return redirect(url_for(f"{self.endpoint}.show", endpoint_id=endpoint_id), 303)

    def _set_active(self, endpoint_id: int, active: bool, done: str):
        if ActionForm().validate_on_submit():
            try:
                service.set_active(db.session, endpoint_id, active)
            except NotFound:
                abort(404)
            flash(done, "success")
        else:
            flash(_("The security token is missing or has expired. Reload the page and try again."), "danger")
        return redirect(url_for(f"{self.endpoint}.show", endpoint_id=endpoint_id), 303)

    @expose("/<int:endpoint_id>/deactivate", methods=["POST"])
    @has_access
    def deactivate(self, endpoint_id: int):
        return self._set_active(endpoint_id, False, _("The endpoint is deactivated: no more events are sent to it."))

    @expose("/<int:endpoint_id>/activate", methods=["POST"])
    @has_access
    def activate(self, endpoint_id: int):
        return self._set_active(endpoint_id, True, _("The endpoint is active again."))

    @expose("/<int:endpoint_id>/reveal", methods=["POST"])
    @has_access
    def reveal(self, endpoint_id: int):
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            secret = service.endpoint_secret(db.session, endpoint_id)
        except NotFound:
            abort(404)
        return self._endpoint_page(endpoint_id, secret=secret)

    @expose("/deliveries/<int:delivery_id>/resend", methods=["POST"])
    @has_access
    def resend(self, delivery_id: int):
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            endpoint_id = service.delivery_endpoint_id(db.session, delivery_id)
            service.resend(db.session, delivery_id, utcnow())
        except NotFound:
            abort(404)
        if current_app.config.get("REDIS_URL"):
            queue_deliveries(current_app.config, [delivery_id])  # a worker sends it; never this request
        flash(_("The event will be sent again within a minute."), "success")
        return redirect(url_for(f"{self.endpoint}.show", endpoint_id=endpoint_id), 303)

    @expose("/test-receiver/")
    @has_access
    def receiver(self):
        token = _token()
        return self._page("receiver.html", receiver_url=service.receiver_url(_base_url(), token),
                          received=service.received_payloads(db.session))


# --- the receiver itself ---------------------------------------------------------------------------

bp = Blueprint("webhook_receiver", __name__)


@bp.post("/webhooks/test-receiver/<token>")
def receive(token: str) -> ResponseReturnValue:
    expected = _token()
    if not service.hmac.compare_digest(token, expected):
        abort(404)
    body = request.get_data(cache=False)
    if len(body) > service.RECEIVER_MAX_BYTES:
        abort(413)
    verified = service.receive_test_payload(db.session, token, body, request.headers.get(service.SIGNATURE_HEADER),
                                            utcnow())
    return jsonify(received=True, verified=verified), 200


def register(app: Flask) -> None:
    app.register_blueprint(bp)
