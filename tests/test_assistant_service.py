"""The chat assistant's answers and buttons (app/services/assistant_hook.py) on the test database:
what the patient reads and can tap, and what really happens to appointments, through the same
booking services and rights as the portal."""
from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.factories import DAY, START, START_UTC

NOW = datetime.now(timezone.utc)


def _patient(app, full_name: str = "Lê Thị Hoa") -> tuple[object, int]:
    """A Patient login and its linked record: (the user, the patient id)."""
    from app.extensions import db
    from app.models import Patient
    from app.services import rules
    from app.services.settings import ClinicSettings

    username = f"p-{uuid.uuid4().hex[:8]}"
    sm = app.appbuilder.sm
    user = sm.add_user(username, "Hoa", "Lê", f"{username}@test.example", sm.find_role("Patient"), password=PASSWORD)
    patient = Patient(full_name=full_name, phone="0987 654 321", user_id=user.id)
    rules.validate(db.session, patient, ClinicSettings.from_config(app.config))
    db.session.add(patient)
    db.session.commit()
    return user, patient.id


@pytest.fixture
def derma(clinic):
    """A dermatology department, its consultation (250 000 ₫, 20 minutes) and its doctor, who works
    every day 07:30–11:30 and 13:30–17:00."""
    from app.extensions import db
    from app.models import Department, Doctor, Service, WorkSchedule

    department = clinic.save(Department(code="DL", name="Da liễu"))
    doctor = clinic.save(Doctor(full_name="Phạm Thị Lan", title="ThS. BS.", department_id=department))
    clinic.save(*(WorkSchedule(doctor_id=doctor, weekday=weekday, start_time=start, end_time=end,
                               valid_from=DAY - timedelta(days=400))
                  for weekday in range(7) for start, end in ((time(7, 30), time(11, 30)), (time(13, 30), time(17)))))
    with clinic.app.app_context():
        service = clinic.save(Service(code="KB-DL", name="Khám da liễu", price=Decimal(250000), duration_minutes=20,
                                      department_id=department, doctors=[db.session.get(Doctor, doctor)]))
    return {"doctor": doctor, "service": service}


class Chat:
    """One patient talking to the assistant, as the chat service calls it (in a request whose
    ``g.user`` is the patient's login, as the Socket.IO connect handler sets it)."""

    def __init__(self, app, user, patient_id: int, language: str = "vi"):
        self.app, self.user, self.patient_id, self.language = app, user, patient_id, language

    def say(self, text: str, now: datetime | None = None):
        from flask import g

        from app.extensions import db
        from app.services.assistant_hook import assistant_reply

        with self.app.test_request_context():
            g.user = self.user
            return assistant_reply(db.session, patient_id=self.patient_id, user=self.user, text=text,
                                   language=self.language, now=now or datetime.now(timezone.utc))

    def tap(self, choice, now: datetime | None = None):
        return self.do(choice.action, choice.params, now)

    def do(self, action: str, params: dict, now: datetime | None = None):
        from flask import g

        from app.extensions import db
        from app.services.assistant_hook import assistant_action

        with self.app.test_request_context():
            g.user = self.user
            return assistant_action(db.session, patient_id=self.patient_id, user=self.user, action=action,
                                    params=params, language=self.language, now=now or datetime.now(timezone.utc))


@pytest.fixture
def chat(app, db):
    user, patient_id = _patient(app)
    return Chat(app, user, patient_id)


def _appointments(db, patient_id: int) -> list:
    from app.models import Appointment

    db.session.expire_all()
    return list(db.session.execute(select(Appointment).where(Appointment.patient_id == patient_id)
                                   .order_by(Appointment.id)).scalars())


def _local(moment: datetime) -> datetime:
    return moment.astimezone(timezone(timedelta(hours=7)))


def _book_directly(app, db, patient_id: int, doctor: int, service: int, start: datetime) -> int:
    from app.services import booking
    from app.services.settings import ClinicSettings

    with app.test_request_context():
        return booking.book_appointment(db.session, patient_id=patient_id, doctor_id=doctor, service_id=service,
                                        start=start, settings=ClinicSettings.from_config(app.config)).id


# --- booking ----------------------------------------------------------------------------------------


def test_books_a_real_appointment_from_a_vietnamese_message(app, db, chat, derma, clinic):
    answer = chat.say(f"đặt lịch khám da liễu sáng {DAY:%d/%m}")
    assert answer.intent == "book" and not answer.handoff
    assert answer.text.startswith("Các giờ còn trống cho Khám da liễu vào ")
    assert 1 <= len(answer.choices) <= 6 and {c.action for c in answer.choices} == {"book_slot"}
    first = answer.choices[0]
    start = datetime.fromisoformat(first.params["start"])
    assert _local(start).date() == DAY and time(7, 30) <= _local(start).time() < time(12)
    assert first.params["service_id"] == derma["service"] and first.params["doctor_id"] == derma["doctor"]
    assert first.label == f"{_vi_day(start)} {_local(start):%H:%M} · ThS. BS. Phạm Thị Lan"
    assert first.label.startswith("Thứ ")

    done = chat.tap(first)
    assert done.intent == "book" and done.choices == ()
    assert done.text == (f"Đã gửi yêu cầu đặt lịch Khám da liễu với ThS. BS. Phạm Thị Lan vào {_vi_day(start)} "
                         f"{_local(start):%H:%M}. Phòng khám sẽ sớm xác nhận.")
    [appointment] = _appointments(db, chat.patient_id)
    assert (appointment.doctor_id, appointment.service_id, appointment.start_at) == (
        derma["doctor"], derma["service"], start)
    assert (appointment.status, appointment.channel, appointment.created_by_id) == ("requested", "chat", chat.user.id)
    from app.models import AuditEvent

    created = db.session.execute(select(AuditEvent).where(
        AuditEvent.entity == "Appointment", AuditEvent.entity_id == str(appointment.id),
        AuditEvent.action == "create")).scalars().all()
    assert [row.user_id for row in created] == [chat.user.id]

    twice = chat.tap(first)  # tapped again: the patient's own appointment is in the way, not "someone else"
    assert twice.text.startswith(f"Bạn đã có lịch hẹn lúc {_vi_day(start)} {_local(start):%H:%M} với ThS. BS. "
                                 "Phạm Thị Lan. ")
    assert len(_appointments(db, chat.patient_id)) == 1


def _vi_day(moment: datetime) -> str:
    from babel.dates import format_date

    return format_date(_local(moment).date(), "EEEE dd/MM", locale="vi")


def test_english_asks_which_service_then_books_when_confirmation_is_off(app, db, derma, clinic):
    clinic.service  # noqa: B018  (a second service: "Khám tổng quát")
    user, patient_id = _patient(app)
    chat = Chat(app, user, patient_id, "en")
    answer = chat.say("I want to make an appointment")
    assert answer.text == "Which service would you like to book?"
    labels = [c.label for c in answer.choices]
    assert "Khám da liễu" in labels and "Khám tổng quát" in labels and labels[-1] == "Talk to a person"
    derm = next(c for c in answer.choices if c.label == "Khám da liễu")
    times = chat.tap(derm)
    assert times.text == "Free times for Khám da liễu. Tap one to book it."
    assert all(c.action == "book_slot" and c.params["doctor_id"] == derma["doctor"] for c in times.choices)
    start = datetime.fromisoformat(times.choices[0].params["start"])
    assert times.choices[0].label.startswith(f"{_local(start):%a %d/%m %H:%M} · ")
    app.config["BOOKING_ONLINE_NEEDS_CONFIRMATION"] = False
    try:
        done = chat.tap(times.choices[0])
    finally:
        app.config["BOOKING_ONLINE_NEEDS_CONFIRMATION"] = True
    assert done.text == f"Booked: Khám da liễu with ThS. BS. Phạm Thị Lan on {_local(start):%a %d/%m %H:%M}."
    assert [a.status for a in _appointments(db, patient_id)] == ["confirmed"]


def test_a_time_taken_meanwhile_is_said_with_fresh_times(app, db, chat, derma):
    answer = chat.say(f"khám da liễu chiều {DAY:%d/%m}")
    taken = answer.choices[0]
    _other, someone_else = _patient(app, "Trần Văn Khách")
    start = datetime.fromisoformat(taken.params["start"])
    _book_directly(app, db, someone_else, derma["doctor"], derma["service"], start)

    again = chat.tap(taken)
    assert again.intent == "book" and not again.handoff
    assert again.text.startswith(f"Xin lỗi, giờ {_vi_day(start)} {_local(start):%H:%M} vừa có người đặt. ")
    assert "Các giờ còn trống cho Khám da liễu" in again.text
    fresh = [c.params["start"] for c in again.choices]
    assert fresh and taken.params["start"] not in fresh and {c.action for c in again.choices} == {"book_slot"}
    assert _appointments(db, chat.patient_id) == []


def test_a_time_inside_the_minimum_notice_is_refused_with_the_reason(app, db, chat, derma):
    now = datetime.now(timezone.utc)  # not the module's NOW: a long run can reach this test an hour later
    soon = (now + timedelta(minutes=20)).replace(second=0, microsecond=0)
    answer = chat.do("book_slot", {"doctor_id": derma["doctor"], "service_id": derma["service"],
                                   "start": soon.isoformat()})
    assert answer.text.startswith("Vui lòng đặt lịch trước ít nhất 60 phút. ")
    assert answer.choices and all(datetime.fromisoformat(c.params["start"]) >= now + timedelta(minutes=60)
               for c in answer.choices if c.action == "book_slot")
    assert _appointments(db, chat.patient_id) == []


def test_online_booking_switched_off_books_nothing(app, db, chat, derma):
    app.config["BOOKING_ONLINE_ENABLED"] = False
    try:
        answer = chat.say("khám da liễu ngày mai")
        tapped = chat.do("book_slot", {"doctor_id": derma["doctor"], "service_id": derma["service"],
                                       "start": START_UTC.isoformat()})
    finally:
        app.config["BOOKING_ONLINE_ENABLED"] = True
    for reply in (answer, tapped):
        assert reply.text == "Đặt lịch trực tuyến đang tạm tắt; vui lòng gọi điện cho phòng khám."
        assert reply.handoff and [c.action for c in reply.choices] == ["human"]
    assert _appointments(db, chat.patient_id) == []


# --- cancelling and moving -------------------------------------------------------------------------


def test_cancel_lists_only_the_patients_own_appointments_and_cancels_one(app, db, chat, clinic):
    from app.models import Appointment

    theirs = clinic.appointment  # another patient's, at 09:00 with the same doctor
    their_status = db.session.get(Appointment, theirs).status
    mine = _book_directly(app, db, chat.patient_id, clinic.doctor, clinic.service, START_UTC + timedelta(hours=1))
    answer = chat.say("tôi muốn hủy lịch hẹn")
    assert answer.intent == "cancel"
    assert answer.text == "Bạn muốn hủy lịch hẹn nào? Chạm vào lịch hẹn để hủy."
    assert [(c.action, c.params) for c in answer.choices] == [("cancel_appointment", {"appointment_id": mine})]
    assert answer.choices[0].label == f"Hủy {_vi_day(START_UTC)} 10:00 · Khám tổng quát"

    done = chat.tap(answer.choices[0])
    assert done.text == f"Lịch hẹn {_vi_day(START_UTC)} 10:00 · Khám tổng quát của bạn đã được hủy."
    statuses = {a.id: a.status for a in _appointments(db, chat.patient_id)}
    assert statuses == {mine: "cancelled"}
    assert db.session.get(Appointment, theirs).status == their_status != "cancelled"


def test_another_patients_appointment_is_refused_and_audited(app, db, chat, clinic):
    from app.models import Appointment, AuditEvent

    theirs = clinic.appointment
    before = db.session.get(Appointment, theirs).status
    for action, params in (("cancel_appointment", {"appointment_id": theirs}),
                           ("move_to_slot", {"appointment_id": theirs,
                                             "start": (START_UTC + timedelta(hours=2)).isoformat()}),
                           ("pick_move", {"appointment_id": theirs})):
        answer = chat.do(action, params)
        assert answer.text == "Tôi không tìm thấy lịch hẹn này trong các lịch hẹn của bạn." and answer.choices == ()
    db.session.expire_all()
    appointment = db.session.get(Appointment, theirs)
    assert (appointment.status, appointment.start_at) == (before, START_UTC)
    denials = db.session.execute(select(AuditEvent).where(AuditEvent.action == "denied",
                                                          AuditEvent.entity == "Appointment")).scalars().all()
    assert [(d.entity_id, d.user_id) for d in denials] == [(str(theirs), chat.user.id)] * 3


def test_the_cut_off_before_a_visit_is_kept(app, db, chat, clinic):
    mine = _book_directly(app, db, chat.patient_id, clinic.doctor, clinic.service, datetime.fromisoformat(START))
    an_hour_before = START_UTC - timedelta(hours=1)
    answer = chat.say("hủy lịch hẹn", now=an_hour_before)
    assert [c.action for c in answer.choices] == ["human"]
    assert answer.text == ("Bạn không có lịch hẹn sắp tới nào có thể hủy trực tuyến. Lịch "
                           f"{_vi_day(START_UTC)} 09:00 · Khám tổng quát chỉ còn chưa đầy 2 giờ nữa: vui lòng gọi "
                           "điện cho phòng khám để thay đổi.")
    tapped = chat.do("cancel_appointment", {"appointment_id": mine}, now=an_hour_before)
    assert tapped.text == ("Chỉ có thể thay đổi trực tuyến đến 2 giờ trước lịch hẹn; vui lòng gọi điện cho "
                           "phòng khám.")
    assert [c.action for c in tapped.choices] == ["human"]
    moved = chat.do("move_to_slot", {"appointment_id": mine, "start": (START_UTC + timedelta(hours=3)).isoformat()},
                    now=an_hour_before)
    assert moved.text == tapped.text
    assert [(a.status, a.start_at) for a in _appointments(db, chat.patient_id)] == [("confirmed", START_UTC)]


def test_moving_offers_the_same_doctors_times_and_moves(app, db, chat, clinic):
    mine = _book_directly(app, db, chat.patient_id, clinic.doctor, clinic.service, datetime.fromisoformat(START))
    next_day = DAY + timedelta(days=1)
    answer = chat.say(f"doi lich sang chieu {next_day:%d/%m}")
    assert answer.intent == "move"
    assert answer.text == (f"Các giờ trống để dời lịch {_vi_day(START_UTC)} 09:00 · Khám tổng quát với BS. Trần "
                           "Thị Bình. Chạm vào một giờ để dời lịch.")
    assert {c.action for c in answer.choices} == {"move_to_slot"} and len(answer.choices) == 6
    starts = [datetime.fromisoformat(c.params["start"]) for c in answer.choices]
    assert all(_local(s).date() == next_day and _local(s).hour >= 12 for s in starts)
    assert all(c.params["appointment_id"] == mine for c in answer.choices)

    # Someone takes the first of them meanwhile: the patient is told, and offered others.
    _other, someone_else = _patient(app, "Trần Văn Khách")
    _book_directly(app, db, someone_else, clinic.doctor, clinic.service, starts[0])
    refused = chat.tap(answer.choices[0])
    assert refused.text.startswith(f"Xin lỗi, giờ {_vi_day(starts[0])} {_local(starts[0]):%H:%M} vừa có người đặt.")
    assert refused.choices and answer.choices[0].params["start"] not in [c.params["start"] for c in refused.choices]
    assert [a.start_at for a in _appointments(db, chat.patient_id)] == [START_UTC]

    done = chat.tap(refused.choices[0])
    new_start = datetime.fromisoformat(refused.choices[0].params["start"])
    assert done.text == (f"Lịch hẹn của bạn đã được dời sang {_vi_day(new_start)} {_local(new_start):%H:%M} "
                         "với BS. Trần Thị Bình.")
    assert [(a.id, a.start_at) for a in _appointments(db, chat.patient_id)] == [(mine, new_start)]


# --- questions ------------------------------------------------------------------------------------


def test_prices_hours_and_a_doctors_next_free_time(app, db, derma, clinic):
    user, patient_id = _patient(app)
    vi, en = Chat(app, user, patient_id, "vi"), Chat(app, user, patient_id, "en")
    assert vi.say("giá khám da liễu bao nhiêu").text == "Bảng giá:\nKhám da liễu: 250.000\xa0₫"
    price = en.say("How much is a skin consultation?")
    assert price.text == "Prices:\nKhám da liễu: ₫250,000"
    assert [(c.label, c.action) for c in price.choices] == [("Book Khám da liễu", "choose_service")]

    assert en.say("What are your opening hours?").text == (
        "Opening hours: Mon–Sun: 07:30–11:30, 13:30–17:00. Closed on public holidays.")
    assert vi.say("phong kham mo cua may gio").text == (
        "Giờ làm việc: Thứ 2–CN: 07:30–11:30, 13:30–17:00. Nghỉ các ngày lễ.")
    from app.models import ScheduleException

    clinic.save(ScheduleException(doctor_id=derma["doctor"], kind="holiday", start_date=DAY, end_date=DAY,
                                  reason="Lễ"))
    assert en.say(f"Are you open on {DAY:%d/%m}?").text == f"The clinic is closed on {DAY:%a %d/%m}."
    next_day = DAY + timedelta(days=1)
    assert vi.say(f"ngày {next_day:%d/%m} phòng khám có mở cửa không").text == (
        f"Vào {_vi_day(datetime.combine(next_day, time(12), timezone.utc))} phòng khám làm việc 07:30–11:30, "
        "13:30–17:00.")

    free = en.say("When is Dr. Lan free?")
    assert free.intent == "next_free"
    first = datetime.fromisoformat(free.choices[0].params["start"])
    assert free.text == (f"The next free time of ThS. BS. Phạm Thị Lan is {_local(first):%a %d/%m %H:%M} "
                         "(Khám da liễu). Tap a time to book it.")
    assert first >= NOW + timedelta(minutes=60)
    assert free.choices[0].label == f"{_local(first):%a %d/%m %H:%M}"


def test_a_person_is_asked_for_or_the_message_not_understood(app, db, chat, clinic):
    human = chat.say("cho tôi gặp nhân viên")
    assert human.handoff and human.intent == "human"
    assert human.text == "Tôi đang chuyển bạn đến nhân viên phòng khám; nhân viên sẽ trả lời tại đây sớm nhất có thể."
    unknown = chat.say("tôi bị đau bụng từ hôm qua")
    assert unknown.handoff and unknown.intent == "unknown" and unknown.text.startswith("Xin lỗi, tôi chưa hiểu.")
    button = chat.do("human", {})
    assert button.handoff and button.text == human.text
    assert chat.do("launch_rockets", {}) is None
    thanks = chat.say("cảm ơn nhé")
    assert (thanks.text, thanks.handoff) == ("Không có gì ạ! Bạn cần gì cứ nhắn lại nhé.", False)
    hello = chat.say("xin chào")
    assert hello.text.startswith("Xin chào! Tôi có thể đặt, dời hoặc hủy lịch hẹn") and not hello.handoff


def test_a_login_speaking_for_another_patient_gets_no_answer_and_changes_nothing(app, db, chat, clinic):
    mine = _book_directly(app, db, chat.patient_id, clinic.doctor, clinic.service, START_UTC)
    stranger, _their_patient = _patient(app, "Người Khác")
    intruder = Chat(app, stranger, chat.patient_id)
    assert intruder.say("hủy lịch hẹn") is None
    assert intruder.do("cancel_appointment", {"appointment_id": mine}) is None
    staff = Chat(app, app.appbuilder.sm.find_user(username="receptionist"), chat.patient_id)
    assert staff.say("xin chào") is None
    assert [a.status for a in _appointments(db, chat.patient_id)] == ["confirmed"]


def test_with_two_appointments_the_patient_picks_which_to_move_and_sees_them_listed(app, db, clinic, derma):
    user, patient_id = _patient(app)
    chat = Chat(app, user, patient_id, "en")
    first = _book_directly(app, db, patient_id, clinic.doctor, clinic.service, START_UTC)
    second = _book_directly(app, db, patient_id, derma["doctor"], derma["service"], START_UTC + timedelta(days=1))
    listed = chat.say("what are my appointments?")
    day1, day2 = f"{_local(START_UTC):%a %d/%m}", f"{_local(START_UTC + timedelta(days=1)):%a %d/%m}"
    assert listed.text == ("Your upcoming appointments:\n"
                           f"{day1} 09:00 · Khám tổng quát · BS. Trần Thị Bình\n"
                           f"{day2} 09:00 · Khám da liễu · ThS. BS. Phạm Thị Lan")
    assert [(c.action, c.params["appointment_id"]) for c in listed.choices] == [
        ("pick_move", first), ("cancel_appointment", first), ("pick_move", second), ("cancel_appointment", second)]

    asked = chat.say("I need to reschedule, afternoon if possible")
    assert asked.text == "Which appointment do you want to move?"
    assert [(c.label, c.params) for c in asked.choices] == [
        (f"Move {day1} 09:00 · Khám tổng quát", {"appointment_id": first, "part": "afternoon"}),
        (f"Move {day2} 09:00 · Khám da liễu", {"appointment_id": second, "part": "afternoon"})]
    times = chat.tap(asked.choices[1])
    assert times.text == (f"Free times to move {day2} 09:00 · Khám da liễu with ThS. BS. Phạm Thị Lan. "
                          "Tap one to move it.")
    assert times.choices and all(c.action == "move_to_slot" and c.params["appointment_id"] == second
                                 and _local(datetime.fromisoformat(c.params["start"])).hour >= 12
                                 for c in times.choices)


def test_a_day_beyond_the_booking_horizon_offers_the_nearest_times_instead(app, db, chat, derma):
    far = (datetime.now(timezone(timedelta(hours=7))) + timedelta(days=120)).date()
    answer = chat.say(f"khám da liễu ngày {far:%d/%m/%Y}")
    assert answer.text == ("Không còn giờ trống cho Khám da liễu vào thời gian đó. Các giờ trống gần nhất cho "
                           "Khám da liễu. Chạm vào một giờ để đặt lịch.")
    starts = [datetime.fromisoformat(c.params["start"]) for c in answer.choices]
    assert len(starts) == 6 and all(NOW < s < NOW + timedelta(days=15) for s in starts)


def test_offered_times_come_from_the_cache_and_a_booking_by_anyone_shows_at_once(app, db, chat, derma, clinic,
                                                                                  monkeypatch):
    """The assistant offers a patient's view of the free times: each doctor's cached slots (the
    same as read from the database), reloaded as soon as someone else books."""
    from app.services import cache
    from app.services.cache import TwoLevelCache

    store = app.extensions["cache"]
    store.reset_stats()
    ask = f"đặt lịch khám da liễu sáng {DAY:%d/%m}"
    starts = [c.params["start"] for c in chat.say(ask).choices]
    assert starts and store.stats()[cache.SLOTS] == {"hits": 0, "misses": 1}
    assert [c.params["start"] for c in chat.say(ask).choices] == starts
    assert store.stats()[cache.SLOTS] == {"hits": 1, "misses": 1}
    with monkeypatch.context() as patched:
        patched.setitem(app.extensions, "cache", TwoLevelCache(enabled=False))
        assert [c.params["start"] for c in chat.say(ask).choices] == starts

    _book_directly(app, db, clinic.patient, derma["doctor"], derma["service"], datetime.fromisoformat(starts[0]))
    after = [c.params["start"] for c in chat.say(ask).choices]
    assert after and starts[0] not in after
    assert store.stats()[cache.SLOTS] == {"hits": 1, "misses": 2}
