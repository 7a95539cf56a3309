"""What the event notices say (the patient's e-mail, SMS and Zalo; rendered when sent, in the
message's language): appointment booked / confirmed / cancelled / moved, lab results ready,
medicines ready for pickup, and the pharmacy's daily stock digest.

The messages carry only what the recipient needs to act: a time, a doctor, the clinic. Results
never carry values (nor the test's name): the patient reads them in the portal after signing in;
a prescription never lists its medicines. Every e-mail has an HTML and a plain-text part made
from the same pieces (``mail/notice.html``)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Appointment, OutboundMessage
from app.services.messaging.render import Rendered, Skip, renderer
from app.services.settings import public_base_url

APPOINTMENT_KINDS = ("appointment_booked", "appointment_confirmed", "appointment_cancelled", "appointment_moved")
LAB_KIND = "lab_results_ready"
PRESCRIPTION_KIND = "prescription_ready"
DIGEST_KIND = "stock_digest"
REVIEW_INVITE_KIND = "review_invitation"
REVIEW_HIDDEN_KIND = "review_hidden"
PORTAL_APPOINTMENTS = "/clinic/me/appointments"
PORTAL_RESULTS = "/clinic/me/results"
PHARMACY_DASHBOARD = "/pharmacy/dashboard"


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    numeric: tuple[int, ...] = ()  # columns aligned right


@dataclass
class Notice:
    """The pieces of one e-mail: both parts are made from them."""
    subject: str
    greeting: str
    lead: str
    items: list[str] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    note: str | None = None
    action: tuple[str, str] | None = None  # (url, label)


def _zone(config: Mapping) -> ZoneInfo:
    return ZoneInfo(config.get("CLINIC_TIMEZONE", "Asia/Ho_Chi_Minh"))


def local_time(moment: datetime | str, config: Mapping, fmt: str = "%H:%M %d/%m/%Y") -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(_zone(config)).strftime(fmt)


def public_url(config: Mapping, path: str) -> str:
    return public_base_url(config) + path


def _clinic(config: Mapping) -> dict[str, str]:
    return {"name": str(config.get("APP_NAME") or "Clinic"), "address": str(config.get("CLINIC_ADDRESS") or ""),
            "phone": str(config.get("CLINIC_PHONE") or "")}


def _greeting(message: OutboundMessage) -> str:
    name = (message.recipient_name or "").strip()
    return _("Dear %(name)s,", name=name) if name else _("Hello,")


def plain_text(notice: Notice, clinic: Mapping[str, str]) -> str:
    lines = [notice.greeting, "", notice.lead]
    if notice.items:
        lines += [""] + [f"- {item}" for item in notice.items]
    if notice.details:
        lines += [""] + [f"{label}: {value}" for label, value in notice.details]
    for table in notice.tables:
        lines += ["", table.title, "-" * len(table.title)]
        lines += [" | ".join(table.headers)]
        lines += [" | ".join(row) for row in table.rows]
    if notice.note:
        lines += ["", notice.note]
    if notice.action:
        url, label = notice.action
        lines += ["", f"{label}: {url}"]
    lines += ["", "--", clinic["name"]]
    lines += [part for part in (clinic["address"], clinic["phone"] and _("Phone: %(phone)s", phone=clinic["phone"]))
              if part]
    return "\n".join(lines) + "\n"


def compose(notice: Notice, message: OutboundMessage, config: Mapping, short_text: str,
            template_data: dict[str, Any] | None = None) -> Rendered:
    clinic = _clinic(config)
    html = render_template("mail/notice.html", notice=notice, clinic=clinic, language=message.language)
    return Rendered(subject=notice.subject, text=plain_text(notice, clinic), html=html, short_text=short_text,
                    template=message.kind, template_data=dict(template_data or {}))


# --- appointments ---------------------------------------------------------------------------


def doctor_name(appointment: Appointment) -> str:
    """The doctor as the patient reads it (with their title)."""
    doctor = appointment.doctor
    if doctor is None:
        return ""
    return " ".join(part for part in ((doctor.title or "").strip(), doctor.full_name) if part)


@renderer("appointment_booked")
@renderer("appointment_confirmed")
@renderer("appointment_cancelled")
@renderer("appointment_moved")
def render_appointment(session: Session, message: OutboundMessage, config: Mapping) -> Rendered | Skip:
    """params: appointment_id, start_at (ISO, UTC), status (at booking), old_start_at (moved),
    starts (a series: every visit's start)."""
    params = message.params or {}
    appointment = session.get(Appointment, int(params["appointment_id"]))
    if appointment is None:
        return Skip("gone")
    event = message.kind.removeprefix("appointment_")
    starts: Sequence[str] = params.get("starts") or []
    start = datetime.fromisoformat(params["start_at"])
    if event != "cancelled":
        # Later news makes this one wrong: the cancellation (or the move) has its own notice.
        if appointment.status == "cancelled":
            return Skip("cancelled")
        if not starts and appointment.start_at != start:
            return Skip("moved")
    clinic = _clinic(config)
    when = local_time(start, config)
    doctor = doctor_name(appointment)
    service = appointment.service.name if appointment.service is not None else ""
    args = {"when": when, "doctor": doctor, "service": service, "clinic": clinic["name"], "n": len(starts)}
    items = [local_time(s, config) for s in starts]
    if event == "booked" and params.get("status") == "requested":
        subject = _("We have received your booking request")
        lead = _("We have received your request for an appointment at %(when)s with %(doctor)s (%(service)s). "
                 "The clinic will confirm it soon.", **args)
        sms = _("%(clinic)s: we received your booking request for %(when)s with %(doctor)s. We will confirm it "
                "soon.", **args)
    elif event == "booked" and starts:
        subject = _("Your %(n)d appointments are booked", **args)
        lead = _("Your %(n)d appointments with %(doctor)s (%(service)s) are booked:", **args)
        sms = _("%(clinic)s: %(n)d appointments with %(doctor)s are booked, the first at %(when)s.", **args)
    elif event == "booked":
        subject = _("Your appointment is booked")
        lead = _("Your appointment is booked for %(when)s with %(doctor)s (%(service)s).", **args)
        sms = _("%(clinic)s: your appointment at %(when)s with %(doctor)s is booked.", **args)
    elif event == "confirmed":
        subject = _("Your appointment is confirmed")
        lead = _("Your appointment at %(when)s with %(doctor)s (%(service)s) is confirmed.", **args)
        sms = _("%(clinic)s: your appointment at %(when)s with %(doctor)s is confirmed.", **args)
    elif event == "cancelled" and starts:
        subject = _("Your appointments are cancelled")
        lead = _("These %(n)d appointments with %(doctor)s are cancelled:", **args)
        sms = _("%(clinic)s: %(n)d appointments with %(doctor)s from %(when)s on are cancelled.", **args)
    elif event == "cancelled":
        subject = _("Your appointment is cancelled")
        lead = _("Your appointment at %(when)s with %(doctor)s is cancelled.", **args)
        sms = _("%(clinic)s: your appointment at %(when)s with %(doctor)s is cancelled.", **args)
    else:
        args["old"] = local_time(params.get("old_start_at") or start, config)
        subject = _("Your appointment has moved")
        lead = _("Your appointment with %(doctor)s has moved from %(old)s to %(when)s.", **args)
        sms = _("%(clinic)s: your appointment with %(doctor)s has moved to %(when)s (was %(old)s).", **args)
    details = [] if starts else [(_("Time"), when), (_("Doctor"), doctor), (_("Service"), service)]
    if clinic["address"] and event != "cancelled":
        details.append((_("Address"), clinic["address"]))
    note = (_("To book another time, visit our website or call the clinic.") if event == "cancelled"
            else _("If you cannot come, please cancel or move the appointment in your patient portal or call the "
                   "clinic."))
    notice = Notice(subject=subject, greeting=_greeting(message), lead=lead, items=items, details=details, note=note,
                    action=(public_url(config, PORTAL_APPOINTMENTS), _("My appointments")))
    return compose(notice, message, config, sms, {
        "patient_name": message.recipient_name or "", "time": when, "doctor": doctor, "clinic": clinic["name"],
        "event": event})


# --- lab results, medicines -------------------------------------------------------------------


@renderer(LAB_KIND)
def render_lab_results(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    """params: order_id. Never the values, never the test: only that something is ready."""
    clinic = _clinic(config)
    url = public_url(config, PORTAL_RESULTS)
    notice = Notice(subject=_("Your test results are ready"), greeting=_greeting(message),
                    lead=_("Your test results are ready. Sign in to your patient portal to see them."),
                    note=_("If you have questions about your results, please ask your doctor."),
                    action=(url, _("My results")))
    sms = _("%(clinic)s: your test results are ready. See them in your patient portal: %(url)s",
            clinic=clinic["name"], url=url)
    return compose(notice, message, config, sms, {"patient_name": message.recipient_name or "",
                                                  "clinic": clinic["name"]})


@renderer(PRESCRIPTION_KIND)
def render_prescription_ready(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    """params: prescription_id, code. Never the medicines."""
    params = message.params or {}
    clinic = _clinic(config)
    code = str(params.get("code") or "")
    notice = Notice(subject=_("Your medicines are ready for pickup"), greeting=_greeting(message),
                    lead=_("Your medicines for prescription %(code)s are ready for pickup at the clinic's pharmacy.",
                           code=code),
                    note=_("Please bring this message or your prescription code when you come."))
    sms = _("%(clinic)s: your medicines (prescription %(code)s) are ready for pickup at the pharmacy.",
            clinic=clinic["name"], code=code)
    return compose(notice, message, config, sms, {"patient_name": message.recipient_name or "", "code": code,
                                                  "clinic": clinic["name"]})


# --- reviews (app.services.reviews) --------------------------------------------------------------


def review_link(appointment_id: int) -> str:
    return f"/clinic/me/appointments/{appointment_id}/review"


@renderer(REVIEW_INVITE_KIND)
def render_review_invitation(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    """params: appointment_id, doctor, start_at. An invitation to rate a completed visit."""
    params = message.params or {}
    clinic = _clinic(config)
    url = public_url(config, review_link(int(params.get("appointment_id") or 0)))
    when = local_time(str(params.get("start_at")), config, "%d/%m/%Y") if params.get("start_at") else ""
    doctor = str(params.get("doctor") or "")
    notice = Notice(subject=_("How was your visit?"), greeting=_greeting(message),
                    lead=_("Thank you for visiting us on %(day)s. Would you rate your visit with %(doctor)s?",
                           day=when, doctor=doctor),
                    items=[_("Professional quality"), _("Attitude"), _("Waiting time"), _("Overall")],
                    note=_("It takes a minute: 1 to 5 stars for each, and a comment if you wish. Other patients "
                           "see only your given name and initial."),
                    action=(url, _("Rate this visit")))
    sms = _("%(clinic)s: how was your visit? Rate it here: %(url)s", clinic=clinic["name"], url=url)
    return compose(notice, message, config, sms, {"patient_name": message.recipient_name or "",
                                                  "clinic": clinic["name"]})


@renderer(REVIEW_HIDDEN_KIND)
def render_review_hidden(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    """params: appointment_id, reason. The author is told why their review is not shown."""
    params = message.params or {}
    clinic = _clinic(config)
    reason = str(params.get("reason") or "")
    notice = Notice(subject=_("Your review is not published"), greeting=_greeting(message),
                    lead=_("Thank you for your review. Our team decided not to publish it."),
                    details=[(_("Reason"), reason)],
                    note=_("You can change your review while it is still open for changes."),
                    action=(public_url(config, PORTAL_APPOINTMENTS), _("My appointments")))
    sms = _("%(clinic)s: your review is not published. Reason: %(reason)s", clinic=clinic["name"], reason=reason)
    return compose(notice, message, config, sms, {"patient_name": message.recipient_name or "",
                                                  "clinic": clinic["name"]})


# --- the pharmacy's daily digest --------------------------------------------------------------


def _days(value: float | None) -> str:
    """Days of cover with the language's decimal mark ("2.5", "2,5"); "-" when nothing is used."""
    from flask_babel import format_decimal

    return "-" if value is None else str(format_decimal(value, format="0.0"))


def digest_tables(params: Mapping[str, Any]) -> list[Table]:
    """The digest's sections, labelled in the current language (empty sections left out)."""
    tables = []
    if params.get("below_reorder"):
        tables.append(Table(_("Below the reorder level"), [_("Medicine"), _("On hand"), _("Reorder level")],
                            [[r["name"], f'{r["on_hand"]} {r["unit"]}', str(r["reorder_level"])]
                             for r in params["below_reorder"]], (1, 2)))
    if params.get("order_now"):
        tables.append(Table(_("To order now (days of cover within the lead time)"),
                            [_("Medicine"), _("On hand"), _("Days of cover"), _("Lead time (days)")],
                            [[r["name"], f'{r["on_hand"]} {r["unit"]}', _days(r["days_of_cover"]),
                              str(r["lead_time_days"])] for r in params["order_now"]], (1, 2, 3)))
    if params.get("expiring"):
        tables.append(Table(_("Batches expiring soon"), [_("Medicine"), _("Lot"), _("Expiry date"), _("Quantity")],
                            [[r["medicine"], r["lot"], r["expiry"], str(r["quantity"])] for r in params["expiring"]],
                            (3,)))
    if params.get("expired"):
        tables.append(Table(_("Expired, waiting for write-off"),
                            [_("Medicine"), _("Lot"), _("Expiry date"), _("Quantity")],
                            [[r["medicine"], r["lot"], r["expiry"], str(r["quantity"])] for r in params["expired"]],
                            (3,)))
    return tables


@renderer(DIGEST_KIND)
def render_stock_digest(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    """params: day and the rows of each section, as decided when the digest was queued."""
    params = message.params or {}
    day = datetime.fromisoformat(str(params["day"])).strftime("%d/%m/%Y")
    counts = {"low": len(params.get("below_reorder") or []), "order": len(params.get("order_now") or []),
              "expiring": len(params.get("expiring") or []), "expired": len(params.get("expired") or [])}
    subject = _("Pharmacy digest for %(day)s", day=day)
    notice = Notice(subject=subject, greeting=_greeting(message),
                    lead=_("Stock that needs attention today: %(low)d below the reorder level, %(order)d to order now, "
                           "%(expiring)d batches expiring soon, %(expired)d expired batches.", **counts),
                    tables=digest_tables(params),
                    action=(public_url(config, PHARMACY_DASHBOARD), _("Pharmacy dashboard")))
    return compose(notice, message, config, subject)
