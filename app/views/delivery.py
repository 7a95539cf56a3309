"""The delivery dashboard (/messages): every outgoing message, newest first, with filters, the
period's counts per status and per skip reason, one message as it was sent, and "Send again" on a
failed one. Permission ``OutboundMessage`` (read: the pages; write: send again). Thin: the reads
are app.services.messaging.dashboard, the resend app.services.messaging.delivery."""
from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError
from wtforms.widgets import TextInput

from app.extensions import db
from app.fab.actor import acting_user_id
from app.fab.hooks import clinic_settings
from app.i18n import choice_label
from app.models.messaging import MESSAGE_CHANNELS, MESSAGE_STATUSES
from app.models.types import utcnow
from app.services.errors import DomainError, NotFound
from app.services.messaging import dashboard
from app.services.messaging.delivery import enqueue_deliveries, resend_message
from app.views.fields import LocaleDateField, format_moment

# A reader's name for each kind of message (a kind not listed shows as its code in words).
KIND_LABELS = {
    "plain": _l("General message"),
    "appointment_reminder": _l("Appointment reminder"),  # app.services.reminder_rules.REMINDER_KIND
    "appointment_booked": _l("Booking received"),  # app.services.notices
    "appointment_confirmed": _l("Appointment confirmed"),
    "appointment_cancelled": _l("Appointment cancelled"),
    "appointment_moved": _l("Appointment moved"),
    "lab_results_ready": _l("Lab result released"),  # app.services.messaging.notice_renderers
    "prescription_ready": _l("Prescription ready for pickup"),
    "stock_digest": _l("Stock digest"),
    "review_invitation": _l("Invitation to review a visit"),  # app.services.notices (reviews)
    "review_hidden": _l("Review not published"),
    "invoice_issued": _l("Invoice issued"),  # app.services.invoice_mail.MESSAGE_KINDS
    "invoice_paid": _l("Invoice paid"),
    "account_confirm": _l("Sign-up confirmation"),  # app.services.account_mail
    "account_exists": _l("Sign-up with an address already in use"),
    "password_reset": _l("Password reset"),
    "email_change": _l("E-mail change link"),
    "email_change_taken": _l("E-mail change refused: address in use"),
    "email_change_notice": _l("E-mail change notice"),
    "email_changed": _l("E-mail address changed"),
    "account_locked": _l("Account locked"),
}
CHANNEL_LABELS = {"email": _l("E-mail"), "sms": _l("SMS"), "zalo": _l("Zalo")}
STATUS_LABELS = {"queued": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"), "failed": _l("Failed"),
                 "skipped": _l("Skipped")}
SKIP_LABELS = {
    "opted_out": _l("Opted out"),
    "quiet_hours": _l("Quiet hours"),
    "cancelled": _l("Appointment cancelled"),
    "moved": _l("Appointment moved"),
    "not_due": _l("No longer due"),
    "gone": _l("The record no longer exists"),
}


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return str(label) if label is not None else choice_label(kind)


def skip_label(reason: str | None, channel: str | None = None) -> str:
    """The skip reason in words; "no address" says which: an e-mail address or a phone number."""
    if not reason:
        return ""
    if reason == "no_address":
        if channel == "email":
            return _("No e-mail address on file")
        if channel in ("sms", "zalo"):
            return _("No phone number on file")
        return _("No address on file")
    label = SKIP_LABELS.get(reason)
    return str(label) if label is not None else choice_label(reason)


class MessageFilterForm(FlaskForm):
    """The filters: a GET form (changes nothing: no CSRF token, can be bookmarked)."""

    class Meta:
        csrf = False

    channel = SelectField(_l("Sent through"), [Optional()])  # "Channel" is the booking channel
    status = SelectField(_l("Status"), [Optional()])
    kind = SelectField(_l("Kind"), [Optional()])
    # day/month/year also in English: the clinic writes 02/12/2026 for 2 December, never month first
    date_from = LocaleDateField(_l("Date from"), [Optional()], widget=TextInput(), day_first=True)
    date_to = LocaleDateField(_l("Date to"), [Optional()], widget=TextInput(), day_first=True)
    recipient = StringField(_l("Recipient"), [Optional(), Length(max=100)],
                            description=_l("Name, e-mail address or phone"))

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class ResendForm(FlaskForm):
    """Send a failed message again: only the CSRF token."""


def _filter_form() -> MessageFilterForm:
    form = MessageFilterForm(request.args)
    form.channel.choices = [("", "—")] + [(c, str(CHANNEL_LABELS.get(c, c))) for c in MESSAGE_CHANNELS]
    form.status.choices = [("", "—")] + [(s, str(STATUS_LABELS.get(s, s))) for s in MESSAGE_STATUSES]
    kinds = dict.fromkeys([*KIND_LABELS, *dashboard.message_kinds(db.session)])
    form.kind.choices = [("", "—")] + sorted(((k, kind_label(k)) for k in kinds), key=lambda c: c[1])
    return form


def _helpers() -> dict[str, Any]:
    return {"fmt_time": format_moment, "kind_label": kind_label, "skip_label": skip_label,
            "channel_label": lambda c: str(CHANNEL_LABELS.get(c, c)),
            "status_label": lambda s: str(STATUS_LABELS.get(s, s))}


class DeliveryView(BaseView):
    route_base = "/messages"
    default_view = "index"
    class_permission_name = "OutboundMessage"
    method_permission_name = {"index": "read", "show": "read", "resend": "write"}
    base_permissions = ["can_read", "can_write"]

    @expose("/")
    @has_access
    def index(self) -> ResponseReturnValue:
        form = _filter_form()
        searched = bool({k for k in request.args if k != "page"})
        valid = form.validate() if searched else True
        try:
            page = max(1, min(int(request.args.get("page", 1)), 100_000))
        except ValueError:
            page = 1
        settings = clinic_settings()
        chosen = dashboard.MessageFilter(
            channel=form.channel.data or None, status=form.status.data or None, kind=form.kind.data or None,
            date_from=form.date_from.data, date_to=form.date_to.data, recipient=form.recipient.data or None,
            phone_region=settings.phone_region,
        ) if valid else dashboard.MessageFilter()
        results = dashboard.list_messages(db.session, chosen, settings.timezone, page=page)
        args = {key: value for key, value in request.args.items() if key != "page"}
        return self.render_template("clinic/messages.html", form=form, results=results, args=args,
                                    invalid=not valid, title=_("Delivery dashboard"), **_helpers()), \
            (200 if valid else 422)

    @expose("/<int:message_id>")
    @has_access
    def show(self, message_id: int) -> ResponseReturnValue:
        message = dashboard.message_detail(db.session, message_id)
        if message is None:
            raise NotFound(_("There is no such message."))
        may_resend = self.appbuilder.sm.has_access("can_write", self.class_permission_name)
        return self.render_template("clinic/message_show.html", message=message, form=ResendForm(),
                                    may_resend=may_resend, title=_("Message"), **_helpers())

    @expose("/<int:message_id>/resend", methods=["POST"])
    @has_access
    def resend(self, message_id: int) -> ResponseReturnValue:
        form = ResendForm()
        if not form.validate():
            flash(_("The form has expired. Please try again."), "danger")
            return redirect(url_for(".show", message_id=message_id))
        try:
            resend_message(db.session, message_id, actor_id=acting_user_id(), now=utcnow())
        except NotFound:
            db.session.rollback()
            raise
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return redirect(url_for(".show", message_id=message_id))
        enqueue_deliveries(current_app.config, [message_id])
        flash(_("The message is queued to be sent again."), "success")
        return redirect(url_for(".show", message_id=message_id))
