"""The call page's JSON endpoints for recording with consent and for sending files (issue 15, items
3 and 4), called by ``static/js/video_recording.js`` and ``static/js/video_files.js`` with the
browser's session and the CSRF token (``X-CSRFToken``), like the other pages' own fetches.

Thin: each asks ``telemedicine.call_seat`` for the user's seat in the appointment's call (only its
own doctor and patient, inside the join window; no role permission beyond that), then one service
(``app.services.video_recording``, ``app.services.video_files``). Every refusal is a 4xx JSON
``{"message", "reason", "field"}``; playback is an audited read under the care-team rule."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose
from flask_babel import gettext as _

from app.extensions import db
from app.fab.actor import acting_user
from app.file_transfer import max_bytes, read_upload, serve, store
from app.models.types import utcnow
from app.services import access, realtime_hooks, telemedicine, video_files, video_recording
from app.services.errors import DomainError
from app.services.telemedicine import CallSeat, JoinWindow
from app.services.video_recording import InvalidTag, RecordingRefused, RecordingSetup

# Refusals of a seat that are about someone else's call (the others: too early, too late, cancelled).
ACCESS_REFUSALS = ("not_yours", "not_found")
REASONS = {403: "forbidden", 404: "not_found", 409: "conflict", 410: "gone", 413: "too_large", 422: "invalid",
           503: "unavailable"}


def refusal(exc: DomainError) -> ResponseReturnValue:
    db.session.rollback()
    reason = getattr(exc, "reason", None)
    if reason is None:
        reason = "care_access" if isinstance(exc, access.CareAccessDenied) else REASONS.get(exc.status, "refused")
    return jsonify(message=exc.message, reason=reason, field=exc.field), exc.status


def setup() -> RecordingSetup:
    return RecordingSetup.from_config(current_app.config, store())


class VideoCallToolsView(BaseView):
    """No role permission: the seat in the call (or, for playback, the care-team rule) decides."""

    route_base = "/video-call"
    default_view = "recordings"

    def _user(self) -> Any:
        user = acting_user()
        if user is None:
            raise RecordingRefused("login", _("Sign in to take part in the call."), 401)
        return user

    def _seat(self, appointment_id: int) -> tuple[Any, CallSeat]:
        """The doctor's or the patient's seat; a guest's is refused (a guest neither records, nor
        is asked to consent, nor sends or sees the files that land in the patient's record)."""
        user = self._user()
        try:
            seat = telemedicine.call_seat(db.session, user, appointment_id, utcnow(),
                                          JoinWindow.from_config(current_app.config))
        except telemedicine.CallRefused as exc:
            if exc.reason in ACCESS_REFUSALS:  # someone else's call (or no call at all): logged
                db.session.rollback()
                access.record_denial(db.session, user, "Appointment", appointment_id,
                                     {"video_call": exc.reason, "path": request.path})
            raise
        if seat.role == "guest":
            raise RecordingRefused("guest", _("A guest of the call cannot record it or send files."), 403)
        return user, seat

    # --- recording ---------------------------------------------------------------------------

    @expose("/<int:appointment_id>/recordings", methods=["GET"])
    def recordings(self, appointment_id: int) -> ResponseReturnValue:
        try:
            _user, seat = self._seat(appointment_id)
            rows = video_recording.call_recordings(db.session, seat)
        except DomainError as exc:
            return refusal(exc)
        return jsonify(role=seat.role, retention_days=setup().retention_days,
                       recordings=[row.as_json() for row in rows])

    @expose("/<int:appointment_id>/recordings", methods=["POST"])
    def request_recording(self, appointment_id: int) -> ResponseReturnValue:
        try:
            _user, seat = self._seat(appointment_id)
            recording = video_recording.request_recording(db.session, seat, utcnow(), setup=setup())
        except DomainError as exc:
            return refusal(exc)
        return jsonify(video_recording.view(db.session, recording).as_json()), 201

    @expose("/<int:appointment_id>/recordings/<int:recording_id>/consent", methods=["POST"])
    def consent(self, appointment_id: int, recording_id: int) -> ResponseReturnValue:
        body = request.get_json(silent=True)
        accept = body.get("accept") if isinstance(body, dict) else None
        try:
            _user, seat = self._seat(appointment_id)
            if not isinstance(accept, bool):
                raise RecordingRefused("invalid", _("Answer with accept true or false."), 422, "accept")
            recording = video_recording.decide(db.session, seat, recording_id, accept, utcnow(), setup=setup())
        except DomainError as exc:
            return refusal(exc)
        return jsonify(video_recording.view(db.session, recording).as_json())

    @expose("/<int:appointment_id>/recordings/<int:recording_id>/stop", methods=["POST"])
    def stop(self, appointment_id: int, recording_id: int) -> ResponseReturnValue:
        try:
            _user, seat = self._seat(appointment_id)
            recording = video_recording.stop(db.session, seat, recording_id, utcnow(), setup=setup())
        except DomainError as exc:
            return refusal(exc)
        return jsonify(video_recording.view(db.session, recording).as_json())

    @expose("/<int:appointment_id>/recordings/<int:recording_id>/chunks", methods=["POST"])
    def chunk(self, appointment_id: int, recording_id: int) -> ResponseReturnValue:
        """The body is the chunk's bytes (``application/octet-stream``); ``?seq=`` its number."""
        raw_seq = request.args.get("seq", "")
        try:
            _user, seat = self._seat(appointment_id)
            seq: Any = int(raw_seq) if raw_seq.isdigit() and len(raw_seq) < 11 else raw_seq
            limit = setup().chunk_max_bytes
            if (request.content_length or 0) > limit:
                raise RecordingRefused("chunk_too_large", _("The chunk is larger than the limit."), 413, "chunk")
            data = request.stream.read(limit + 1)
            chunk = video_recording.add_chunk(db.session, seat, recording_id, seq, data, utcnow(), setup=setup())
        except DomainError as exc:
            return refusal(exc)
        return jsonify(recording_id=recording_id, seq=chunk.seq, size=chunk.size_bytes), 201

    @expose("/recordings/<int:recording_id>/play", methods=["GET"])
    def play(self, recording_id: int) -> ResponseReturnValue:
        """The recording (WebM, as the doctor's browser made it), decrypted chunk by chunk."""
        user = acting_user()
        try:
            if user is None:
                raise RecordingRefused("login", _("Sign in to play a recording."), 401)
            recording = video_recording.open_recording(db.session, user, recording_id, utcnow())
            chunks = video_recording.play(db.session, recording, setup=setup())
            first = next(chunks, b"")  # a wrong key or damaged bytes fail here, before the answer starts
        except InvalidTag:
            db.session.rollback()
            return jsonify(message=_("This recording cannot be decrypted with the configured key."),
                           reason="undecryptable", field=None), 409
        except DomainError as exc:
            return refusal(exc)

        def body():
            yield first
            yield from chunks

        response = Response(stream_with_context(body()), mimetype="video/webm")
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # --- files -------------------------------------------------------------------------------

    @expose("/<int:appointment_id>/files", methods=["GET"])
    def files(self, appointment_id: int) -> ResponseReturnValue:
        try:
            user, seat = self._seat(appointment_id)
            rows = video_files.shared_files(db.session, seat, user)
        except DomainError as exc:
            return refusal(exc)
        return jsonify(files=[dict(row.as_json(), url=f"/video-call/{appointment_id}/files/{row.attachment_id}")
                              for row in rows])

    @expose("/<int:appointment_id>/files", methods=["POST"])
    def send_file(self, appointment_id: int) -> ResponseReturnValue:
        try:
            _user, seat = self._seat(appointment_id)
            file_name, data = read_upload()
            attachment = video_files.send_file(db.session, seat, file_name, data, utcnow(), store=store(),
                                               max_bytes=max_bytes())
        except DomainError as exc:
            return refusal(exc)
        return jsonify(attachment_id=attachment.id, name=attachment.file_name,
                       url=f"/video-call/{appointment_id}/files/{attachment.id}"), 201

    @expose("/<int:appointment_id>/files/<int:attachment_id>", methods=["GET"])
    def shared_file(self, appointment_id: int, attachment_id: int) -> ResponseReturnValue:
        try:
            user, seat = self._seat(appointment_id)
            attachment = video_files.open_shared(db.session, seat, user, attachment_id, utcnow())
            return serve(attachment, thumbnail=False)
        except DomainError as exc:
            return refusal(exc)

    # --- a third participant (the doctor's invitations) --------------------------------------

    @staticmethod
    def _guest_json(appointment_id: int, guest: Any) -> dict[str, Any]:
        state = "withdrawn" if guest.revoked_at else ("joined" if guest.redeemed_at else "invited")
        return {"id": guest.id, "name": guest.display_name, "state": state,
                "withdraw_url": f"/video-call/{appointment_id}/guests/{guest.id}/withdraw"}

    @expose("/<int:appointment_id>/guests", methods=["GET"])
    def guests(self, appointment_id: int) -> ResponseReturnValue:
        try:
            rows = telemedicine.call_guests(db.session, appointment_id, self._user())
        except DomainError as exc:
            return refusal(exc)
        return jsonify(guests=[self._guest_json(appointment_id, guest) for guest in rows])

    @expose("/<int:appointment_id>/guests", methods=["POST"])
    def invite_guest(self, appointment_id: int) -> ResponseReturnValue:
        """``{"display_name"}``: a one-time link for a third participant, shown once."""
        body = request.get_json(silent=True)
        name = body.get("display_name") if isinstance(body, dict) else None
        try:
            invite = telemedicine.invite_guest(db.session, appointment_id, self._user(), name, utcnow(),
                                               JoinWindow.from_config(current_app.config))
            db.session.commit()
        except DomainError as exc:
            return refusal(exc)
        link = request.host_url.rstrip("/") + telemedicine.guest_link_path(invite.token)
        return jsonify({**self._guest_json(appointment_id, invite.guest), "link": link}), 201

    @expose("/<int:appointment_id>/guests/<int:guest_id>/withdraw", methods=["POST"])
    def withdraw_guest(self, appointment_id: int, guest_id: int) -> ResponseReturnValue:
        try:
            guest = telemedicine.revoke_guest(db.session, appointment_id, guest_id, self._user(), utcnow())
            db.session.commit()
        except DomainError as exc:
            return refusal(exc)
        realtime_hooks.call_guest_withdrawn(appointment_id, guest.user_id)
        return jsonify(self._guest_json(appointment_id, guest))
