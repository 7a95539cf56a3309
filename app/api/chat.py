"""Chat over REST (issue 13, items 6 and 8), for patients and staff alike (a JWT or a browser
session): ``/api/v1/chat/``. Who may read and write which conversation is the chat service's rule
(``app.services.chat.side_of``: the patient themself, the front desk, a doctor of the care team),
so the endpoints need only a login; every refusal is audited there.

* ``GET  conversations`` - staff: the inbox (``filter`` all/mine/unassigned/waiting); a patient:
  their own conversation, if they have written yet
* ``POST conversations/mine`` - a patient opens their conversation (made on first use)
* ``GET  conversations/<id>/messages`` - the latest page; ``before_id`` for older ones,
  ``since_id`` for what came after (catch-up: drop ids you already have)
* ``POST conversations/<id>/messages`` - post a text message
* ``POST conversations/<id>/read`` - read receipts, unread count to 0
* ``POST conversations/<id>/assign`` - staff give it to a colleague (or ``null``: unassigned)
* ``POST conversations/<id>/choice`` - the patient taps one of the assistant's buttons
* ``POST conversations/<id>/typing`` - "typing…" for the other side (nothing stored)

Files are sent from the portal and inbox pages (multipart forms); here they are listed with the
address to fetch them from.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import current_app, request, url_for
from flask_appbuilder.api import expose
from flask_babel import get_locale
from marshmallow import Schema, fields, validate

from app.api.profile import signed_in
from app.api.schemas import StrictSchema
from app.extensions import db
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.models import ChatConversation
from app.models.types import utcnow
from app.services import chat
from app.services.documents import DocumentStore

ID = validate.Range(1, 2**31 - 1)
MESSAGE_ID = validate.Length(1, 36)


def documents() -> DocumentStore:
    return current_app.extensions["documents"]


def language() -> str:
    return str(get_locale() or "vi")


def message_json(message: chat.Message, file_url: Callable[[chat.Message], str] | None = None) -> dict[str, Any]:
    """One message as the API and the pages' script see it (the buttons' actions stay on the server:
    a tap names the button by its index)."""
    attachment = None
    if message.attachment:
        attachment = {"name": message.attachment.get("name") or "", "content_type": message.attachment.get(
            "content_type") or "", "size": int(message.attachment.get("size") or 0),
            "url": file_url(message) if file_url else None}
    return {"id": message.id, "sender": message.sender, "name": message.name, "text": message.text,
            "created_at": message.created_at.isoformat(), "attachment": attachment,
            "choices": [{"label": str(c.get("label") or "")} for c in message.choices], "chosen": message.chosen,
            "read_at": message.read_at.isoformat() if message.read_at else None}


def conversation_json(conversation: ChatConversation, side: str) -> dict[str, Any]:
    return {"id": conversation.id, "patient_id": conversation.patient_id, "status": conversation.status,
            "assigned_to_id": conversation.assigned_to_id,
            "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
            "unread": conversation.unread_for_patient if side == "patient" else conversation.unread_for_staff}


def _api_file_url(message: chat.Message) -> str:
    return url_for("ChatApi.file", conversation_id=message.conversation_id, message_id=message.id)


class ChatInboxQuery(StrictSchema):
    filter = fields.String(load_default="all", validate=validate.OneOf(chat.INBOX_FILTERS))
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 100))


class ChatMessagesQuery(StrictSchema):
    before_id = fields.String(load_default=None, validate=MESSAGE_ID,
                              metadata={"description": "older messages: the id of the oldest you have"})
    since_id = fields.String(load_default=None, validate=MESSAGE_ID,
                             metadata={"description": "newer messages (catch-up): the id of the newest you have"})
    page_size = fields.Integer(load_default=chat.PAGE_SIZE, validate=validate.Range(1, chat.PAGE_MAX))


class ChatPostMessage(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(1, chat.TEXT_MAX),
                         metadata={"description": "plain text; shown as text, never as HTML"})


class ChatAssign(StrictSchema):
    assigned_to_id = fields.Integer(required=True, allow_none=True, validate=ID,
                                    metadata={"description": "the colleague; null: back to unassigned"})


class ChatTapChoice(StrictSchema):
    message_id = fields.String(required=True, validate=MESSAGE_ID)
    choice = fields.Integer(required=True, validate=validate.Range(0, 50),
                            metadata={"description": "the button's index under the assistant's message"})


class ChatAttachmentOut(Schema):
    name = fields.String(required=True)
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    url = fields.String(required=True, allow_none=True)


class ChatChoiceOut(Schema):
    label = fields.String(required=True)


class ChatMessageOut(Schema):
    id = fields.String(required=True)
    sender = fields.String(required=True, validate=validate.OneOf(chat.SENDERS))
    name = fields.String(required=True)
    text = fields.String(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    attachment = fields.Nested(ChatAttachmentOut, required=True, allow_none=True)
    choices = fields.List(fields.Nested(ChatChoiceOut), required=True)
    chosen = fields.Integer(required=True, allow_none=True)
    read_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class ChatConversationOut(Schema):
    id = fields.Integer(required=True)
    patient_id = fields.Integer(required=True)
    status = fields.String(required=True)
    assigned_to_id = fields.Integer(required=True, allow_none=True)
    last_message_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    unread = fields.Integer(required=True)


class ChatInboxRowOut(ChatConversationOut):
    patient_name = fields.String(required=True)
    preview = fields.String(required=True, allow_none=True)


class ChatConversationList(Schema):
    result = fields.List(fields.Nested(ChatInboxRowOut), required=True)


class ChatConversationResult(Schema):
    result = fields.Nested(ChatConversationOut, required=True)


class ChatMessagePage(Schema):
    result = fields.List(fields.Nested(ChatMessageOut), required=True,
                         metadata={"description": "oldest first"})
    has_more = fields.Boolean(required=True)
    side = fields.String(required=True, metadata={"description": "yours: patient or staff"})
    read_until = fields.DateTime(allow_none=True, metadata={
        "description": "the other side has read everything up to this time (your messages until then are seen)"})


class ChatPostedResult(Schema):
    result = fields.List(fields.Nested(ChatMessageOut), required=True,
                         metadata={"description": "your message, and the assistant's reply if it answered"})
    handed_over = fields.Boolean(required=True)


class ChatReadResult(Schema):
    marked = fields.Integer(required=True, metadata={"description": "how many were unread"})


class ChatTypingResult(Schema):
    side = fields.String(required=True)


COMPONENTS = (ChatInboxQuery, ChatMessagesQuery, ChatPostMessage, ChatAssign, ChatTapChoice, ChatAttachmentOut,
              ChatChoiceOut, ChatMessageOut, ChatConversationOut, ChatInboxRowOut, ChatConversationList,
              ChatConversationResult, ChatMessagePage, ChatPostedResult, ChatReadResult, ChatTypingResult)


class ChatApi(ClinicBaseApi):
    route_base = "/api/v1/chat"
    resource_name = "chat"
    openapi_spec_tag = "Chat"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = "ChatInbox"
    # Documented as needing a login; the chat service decides who reads which conversation.
    method_permission_name = {"conversations": "read", "open_mine": "write", "messages": "read", "post": "write",
                              "read": "write", "assign": "write", "choice": "write", "typing": "write",
                              "file": "read"}
    base_permissions: list[str] = []

    @expose("/conversations", methods=["GET"])
    @signed_in
    @openapi(query=ChatInboxQuery, responses={200: ("conversations, latest message first", ChatConversationList)},
             errors=(422,))
    def conversations(self, user: Any):
        """Your conversations (staff: the inbox)"""
        args = ChatInboxQuery().load(request.args.to_dict())
        now = utcnow()
        if not chat.is_chat_staff(user):
            rows = [{**conversation_json(c, "patient"), "patient_name": c.patient.full_name,
                     "preview": c.last_message_preview}
                    for c in chat.conversations_of(db.session, user, now, create=False)]
            return self.response(200, result=rows)
        found = chat.inbox(db.session, user, now, which=args["filter"], limit=args["page_size"])
        return self.response(200, result=[{
            "id": r.id, "patient_id": r.patient_id, "status": r.status, "assigned_to_id": r.assigned_to_id,
            "last_message_at": r.last_message_at.isoformat() if r.last_message_at else None, "unread": r.unread,
            "patient_name": r.patient_name, "preview": r.preview} for r in found])

    @expose("/conversations/mine", methods=["POST"])
    @signed_in
    @openapi(responses={200: ("your conversation with the clinic", ChatConversationResult)}, errors=(403,))
    def open_mine(self, user: Any):
        """Open your own conversation with the clinic (patients)"""
        conversation = chat.my_conversation(db.session, user, utcnow())
        return self.response(200, result=conversation_json(conversation, "patient"))

    @expose("/conversations/<int:conversation_id>/messages", methods=["GET"])
    @signed_in
    @openapi(query=ChatMessagesQuery, responses={200: ("a page of messages", ChatMessagePage)}, errors=(403, 404, 422))
    def messages(self, user: Any, conversation_id: int):
        """Messages of a conversation (a page; older with before_id, newer with since_id)"""
        args = ChatMessagesQuery().load(request.args.to_dict())
        page = chat.history(db.session, documents(), user, conversation_id, utcnow(), before_id=args["before_id"],
                            since_id=args["since_id"], limit=args["page_size"])
        return self.response(200, result=[message_json(m, _api_file_url) for m in page.messages],
                             has_more=page.has_more, side=page.side,
                             read_until=page.read_until.isoformat() if page.read_until else None)

    @expose("/conversations/<int:conversation_id>/messages", methods=["POST"])
    @signed_in
    @openapi(body=ChatPostMessage, responses={201: ("stored", ChatPostedResult)}, errors=(400, 403, 404, 422))
    def post(self, user: Any, conversation_id: int):
        """Post a message"""
        data = ChatPostMessage().load(json_body())
        posted = chat.post_message(db.session, documents(), user, conversation_id, data["text"], utcnow(),
                                   language=language())
        return self.response(201, result=[message_json(m, _api_file_url) for m in posted.messages],
                             handed_over=posted.handed_over)

    @expose("/conversations/<int:conversation_id>/read", methods=["POST"])
    @signed_in
    @openapi(responses={200: ("marked read", ChatReadResult)}, errors=(403, 404))
    def read(self, user: Any, conversation_id: int):
        """Mark the conversation read (read receipts for the other side)"""
        return self.response(200, marked=chat.mark_read(db.session, documents(), user, conversation_id, utcnow()))

    @expose("/conversations/<int:conversation_id>/assign", methods=["POST"])
    @signed_in
    @openapi(body=ChatAssign, responses={200: ("assigned", ChatConversationResult)}, errors=(400, 403, 404, 409, 422))
    def assign(self, user: Any, conversation_id: int):
        """Give the conversation to a colleague (staff)"""
        data = ChatAssign().load(json_body())
        conversation = chat.assign(db.session, user, conversation_id, data["assigned_to_id"], utcnow())
        return self.response(200, result=conversation_json(conversation, "staff"))

    @expose("/conversations/<int:conversation_id>/choice", methods=["POST"])
    @signed_in
    @openapi(body=ChatTapChoice, responses={201: ("tapped", ChatPostedResult)}, errors=(400, 403, 404, 409, 422))
    def choice(self, user: Any, conversation_id: int):
        """Tap one of the assistant's buttons (the patient)"""
        data = ChatTapChoice().load(json_body())
        posted = chat.tap_choice(db.session, documents(), user, conversation_id, data["message_id"], data["choice"],
                                 utcnow(), language=language())
        return self.response(201, result=[message_json(m, _api_file_url) for m in posted.messages],
                             handed_over=posted.handed_over)

    @expose("/conversations/<int:conversation_id>/typing", methods=["POST"])
    @signed_in
    @openapi(responses={200: ("the other side is told", ChatTypingResult)}, errors=(403, 404))
    def typing(self, user: Any, conversation_id: int):
        """Say you are typing (nothing is stored)"""
        return self.response(200, side=chat.typing(db.session, user, conversation_id, utcnow()))

    @expose("/conversations/<int:conversation_id>/files/<message_id>", methods=["GET"])
    @signed_in
    @openapi(responses={200: ("the file's bytes", None)}, errors=(403, 404))
    def file(self, user: Any, conversation_id: int, message_id: str):
        """A message's attached file"""
        from app.views.chat_inbox import send_attachment

        return send_attachment(user, conversation_id, message_id)
