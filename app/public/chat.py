"""The patient's chat with the clinic in the portal (issue 13, item 6): the messages, write, attach
an image or PDF, tap the assistant's buttons. chat.js fetches new messages on the ``realtime:chat``
event, every few seconds as a fallback and after a reconnect (catch-up since the last id). The
conversation is made with the first message (no GET changes anything)."""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.models import Patient
from app.models.types import utcnow
from app.public.common import bp, local, patient_required, settings
from app.services import chat
from app.services.errors import DomainError
from app.views.chat_inbox import (
    ChatActionForm,
    ChatChoiceForm,
    ChatMessageForm,
    documents,
    language,
    page_json,
    post_from_form,
    send_attachment,
    wants_json,
)


def _file_url(message: chat.Message) -> str:
    return url_for("public.chat_file", message_id=message.id)


def _mine(patient: Patient) -> int | None:
    found = chat.conversations_of(db.session, current_user, utcnow())
    return found[0].id if found else None


def _when(moment) -> str:
    at = local(moment)
    return at.strftime("%H:%M") if at.date() == local(utcnow()).date() else at.strftime("%d/%m/%Y %H:%M")


@bp.get("/me/chat")
@patient_required
def my_chat(patient: Patient) -> ResponseReturnValue:
    conversation_id = _mine(patient)
    page = None
    if conversation_id is not None:
        page = chat.history(db.session, documents(), current_user, conversation_id, utcnow(),
                            before_id=request.args.get("before") or None)
    return render_template("public/chat.html", patient=patient, page=page, conversation_id=conversation_id,
                           form=ChatMessageForm(), choice_form=ChatChoiceForm(), action_form=ChatActionForm(),
                           when=_when, file_url=_file_url, text_max=chat.TEXT_MAX, title=_("Chat with the clinic"),
                           chat_zone=str(settings().timezone))


@bp.get("/me/chat/messages")
@patient_required
def chat_messages(patient: Patient) -> ResponseReturnValue:
    conversation_id = _mine(patient)
    if conversation_id is None:
        return jsonify({"result": [], "has_more": False, "side": "patient"})
    try:
        page = chat.history(db.session, documents(), current_user, conversation_id, utcnow(),
                            since_id=request.args.get("since_id") or None,
                            before_id=request.args.get("before_id") or None)
    except DomainError as exc:
        db.session.rollback()
        return jsonify({"message": exc.message, "field": exc.field}), exc.status
    return jsonify(page_json(page, _file_url))


@bp.post("/me/chat/send")
@patient_required
def chat_send(patient: Patient) -> ResponseReturnValue:
    def conversation_id() -> int:
        return chat.patient_conversation(db.session, patient.id, utcnow()).id

    return post_from_form(current_user, conversation_id, _file_url, url_for("public.my_chat"))


@bp.post("/me/chat/choice")
@patient_required
def chat_choice(patient: Patient) -> ResponseReturnValue:
    form = ChatChoiceForm()
    conversation_id = _mine(patient)
    try:
        if not form.validate() or conversation_id is None:
            raise chat.ValidationFailed(_("There is no such choice."), "choice")
        posted = chat.tap_choice(db.session, documents(), current_user, conversation_id, form.message_id.data,
                                 int(form.choice.data), utcnow(), language=language())
    except DomainError as exc:
        db.session.rollback()
        if wants_json():
            return jsonify({"message": exc.message, "field": exc.field}), exc.status
        flash(exc.message, "danger")
        return redirect(url_for("public.my_chat"))
    if wants_json():
        from app.api.chat import message_json

        return jsonify({"result": [message_json(m, _file_url) for m in posted.messages],
                        "handed_over": posted.handed_over}), 201
    return redirect(url_for("public.my_chat"))


def _action(patient: Patient, action) -> ResponseReturnValue:
    form = ChatActionForm()
    conversation_id = _mine(patient)
    if not form.validate():
        return jsonify({"message": _("The form has expired. Please try again."), "field": "csrf_token"}), 400
    if conversation_id is None:
        return jsonify({"result": 0})
    try:
        return jsonify({"result": action(conversation_id)})
    except DomainError as exc:
        db.session.rollback()
        return jsonify({"message": exc.message, "field": exc.field}), exc.status


@bp.post("/me/chat/read")
@patient_required
def chat_read(patient: Patient) -> ResponseReturnValue:
    return _action(patient, lambda cid: chat.mark_read(db.session, documents(), current_user, cid, utcnow()))


@bp.post("/me/chat/typing")
@patient_required
def chat_typing(patient: Patient) -> ResponseReturnValue:
    return _action(patient, lambda cid: chat.typing(db.session, current_user, cid, utcnow()))


@bp.get("/me/chat/file/<message_id>")
@patient_required
def chat_file(patient: Patient, message_id: str) -> ResponseReturnValue:
    conversation_id = _mine(patient)
    if conversation_id is None:
        return jsonify({"message": _("There is no such file."), "field": "message_id"}), 404
    return send_attachment(current_user, conversation_id, message_id)
