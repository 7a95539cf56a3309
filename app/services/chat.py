"""Chat between a patient and the clinic (issue 13, items 6 and 8): plain functions for the portal,
the staff inbox, the REST API and the Socket.IO helper alike.

Where things are kept, and why:

* **Messages are documents** in the document store (``app.services.documents``: the SQL table
  ``stored_document`` by default, MongoDB when ``MONGO_URI`` is set), one collection per
  conversation (``chat_<id>``). The SQL adapter narrows by collection and time in SQL and
  filters body fields in Python, so one collection per conversation keeps every history read to
  that conversation's own rows on both adapters. A message: ``conversation_id``, ``sender``
  (``patient``, ``staff`` or ``assistant``), ``user_id``, ``name`` (the sender's display name),
  ``text``, ``attachment`` (a reference into the file store, or None), ``choices`` (the
  assistant's buttons), ``chosen`` (the button tapped), ``read_at`` (the read receipt, set when
  the other side reads it) and ``created_at``.
* **The conversation is a small SQL row** (``chat_conversation``, migration ``0019_chat``): the
  inbox filters and sorts conversations by status, assignee and last message (indexed), joins the
  patient's name, limits a doctor's inbox to the care team with the same SQL as every clinical
  read (``access.care_patients``), and keeps the unread counts as atomic ``count + 1`` updates
  that two messages posted at once cannot lose. Documents have no such updates or joins. On
  PostgreSQL the row is locked while a message is stored, so the messages of a conversation get
  strictly increasing times; elsewhere two messages of the same millisecond can share a time,
  and ``since_id`` / ``before_id`` pages then repeat them: clients drop ids they already have.
* Canned replies are a SQL table managers edit (``chat_canned_reply``).

Who may read and write a conversation (``side_of``): the patient themself (the login linked to
the patient record); reception, managers and admins; a doctor in the patient's care team
(``access.in_care``: an appointment or encounter with the patient, or a break-the-glass grant).
Every read that shows messages leaves an audit ``read`` row (entity ``ChatConversation``, with
the patient id), every refusal a ``denied`` row. A poll that finds nothing new shows nothing and
leaves no row (the page polls every few seconds).

Text is stored as typed (after the checks below) and always shown as text: templates escape it,
chat.js sets ``textContent``, the API returns it as a JSON string. Never HTML.

After each stored message ``realtime_hooks.chat_message_posted`` is called (after commit; a failed
push never fails the message); after a read, ``realtime_hooks.chat_read``; typing,
``realtime_hooks.chat_typing``.
"""
from __future__ import annotations

import io
import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import record_event
from app.models import ChatCannedReply, ChatConversation, Patient
from app.services import access, attachments, realtime_hooks
from app.services.documents import DocumentStore
from app.services.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from app.services.roles import role_names
from app.services.storage import FileStore, StorageUnavailable

log = logging.getLogger(__name__)

TEXT_MAX = 2000
PREVIEW_MAX = 120
PAGE_SIZE = 30
PAGE_MAX = 100
RECEIPTS_MAX = 500  # messages marked read at once (the rest are counted read all the same)
ENTITY = "ChatConversation"
SENDERS = ("patient", "staff", "assistant")
# Roles that read every patient's chat (the front desk); doctors read their care team's.
DESK_ROLES = frozenset({"Admin", "Manager", "Receptionist"})
DOCTOR_ROLE = "Doctor"
INBOX_FILTERS = ("all", "mine", "unassigned", "waiting")
ATTACHMENT_TYPES = attachments.TYPES  # PDF and images, recognised by their bytes
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ChatAccessDenied(Forbidden):
    """Another patient's conversation, or a patient outside a doctor's care: 403, audited."""


@dataclass(frozen=True)
class Message:
    id: str
    conversation_id: int
    sender: str
    user_id: int | None
    name: str
    text: str
    created_at: datetime
    attachment: dict[str, Any] | None = None
    choices: tuple[dict[str, Any], ...] = ()
    chosen: int | None = None
    read_at: datetime | None = None


@dataclass(frozen=True)
class Page:
    messages: list[Message]  # oldest first
    has_more: bool  # older messages (before_id or the first page) or newer ones (since_id) remain
    side: str = "staff"  # the reader's: "patient" or "staff"
    # The other side has read everything up to this time: the reader's own messages until then
    # carry the "Seen" receipt (pages already shown update theirs from it).
    read_until: datetime | None = None


@dataclass(frozen=True)
class InboxRow:
    id: int
    patient_id: int
    patient_name: str
    patient_code: str | None
    status: str
    assigned_to_id: int | None
    assigned_to_name: str | None
    last_message_at: datetime | None
    preview: str | None
    unread: int


@dataclass
class Posted:
    """What one post stored: the message, and the assistant's reply if it answered."""

    messages: list[Message] = field(default_factory=list)
    handed_over: bool = False


def collection_of(conversation_id: int) -> str:
    return f"chat_{int(conversation_id)}"


# --- who may read ----------------------------------------------------------------------------

def _own_patient_id(session: Session, user: Any) -> int | None:
    if user is None:
        return None
    return session.execute(select(Patient.id).where(Patient.user_id == user.id)).scalar_one_or_none()


def side_of(session: Session, user: Any, patient_id: int, now: datetime) -> str | None:
    """``"patient"`` (the patient themself), ``"staff"`` (the desk, or a doctor in the patient's
    care) or None (nobody: no reading, no posting)."""
    if user is None:
        return None
    if _own_patient_id(session, user) == patient_id:
        return "patient"
    roles = role_names(user)
    if roles & DESK_ROLES:
        return "staff"
    if DOCTOR_ROLE in roles and access.in_care(session, user, patient_id, now):
        return "staff"
    return None


def is_chat_staff(user: Any) -> bool:
    """Whether ``user``'s roles answer patients' chats at all (the inbox)."""
    return bool(role_names(user) & (DESK_ROLES | {DOCTOR_ROLE})) if user is not None else False


def _get(session: Session, conversation_id: int, *, lock: bool = False) -> ChatConversation:
    stmt = select(ChatConversation).where(ChatConversation.id == conversation_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    conversation = session.execute(stmt).scalar_one_or_none()
    if conversation is None:
        raise NotFound(_("There is no such conversation."), "conversation_id")
    return conversation


def open_conversation(session: Session, user: Any, conversation_id: int, now: datetime, *,
                      audit_read: bool = True) -> tuple[ChatConversation, str]:
    """The conversation and the reader's side; ``ChatAccessDenied`` (audited ``denied``) when the
    user may not read it, ``NotFound`` when there is none. With ``audit_read`` an allowed read
    leaves a ``read`` row. Commits the audit row."""
    conversation = _get(session, conversation_id)
    side = side_of(session, user, conversation.patient_id, now)
    details = {"patient_id": conversation.patient_id, "view": "chat"}
    if side is None:
        access.record_denial(session, user, ENTITY, conversation.id, details)
        raise ChatAccessDenied(_("This conversation belongs to a patient outside your care."), "conversation_id")
    if audit_read:
        record_event(session, "read", ENTITY, conversation.id, details, getattr(user, "id", None))
        session.commit()
    return conversation, side


def conversation_room_rule(session: Session, user: Any, key: str) -> bool:
    """``realtime_access``'s rule for the ``conversation:<id>`` rooms (a refusal's audit rows
    are committed by the caller with its own)."""
    return key.isdigit() and may_join_conversation(session, user, int(key))


def may_join_conversation(session: Session, user: Any, conversation_id: int, now: datetime | None = None) -> bool:
    """The Socket.IO room rule: whether ``user`` may join the room of ``conversation_id``. A
    refusal (another patient's conversation, a patient outside a doctor's care, no such
    conversation) leaves an audit ``denied`` row."""
    moment = now or datetime.now(timezone.utc)
    try:
        open_conversation(session, user, conversation_id, moment, audit_read=False)
    except ChatAccessDenied:
        return False
    except NotFound:
        access.record_denial(session, user, ENTITY, conversation_id, {"missing": True})
        return False
    return True


def patient_conversation(session: Session, patient_id: int, now: datetime) -> ChatConversation:
    """The patient's conversation with the clinic, made on first use (one per patient). Commits."""
    found = session.execute(select(ChatConversation).where(ChatConversation.patient_id == patient_id)
                            ).scalar_one_or_none()
    if found is not None:
        return found
    if session.get(Patient, patient_id) is None:
        raise NotFound(_("There is no record with id %(id)s.", id=patient_id), "patient_id")
    conversation = ChatConversation(patient_id=patient_id, status="open", created_at=now)
    session.add(conversation)
    try:
        session.commit()
    except IntegrityError:  # opened at the same moment by another request
        session.rollback()
        return session.execute(select(ChatConversation).where(ChatConversation.patient_id == patient_id)
                               ).scalar_one()
    return conversation


def my_conversation(session: Session, user: Any, now: datetime) -> ChatConversation:
    """The signed-in patient's own conversation (made on first use); ``Forbidden`` for a login
    that is not a patient's."""
    patient_id = _own_patient_id(session, user)
    if patient_id is None:
        raise Forbidden(_("Your login is not linked to a patient record. Please contact the clinic."))
    return patient_conversation(session, patient_id, now)


def conversations_of(session: Session, user: Any, now: datetime, *, create: bool = False) -> list[ChatConversation]:
    """The conversations ``user`` takes part in as a patient (at most their own one; made on
    first use only with ``create``)."""
    patient_id = _own_patient_id(session, user)
    if patient_id is None:
        return []
    if create:
        return [patient_conversation(session, patient_id, now)]
    found = session.execute(select(ChatConversation).where(ChatConversation.patient_id == patient_id)
                            ).scalar_one_or_none()
    return [found] if found is not None else []


# --- messages --------------------------------------------------------------------------------

def clean_text(text: str | None, *, required: bool) -> str:
    """The message text: NFC, ends trimmed, at most ``TEXT_MAX`` characters, no control characters
    except line breaks and tabs (nor bidirectional overrides, which disguise text)."""
    value = unicodedata.normalize("NFC", text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not value:
        if required:
            raise ValidationFailed(_("Write a message."), "text")
        return ""
    if len(value) > TEXT_MAX:
        raise ValidationFailed(_("A message can be at most %(n)s characters long.", n=TEXT_MAX), "text")
    for ch in value:
        if ch in "\n\t":
            continue
        if unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:
            raise ValidationFailed(_("The message contains control characters."), "text")
    return value


def _to_message(doc: dict) -> Message:
    return Message(
        id=doc["id"], conversation_id=int(doc.get("conversation_id") or 0), sender=doc.get("sender", "staff"),
        user_id=doc.get("user_id"), name=doc.get("name") or "", text=doc.get("text") or "",
        created_at=doc["created_at"], attachment=doc.get("attachment"),
        choices=tuple(doc.get("choices") or ()), chosen=doc.get("chosen"), read_at=doc.get("read_at"))


def _display_name(user: Any) -> str:
    name = " ".join(part for part in (getattr(user, "first_name", ""), getattr(user, "last_name", "")) if part)
    return name.strip() or getattr(user, "username", "") or ""


def _preview(text: str, attachment: dict | None) -> str:
    if text:
        flat = " ".join(text.split())
        return flat if len(flat) <= PREVIEW_MAX else flat[:PREVIEW_MAX - 1] + "…"
    return ("[" + str((attachment or {}).get("name") or "") + "]")[:PREVIEW_MAX]


def _next_time(conversation: ChatConversation, now: datetime) -> datetime:
    """The new message's time: now, or just after the last message if the clock says otherwise."""
    moment = now.astimezone(timezone.utc)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    last = conversation.last_message_at
    if last is not None and moment <= last:
        moment = last + timedelta(milliseconds=1)
    return moment


def _store_message(session: Session, store: DocumentStore, conversation_id: int, *, sender: str,
                   user_id: int | None, name: str, text: str, now: datetime,
                   attachment: dict | None = None, choices: list[dict] | None = None) -> Message:
    """Store one message and move the conversation's counters; commits. The conversation row is
    locked (PostgreSQL) from before the message's time is chosen until the counters are written."""
    session.commit()  # nothing of ours pending while the store writes through its own connection
    conversation = _get(session, conversation_id, lock=True)
    moment = _next_time(conversation, now)
    doc = {"conversation_id": conversation_id, "sender": sender, "user_id": user_id, "name": name,
           "text": text, "attachment": attachment, "choices": choices or [], "chosen": None, "read_at": None,
           "created_at": moment}
    try:
        doc_id = store.insert(collection_of(conversation_id), doc)
    except Exception:
        session.rollback()
        raise
    counter = ChatConversation.unread_for_staff if sender == "patient" else ChatConversation.unread_for_patient
    session.execute(update(ChatConversation).where(ChatConversation.id == conversation_id).values({
        counter: counter + 1, ChatConversation.last_message_at: moment,
        ChatConversation.last_message_preview: _preview(text, attachment)}))
    session.commit()
    _push(realtime_hooks.chat_message_posted, conversation_id, doc_id)
    return _to_message({**doc, "id": doc_id})


def _push(hook: Any, *args: Any) -> None:
    try:
        hook(*args)
    except Exception:  # noqa: BLE001 - a failed push never fails the change
        log.warning("chat push %s failed", getattr(hook, "__name__", hook), exc_info=True)


def post_message(session: Session, store: DocumentStore, user: Any, conversation_id: int, text: str | None,
                 now: datetime, *, attachment: dict | None = None, language: str = "vi") -> Posted:
    """Post ``text`` (and/or an attachment reference from ``store_attachment``) as ``user``.

    A patient's message in a conversation no person has taken over (status ``open``) goes to the
    assistant (``assistant_hook.assistant_reply``): its reply is stored as an ``assistant``
    message with its buttons; no reply (None, an error, or ``handoff``) puts the conversation in
    the inbox as ``waiting``. A staff message takes the conversation over: ``assigned`` to the
    sender unless a colleague already has it. Commits."""
    conversation, side = open_conversation(session, user, conversation_id, now, audit_read=False)
    body = clean_text(text, required=attachment is None)
    if side == "patient":
        message = _store_message(session, store, conversation_id, sender="patient", user_id=user.id,
                                 name=conversation.patient.full_name, text=body, now=now, attachment=attachment)
        posted = Posted([message])
        conversation = _get(session, conversation_id)
        if conversation.status == "closed":
            conversation.status = "assigned" if conversation.assigned_to_id else "open"
            session.commit()
        if conversation.status == "open" and body:
            _ask_assistant(session, store, user, conversation, posted, language, now, text=body)
        return posted
    message = _store_message(session, store, conversation_id, sender="staff", user_id=user.id,
                             name=_display_name(user), text=body, now=now, attachment=attachment)
    conversation = _get(session, conversation_id)
    if conversation.status != "assigned" or conversation.assigned_to_id is None:
        conversation.status = "assigned"
        conversation.assigned_to_id = conversation.assigned_to_id or user.id
    session.commit()
    return Posted([message])


def _ask_assistant(session: Session, store: DocumentStore, user: Any, conversation: ChatConversation,
                   posted: Posted, language: str, now: datetime, *, text: str | None = None,
                   action: str | None = None, params: dict | None = None) -> None:
    from app.services import assistant_hook

    try:
        if action is None:
            reply = assistant_hook.assistant_reply(session, patient_id=conversation.patient_id, user=user,
                                                   text=text or "", language=language, now=now)
        else:
            reply = assistant_hook.assistant_action(session, patient_id=conversation.patient_id, user=user,
                                                    action=action, params=params or {}, language=language, now=now)
    except DomainError:
        raise
    except Exception:  # noqa: BLE001 - the assistant failing hands the patient to a person
        log.exception("the chat assistant failed; handing conversation %s to a person", conversation.id)
        session.rollback()
        reply = None
    if reply is not None and (reply.text or reply.choices):
        choices = [{"label": c.label, "action": c.action, "params": dict(c.params)} for c in reply.choices]
        reply_text = clean_text(reply.text[:TEXT_MAX], required=False) if reply.text else ""
        posted.messages.append(_store_message(session, store, conversation.id, sender="assistant", user_id=None,
                                              name="", text=reply_text, now=now, choices=choices))
    if reply is None or reply.handoff:
        session.execute(update(ChatConversation).where(ChatConversation.id == conversation.id,
                                                       ChatConversation.status == "open").values(status="waiting"))
        session.commit()
        posted.handed_over = True
        _push(realtime_hooks.chat_conversation_changed, conversation.id)


def tap_choice(session: Session, store: DocumentStore, user: Any, conversation_id: int, message_id: str,
               choice: int, now: datetime, *, language: str = "vi") -> Posted:
    """The patient taps button ``choice`` under the assistant's message ``message_id``: stored as
    the patient's message (the button's label), then ``assistant_hook.assistant_action`` carries it
    out with the patient's own rights. A button can be tapped once (409 after). Commits."""
    conversation, side = open_conversation(session, user, conversation_id, now, audit_read=False)
    if side != "patient":
        raise Forbidden(_("Only the patient can answer the assistant."), "choice")
    doc = store.get(collection_of(conversation_id), message_id)
    if doc is None or doc.get("sender") != "assistant":
        raise NotFound(_("There is no such message."), "message_id")
    choices = doc.get("choices") or []
    if not 0 <= choice < len(choices):
        raise ValidationFailed(_("There is no such choice."), "choice")
    if doc.get("chosen") is not None:
        raise Conflict(_("This choice was already made."), "choice")
    store.update(collection_of(conversation_id), message_id, {"chosen": choice})
    picked = choices[choice]
    message = _store_message(session, store, conversation_id, sender="patient", user_id=user.id,
                             name=conversation.patient.full_name,
                             text=clean_text(str(picked.get("label") or ""), required=True),
                             now=now)
    posted = Posted([message])
    _ask_assistant(session, store, user, conversation, posted, language, now,
                   action=str(picked.get("action") or ""), params=dict(picked.get("params") or {}))
    return posted


def _anchor(store: DocumentStore, conversation_id: int, message_id: str, field_name: str) -> dict:
    doc = store.get(collection_of(conversation_id), message_id)
    if doc is None:
        raise ValidationFailed(_("There is no such message."), field_name)
    return doc


def history(session: Session, store: DocumentStore, user: Any, conversation_id: int, now: datetime, *,
            before_id: str | None = None, since_id: str | None = None, limit: int = PAGE_SIZE) -> Page:
    """A page of messages, oldest first: the latest ``limit``; or those before ``before_id`` (older
    history); or those after ``since_id`` (catch-up after a reconnect, and polling). Messages of the
    same millisecond as the anchor may come again: drop ids you have. Audited when it shows any."""
    if before_id and since_id:
        raise ValidationFailed(_("Ask for older or for newer messages, not both."), "since_id")
    limit = max(1, min(int(limit), PAGE_MAX))
    conversation, side = open_conversation(session, user, conversation_id, now, audit_read=False)
    collection = collection_of(conversation_id)
    if since_id:
        anchor = _anchor(store, conversation_id, since_id, "since_id")
        docs = [d for d in store.find(collection, since=anchor["created_at"], limit=limit + 2, newest_first=False)
                if d["id"] != since_id]
        has_more = len(docs) > limit
        docs = docs[:limit]
    else:
        until = _anchor(store, conversation_id, before_id, "before_id")["created_at"] if before_id else None
        docs = [d for d in store.find(collection, until=until, limit=limit + 2, newest_first=True)
                if d["id"] != before_id]
        has_more = len(docs) > limit
        docs = list(reversed(docs[:limit]))
    messages = [_to_message(d) for d in docs]
    read_until = conversation.staff_read_at if side == "patient" else conversation.patient_read_at
    if messages or not since_id:
        record_event(session, "read", ENTITY, conversation.id,
                     {"patient_id": conversation.patient_id, "view": "chat", "messages": len(messages)},
                     getattr(user, "id", None))
        session.commit()
    return Page(messages, has_more, side, read_until)


def mark_read(session: Session, store: DocumentStore, user: Any, conversation_id: int, now: datetime) -> int:
    """The reader's side has read everything so far: its unread count goes to 0 and the other
    side's messages get their read receipt (``read_at``). Returns how many were unread. Commits."""
    conversation, side = open_conversation(session, user, conversation_id, now, audit_read=False)
    moment = now.astimezone(timezone.utc)
    others: tuple[str, ...]
    if side == "patient":
        previous, others = conversation.patient_read_at, ("staff", "assistant")
        counter, stamp = ChatConversation.unread_for_patient, ChatConversation.patient_read_at
    else:
        previous, others = conversation.staff_read_at, ("patient",)
        counter, stamp = ChatConversation.unread_for_staff, ChatConversation.staff_read_at
    unread = int(getattr(conversation, counter.key))
    session.execute(update(ChatConversation).where(ChatConversation.id == conversation_id)
                    .values({counter: 0, stamp: moment}))
    session.commit()
    collection = collection_of(conversation_id)
    marked = 0
    for doc in store.find(collection, since=previous, until=moment, limit=RECEIPTS_MAX, newest_first=True):
        if doc.get("sender") in others and doc.get("read_at") is None:
            store.update(collection, doc["id"], {"read_at": moment})
            marked += 1
    if unread or marked:
        _push(realtime_hooks.chat_read, conversation_id, side)
    return unread


def typing(session: Session, user: Any, conversation_id: int, now: datetime) -> str:
    """``user`` is typing in ``conversation_id``: the other side is told (``realtime_hooks.chat_typing``,
    no text, nothing stored). Returns the typist's side."""
    _conversation, side = open_conversation(session, user, conversation_id, now, audit_read=False)
    _push(realtime_hooks.chat_typing, conversation_id, side, user.id)
    return side


# --- attachments -----------------------------------------------------------------------------

def store_attachment(files: FileStore, file_name: str | None, data: bytes, *, max_bytes: int) -> dict[str, Any]:
    """Check and store a file for a message: a PDF or an image (by its bytes, never its name),
    at most ``max_bytes``, an image must decode. Returns the reference kept in the message."""
    if not data:
        raise ValidationFailed(_("The file is empty."), "file")
    if len(data) > max_bytes:
        raise attachments.TooLarge(_("This file is larger than the limit of %(size)s.",
                                     size=attachments.human_size(max_bytes)), "file")
    content_type = attachments.sniff(data)
    if content_type is None:
        raise ValidationFailed(_("Only images (PNG, JPEG, WebP, GIF) and PDF files can be sent."), "file")
    if content_type in attachments.IMAGE_TYPES:
        _check_image(data)
    key = "chat/" + attachments.new_key(ATTACHMENT_TYPES[content_type][0])
    try:
        files.put(key, data, content_type)
    except StorageUnavailable as exc:
        raise attachments.StorageDown(_("Files cannot be stored right now. Please try again later."), "file") from exc
    return {"key": key, "name": attachments.clean_name(file_name, content_type), "content_type": content_type,
            "size": len(data)}


def _check_image(data: bytes) -> None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > attachments.MAX_IMAGE_PIXELS:
                raise ValueError("too many pixels")
            image.load()
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for broken files
        raise ValidationFailed(_("This image cannot be read."), "file") from exc


def forget_attachment(files: FileStore, attachment: dict[str, Any] | None) -> None:
    """Delete a stored file whose message was never stored (best effort)."""
    if attachment:
        try:
            files.delete(attachment["key"])
        except Exception:  # noqa: BLE001 - the original error is the one to report
            log.warning("could not delete chat file %s", attachment.get("key"), exc_info=True)


def attachment_of(session: Session, store: DocumentStore, user: Any, conversation_id: int, message_id: str,
                  now: datetime) -> dict[str, Any]:
    """The attachment reference of one message, after the access check (audited as a read)."""
    conversation, _side = open_conversation(session, user, conversation_id, now, audit_read=False)
    doc = store.get(collection_of(conversation_id), message_id)
    if doc is None or not doc.get("attachment"):
        raise NotFound(_("There is no such file."), "message_id")
    record_event(session, "read", ENTITY, conversation.id,
                 {"patient_id": conversation.patient_id, "view": "chat_file", "message_id": message_id},
                 getattr(user, "id", None))
    session.commit()
    return dict(doc["attachment"])


# --- the staff inbox -------------------------------------------------------------------------

def _visible(user: Any, now: datetime) -> Any:
    """The conversations ``user`` sees in the inbox: all for the desk, the care team's for a doctor."""
    roles = role_names(user)
    if roles & DESK_ROLES:
        return None
    if DOCTOR_ROLE in roles:
        return ChatConversation.patient_id.in_(access.care_patients(user, now))
    return false()


def inbox(session: Session, user: Any, now: datetime, *, which: str = "all", limit: int = 50,
          before: datetime | None = None) -> list[InboxRow]:
    """Conversations with messages, latest first: ``all``, ``mine`` (assigned to ``user``),
    ``unassigned`` or ``waiting`` (handed over by the assistant, nobody has them yet). The list is
    audited as a read of those patients' chats."""
    from flask_appbuilder.security.sqla.models import User

    if which not in INBOX_FILTERS:
        raise ValidationFailed(_("Not a valid choice."), "filter")
    stmt = (select(ChatConversation, Patient.full_name, Patient.code, User.first_name, User.last_name)
            .join(Patient, Patient.id == ChatConversation.patient_id)
            .outerjoin(User, User.id == ChatConversation.assigned_to_id)
            .where(ChatConversation.last_message_at.is_not(None)))
    condition = _visible(user, now)
    if condition is not None:
        stmt = stmt.where(condition)
    if which == "mine":
        stmt = stmt.where(ChatConversation.assigned_to_id == user.id)
    elif which == "unassigned":
        stmt = stmt.where(ChatConversation.assigned_to_id.is_(None))
    elif which == "waiting":
        stmt = stmt.where(ChatConversation.status == "waiting")
    if before is not None:
        stmt = stmt.where(ChatConversation.last_message_at < before)
    stmt = stmt.order_by(ChatConversation.last_message_at.desc(), ChatConversation.id.desc()).limit(limit)
    rows = [InboxRow(id=c.id, patient_id=c.patient_id, patient_name=name, patient_code=code, status=c.status,
                     assigned_to_id=c.assigned_to_id,
                     assigned_to_name=" ".join(p for p in (first, last) if p) or None,
                     last_message_at=c.last_message_at, preview=c.last_message_preview, unread=c.unread_for_staff)
            for c, name, code, first, last in session.execute(stmt)]
    if rows:
        record_event(session, "read", ENTITY, None, {"ids": [r.id for r in rows],
                                                     "patients": sorted({r.patient_id for r in rows})},
                     getattr(user, "id", None))
        session.commit()
    return rows


def staff_unread(session: Session, user: Any, now: datetime) -> int:
    """Unread patient messages in the conversations ``user`` sees (the inbox's badge)."""
    stmt = select(func.coalesce(func.sum(ChatConversation.unread_for_staff), 0))
    condition = _visible(user, now)
    if condition is not None:
        stmt = stmt.where(condition)
    return int(session.execute(stmt).scalar_one())


def assignable_staff(session: Session) -> list[tuple[int, str]]:
    """Colleagues a conversation can be given to: active logins of the desk and doctors."""
    from flask_appbuilder.security.sqla.models import Role, User

    stmt = (select(User).join(User.roles).where(User.active.is_(True),
                                                Role.name.in_(sorted(DESK_ROLES | {DOCTOR_ROLE})))
            .order_by(User.first_name, User.last_name, User.id))
    users = list(dict.fromkeys(session.execute(stmt).scalars()))
    return [(u.id, _display_name(u)) for u in users]


def assign(session: Session, user: Any, conversation_id: int, assignee_id: int | None,
           now: datetime) -> ChatConversation:
    """Give the conversation to a colleague (None: back to unassigned, ``waiting``). The colleague
    must be able to read it (a doctor only within the care team). Commits."""
    from flask_appbuilder.security.sqla.models import User

    conversation, side = open_conversation(session, user, conversation_id, now, audit_read=False)
    if side != "staff":
        raise Forbidden(_("Only staff can assign a conversation."), "assigned_to_id")
    if assignee_id is None:
        conversation.assigned_to_id = None
        conversation.status = "waiting"
    else:
        assignee = session.get(User, assignee_id)
        if assignee is None or not assignee.active:
            raise ValidationFailed(_("There is no such colleague."), "assigned_to_id")
        if not is_chat_staff(assignee) or side_of(session, assignee, conversation.patient_id, now) != "staff":
            raise Conflict(_("This colleague cannot see this patient's chat: pick someone from the front desk "
                             "or a doctor who has seen the patient."), "assigned_to_id")
        conversation.assigned_to_id = assignee_id
        conversation.status = "assigned"
    record_event(session, "chat_assigned", ENTITY, conversation.id,
                 {"patient_id": conversation.patient_id, "assigned_to_id": assignee_id}, getattr(user, "id", None))
    session.commit()
    _push(realtime_hooks.chat_conversation_changed, conversation_id)
    return conversation


def close_conversation(session: Session, user: Any, conversation_id: int, now: datetime) -> ChatConversation:
    """Staff close a conversation they are done with (the patient's next message opens it again). Commits."""
    conversation, side = open_conversation(session, user, conversation_id, now, audit_read=False)
    if side != "staff":
        raise Forbidden(_("Only staff can close a conversation."), "conversation_id")
    conversation.status = "closed"
    session.commit()
    _push(realtime_hooks.chat_conversation_changed, conversation_id)
    return conversation


def canned_replies(session: Session) -> list[ChatCannedReply]:
    return list(session.execute(select(ChatCannedReply).order_by(ChatCannedReply.position, ChatCannedReply.title,
                                                                 ChatCannedReply.id)).scalars())
