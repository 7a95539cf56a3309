"""Review moderation (issue 14, item 5): ``/reviews/`` lists pending, published and hidden reviews;
managers publish or hide them (with the reason, told to the author); the doctor of a visit replies
publicly, once. Thin: every rule is ``app.services.reviews``.

Permission: the review resource's (``Review``), as its REST API (``app/api/reviews.py``): readers
see the list (a doctor: the reviews of their own visits), writers publish and hide; replying
needs read and the service's rule that the visit is the doctor's own."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from app.extensions import db
from app.fab.actor import acting_user, acting_user_id
from app.form_fields import strip
from app.models import Review
from app.models.types import utcnow
from app.services import access, reviews
from app.services.errors import DomainError
from app.views.base import clinic_settings

TABS = ("pending", "published", "hidden", "all")


class HideForm(FlaskForm):
    reason = StringField(_l("Reason (told to the patient)"), filters=[strip])


class ReplyForm(FlaskForm):
    reply = TextAreaField(_l("Your public reply"), filters=[strip])


class PublishForm(FlaskForm):
    """The Publish button: a POST with the CSRF token."""


class ReviewModerationView(BaseView):
    route_base = "/reviews"
    default_view = "moderation"
    class_permission_name = "Review"
    method_permission_name = {"moderation": "read", "publish": "write", "hide": "write", "reply": "read"}

    def _back(self) -> ResponseReturnValue:
        status = request.args.get("status", "pending")
        return redirect(url_for("ReviewModerationView.moderation", status=status if status in TABS else "pending"))

    @expose("/")
    @has_access
    def moderation(self) -> ResponseReturnValue:
        status = request.args.get("status", "pending")
        if status not in TABS:
            status = "pending"
        page = request.args.get("page", "1")
        can_write = self.appbuilder.sm.has_access("can_write", "Review")
        own_doctor = reviews.doctor_of_user(db.session, acting_user_id())
        doctor_id = reviews.reader_scope(db.session, acting_user_id(), can_write)
        found = reviews.moderation_list(db.session, status=status, doctor_id=doctor_id,
                                        page=int(page) if page.isdigit() and len(page) < 6 else 1,
                                        zone=clinic_settings().timezone)
        access.record_list_read(db.session, acting_user(), Review, found.rows)  # the audit: who read whose
        return self.render_template("clinic/reviews.html", found=found, status=status, tabs=TABS,
                                    can_write=can_write, own_doctor=own_doctor, criteria=reviews.CRITERIA,
                                    labels=reviews.CRITERION_LABELS, hide_form=HideForm(), reply_form=ReplyForm(),
                                    publish_form=PublishForm(), reason_max=reviews.REASON_MAX,
                                    reply_max=reviews.REPLY_MAX)

    def _act(self, form: FlaskForm, action, done: str) -> ResponseReturnValue:
        if not form.validate_on_submit():
            flash(_("The form has expired; please try again."), "danger")
            return self._back()
        try:
            action()
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "warning" if exc.status == 409 else "danger")
        else:
            flash(done, "success")
        return self._back()

    @expose("/<int:review_id>/publish", methods=["POST"])
    @has_access
    def publish(self, review_id: int) -> ResponseReturnValue:
        return self._act(PublishForm(), lambda: reviews.publish_review(db.session, review_id,
                                                                       actor_id=acting_user_id(), now=utcnow()),
                         _("The review is published."))

    @expose("/<int:review_id>/hide", methods=["POST"])
    @has_access
    def hide(self, review_id: int) -> ResponseReturnValue:
        form = HideForm()
        return self._act(form, lambda: reviews.hide_review(db.session, review_id, form.reason.data,
                                                           actor_id=acting_user_id(), now=utcnow(),
                                                           config=current_app.config),
                         _("The review is hidden; its author is told why."))

    @expose("/<int:review_id>/reply", methods=["POST"])
    @has_access
    def reply(self, review_id: int) -> ResponseReturnValue:
        form = ReplyForm()
        return self._act(form, lambda: reviews.reply_to_review(db.session, review_id, form.reply.data,
                                                               actor_id=acting_user_id(), now=utcnow()),
                         _("Your reply is saved."))
