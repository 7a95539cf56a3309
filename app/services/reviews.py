"""Reviews and stars (issue 14, item 5): every rule about them, for the portal, the back office,
the public pages, the REST API and the dashboards.

- A patient rates a *completed* visit of their own, once: professional quality, attitude, waiting
  time and overall, 1 to 5 stars each, with an optional comment (``REVIEW_COMMENT_MAX``
  characters). They may change it for ``REVIEW_EDIT_DAYS`` days after writing it; a changed review
  is moderated again.
- Managers publish or hide it (hidden: with a reason, told to its author in-app and by e-mail).
- The doctor of the visit replies publicly, once.
- The public pages show averages per criterion (only from ``REVIEW_MIN_COUNT`` published reviews
  on), the count and the published comments, signed with the given name and the family name's
  initial only ("Nguyễn Văn An" -> "An N."): nothing else of the patient.

Stored statuses: ``pending``, ``approved`` (published), ``rejected`` (hidden)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.i18n import N_
from app.models import Appointment, Doctor, Patient, Review, Service
from app.services.errors import Conflict, FieldErrors, Forbidden, NotFound, ValidationFailed, committing

PENDING, PUBLISHED, HIDDEN = "pending", "approved", "rejected"
STATUS_NAMES = {PENDING: "pending", PUBLISHED: "published", HIDDEN: "hidden"}  # as the API and pages say it
STATUS_BY_NAME = {name: status for status, name in STATUS_NAMES.items()}
STATUS_LABELS = {PENDING: N_("Pending"), PUBLISHED: N_("Published"), HIDDEN: N_("Hidden")}
CRITERIA = ("professional", "attitude", "waiting_time", "overall")
CRITERION_LABELS = {"professional": N_("Professional quality"), "attitude": N_("Attitude"),
                    "waiting_time": N_("Waiting time"), "overall": N_("Overall")}
REASON_MIN, REASON_MAX = 5, 500
REPLY_MAX = 1000
PAGE_SIZE = 25


@dataclass(frozen=True)
class ReviewSettings:
    edit_days: int = 14  # REVIEW_EDIT_DAYS
    min_count: int = 3  # REVIEW_MIN_COUNT: fewer published reviews, no average shown
    comment_max: int = 1000  # REVIEW_COMMENT_MAX

    @classmethod
    def from_config(cls, config: Mapping) -> "ReviewSettings":
        return cls(edit_days=int(config.get("REVIEW_EDIT_DAYS", 14)), min_count=int(config.get("REVIEW_MIN_COUNT", 3)),
                   comment_max=int(config.get("REVIEW_COMMENT_MAX", 1000)))


def column(criterion: str) -> Any:
    return getattr(Review, f"rating_{criterion}")


def display_name(full_name: str | None) -> str:
    """What the public reads of a reviewer: the given name and the family name's initial.
    Vietnamese names are written family name first: "Nguyễn Văn An" -> "An N."."""
    parts = (full_name or "").split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return f"{parts[-1]} {parts[0][0].upper()}."


def editable_until(review: Review, settings: ReviewSettings) -> datetime:
    return review.created_at + timedelta(days=settings.edit_days)


def may_edit(review: Review, now: datetime, settings: ReviewSettings) -> bool:
    return now < editable_until(review, settings)


# --- the patient ------------------------------------------------------------------------------


def review_of_visit(session: Session, appointment_id: int) -> Review | None:
    return session.execute(sa.select(Review).where(Review.appointment_id == appointment_id)).scalars().first()


def reviewable_visit(session: Session, patient_id: int, appointment_id: int) -> Appointment:
    """The patient's own completed visit, or the reason it cannot be reviewed."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != patient_id:
        raise NotFound(_("This visit is not one of yours."), "appointment_id")
    if appointment.status != "completed":
        raise Conflict(_("A visit can be reviewed once it is completed."), "appointment_id")
    return appointment


def check_input(ratings: Mapping[str, Any], comment: str | None, settings: ReviewSettings) -> tuple[dict, str | None]:
    """Every broken field at once (422): each criterion 1 to 5 stars, the comment's length."""
    errors: dict[str, str] = {}
    clean: dict[str, int] = {}
    for criterion in CRITERIA:
        value = ratings.get(criterion)
        if value is None or value == "":
            errors[criterion] = _("Choose from 1 to 5 stars.")
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if isinstance(value, bool) or str(number) != str(value).strip() or not 1 <= number <= 5:
            errors[criterion] = _("Stars go from 1 to 5.")
        else:
            clean[criterion] = number
    text = (comment or "").strip() or None
    if text and len(text) > settings.comment_max:
        errors["comment"] = _("At most %(n)d characters (this one has %(m)d).", n=settings.comment_max, m=len(text))
    if errors:
        raise FieldErrors(errors)
    return clean, text


def submit_review(session: Session, *, patient_id: int, appointment_id: int, ratings: Mapping[str, Any],
                  comment: str | None, actor_id: int | None, now: datetime, settings: ReviewSettings,
                  edit: bool | None = None) -> Review:
    """Write the patient's review of a visit, or change it while it may be changed. ``edit``:
    True only changes (404 when there is none), False only creates (409 when there is one), None
    does whichever applies (the portal's form). A changed review waits for moderation again."""
    appointment = reviewable_visit(session, patient_id, appointment_id)
    existing = review_of_visit(session, appointment.id)
    if existing is None and edit:
        raise NotFound(_("You have not reviewed this visit yet."), "appointment_id")
    if existing is not None and edit is False:
        raise Conflict(_("You have already reviewed this visit."), "appointment_id")
    if existing is not None and not may_edit(existing, now, settings):
        raise Conflict(_("A review can be changed for %(n)d days after it was written.", n=settings.edit_days),
                       "appointment_id")
    clean, text = check_input(ratings, comment, settings)
    with committing(session):
        review = existing or Review(patient_id=patient_id, appointment_id=appointment.id, created_at=now)
        review.doctor_id = appointment.doctor_id
        review.service_id = appointment.service_id
        for criterion, value in clean.items():
            setattr(review, f"rating_{criterion}", value)
        review.comment = text
        review.status = PENDING
        review.hidden_reason = None
        review.moderated_at = None
        review.moderated_by_id = None
        if existing is not None:
            review.updated_at = now
        session.add(review)
        try:
            session.flush()
        except IntegrityError as exc:  # the same visit reviewed twice at once
            raise Conflict(_("You have already reviewed this visit."), "appointment_id") from exc
    return review


def own_review(session: Session, patient_id: int, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None or review.patient_id != patient_id:
        raise NotFound(_("This review is not one of yours."))
    return review


def reviews_by_visit(session: Session, patient_id: int) -> dict[int, Review]:
    """The patient's reviews by visit (the portal marks the visits already rated)."""
    rows = session.execute(sa.select(Review).where(Review.patient_id == patient_id,
                                                   Review.appointment_id.is_not(None))).scalars()
    return {r.appointment_id: r for r in rows if r.appointment_id is not None}


# --- moderation and reply ---------------------------------------------------------------------


def _load(session: Session, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None:
        raise NotFound(_("No such review."))
    return review


def publish_review(session: Session, review_id: int, *, actor_id: int | None, now: datetime) -> Review:
    review = _load(session, review_id)
    with committing(session):
        review.status = PUBLISHED
        review.hidden_reason = None
        review.moderated_by_id = actor_id
        review.moderated_at = now
    return review


def hide_review(session: Session, review_id: int, reason: str | None, *, actor_id: int | None, now: datetime,
                config: Mapping | None = None) -> Review:
    """Hide a review with the reason, told to its author (in-app and by e-mail)."""
    from app.services import notices

    review = _load(session, review_id)
    text = (reason or "").strip()
    if len(text) < REASON_MIN:
        raise ValidationFailed(_("Say why the review is hidden (at least %(n)d characters).", n=REASON_MIN),
                               "reason")
    if len(text) > REASON_MAX:
        raise ValidationFailed(_("At most %(n)d characters (this one has %(m)d).", n=REASON_MAX, m=len(text)),
                               "reason")
    with committing(session):
        review.status = HIDDEN
        review.hidden_reason = text
        review.moderated_by_id = actor_id
        review.moderated_at = now
        session.flush()
        message_ids = notices.notify_review_hidden(session, review, config=config or {}, now=now)
    _deliver(config, message_ids)
    return review


def _deliver(config: Mapping | None, message_ids: list[int]) -> None:
    if not message_ids or config is None:
        return
    try:
        from app.services.messaging.delivery import enqueue_deliveries

        enqueue_deliveries(config, message_ids)
    except Exception:  # noqa: BLE001 - the moderation stands; the e-mail is retried by delivery
        import logging

        logging.getLogger(__name__).exception("could not deliver review notices %s", message_ids)


def doctor_of_user(session: Session, user_id: int | None) -> int | None:
    if not user_id:
        return None
    return session.execute(sa.select(Doctor.id).where(Doctor.user_id == user_id)).scalars().first()


def reply_to_review(session: Session, review_id: int, text: str | None, *, actor_id: int | None,
                    now: datetime) -> Review:
    """The doctor of the reviewed visit answers publicly, once."""
    review = _load(session, review_id)
    doctor_id = doctor_of_user(session, actor_id)
    if doctor_id is None or doctor_id != review.doctor_id:
        raise Forbidden(_("Only the doctor of the visit can reply to its review."))
    if review.reply:
        raise Conflict(_("This review already has your reply."), "reply")
    if review.status == HIDDEN:
        raise Conflict(_("A hidden review cannot be replied to."), "reply")
    body = (text or "").strip()
    if not body:
        raise ValidationFailed(_("Write your reply."), "reply")
    if len(body) > REPLY_MAX:
        raise ValidationFailed(_("At most %(n)d characters (this one has %(m)d).", n=REPLY_MAX, m=len(body)), "reply")
    with committing(session):
        review.reply = body
        review.replied_by_id = actor_id
        review.replied_at = now
    return review


# --- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewRow:
    """A review as staff and the public read it: never the patient's full name, code or contact."""

    id: int
    author: str  # "An N."
    doctor_id: int | None
    doctor: str
    service_id: int | None
    service: str
    visit_day: date | None
    ratings: dict[str, int | None]
    comment: str | None
    status: str  # pending, published, hidden
    hidden_reason: str | None
    reply: str | None
    replied_at: datetime | None
    created_at: datetime
    updated_at: datetime | None

    def as_json(self, *, public: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "author": self.author, "doctor_id": self.doctor_id, "doctor": self.doctor,
            "service_id": self.service_id, "service": self.service, "ratings": dict(self.ratings),
            "comment": self.comment, "reply": self.reply,
            "replied_at": self.replied_at.isoformat() if self.replied_at else None,
            "created_at": self.created_at.isoformat(),
        }
        if not public:
            data.update(status=self.status, hidden_reason=self.hidden_reason,
                        visit_day=self.visit_day.isoformat() if self.visit_day else None,
                        updated_at=self.updated_at.isoformat() if self.updated_at else None)
        return data


def _rows(session: Session, query: sa.Select, zone: Any = None) -> list[ReviewRow]:
    found = session.execute(query).all()
    rows = []
    for review, patient_name, doctor_name, service_name, start_at in found:
        rows.append(ReviewRow(
            id=review.id, author=display_name(patient_name), doctor_id=review.doctor_id, doctor=doctor_name or "",
            service_id=review.service_id, service=service_name or "",
            visit_day=(start_at.astimezone(zone) if zone else start_at).date() if start_at else None,
            ratings={c: getattr(review, f"rating_{c}") for c in CRITERIA}, comment=review.comment,
            status=STATUS_NAMES.get(review.status, review.status), hidden_reason=review.hidden_reason,
            reply=review.reply, replied_at=review.replied_at, created_at=review.created_at,
            updated_at=review.updated_at))
    return rows


def _select() -> sa.Select:
    return (sa.select(Review, Patient.full_name, Doctor.full_name, Service.name, Appointment.start_at)
            .join(Patient, Patient.id == Review.patient_id)
            .outerjoin(Doctor, Doctor.id == Review.doctor_id)
            .outerjoin(Service, Service.id == Review.service_id)
            .outerjoin(Appointment, Appointment.id == Review.appointment_id))


def check_status(status: str | None) -> str | None:
    """``pending``, ``published`` or ``hidden`` (None or ``all``: every one)."""
    if status in (None, "", "all"):
        return None
    if status not in STATUS_BY_NAME:
        raise ValidationFailed(_("Choose pending, published, hidden or all."), "status")
    return STATUS_BY_NAME[status]


@dataclass(frozen=True)
class ReviewPage:
    rows: list[ReviewRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int]  # by status name


def reader_scope(session: Session, actor_id: int | None, can_moderate: bool) -> int | None:
    """Whose reviews a back-office reader lists: moderators (and readers who are no doctor) all
    of them; a doctor who cannot moderate only those of their own visits (the doctor's id)."""
    return None if can_moderate else doctor_of_user(session, actor_id)


def moderation_list(session: Session, *, status: str | None = "pending", doctor_id: int | None = None,
                    page: int = 1, zone: Any = None, page_size: int = PAGE_SIZE) -> ReviewPage:
    """Reviews for the back office, newest first; ``doctor_id``: only that doctor's visits."""
    stored = check_status(status)
    where = []
    if doctor_id is not None:
        where.append(Review.doctor_id == doctor_id)
    counted = session.execute(sa.select(Review.status, sa.func.count()).where(*where)
                              .group_by(Review.status)).all()
    counts = {name: 0 for name in STATUS_NAMES.values()}
    for key, n in counted:
        counts[STATUS_NAMES.get(key, key)] = n
    if stored is not None:
        where.append(Review.status == stored)
    total = counts[STATUS_NAMES[stored]] if stored else sum(counts.values())
    pages = max(1, -(-total // page_size))
    page = min(max(page, 1), pages)
    query = _select().where(*where).order_by(Review.created_at.desc(), Review.id.desc()) \
        .limit(page_size).offset((page - 1) * page_size)
    return ReviewPage(_rows(session, query, zone), total, page, pages, counts)


def review_row(session: Session, review_id: int, zone: Any = None) -> ReviewRow:
    rows = _rows(session, _select().where(Review.id == review_id), zone)
    if not rows:
        raise NotFound(_("No such review."))
    return rows[0]


@dataclass(frozen=True)
class Summary:
    """The public face of a doctor's or service's reviews."""

    count: int  # published reviews
    averages: dict[str, float] | None  # None below REVIEW_MIN_COUNT
    reviews: list[ReviewRow]  # published, newest first
    min_count: int


def public_summary(session: Session, *, doctor_id: int | None = None, service_id: int | None = None,
                   settings: ReviewSettings, limit: int = 20, zone: Any = None) -> Summary:
    if (doctor_id is None) == (service_id is None):
        raise ValueError("a summary is of one doctor or one service")
    subject = Review.doctor_id == doctor_id if doctor_id is not None else Review.service_id == service_id
    published = [subject, Review.status == PUBLISHED]
    aggregate = session.execute(sa.select(sa.func.count(Review.id),
                                          *[sa.func.avg(column(c)) for c in CRITERIA]).where(*published)).one()
    count = int(aggregate[0] or 0)
    averages = None
    if count and count >= settings.min_count:
        averages = {c: round(float(a), 1) for c, a in zip(CRITERIA, aggregate[1:], strict=True)
                    if a is not None}
    rows = _rows(session, _select().where(*published).order_by(Review.created_at.desc(), Review.id.desc())
                 .limit(limit), zone) if count else []
    return Summary(count, averages, rows, settings.min_count)


@dataclass(frozen=True)
class RatingAverage:
    doctor_id: int
    doctor: str
    criterion: str  # one of CRITERIA
    average: float | None
    count: int  # published reviews rating this criterion


def rating_averages(session: Session, start: datetime, end: datetime, doctor_id: int | None = None,
                    department_id: int | None = None) -> list[RatingAverage]:
    """For the dashboards: per doctor and criterion, the average and count of the published
    reviews of visits that started in ``[start, end)`` (aware datetimes), one GROUP BY query."""
    averages = [sa.func.avg(sa.cast(column(c), sa.Float)) for c in CRITERIA]
    counts = [sa.func.count(column(c)) for c in CRITERIA]
    query = (sa.select(Doctor.id, Doctor.full_name, *averages, *counts)
             .join(Review, Review.doctor_id == Doctor.id)
             .join(Appointment, Appointment.id == Review.appointment_id)
             .where(Review.status == PUBLISHED, Appointment.start_at >= start, Appointment.start_at < end)
             .group_by(Doctor.id, Doctor.full_name).order_by(Doctor.full_name, Doctor.id))
    if doctor_id is not None:
        query = query.where(Doctor.id == doctor_id)
    if department_id is not None:
        query = query.where(Doctor.department_id == department_id)
    result = []
    n = len(CRITERIA)
    for row in session.execute(query).all():
        for i, criterion in enumerate(CRITERIA):
            average = row[2 + i]
            result.append(RatingAverage(row[0], row[1], criterion,
                                        round(float(average), 2) if average is not None else None,
                                        int(row[2 + n + i] or 0)))
    return result
