"""Who is told about an event, and how: the patient by message (one per channel they chose, see
``app.services.messaging.recipients``), staff by in-app notification (``notify``), titles in each
person's language. Called by the jobs in ``app.jobs.notices`` (enqueued after the commit that made
the change, by ``app.services.appointment_hooks``); each function writes its messages and
notifications and commits, and returns the ids of the messages to deliver.

Running one twice writes nothing twice: messages have a dedupe key per event, and a notification
is not added when the user already has one of that kind with that link (the link of an event
that can happen again, a move or a release, names the event after ``#``).

Who gets what:
- appointment booked, confirmed, cancelled, moved: the patient; the doctor of the appointment
  (their login) in-app; reception (role Receptionist) in-app for bookings made online by the
  patient and for cancellations and moves the patient made. Nobody is told about their own
  change. A confirmation the patient made from their reminder's link is told too: the patient
  sees it acknowledged, and a click by mistake can be noticed.
- lab results released: the patient ("ready, see the portal"; never values) and the ordering
  doctor in-app.
- medicines dispensed (the pharmacy has no separate "ready" step: a prescription is dispensed
  when its medicines are counted out for the patient): the patient.
- a visit completed: the patient is invited to review it (e-mail, and the portal's bell).
- a review hidden by a manager: its author is told why (e-mail and the portal's bell).
- staff texts name the patient and the time, never a reason for the visit or a result.
- a patient with a login also finds each of their notices (appointments, results ready, medicines
  ready) under the portal's bell, in their language, linking to their portal page; their own
  changes too, as their e-mail confirms them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Appointment, Doctor, LabOrder, Notification, Prescription, Review
from app.services.messaging.notice_renderers import (
    LAB_KIND,
    PORTAL_APPOINTMENTS,
    PORTAL_RESULTS,
    PRESCRIPTION_KIND,
    REVIEW_HIDDEN_KIND,
    REVIEW_INVITE_KIND,
    doctor_name,
    local_time,
)
from app.services.messaging.recipients import queue_for_patient, to_send
from app.services.messaging.settings import MessagingSettings
from app.services.notifications import notify_users, users_with_roles

APPOINTMENT_EVENTS = ("booked", "confirmed", "cancelled", "moved")
RECEPTION_ROLES = ("Receptionist",)
PORTAL_VISITS = "/clinic/me/visits"  # the patient's records: a visit shows its prescriptions


def appointment_link(appointment_id: int, event_id: int | str | None = None) -> str:
    return f"/appointment-actions/{appointment_id}" + (f"#event-{event_id}" if event_id else "")


def already_notified(session: Session, user_id: int, kind: str, link: str) -> bool:
    return session.execute(sa.select(Notification.id).where(
        Notification.user_id == user_id, Notification.kind == kind, Notification.link == link).limit(1)).first() \
        is not None


def notify_once(session: Session, user_ids: Iterable[int], kind: str, make: Callable[[], tuple[str, str | None]],
                link: str, *, settings: MessagingSettings, now: datetime) -> list[int]:
    """``notify_users`` for those who do not have this notification yet; who was notified."""
    fresh = [uid for uid in dict.fromkeys(user_ids) if uid and not already_notified(session, uid, kind, link)]
    notify_users(session, fresh, kind, make, link, default_language=settings.default_language, now=now)
    return fresh


def notify_patient(session: Session, patient_user_id: int | None, kind: str,
                   make: Callable[[], tuple[str, str | None]], link: str, *, settings: MessagingSettings,
                   now: datetime) -> None:
    """The portal's bell: the patient's login (``Patient.user_id``; none: nothing) is told too."""
    if patient_user_id:
        notify_once(session, [patient_user_id], kind, make, link, settings=settings, now=now)


def _doctor_user(session: Session, doctor_id: int | None) -> int | None:
    if doctor_id is None:
        return None
    return session.execute(sa.select(Doctor.user_id).where(Doctor.id == doctor_id)).scalar()


def notify_appointment_event(session: Session, appointment_id: int, event: str, *, config: Mapping, now: datetime,
                             actor_id: int | None = None, by_patient: bool = False, event_id: int | None = None,
                             old_start: str | None = None, series_ids: list[int] | None = None) -> list[int]:
    """Tell the patient and staff that ``appointment_id`` was ``event`` (one of APPOINTMENT_EVENTS).
    ``series_ids``: the visits of a series booked or cancelled together, told as one notice about
    all of them (``appointment_id`` is the first). Commits; the message ids to deliver."""
    if event not in APPOINTMENT_EVENTS:
        raise ValueError(f"unknown appointment event {event!r}")
    settings = MessagingSettings.from_config(config)
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        return []
    visits = []
    if series_ids:
        visits = list(session.execute(sa.select(Appointment).where(Appointment.id.in_(series_ids))
                                      .order_by(Appointment.start_at)).scalars())
    starts = [v.start_at for v in visits] or [appointment.start_at]
    kind = f"appointment_{event}"
    params = {"appointment_id": appointment.id, "start_at": starts[0].isoformat(), "status": appointment.status,
              "channel": appointment.channel}
    if old_start:
        params["old_start_at"] = old_start
    if visits:
        params["starts"] = [s.isoformat() for s in starts]
    if visits and appointment.series_id:
        key = f"series:{appointment.series_id}:{event}:{appointment.id}"
    else:
        key = f"appt:{appointment.id}:{event}" + (f":{event_id}" if event_id else "")
    # A visit told after it started is no news; a cancellation or a move is told whenever it is.
    latest = starts[0] if event in ("booked", "confirmed") else None
    messages = queue_for_patient(session, appointment.patient_id, kind, params, now=now, settings=settings,
                                 dedupe_key=key, appointment_id=appointment.id, latest=latest,
                                 created_by_id=actor_id)

    doctor_user = _doctor_user(session, appointment.doctor_id)
    staff = [doctor_user] if doctor_user else []
    online = appointment.channel == "online"
    if (event == "booked" and online) or (event in ("cancelled", "moved") and by_patient):
        staff += users_with_roles(session, RECEPTION_ROLES)
    staff = [uid for uid in staff if uid != actor_id]
    patient = appointment.patient.full_name if appointment.patient is not None else ""
    doctor = appointment.doctor.full_name if appointment.doctor is not None else ""
    service = appointment.service.name if appointment.service is not None else ""

    def make() -> tuple[str, str | None]:
        args = {"patient": patient, "when": local_time(starts[0], config, "%H:%M %d/%m"), "n": len(starts),
                "old": local_time(old_start, config, "%H:%M %d/%m") if old_start else ""}
        if event == "booked" and len(starts) > 1:
            title = _("%(n)d appointments booked: %(patient)s, from %(when)s", **args)
        elif event == "booked" and online:
            title = _("Online booking: %(patient)s, %(when)s", **args)
        elif event == "booked":
            title = _("New appointment: %(patient)s, %(when)s", **args)
        elif event == "confirmed":
            title = _("Appointment confirmed: %(patient)s, %(when)s", **args)
        elif event == "cancelled" and len(starts) > 1:
            title = _("%(n)d appointments cancelled: %(patient)s, from %(when)s", **args)
        elif event == "cancelled" and by_patient:
            title = _("Cancelled by the patient: %(patient)s, %(when)s", **args)
        elif event == "cancelled":
            title = _("Appointment cancelled: %(patient)s, %(when)s", **args)
        elif by_patient:
            title = _("Moved by the patient: %(patient)s, %(old)s → %(when)s", **args)
        else:
            title = _("Appointment moved: %(patient)s, %(old)s → %(when)s", **args)
        body = _("%(doctor)s · %(service)s", doctor=doctor, service=service)
        if event == "booked" and online and appointment.status == "requested":
            body += " · " + _("waiting for confirmation")
        return title, body

    notify_once(session, staff, kind, make, appointment_link(appointment.id, event_id), settings=settings, now=now)

    def make_for_patient() -> tuple[str, str | None]:
        when = local_time(starts[0], config)
        if event == "booked" and appointment.status == "requested" and not visits:
            title = _("We have received your booking request")
        elif event == "booked" and len(starts) > 1:
            title = _("Your %(n)d appointments are booked", n=len(starts))
        elif event == "booked":
            title = _("Your appointment is booked")
        elif event == "confirmed":
            title = _("Your appointment is confirmed")
        elif event == "cancelled" and len(starts) > 1:
            title = _("Your appointments are cancelled")
        elif event == "cancelled":
            title = _("Your appointment is cancelled")
        else:
            title = _("Your appointment has moved")
            when = f"{local_time(old_start, config) if old_start else ''} → {when}"
        return title, f"{when} · {doctor_name(appointment)}"

    patient_link = f"{PORTAL_APPOINTMENTS}#appointment-{appointment.id}" + (f"-{event_id}" if event_id else "")
    notify_patient(session, appointment.patient.user_id if appointment.patient is not None else None, kind,
                   make_for_patient, patient_link, settings=settings, now=now)
    session.commit()
    return to_send(messages)


def notify_lab_results(session: Session, order_id: int, *, config: Mapping, now: datetime, released_at: str,
                       actor_id: int | None = None) -> list[int]:
    """Results of ``order_id`` were released (at ``released_at``, which tells one release from a
    later one after a correction): the patient is told they are ready, the ordering doctor sees it
    in-app. Commits; the message ids to deliver."""
    settings = MessagingSettings.from_config(config)
    order = session.get(LabOrder, order_id)
    if order is None:
        return []
    stamp = released_at.replace(":", "").replace("-", "")[:15]
    messages = queue_for_patient(session, order.patient_id, LAB_KIND, {"order_id": order.id}, now=now,
                                 settings=settings, dedupe_key=f"lab:{order.id}:released:{stamp}",
                                 created_by_id=actor_id)
    doctor_user = order.ordered_by_id or _doctor_user(session, order.doctor_id)
    patient = order.patient.full_name if order.patient is not None else ""

    def make() -> tuple[str, str | None]:
        return (_("Results released: %(patient)s, %(test)s", patient=patient, test=order.test_name),
                _("The patient can now see them in the portal."))

    staff = [doctor_user] if doctor_user and doctor_user != actor_id else []
    notify_once(session, staff, "lab_results_released", make, f"/lab/order/{order.id}#released-{stamp}",
                settings=settings, now=now)
    notify_patient(session, order.patient.user_id if order.patient is not None else None, LAB_KIND,
                   lambda: (_("Your test results are ready"), None), f"{PORTAL_RESULTS}#released-{order.id}-{stamp}",
                   settings=settings, now=now)
    session.commit()
    return to_send(messages)


def notify_prescription_ready(session: Session, prescription_id: int, *, config: Mapping, now: datetime,
                              actor_id: int | None = None) -> list[int]:
    """The prescription was dispensed in full: its patient is told the medicines are ready for
    pickup (once per prescription), by message and, with a login, under the portal's bell. Commits;
    the message ids to deliver."""
    from app.services.stock_views import prescription_code

    settings = MessagingSettings.from_config(config)
    prescription = session.get(Prescription, prescription_id)
    if prescription is None or prescription.status != "dispensed":
        return []
    messages = queue_for_patient(session, prescription.patient_id, PRESCRIPTION_KIND,
                                 {"prescription_id": prescription.id, "code": prescription_code(prescription.id)},
                                 now=now, settings=settings, dedupe_key=f"rx:{prescription.id}:ready",
                                 created_by_id=actor_id)
    code = prescription_code(prescription.id)

    def make() -> tuple[str, str | None]:
        return (_("Your medicines are ready for pickup"),
                _("Your medicines for prescription %(code)s are ready for pickup at the clinic's pharmacy.",
                  code=code))

    notify_patient(session, prescription.patient.user_id if prescription.patient is not None else None,
                   PRESCRIPTION_KIND, make, f"{PORTAL_VISITS}#prescription-{prescription.id}", settings=settings,
                   now=now)
    session.commit()
    return to_send(messages)


def notify_review_invitation(session: Session, appointment_id: int, *, config: Mapping, now: datetime) -> list[int]:
    """The visit was completed: its patient is invited to rate it, by e-mail and under the portal's
    bell (once per visit). Commits; the message ids to deliver."""
    from app.services.messaging.notice_renderers import review_link

    settings = MessagingSettings.from_config(config)
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status != "completed" or appointment.patient is None:
        return []
    if session.execute(sa.select(Review.id).where(Review.appointment_id == appointment.id)).first() is not None:
        return []
    messages = queue_for_patient(session, appointment.patient_id, REVIEW_INVITE_KIND,
                                 {"appointment_id": appointment.id, "doctor": doctor_name(appointment),
                                  "start_at": appointment.start_at.isoformat()},
                                 now=now, settings=settings, dedupe_key=f"review:{appointment.id}:invite",
                                 appointment_id=appointment.id, channels=("email",))
    doctor = doctor_name(appointment)
    notify_patient(session, appointment.patient.user_id, REVIEW_INVITE_KIND,
                   lambda: (_("How was your visit?"), _("Rate your visit with %(doctor)s.", doctor=doctor)),
                   review_link(appointment.id), settings=settings, now=now)
    session.commit()
    return to_send(messages)


def notify_review_hidden(session: Session, review: Review, *, config: Mapping, now: datetime) -> list[int]:
    """A manager hid ``review``: its author is told why, by e-mail and under the portal's bell.
    No commit (the moderation's transaction holds it); the message ids to deliver after it."""
    settings = MessagingSettings.from_config(config)
    stamp = now.strftime("%Y%m%d%H%M%S")
    messages = queue_for_patient(session, review.patient_id, REVIEW_HIDDEN_KIND,
                                 {"appointment_id": review.appointment_id, "reason": review.hidden_reason or ""},
                                 now=now, settings=settings, dedupe_key=f"review:{review.id}:hidden:{stamp}",
                                 appointment_id=review.appointment_id, channels=("email",))
    patient = review.patient
    reason = review.hidden_reason or ""
    notify_patient(session, patient.user_id if patient is not None else None, REVIEW_HIDDEN_KIND,
                   lambda: (_("Your review is not published"), _("Reason: %(reason)s", reason=reason)),
                   f"{PORTAL_APPOINTMENTS}#review-{review.id}-{stamp}", settings=settings, now=now)
    return [m.id for m in messages if m.status == "queued"]
