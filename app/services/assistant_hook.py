"""Where the patient's chat meets the booking assistant (the realtime issue, items 6 and 7).

The chat service (``app.services.chat``) calls :func:`assistant_reply` for every message a
patient writes in a conversation no person has taken over, and :func:`assistant_action` when the
patient taps one of the reply's buttons. ``None`` means "a person answers": the conversation goes
to the staff inbox with everything said so far. A reply with ``handoff`` set is shown to the
patient (a polite word that a person will answer) and hands over too: the assistant does so for
a message it did not understand and when the patient asks for a person. The assistant itself
lives in ``app.services.assistant``; these two functions are its whole interface.

Buttons (``Choice.action`` and its ``params``, plain JSON values): ``book_slot`` (doctor_id,
service_id, start ISO), ``cancel_appointment`` (appointment_id), ``move_to_slot``
(appointment_id, start), ``choose_service`` (service_id and the day/week/part/time/doctor_ids
asked for), ``pick_move`` (appointment_id), ``choose_doctor`` (doctor_id), ``human``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.services.settings import ClinicSettings


@dataclass(frozen=True)
class Choice:
    """A button under the assistant's reply: ``label`` shown, ``action`` and ``params`` posted back."""

    label: str
    action: str  # e.g. "book_slot", "cancel_appointment", "move_to_slot", "human"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AssistantReply:
    text: str  # plain text in the patient's language; shown as text, never as HTML
    choices: tuple[Choice, ...] = ()
    intent: str = ""  # what it understood ("book", "cancel", "move", "hours", "price", "next_free", ...)
    handoff: bool = False  # also hand the conversation to a person


def _settings(settings: ClinicSettings | None) -> ClinicSettings:
    if settings is not None:
        return settings
    from flask import current_app

    return ClinicSettings.from_config(current_app.config)


def assistant_reply(session: Session, *, patient_id: int, user: Any, text: str, language: str,
                    now: datetime, settings: ClinicSettings | None = None) -> AssistantReply | None:
    """The assistant's answer to ``text`` from the patient ``patient_id`` (logged in as ``user``);
    None hands the conversation to a person (also when ``user`` is not that patient's login).
    ``settings``: the clinic's (from the app's configuration when not given)."""
    from app.services import assistant

    return assistant.reply(session, patient_id=patient_id, user=user, text=text, language=language, now=now,
                           settings=_settings(settings))


def assistant_action(session: Session, *, patient_id: int, user: Any, action: str, params: dict[str, Any],
                     language: str, now: datetime, settings: ClinicSettings | None = None) -> AssistantReply | None:
    """Carry out a tapped button (book, cancel, move through the booking service with the patient's
    own rights); the reply to show, or None to hand over to a person (an unknown action)."""
    from app.services import assistant

    return assistant.act(session, patient_id=patient_id, user=user, action=action, params=params,
                         language=language, now=now, settings=_settings(settings))
