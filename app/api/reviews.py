"""Reviews over REST (issue 14, items 5 and 6), under ``/api/v1/reviews/...``:

- the patient (a JWT or the portal's session): ``POST``/``PUT /visits/<appointment_id>`` write or
  change their review of a completed visit, ``GET /visits/<appointment_id>`` reads it back;
- anyone: ``GET /doctors/<id>`` and ``GET /services/<id>``, the published reviews as the public
  pages show them (averages only from ``REVIEW_MIN_COUNT`` on; authors as "An N.");
- staff, with the permissions of the moderation page (``Review``): ``GET /`` lists them (read),
  ``POST /<id>/publish`` and ``/<id>/hide`` (write), ``POST /<id>/reply`` (the doctor of the
  visit: read, and the service's rule that it is their visit).

Thin: parse with a schema, call one service, answer JSON; domain errors answer 403/404/409/422."""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_appbuilder.api import expose, protect
from flask_babel import gettext as _
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.api.profile import signed_in
from app.extensions import db
from app.fab.actor import acting_user, acting_user_id
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.hooks import clinic_settings
from app.fab.interface import MAX_ID
from app.models import Review
from app.models.types import utcnow
from app.services import access, catalogue, reviews
from app.services.appointments import patient_of_user
from app.services.errors import Forbidden, NotFound

_STARS = validate.Range(1, 5, error="Stars go from 1 to 5.")


def _settings() -> reviews.ReviewSettings:
    return reviews.ReviewSettings.from_config(current_app.config)


class ReviewIn(Schema):
    """1 to 5 stars for each criterion and an optional comment (at most ``REVIEW_COMMENT_MAX``
    characters)."""

    class Meta:
        unknown = RAISE

    professional = fields.Integer(required=True, strict=True, validate=_STARS)
    attitude = fields.Integer(required=True, strict=True, validate=_STARS)
    waiting_time = fields.Integer(required=True, strict=True, validate=_STARS)
    overall = fields.Integer(required=True, strict=True, validate=_STARS)
    comment = fields.String(load_default=None, allow_none=True,
                            metadata={"description": "at most REVIEW_COMMENT_MAX characters (1000)"})

    @validates_schema(skip_on_field_errors=False)
    def _comment_length(self, data: dict, **kwargs: Any) -> None:
        limit = _settings().comment_max
        text = (data.get("comment") or "").strip()
        if len(text) > limit:
            raise ValidationError(_("At most %(n)d characters (this one has %(m)d).", n=limit, m=len(text)), "comment")


class HideIn(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(reviews.REASON_MIN, reviews.REASON_MAX))


class ReplyIn(Schema):
    class Meta:
        unknown = RAISE

    reply = fields.String(required=True, validate=validate.Length(1, reviews.REPLY_MAX))


class EmptyIn(Schema):
    class Meta:
        unknown = RAISE


class ListQuery(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(load_default="pending", validate=validate.OneOf(("pending", "published", "hidden", "all")))
    doctor_id = fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID))
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100000))


class RatingsOut(Schema):
    professional = fields.Integer(allow_none=True)
    attitude = fields.Integer(allow_none=True)
    waiting_time = fields.Integer(allow_none=True)
    overall = fields.Integer(allow_none=True)


class PublicReviewOut(Schema):
    id = fields.Integer()
    author = fields.String(metadata={"description": "given name and family initial only, e.g. \"An N.\""})
    doctor_id = fields.Integer(allow_none=True)
    doctor = fields.String()
    service_id = fields.Integer(allow_none=True)
    service = fields.String()
    ratings = fields.Nested(RatingsOut)
    comment = fields.String(allow_none=True)
    reply = fields.String(allow_none=True)
    replied_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    created_at = fields.String(metadata={"format": "date-time"})


class ReviewOut(PublicReviewOut):
    status = fields.String(metadata={"enum": ["pending", "published", "hidden"]})
    hidden_reason = fields.String(allow_none=True)
    visit_day = fields.String(allow_none=True, metadata={"format": "date"})
    updated_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class ReviewResult(Schema):
    result = fields.Nested(ReviewOut)


class AveragesOut(Schema):
    professional = fields.Float()
    attitude = fields.Float()
    waiting_time = fields.Float()
    overall = fields.Float()


class PublicSummaryOut(Schema):
    count = fields.Integer(metadata={"description": "published reviews"})
    min_count = fields.Integer(metadata={"description": "averages are shown from this many reviews on"})
    averages = fields.Nested(AveragesOut, allow_none=True, metadata={"description": "null below min_count"})
    result = fields.List(fields.Nested(PublicReviewOut))


class ReviewList(Schema):
    result = fields.List(fields.Nested(ReviewOut))
    count = fields.Integer()
    page = fields.Integer()
    pages = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


COMPONENTS = (ReviewIn, HideIn, ReplyIn, EmptyIn, ListQuery, RatingsOut, PublicReviewOut, ReviewOut, ReviewResult,
              AveragesOut, PublicSummaryOut, ReviewList)


def _patient_id(user: Any) -> int:
    patient = patient_of_user(db.session, getattr(user, "id", None))
    if patient is None:
        raise Forbidden(_("Only a patient can review their visits."))
    return patient.id


class ReviewsApi(ClinicBaseApi):
    route_base = "/api/v1/reviews"
    resource_name = "reviews"
    openapi_spec_tag = "Reviews"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = "Review"
    method_permission_name = {"moderation_list": "read", "publish": "write", "hide": "write", "reply": "read"}
    allow_browser_login = True

    def _zone(self) -> Any:
        return clinic_settings().timezone

    def _one(self, review_id: int, status: int = 200):
        return self.response(status, result=reviews.review_row(db.session, review_id, self._zone()).as_json())

    # --- the patient ----------------------------------------------------------------------------

    def _write(self, user: Any, appointment_id: int, edit: bool):
        data = ReviewIn().load(json_body())
        comment = data.pop("comment")
        review = reviews.submit_review(db.session, patient_id=_patient_id(user), appointment_id=appointment_id,
                                       ratings=data, comment=comment, actor_id=user.id, now=utcnow(),
                                       settings=_settings(), edit=edit)
        return self._one(review.id, 200 if edit else 201)

    @expose("/visits/<int:appointment_id>", methods=["POST"])
    @signed_in
    @openapi(body=ReviewIn, responses={201: ("the review, waiting for moderation", ReviewResult)})
    def create_mine(self, user: Any, appointment_id: int):
        """Review my completed visit (once): 1 to 5 stars per criterion and an optional comment"""
        return self._write(user, appointment_id, edit=False)

    @expose("/visits/<int:appointment_id>", methods=["PUT"])
    @signed_in
    @openapi(body=ReviewIn, responses={200: ("the changed review, waiting for moderation again", ReviewResult)})
    def edit_mine(self, user: Any, appointment_id: int):
        """Change my review of a visit while it may be changed (REVIEW_EDIT_DAYS)"""
        return self._write(user, appointment_id, edit=True)

    @expose("/visits/<int:appointment_id>", methods=["GET"])
    @signed_in
    @openapi(responses={200: ("my review of the visit", ReviewResult)}, errors=(404,))
    def show_mine(self, user: Any, appointment_id: int):
        """My review of a visit"""
        patient_id = _patient_id(user)
        review = reviews.review_of_visit(db.session, appointment_id)
        if review is None or review.patient_id != patient_id:
            raise NotFound(_("You have not reviewed this visit yet."))
        return self._one(review.id)

    # --- public -------------------------------------------------------------------------------

    def _summary(self, summary: reviews.Summary):
        return self.response(200, count=summary.count, min_count=summary.min_count, averages=summary.averages,
                             result=[row.as_json(public=True) for row in summary.reviews])

    @expose("/doctors/<int:doctor_id>", methods=["GET"])
    @openapi(responses={200: ("the doctor's published reviews", PublicSummaryOut)}, errors=(404,))
    def doctor_reviews(self, doctor_id: int):
        """A doctor's published reviews: averages per criterion, count, comments (public)"""
        if catalogue.active_doctor(db.session, doctor_id) is None:
            raise NotFound(_("No such doctor."))
        return self._summary(reviews.public_summary(db.session, doctor_id=doctor_id, settings=_settings(),
                                                    zone=self._zone()))

    @expose("/services/<int:service_id>", methods=["GET"])
    @openapi(responses={200: ("the service's published reviews", PublicSummaryOut)}, errors=(404,))
    def service_reviews(self, service_id: int):
        """A service's published reviews: averages per criterion, count, comments (public)"""
        if catalogue.active_service(db.session, service_id) is None:
            raise NotFound(_("No such service."))
        return self._summary(reviews.public_summary(db.session, service_id=service_id, settings=_settings(),
                                                    zone=self._zone()))

    # --- staff ----------------------------------------------------------------------------------

    @expose("/", methods=["GET"])
    @protect()
    @openapi(query=ListQuery, responses={200: ("reviews, newest first", ReviewList)}, errors=(400, 422))
    def moderation_list(self):
        """Reviews to moderate: pending, published, hidden or all, newest first (a doctor: their own visits')"""
        args = ListQuery().load(request.args.to_dict())
        own = reviews.reader_scope(db.session, acting_user_id(), self.appbuilder.sm.has_access("can_write", "Review"))
        if own is not None and args["doctor_id"] not in (None, own):
            return self.response(200, result=[], count=0, page=1, pages=1, counts={})
        found = reviews.moderation_list(db.session, status=args["status"], doctor_id=own or args["doctor_id"],
                                        page=args["page"], zone=self._zone())
        access.record_list_read(db.session, acting_user(), Review, found.rows)
        return self.response(200, result=[row.as_json() for row in found.rows], count=found.total, page=found.page,
                             pages=found.pages, counts=found.counts)

    @expose("/<int:pk>/publish", methods=["POST"])
    @protect()
    @openapi(body=EmptyIn, responses={200: ("published", ReviewResult)})
    def publish(self, pk: int):
        """Publish a review on the doctor's and the service's pages"""
        EmptyIn().load(json_body())
        reviews.publish_review(db.session, pk, actor_id=acting_user_id(), now=utcnow())
        return self._one(pk)

    @expose("/<int:pk>/hide", methods=["POST"])
    @protect()
    @openapi(body=HideIn, responses={200: ("hidden; its author is told the reason", ReviewResult)})
    def hide(self, pk: int):
        """Hide a review, with the reason told to its author"""
        data = HideIn().load(json_body())
        reviews.hide_review(db.session, pk, data["reason"], actor_id=acting_user_id(), now=utcnow(),
                            config=current_app.config)
        return self._one(pk)

    @expose("/<int:pk>/reply", methods=["POST"])
    @protect()
    @openapi(body=ReplyIn, responses={200: ("the reply, shown under the review", ReviewResult)},
             errors=(403, 404, 409, 422))
    def reply(self, pk: int):
        """The doctor of the visit replies publicly, once"""
        data = ReplyIn().load(json_body())
        reviews.reply_to_review(db.session, pk, data["reply"], actor_id=acting_user_id(), now=utcnow())
        return self._one(pk)
