"""Rules for reviews, notifications and reminder logs."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import Notification, ReminderLog, Review
from app.services import validation as v
from app.services.errors import ValidationFailed
from app.services.settings import ClinicSettings

RATINGS = ("rating_professional", "rating_attitude", "rating_waiting_time", "rating_overall")


def validate_review(session: Session, review: Review, settings: ClinicSettings) -> None:
    if review.rating_overall is None:
        raise ValidationFailed(_("This field is required."), "rating_overall")
    for field in RATINGS:
        v.in_range(field, getattr(review, field), 1, 5)
    if not (review.doctor_id or review.doctor or review.service_id or review.service):
        raise ValidationFailed(_("Choose the doctor or the service being reviewed."), "doctor_id")


def validate_notification(session: Session, notification: Notification, settings: ClinicSettings) -> None:
    notification.title = v.require_text("title", notification.title, 200)
    notification.kind = v.require_text("kind", notification.kind, 40)


def validate_reminder_log(session: Session, log: ReminderLog, settings: ClinicSettings) -> None:
    log.kind = v.require_text("kind", log.kind, 40)
