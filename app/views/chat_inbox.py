"""The staff chat inbox (issue 13, item 6): conversations with unread counts (all, mine,
unassigned, waiting for a person), one conversation with its messages, reply (text, a canned
reply, an image or PDF), assign to a colleague, close. And the canned replies managers keep.

Permission ``ChatInbox``: ``can_read`` (the inbox), ``can_write`` (reply, assign, close),
``can_manage`` (edit the canned replies). Which conversations a user sees is the chat service's
rule (the desk all, a doctor the care team's), audited there.

Also the pieces the patient portal (app/public/chat.py) and the REST API share: the forms, the
JSON of a page of messages for chat.js, posting from a form, serving a message's file."""
from __future__ import annotations

import io
from typing import Any, Callable

from flask import current_app, flash, jsonify, redirect, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app import file_transfer
from app.api.chat import message_json
from app.extensions import db
from app.fab.actor import acting_user
from app.form_fields import first_errors
from app.models import ChatCannedReply
from app.models.types import utcnow
from app.services import chat
from app.services.errors import DomainError, ValidationFailed
from app.views.base import ClinicInterface, ClinicModelView, clinic_settings

PERMISSION = "ChatInbox"
FILTER_LABELS = {"all": _l("All"), "mine": _l("Mine"), "unassigned": _l("Unassigned"),
                 "waiting": _l("Waiting for a person")}
STATUS_LABELS = {"open": _l("Assistant"), "waiting": _l("Waiting for a person"), "assigned": _l("Assigned"),
                 "closed": _l("Closed")}


class ChatMessageForm(FlaskForm):
    """A message: text, a file, or both (the file is read by ``file_transfer.read_upload``)."""

    text = TextAreaField(_l("Message"), validators=[Optional(), Length(max=chat.TEXT_MAX)])


class ChatChoiceForm(FlaskForm):
    message_id = HiddenField(validators=[InputRequired(), Length(max=36)])
    choice = IntegerField(validators=[InputRequired(), NumberRange(0, 50)])


class ChatAssignForm(FlaskForm):
    assigned_to_id = SelectField(_l("Assign to"), coerce=str, validate_choice=False)


class ChatActionForm(FlaskForm):
    """Mark read, typing, close: only the CSRF token."""


def documents() -> Any:
    return current_app.extensions["documents"]


def language() -> str:
    return str(get_locale() or "vi")


def send_attachment(user: Any, conversation_id: int, message_id: str) -> ResponseReturnValue:
    """A message's file, after the access check; images inline, PDFs as a download."""
    ref = chat.attachment_of(db.session, documents(), user, conversation_id, message_id, utcnow())
    data = file_transfer.store().get(ref["key"])
    image = str(ref.get("content_type", "")).startswith("image/")
    response = send_file(io.BytesIO(data), mimetype=ref["content_type"], as_attachment=not image,
                         download_name=ref.get("name") or "file", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "fetch" or request.accept_mimetypes.best == "application/json"


def page_json(page: chat.Page, file_url: Callable[[chat.Message], str]) -> dict[str, Any]:
    return {"result": [message_json(m, file_url) for m in page.messages], "has_more": page.has_more,
            "side": page.side, "read_until": page.read_until.isoformat() if page.read_until else None}


def post_from_form(user: Any, conversation_id: Callable[[], int], file_url: Callable[[chat.Message], str],
                   back: str) -> ResponseReturnValue:
    """Post the form's text and file as ``user``: JSON for chat.js (201, or 4xx naming the field),
    a redirect with a message for a plain form."""
    form = ChatMessageForm()
    attachment = None
    try:
        if not form.validate():
            errors = first_errors(form)
            field = next(iter(errors), "text")
            raise ValidationFailed(errors.get(field) or _("The form has expired. Please try again."),
                                        field if field != "csrf_token" else "csrf_token")
        file_name, data = file_transfer.read_upload("file")
        files = file_transfer.store()
        if data or file_name:
            attachment = chat.store_attachment(files, file_name, data, max_bytes=file_transfer.max_bytes())
        try:
            posted = chat.post_message(db.session, documents(), user, conversation_id(), form.text.data, utcnow(),
                                       attachment=attachment, language=language())
        except Exception:
            chat.forget_attachment(files, attachment)
            raise
    except DomainError as exc:
        db.session.rollback()
        if wants_json():
            return jsonify({"message": exc.message, "field": exc.field or "text",
                            "errors": {exc.field or "text": exc.message}}), exc.status
        flash(exc.message, "danger")
        return redirect(back)
    if wants_json():
        return jsonify({"result": [message_json(m, file_url) for m in posted.messages],
                        "handed_over": posted.handed_over,
                        "conversation_id": posted.messages[0].conversation_id if posted.messages else None}), 201
    return redirect(back)


class ChatInboxView(BaseView):
    route_base = "/chat-inbox"
    default_view = "inbox"
    class_permission_name = PERMISSION
    method_permission_name = {"inbox": "read", "conversation": "read", "messages": "read", "file": "read",
                              "reply": "write", "assign": "write", "read": "write", "typing": "write",
                              "close": "write"}

    @staticmethod
    def _file_url(message: chat.Message) -> str:
        return url_for("ChatInboxView.file", conversation_id=message.conversation_id, message_id=message.id)

    @expose("/")
    @has_access
    def inbox(self) -> ResponseReturnValue:
        which = request.args.get("filter", "all")
        if which not in chat.INBOX_FILTERS:
            which = "all"
        user = acting_user()
        now = utcnow()
        rows = chat.inbox(db.session, user, now, which=which)
        return self.render_template("clinic/chat_inbox.html", rows=rows, which=which, filters=FILTER_LABELS,
                                    statuses=STATUS_LABELS, when=self._when, unread=chat.staff_unread(
                                        db.session, user, now))

    @staticmethod
    def _when(moment: Any) -> str:
        if moment is None:
            return ""
        zone = clinic_settings().timezone
        local = moment.astimezone(zone)
        today = utcnow().astimezone(zone).date()
        return local.strftime("%H:%M") if local.date() == today else local.strftime("%d/%m/%Y %H:%M")

    @expose("/<int:conversation_id>")
    @has_access
    def conversation(self, conversation_id: int) -> ResponseReturnValue:
        user = acting_user()
        now = utcnow()
        try:
            conversation, _side = chat.open_conversation(db.session, user, conversation_id, now, audit_read=False)
            page = chat.history(db.session, documents(), user, conversation_id, now,
                                before_id=request.args.get("before") or None)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return redirect(url_for("ChatInboxView.inbox"))
        assign_form = ChatAssignForm()
        assign_form.assigned_to_id.choices = [("", _("Nobody (unassigned)"))] + [
            (str(uid), name) for uid, name in chat.assignable_staff(db.session)]
        assign_form.assigned_to_id.data = str(conversation.assigned_to_id or "")
        return self.render_template(
            "clinic/chat_conversation.html", conversation=conversation, page=page, form=ChatMessageForm(),
            assign_form=assign_form, action_form=ChatActionForm(), canned=chat.canned_replies(db.session),
            statuses=STATUS_LABELS, when=self._when, file_url=self._file_url, text_max=chat.TEXT_MAX,
            chat_zone=str(clinic_settings().timezone))

    @expose("/<int:conversation_id>/messages")
    @has_access
    def messages(self, conversation_id: int) -> ResponseReturnValue:
        try:
            page = chat.history(db.session, documents(), acting_user(), conversation_id, utcnow(),
                                since_id=request.args.get("since_id") or None,
                                before_id=request.args.get("before_id") or None)
        except DomainError as exc:
            db.session.rollback()
            return jsonify({"message": exc.message, "field": exc.field}), exc.status
        return jsonify(page_json(page, self._file_url))

    @expose("/<int:conversation_id>/reply", methods=["POST"])
    @has_access
    def reply(self, conversation_id: int) -> ResponseReturnValue:
        return post_from_form(acting_user(), lambda: conversation_id, self._file_url,
                              url_for("ChatInboxView.conversation", conversation_id=conversation_id))

    @expose("/<int:conversation_id>/file/<message_id>")
    @has_access
    def file(self, conversation_id: int, message_id: str) -> ResponseReturnValue:
        return send_attachment(acting_user(), conversation_id, message_id)

    @expose("/<int:conversation_id>/assign", methods=["POST"])
    @has_access
    def assign(self, conversation_id: int) -> ResponseReturnValue:
        form = ChatAssignForm()
        back = url_for("ChatInboxView.conversation", conversation_id=conversation_id)
        if not form.validate():
            flash(_("The form has expired. Please try again."), "danger")
            return redirect(back)
        raw = (form.assigned_to_id.data or "").strip()
        try:
            assignee = int(raw) if raw else None
            chat.assign(db.session, acting_user(), conversation_id, assignee, utcnow())
        except ValueError:
            flash(_("There is no such colleague."), "danger")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            flash(_("The conversation was assigned.") if assignee else _("The conversation is unassigned."),
                  "success")
        return redirect(back)

    def _action(self, conversation_id: int, action: Callable[[], Any]) -> ResponseReturnValue:
        form = ChatActionForm()
        if not form.validate():
            return jsonify({"message": _("The form has expired. Please try again."), "field": "csrf_token"}), 400
        try:
            result = action()
        except DomainError as exc:
            db.session.rollback()
            return jsonify({"message": exc.message, "field": exc.field}), exc.status
        return jsonify({"result": result})

    @expose("/<int:conversation_id>/read", methods=["POST"])
    @has_access
    def read(self, conversation_id: int) -> ResponseReturnValue:
        return self._action(conversation_id, lambda: chat.mark_read(db.session, documents(), acting_user(),
                                                                    conversation_id, utcnow()))

    @expose("/<int:conversation_id>/typing", methods=["POST"])
    @has_access
    def typing(self, conversation_id: int) -> ResponseReturnValue:
        return self._action(conversation_id, lambda: chat.typing(db.session, acting_user(), conversation_id,
                                                                 utcnow()))

    @expose("/<int:conversation_id>/close", methods=["POST"])
    @has_access
    def close(self, conversation_id: int) -> ResponseReturnValue:
        form = ChatActionForm()
        if form.validate():
            try:
                chat.close_conversation(db.session, acting_user(), conversation_id, utcnow())
                flash(_("The conversation was closed."), "success")
            except DomainError as exc:
                db.session.rollback()
                flash(exc.message, "danger")
        return redirect(url_for("ChatInboxView.inbox"))


class ChatCannedReplyView(ClinicModelView):
    """The canned replies staff pick in the inbox; managers keep them (``can_manage``)."""

    datamodel = ClinicInterface(ChatCannedReply)
    route_base = "/chat-inbox/replies"  # a page of the chat inbox, not one of the generated resources
    class_permission_name = PERMISSION
    method_permission_name = {"list": "read", "show": "read", "add": "manage", "edit": "manage",
                              "delete": "manage", "action": "manage", "action_post": "manage",
                              "download": "read"}
    list_title = _l("Canned replies")
    list_columns = ["position", "title", "body"]
    add_columns = edit_columns = show_columns = ["title", "body", "position"]
    order_columns = ["position", "title"]
    base_order = ("position", "asc")
