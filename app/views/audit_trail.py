"""The audit trail screen: admins (and managers, who read it) search by user, action, record,
address and dates; newest first, a page at a time. Read only: no route adds, edits or deletes."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import request
from flask_appbuilder import expose, has_access
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError
from wtforms.widgets import TextInput

from app.extensions import db
from app.models import AuditEvent
from app.services.audit_trail import AuditFilters, AuditPage, audit_choices, search_audit_events
from app.views.base import ClinicInterface, ReadOnlyModelView, clinic_settings
from app.views.fields import LocaleDateField, format_moment
from app.views.labels import RECORD_NAMES

ACTION_LABELS = {
    "create": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted"), "view": _l("Read"),
    "denied": _l("Permission refused"), "login_succeeded": _l("Logged in"), "login_failed": _l("Login failed"),
    "account_locked": _l("Account locked"), "account_unlocked": _l("Account unlocked"),
    "break_glass": _l("Emergency access (break the glass)"), "verify": _l("Trail verified"),
    "profile_update": _l("Own profile changed"), "email_change_requested": _l("New e-mail address asked for"),
    "email_change": _l("E-mail address changed"), "export": _l("All own data downloaded"),
    "read": _l("Record read"), "signup": _l("Signed up"), "signup_linked": _l("Sign-up linked to a patient"),
    "signup_address_taken": _l("Sign-up with an address already in use"),
    "password_change": _l("Own password changed"), "password_set": _l("Password set by an administrator"),
    "password_reset": _l("Password reset by e-mail"), "refresh_reuse": _l("Refresh token used twice"),
    "mfa_enrolled": _l("Two-step login turned on"), "mfa_disabled": _l("Two-step login turned off"),
    "mfa_reset": _l("Two-step login reset by an administrator"), "mfa_refused": _l("Two-step code refused"),
    "mfa_refused_locked": _l("Two-step code refused: too many tries"),
    "mfa_recovery_code_used": _l("Recovery code used"), "mfa_recovery_codes_renewed": _l("Recovery codes renewed"),
    "encounter_signed": _l("Visit record signed"), "encounter_amended": _l("Signed visit record amended"),
    "encounter_discarded": _l("Draft visit record discarded"),
    "lab_result_corrected": _l("Lab result corrected"),
    "lab_results_released": _l("Lab results released to the patient"),
    "invoice_line_added": _l("Invoice line added"), "invoice_line_changed": _l("Invoice line changed"),
    "invoice_line_removed": _l("Invoice line removed"), "invoice_discount": _l("Invoice discount changed"),
    "invoice_issued": _l("Invoice issued"), "invoice_voided": _l("Invoice voided"),
    "payment_recorded": _l("Payment recorded"), "payment_refunded": _l("Payment refunded"),
    "cash_reclosed": _l("Cash close redone"),
    "cash_closed": _l("Cashier's day closed (cash counted)"),
    "message_resent": _l("Message sent again"),
    "invoice_emailed": _l("Invoice e-mailed to the patient"),
    "invoice_email_requested": _l("Invoice e-mail sent again on request"),
    "chat_assigned": _l("Chat conversation assigned"),
    "realtime_denied": _l("Live updates refused (room not allowed)"),
    "call_denied": _l("Video call signalling refused"),
}
# Shown in red: what an auditor looks for first.
ALERT_ACTIONS = ("denied", "login_failed", "account_locked", "break_glass", "delete", "refresh_reuse",
                 "mfa_refused", "mfa_refused_locked", "signup_address_taken", "realtime_denied",
                 "call_denied")
# Entities that are not clinic records (those are named by RECORD_NAMES).
OTHER_ENTITIES = {
    "User": _l("User"), "AuditTrail": _l("Audit trail"), "UserProfile": _l("User profile"),
    "UserSession": _l("Login session"), "RefreshToken": _l("Refresh token"), "AccountLock": _l("Account lock"),
    "AccountLink": _l("Account link to a patient"), "AccountEmail": _l("Account e-mail address"),
    "PendingSignup": _l("Unconfirmed sign-up"), "CareAccessGrant": _l("Break-the-glass access"),
    "PermissionVersion": _l("Permission change counter"), "MfaEnrolment": _l("Two-step login enrolment"),
    "DrugInteraction": _l("Drug interaction"),
    "Icd10Code": _l("ICD-10 code"),
    "LabTest": _l("Lab test (catalogue)"), "LabAnalyte": _l("Lab analyte (catalogue)"),
    "LabReferenceRange": _l("Lab reference range (catalogue)"),
    "GoodsReceipt": _l("Goods receipt"), "GoodsReceiptLine": _l("Goods receipt line"),
    "MedicineDailyUse": _l("Daily use of a medicine"),
    "InvoiceSequence": _l("Invoice number counter"), "ProviderEvent": _l("Payment provider event"),
    "RealtimeRoom": _l("Live-update room"),
    "VideoCall": _l("Video visit call room"), "VideoCallGuest": _l("Guest invited to a video call"),
    "VideoRecording": _l("Video call recording"),
    "RecordingConsent": _l("Consent to a call recording"),
    "RecordingChunk": _l("Piece of a call recording"), "VideoCallFile": _l("File sent in a video call"),
    "WebhookEndpoint": _l("Webhook endpoint"),
}


def action_label(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


def entity_label(name: str) -> str:
    return str(RECORD_NAMES.get(name) or OTHER_ENTITIES.get(name) or name)


class AuditSearchForm(FlaskForm):
    """The search: a GET form (it changes nothing, so it needs no CSRF token and can be bookmarked)."""

    class Meta:
        csrf = False

    user = StringField(_l("User"), [Optional(), Length(max=100)],
                       description=_l("Login, name or user number"))
    action = SelectField(_l("Action"), [Optional()], choices=[])
    entity = SelectField(_l("Record type"), [Optional()], choices=[])
    entity_id = StringField(_l("Record number"), [Optional(), Length(max=60)])
    ip = StringField(_l("Address"), [Optional(), Length(max=45)], description=_l("An address or its beginning"))
    # A plain input: FAB's BS3 widget would put the label where the field shows the date's order.
    since = LocaleDateField(_l("Date from"), [Optional()], widget=TextInput())
    until = LocaleDateField(_l("Date to"), [Optional()], widget=TextInput())

    def validate_until(self, field) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date is before the start date."))

    def filters(self) -> AuditFilters:
        return AuditFilters(user=self.user.data or None, action=self.action.data or None,
                            entity=self.entity.data or None, entity_id=self.entity_id.data or None,
                            ip=self.ip.data or None, since=self.since.data, until=self.until.data)


def when(at: datetime) -> str:
    """An instant in the clinic's zone, the date in the reader's order (03/03/2026 in Vietnamese)."""
    return format_moment(at, seconds=True)


def pretty_details(details: Any) -> str:
    if details is None:
        return ""
    if isinstance(details, str):
        return details
    return json.dumps(details, ensure_ascii=False, indent=2, sort_keys=True)


class AuditEventView(ReadOnlyModelView):
    """FAB's screen for the permission, the menu entry and each row's own page; its list is the
    search below. Only list and show exist: an add, edit or delete URL is a plain 404."""

    datamodel = ClinicInterface(AuditEvent)
    class_permission_name = "AuditEvent"
    include_route_methods = {"list", "show"}
    list_columns = ["at", "user", "action", "entity", "entity_id", "ip"]
    show_columns = ["at", "user", "action", "entity", "entity_id", "ip", "details", "seq", "hash"]
    base_order = ("at", "desc")

    @expose("/list/")
    @has_access
    def list(self):
        session = db.session
        form = AuditSearchForm(request.args)
        actions, entities = audit_choices(session)
        form.action.choices = [("", "—")] + [(code, action_label(code)) for code in actions]
        form.entity.choices = [("", "—")] + [(name, entity_label(name)) for name in entities]
        searched = bool(request.args) and form.validate()
        filters = form.filters() if searched else AuditFilters()
        try:
            page_number = max(1, min(int(request.args.get("page", 1)), 1_000_000))
        except ValueError:
            page_number = 1
        # A search the form refused (a date like 31/02) lists nothing: not every entry as if unfiltered.
        invalid = bool(request.args) and not searched
        page = (AuditPage(rows=[], total=0, page=1, page_size=25) if invalid
                else search_audit_events(session, filters, clinic_settings().timezone, page=page_number))
        args = {key: value for key, value in request.args.items() if key != "page"}
        session.rollback()
        return self.render_template(
            "clinic/audit_trail.html", form=form, page=page, args=args, action_label=action_label, invalid=invalid,
            entity_label=entity_label, pretty_details=pretty_details, when=when, alert_actions=ALERT_ACTIONS,
            title=self.list_title)
