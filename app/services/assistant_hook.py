"""Where the patient's chat meets the booking assistant (the realtime issue, items 6 and 7).

The chat service (``app.services.chat``) calls :func:`assistant_reply` for every message a
patient writes in a conversation no person has taken over, and :func:`assistant_action` when the
patient taps one of the reply's buttons. ``None`` means "not understood, or a person was asked
for": the conversation goes to the staff inbox with everything said so far. The assistant
(``app.services.assistant``) fills these in; until then every message goes to a person.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


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


def assistant_reply(session: Session, *, patient_id: int, user: Any, text: str, language: str,
                    now: datetime) -> AssistantReply | None:
    """The assistant's answer to ``text`` from the patient ``patient_id`` (logged in as ``user``);
    None hands the conversation to a person."""
    return None


def assistant_action(session: Session, *, patient_id: int, user: Any, action: str, params: dict[str, Any],
                     language: str, now: datetime) -> AssistantReply | None:
    """Carry out a tapped button (book, cancel, move through the booking service with the patient's
    own rights); the reply to show, or None to hand over to a person."""
    return None
