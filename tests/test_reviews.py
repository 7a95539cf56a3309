"""Reviews and stars (issue 14, item 5): who may review what, the refusals with their reasons, the
edit window, moderation (publish, hide with the reason told to the author, the doctor's one reply),
the public pages (averages only from REVIEW_MIN_COUNT on; the author as "An N.", nothing else of
the patient), the REST API and the dashboards' ``rating_averages``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import token_headers
from tests.outbox import body, empty_outbox, mails_to  # noqa: F401 - empty_outbox: autouse fixture

PATIENT_MAIL = "an.nguyen@test.example"
FULL_NAME = "Nguyễn Văn An"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def uid(app, username: str) -> int:
    with app.app_context():
        return app.appbuilder.sm.find_user(username=username).id


@dataclass
class World:
    doctor: int
    other_doctor: int
    service: int
    patient: int
    other_patient: int
    completed: int  # the patient's completed visit
    confirmed: int  # the patient's visit not done yet
    others: int  # another patient's completed visit


@pytest.fixture
def world(app, db) -> World:
    from app.models import Appointment, Doctor, Patient, Service, WorkSchedule
    from app.services.accounts import profile  # noqa: F401 - the profile model is loaded

    doctor = Doctor(full_name="Trần Thị Bình", title="BS.", user_id=uid(app, "doctor"))
    other_doctor = Doctor(full_name="Lê Văn Cường", title="BS.")
    db.session.add_all([doctor, other_doctor])
    db.session.flush()
    db.session.add_all(WorkSchedule(doctor_id=doctor.id, weekday=w, start_time=time(7), end_time=time(19),
                                    valid_from=date(2020, 1, 1)) for w in range(7))
    service = Service(code="KB", name="Khám tổng quát", price=Decimal(150000), duration_minutes=20,
                      doctors=[doctor, other_doctor])
    patient = Patient(code="BN0001", full_name=FULL_NAME, email=PATIENT_MAIL, phone="+84912345678",
                      user_id=uid(app, "patient"))
    other = Patient(code="BN0002", full_name="Phạm Thị Hoa", phone="+84912000111")
    db.session.add_all([service, patient, other])
    db.session.flush()

    def visit(patient_id: int, status: str, days_ago: int, doctor_id: int = doctor.id) -> int:
        start = NOW - timedelta(days=days_ago)
        appointment = Appointment(patient_id=patient_id, doctor_id=doctor_id, service_id=service.id, start_at=start,
                                  end_at=start + timedelta(minutes=20), status=status)
        db.session.add(appointment)
        db.session.flush()
        return appointment.id

    world = World(doctor.id, other_doctor.id, service.id, patient.id, other.id,
                  visit(patient.id, "completed", 2), visit(patient.id, "confirmed", -1),
                  visit(other.id, "completed", 3))
    db.session.commit()
    return world


def policy(**changes):
    from app.services.reviews import ReviewSettings

    return ReviewSettings(**{"edit_days": 14, "min_count": 3, "comment_max": 200, **changes})


STARS = {"professional": 5, "attitude": 4, "waiting_time": 3, "overall": 4}


def write(db, w: World, appointment_id: int | None = None, patient_id: int | None = None, *, now=NOW,
          ratings=None, comment="Bác sĩ tận tâm.", **options):
    from app.services import reviews

    return reviews.submit_review(db.session, patient_id=patient_id or w.patient,
                                 appointment_id=appointment_id or w.completed, ratings=ratings or STARS,
                                 comment=comment, actor_id=None, now=now, settings=options.pop("settings", policy()),
                                 **options)


def test_display_name_is_the_given_name_and_the_family_initial():
    from app.services.reviews import display_name

    assert display_name("Nguyễn Văn An") == "An N."
    assert display_name("  đặng   thị  mai ") == "mai Đ."
    assert display_name("Linh") == "Linh"
    assert display_name("") == ""


def test_the_patient_reviews_their_completed_visit_once(app, db, world):
    from app.services.errors import Conflict

    review = write(db, world)
    assert (review.status, review.doctor_id, review.service_id, review.rating_overall) == \
        ("pending", world.doctor, world.service, 4)
    with pytest.raises(Conflict) as refused:
        write(db, world, edit=False)
    assert refused.value.status == 409 and "already reviewed" in refused.value.message


def test_refusals_name_their_reason(app, db, world):
    from app.services.errors import Conflict, FieldErrors, NotFound

    with pytest.raises(NotFound) as not_yours:
        write(db, world, world.others)
    assert not_yours.value.status == 404 and "not one of yours" in not_yours.value.message
    with pytest.raises(Conflict) as not_done:
        write(db, world, world.confirmed)
    assert not_done.value.status == 409 and "completed" in not_done.value.message
    with pytest.raises(FieldErrors) as bad:
        write(db, world, ratings={"professional": 0, "attitude": 6, "waiting_time": "x"}, comment="x" * 201)
    assert set(bad.value.errors) == {"professional", "attitude", "waiting_time", "overall", "comment"}
    assert "1 to 5" in bad.value.errors["attitude"] and "200" in bad.value.errors["comment"]
    db.session.rollback()
    from app.models import Review

    assert db.session.execute(select(Review)).first() is None  # nothing half-written


def test_a_review_is_editable_for_the_window_and_is_moderated_again(app, db, world):
    from app.services import reviews
    from app.services.errors import Conflict

    review = write(db, world)
    reviews.publish_review(db.session, review.id, actor_id=None, now=NOW)
    changed = write(db, world, now=NOW + timedelta(days=13), ratings={**STARS, "overall": 2}, comment="Chờ lâu.")
    assert (changed.id, changed.rating_overall, changed.status, changed.comment) == \
        (review.id, 2, "pending", "Chờ lâu.")
    assert changed.updated_at == NOW + timedelta(days=13)
    with pytest.raises(Conflict) as late:
        write(db, world, now=NOW + timedelta(days=14, seconds=1))
    assert "14 days" in late.value.message


def test_completing_a_visit_invites_the_patient_by_mail_and_in_the_portal(app, db, world):
    from app.models import Appointment, Notification
    from app.services import booking
    from app.services.settings import ClinicSettings

    appointment = db.session.get(Appointment, world.confirmed)
    appointment.status = "in_consultation"
    db.session.commit()
    booking.transition_appointment(db.session, world.confirmed, "completed", actor_id=None,
                                   settings=ClinicSettings.from_config(app.config))
    mails = mails_to(app, PATIENT_MAIL)
    assert [m["Subject"] for m in mails] == ["How was your visit?"]
    assert f"/clinic/me/appointments/{world.confirmed}/review" in body(mails[0])
    bell = db.session.execute(select(Notification).where(Notification.user_id == uid(app, "patient"))).scalars().all()
    assert [n.link for n in bell] == [f"/clinic/me/appointments/{world.confirmed}/review"]


def test_hiding_needs_a_reason_and_tells_the_author(app, db, world):
    from app.models import Notification
    from app.services import reviews
    from app.services.errors import ValidationFailed

    review = write(db, world)
    with pytest.raises(ValidationFailed):
        reviews.hide_review(db.session, review.id, " no ", actor_id=None, now=NOW, config=app.config)
    reviews.hide_review(db.session, review.id, "Ngôn từ không phù hợp.", actor_id=None, now=NOW, config=app.config)
    assert (review.status, review.hidden_reason) == ("rejected", "Ngôn từ không phù hợp.")
    told = db.session.execute(select(Notification).where(Notification.user_id == uid(app, "patient"),
                                                         Notification.kind == "review_hidden")).scalars().all()
    assert len(told) == 1 and "Ngôn từ không phù hợp." in (told[0].body or "")
    mails = mails_to(app, PATIENT_MAIL)
    assert len(mails) == 1 and "Ngôn từ không phù hợp." in body(mails[0])


def test_only_the_doctor_of_the_visit_replies_once(app, db, world):
    from app.services import reviews
    from app.services.errors import Conflict, Forbidden

    review = write(db, world)
    with pytest.raises(Forbidden):
        reviews.reply_to_review(db.session, review.id, "Cảm ơn!", actor_id=uid(app, "manager"), now=NOW)
    reviews.reply_to_review(db.session, review.id, "Cảm ơn anh!", actor_id=uid(app, "doctor"), now=NOW)
    with pytest.raises(Conflict):
        reviews.reply_to_review(db.session, review.id, "Lần nữa", actor_id=uid(app, "doctor"), now=NOW)
    assert review.reply == "Cảm ơn anh!"


def _published(db, w: World, n: int, overall: int = 4) -> None:
    """``n`` published reviews of the doctor by ``n`` other patients."""
    import uuid

    from sqlalchemy import func

    from app.models import Appointment, Patient, Review

    shift = timedelta(minutes=25 * db.session.scalar(select(func.count(Appointment.id))))  # never overlapping
    for i in range(n):
        patient = Patient(code=f"BX{uuid.uuid4().hex[:8]}", full_name=f"Hoàng Minh Khoa{i}")
        db.session.add(patient)
        db.session.flush()
        start = NOW - timedelta(days=5 + i) + shift
        visit = Appointment(patient_id=patient.id, doctor_id=w.doctor, service_id=w.service, start_at=start,
                            end_at=start + timedelta(minutes=20), status="completed")
        db.session.add(visit)
        db.session.flush()
        db.session.add(Review(patient_id=patient.id, doctor_id=w.doctor, service_id=w.service,
                              appointment_id=visit.id, rating_professional=5, rating_attitude=3,
                              rating_waiting_time=2, rating_overall=overall, status="approved", created_at=start))
    db.session.commit()


def test_the_public_pages_show_averages_only_from_the_minimum_count(app, db, world, client):
    _published(db, world, 2)
    page = client.get(f"/clinic/doctors/{world.doctor}").get_data(as_text=True)
    assert "2 reviews" in page and "pub-rating-num" not in page and "An average is shown from 3 reviews on" in page
    _published(db, world, 1, overall=1)
    page = client.get(f"/clinic/doctors/{world.doctor}").get_data(as_text=True)
    assert "3 reviews" in page and 'data-criterion="overall">3.0<' in page
    assert 'data-criterion="professional">5.0<' in page
    service = client.get(f"/clinic/services/{world.service}").get_data(as_text=True)
    assert "3 reviews" in service and 'data-criterion="waiting_time">2.0<' in service
    assert service.count('class="text-muted pub-review-doctor">· Trần Thị Bình<') == 3  # whom each review is about
    assert "pub-review-doctor" not in page
    assert client.get(f"/clinic/doctors/{world.other_doctor}").get_data(as_text=True).count("No reviews yet.") == 1


def test_the_public_pages_show_nothing_of_the_patient_but_given_name_and_initial(app, db, world, client):
    from app.services import reviews

    review = write(db, world, comment="Phòng khám sạch sẽ.")
    hidden = write(db, world, world.others, world.other_patient, comment="Bí mật")
    pending_page = client.get(f"/clinic/doctors/{world.doctor}").get_data(as_text=True)
    assert "Phòng khám sạch sẽ." not in pending_page  # pending: not public yet
    reviews.publish_review(db.session, review.id, actor_id=None, now=NOW)
    reviews.hide_review(db.session, hidden.id, "Ngôn từ không phù hợp.", actor_id=None, now=NOW, config=app.config)
    reviews.reply_to_review(db.session, review.id, "Cảm ơn anh đã tin tưởng!", actor_id=uid(app, "doctor"), now=NOW)
    for url in (f"/clinic/doctors/{world.doctor}", f"/clinic/services/{world.service}",
                f"/api/v1/reviews/doctors/{world.doctor}", f"/api/v1/reviews/services/{world.service}"):
        for language in ("en", "vi"):
            text = client.get(url, headers={"Accept-Language": language}).get_data(as_text=True)
            if url.startswith("/api/"):
                import json

                text = json.dumps(json.loads(text), ensure_ascii=False)
            assert "An N." in text and "Phòng khám sạch sẽ." in text and "Cảm ơn anh đã tin tưởng!" in text, url
            for secret in (FULL_NAME, "Nguyễn", "Văn An", "BN0001", "0912345678", "912345678", PATIENT_MAIL,
                           "Bí mật", "Phạm Thị Hoa", "Hoa P.", "Ngôn từ"):
                assert secret not in text, (url, secret)


def test_rating_averages_group_by_doctor_and_criterion(app, db, world):
    from app.services import reviews

    _published(db, world, 2, overall=5)
    _published(db, world, 1, overall=2)
    write(db, world)  # pending: not counted
    rows = reviews.rating_averages(db.session, NOW - timedelta(days=30), NOW)
    by = {(r.doctor_id, r.criterion): (r.average, r.count) for r in rows}
    assert by[(world.doctor, "overall")] == (4.0, 3)
    assert by[(world.doctor, "attitude")] == (3.0, 3)
    assert {r.doctor_id for r in rows} == {world.doctor}
    recent = reviews.rating_averages(db.session, NOW - timedelta(days=5, hours=1), NOW)  # by the visit's day
    assert [(r.criterion, r.average, r.count) for r in recent][3] == ("overall", 3.5, 2)
    assert reviews.rating_averages(db.session, NOW - timedelta(days=30), NOW, doctor_id=world.other_doctor) == []
    assert reviews.rating_averages(db.session, NOW - timedelta(days=30), NOW, department_id=999) == []


# --- the portal ---------------------------------------------------------------------------------


def test_the_portal_offers_rate_this_visit_and_takes_the_review(app, db, world, login_as):
    from app.models import Review

    browser = login_as("patient")
    listing = browser.get("/clinic/me/appointments").get_data(as_text=True)
    assert f"/clinic/me/appointments/{world.completed}/review" in listing and "Rate this visit" in listing
    assert f"/clinic/me/appointments/{world.confirmed}/review" not in listing
    form = browser.get(f"/clinic/me/appointments/{world.completed}/review")
    assert form.status_code == 200 and 'type="radio"' in form.get_data(as_text=True)
    bad = browser.post(f"/clinic/me/appointments/{world.completed}/review",
                       data={"professional": "9", "attitude": "3", "comment": "x" * 1001})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    for field in ("professional", "waiting_time", "overall", "comment"):
        assert f'data-field="{field}"' in text
    assert 'data-field="attitude"' not in text and 'id="attitude-3" name="attitude" value="3" checked' in text
    done = browser.post(f"/clinic/me/appointments/{world.completed}/review",
                        data={"professional": "5", "attitude": "5", "waiting_time": "4", "overall": "5",
                              "comment": "Rất tốt"})
    assert done.status_code == 302
    review = db.session.execute(select(Review)).scalar_one()
    assert (review.rating_waiting_time, review.comment, review.status) == (4, "Rất tốt", "pending")
    assert "You rated this visit 5/5." in browser.get("/clinic/me/appointments").get_data(as_text=True)
    refused = browser.get(f"/clinic/me/appointments/{world.others}/review")
    assert refused.status_code == 404 and "Phạm Thị Hoa" not in refused.get_data(as_text=True)
    assert browser.get(f"/clinic/me/appointments/{world.confirmed}/review").status_code == 409


def test_the_portal_says_an_edit_is_saved_and_shows_a_locked_review_as_written(app, db, world, login_as):
    """The walk of issue 14: an edit thanked the patient as for a new review, and a review past its
    editing window showed only its status, not the stars, the comment nor the doctor's reply."""
    from app.services import reviews

    review = write(db, world, comment="Bác sĩ rất tận tình, chờ hơi lâu")
    browser = login_as("patient")
    url = f"/clinic/me/appointments/{world.completed}/review"
    edited = browser.post(url, data={**{k: str(v) for k, v in STARS.items()}, "comment": "Lần sau mong nhanh hơn."},
                          follow_redirects=True).get_data(as_text=True)
    assert "Your changes are saved" in edited and "Thank you!" not in edited
    reviews.publish_review(db.session, review.id, actor_id=None, now=NOW)
    reviews.reply_to_review(db.session, review.id, "Cảm ơn anh!", actor_id=uid(app, "doctor"), now=NOW)
    review.created_at = NOW - timedelta(days=60)  # long past the editing window
    db.session.commit()
    page = browser.get(url).get_data(as_text=True)
    assert "pub-review-locked" in page and "<form method=\"post\" class=\"pub-review-form\"" not in page
    assert "Lần sau mong nhanh hơn." in page and "Cảm ơn anh!" in page
    assert 'data-criterion="overall">4/5<' in page and 'data-criterion="waiting_time">3/5<' in page


# --- the back office ------------------------------------------------------------------------------


def test_managers_moderate_and_the_doctor_replies_on_the_page(app, db, world, login_as):

    review = write(db, world, comment="Khám kỹ.")
    manager = login_as("manager")
    page = manager.get("/reviews/")
    assert page.status_code == 200 and "Khám kỹ." in page.get_data(as_text=True) and FULL_NAME not in page.get_data(
        as_text=True)
    from app.models import AuditEvent

    audit = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "Review", AuditEvent.action == "read",
                                                        AuditEvent.user_id == uid(app, "manager"))).scalars().all()
    assert audit and f'"patients": [{world.patient}]' in audit[-1].details  # the read is audited
    assert manager.post(f"/reviews/{review.id}/publish").status_code == 302
    db.session.refresh(review)
    assert review.status == "approved"
    doctor = login_as("doctor")
    assert doctor.post(f"/reviews/{review.id}/publish").status_code in (302, 403)
    db.session.refresh(review)
    assert review.status == "approved"
    assert doctor.post(f"/reviews/{review.id}/reply", data={"reply": "Cảm ơn anh!"}).status_code == 302
    db.session.refresh(review)
    assert review.reply == "Cảm ơn anh!"
    assert login_as("pharmacist").get("/reviews/").status_code in (302, 403)


# --- the REST API ---------------------------------------------------------------------------------


def test_the_api_writes_my_review_and_refuses_with_reasons(app, db, world):
    client = app.test_client()
    patient = token_headers(app, "patient")
    bad = client.post(f"/api/v1/reviews/visits/{world.completed}", headers=patient,
                      json={"professional": 6, "attitude": 0, "waiting_time": 3, "comment": "y" * 1001})
    assert bad.status_code == 422
    assert set(bad.get_json()["message"]) == {"professional", "attitude", "overall", "comment"}
    created = client.post(f"/api/v1/reviews/visits/{world.completed}", headers=patient, json=STARS)
    assert created.status_code == 201 and created.get_json()["result"]["status"] == "pending"
    assert created.get_json()["result"]["author"] == "An N."
    again = client.post(f"/api/v1/reviews/visits/{world.completed}", headers=patient, json=STARS)
    assert again.status_code == 409
    edited = client.put(f"/api/v1/reviews/visits/{world.completed}", headers=patient, json={**STARS, "overall": 5})
    assert edited.status_code == 200 and edited.get_json()["result"]["ratings"]["overall"] == 5
    assert client.post(f"/api/v1/reviews/visits/{world.confirmed}", headers=patient, json=STARS).status_code == 409
    assert client.post(f"/api/v1/reviews/visits/{world.others}", headers=patient, json=STARS).status_code == 404
    assert client.post(f"/api/v1/reviews/visits/{world.completed}", json=STARS).status_code == 401
    staff = client.post(f"/api/v1/reviews/visits/{world.completed}", headers=token_headers(app, "receptionist"),
                        json=STARS)
    assert staff.status_code == 403


def test_the_api_moderates_with_the_pages_permissions(app, db, world):
    from sqlalchemy import update

    from app.models import Review

    client = app.test_client()
    review = write(db, world)
    theirs = write(db, world, world.others, world.other_patient)
    db.session.execute(update(Review).where(Review.id == theirs.id).values(doctor_id=world.other_doctor))
    db.session.commit()
    listing = client.get("/api/v1/reviews/?status=pending", headers=token_headers(app, "manager"))
    assert listing.status_code == 200 and {r["id"] for r in listing.get_json()["result"]} == {review.id, theirs.id}
    own = client.get("/api/v1/reviews/?status=all", headers=token_headers(app, "doctor")).get_json()["result"]
    assert [r["id"] for r in own] == [review.id]  # a doctor reads the reviews of their own visits
    assert client.get("/api/v1/reviews/?status=bogus", headers=token_headers(app, "manager")).status_code == 422
    assert client.get("/api/v1/reviews/", headers=token_headers(app, "patient")).status_code == 403
    assert client.post(f"/api/v1/reviews/{review.id}/publish", headers=token_headers(app, "doctor"),
                       json={}).status_code == 403
    hidden = client.post(f"/api/v1/reviews/{review.id}/hide", headers=token_headers(app, "manager"), json={})
    assert hidden.status_code == 422 and "reason" in hidden.get_json()["message"]
    published = client.post(f"/api/v1/reviews/{review.id}/publish", headers=token_headers(app, "manager"), json={})
    assert published.status_code == 200 and published.get_json()["result"]["status"] == "published"
    reply = client.post(f"/api/v1/reviews/{review.id}/reply", headers=token_headers(app, "manager"),
                        json={"reply": "Cảm ơn"})
    assert reply.status_code == 403
    reply = client.post(f"/api/v1/reviews/{review.id}/reply", headers=token_headers(app, "doctor"),
                        json={"reply": "Cảm ơn"})
    assert reply.status_code == 200 and reply.get_json()["result"]["reply"] == "Cảm ơn"
    public = client.get(f"/api/v1/reviews/doctors/{world.doctor}").get_json()
    assert public["count"] == 1 and public["averages"] is None and public["result"][0]["reply"] == "Cảm ơn"
    assert "status" not in public["result"][0]
    assert client.get("/api/v1/reviews/doctors/999999").status_code == 404
