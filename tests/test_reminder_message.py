"""The appointment reminder as the patient receives it (app.services.messaging.reminder_message):
in their language, the visit in clinic time, the doctor, service and clinic, what to bring, an
.ics with the right UTC start, and the confirm / cancel / reschedule links; an SMS with one short
link; a Skip when the appointment was cancelled or moved after the reminder was queued."""
from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar

from app.services.messaging.delivery import deliver_message
from app.services.messaging.render import Rendered, Skip, render
from tests.outbox import body, empty_outbox, outbox  # noqa: F401 - empty_outbox: autouse fixture
from tests.reminder_mail_helpers import VISIT_LOCAL, VISIT_UTC, confirmed_appointment, links_in, queue_reminder

VI_WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]


@pytest.fixture
def clinic_contact(app, monkeypatch):
    monkeypatch.setitem(app.config, "APP_NAME", "Phòng khám An Bình")
    monkeypatch.setitem(app.config, "CLINIC_ADDRESS", "12 Lê Lợi, Quận 1, TP.HCM")
    monkeypatch.setitem(app.config, "CLINIC_PHONE", "028 3822 1234")
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://phongkham.example.vn")


def test_the_vietnamese_email_says_when_who_where_and_what_to_bring(app, db, clinic, clinic_contact):
    appointment = confirmed_appointment(clinic)
    message = queue_reminder(db, appointment, language="vi")
    assert deliver_message(db.session, message.id, app.config) == "sent"
    [mail] = outbox(app)
    text = body(mail)
    when = f"{VI_WEEKDAYS[VISIT_LOCAL.weekday()]}, {VISIT_LOCAL:%d/%m/%Y} lúc 08:30"
    assert when in mail["Subject"] and "Phòng khám An Bình" in mail["Subject"]
    html = mail.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert when in part
        assert "BS. Trần Thị Bình" in part and "Khám tổng quát" in part
        assert "12 Lê Lợi, Quận 1, TP.HCM" in part and "028 3822 1234" in part
        assert "Kính gửi Nguyễn Văn An" in part
        assert "Căn cước công dân" in part  # what to bring, in Vietnamese
    # the same three links in the text and in the HTML buttons, absolute, in the patient's language
    links = links_in(text)
    assert set(links) == {"confirm", "cancel", "reschedule"}
    for purpose, path in links.items():
        assert f'href="https://phongkham.example.vn{path}"' in html.replace("&amp;", "&"), purpose
        assert path.endswith("?lang=vi")
    # HTML that mail programs show: no external stylesheet, script or image
    assert "<link" not in html and "<script" not in html and "<img" not in html and "<style" not in html


def test_the_ics_attachment_starts_at_the_visit_in_utc(app, db, clinic, clinic_contact):
    message = queue_reminder(db, confirmed_appointment(clinic), language="en")
    deliver_message(db.session, message.id, app.config)
    [mail] = outbox(app)
    [ics] = [part for part in mail.iter_attachments() if part.get_filename() == "appointment.ics"]
    assert ics.get_content_type() == "text/calendar"
    [event] = Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert event.decoded("dtstart") == VISIT_UTC
    assert event.to_ical().decode().count(f"DTSTART:{VISIT_UTC:%Y%m%dT%H%M%S}Z") == 1
    assert "Trần Thị Bình" in str(event.get("summary"))


def test_the_english_email_is_in_english(app, db, clinic, clinic_contact):
    message = queue_reminder(db, confirmed_appointment(clinic), language="en")
    deliver_message(db.session, message.id, app.config)
    [mail] = outbox(app)
    text = body(mail)
    assert f"{VISIT_LOCAL:%A}, {VISIT_LOCAL.day} {VISIT_LOCAL:%B %Y} at 08:30" in text
    assert "Dear Nguyễn Văn An" in text and "national ID" in text
    assert "Kính gửi" not in text
    assert all(path.endswith("?lang=en") for path in links_in(text).values())


def test_the_sms_is_short_with_one_link_to_the_choices(app, db, clinic, clinic_contact):
    message = queue_reminder(db, confirmed_appointment(clinic), language="vi", channel="sms")
    with app.test_request_context():
        rendered = render(db.session, message, app.config)
    assert isinstance(rendered, Rendered)
    sms = rendered.short_text or ""
    assert f"08:30 {VISIT_LOCAL:%d/%m}" in sms and "Phòng khám An Bình" in sms and "BS. Trần Thị Bình" in sms
    assert set(links_in(sms)) == {"choose"}
    assert len(sms) <= 300, sms
    assert rendered.template == "appointment_reminder"  # its key in ZALO_TEMPLATES
    data = rendered.template_data
    assert data["customer_name"] == "Nguyễn Văn An" and data["doctor"] == "BS. Trần Thị Bình"
    assert data["clinic"] == "Phòng khám An Bình" and data["link"].startswith("https://phongkham.example.vn/clinic/visit/")


def test_a_cancelled_appointment_is_not_reminded(app, db, clinic):
    from app.models import Appointment

    appointment = confirmed_appointment(clinic)
    message = queue_reminder(db, appointment)
    db.session.get(Appointment, appointment).status = "cancelled"
    db.session.commit()
    assert render(db.session, message, app.config) == Skip("cancelled")
    assert deliver_message(db.session, message.id, app.config) == "skipped"
    assert outbox(app) == []


def test_a_moved_appointment_is_not_reminded_at_its_old_time(app, db, clinic):
    from app.models import Appointment

    appointment = confirmed_appointment(clinic)
    message = queue_reminder(db, appointment)
    row = db.session.get(Appointment, appointment)
    row.start_at, row.end_at = row.start_at + timedelta(hours=2), row.end_at + timedelta(hours=2)
    db.session.commit()
    assert render(db.session, message, app.config) == Skip("moved")


def test_a_requested_appointment_is_reminded_only_when_the_setting_says_so(app, db, clinic, monkeypatch):
    message = queue_reminder(db, confirmed_appointment(clinic, status="requested"), language="en")
    assert render(db.session, message, app.config) == Skip("cancelled")
    monkeypatch.setitem(app.config, "REMINDER_INCLUDE_REQUESTED", True)
    rendered = render(db.session, message, app.config)
    assert isinstance(rendered, Rendered) and "has not confirmed this time yet" in rendered.text


ICS = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Khám tổng quát với BS. Trần Thị Bình\r\n"
       "END:VEVENT\r\nEND:VCALENDAR\r\n")


def test_the_ics_is_read_as_utf8_by_mail_programs_over_smtp_and_in_the_outbox(tmp_path):
    """A text attachment without a charset is US-ASCII to the reader: Vietnamese would be garbled."""
    from email import message_from_bytes, policy as email_policy

    from aiosmtpd.controller import Controller
    from flask import Flask
    from flask_mail import Mail

    from app.services.mail import send_email
    from tests.test_mail import _Collector, _free_port

    handler = _Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        smtp = Flask(__name__)
        smtp.config.update(TESTING=True, MAIL_SUPPRESS_SEND=False, MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port,
                           MAIL_USE_TLS=False, MAIL_DEFAULT_SENDER="clinic@example.vn")
        with smtp.app_context():
            send_email(smtp.config, Mail(smtp), to=["an@example.vn"], subject="Nhắc lịch khám", body="x",
                       attachments=[("appointment.ics", "text/calendar", ICS.encode())])
        raw_smtp = handler.envelopes[0].original_content
    finally:
        controller.stop()
    outbox_config = {"MAIL_OUTBOX_DIR": str(tmp_path), "MAIL_DEFAULT_SENDER": "clinic@example.vn"}
    path = send_email(outbox_config, Mail(), to=["an@example.vn"], subject="Nhắc lịch khám", body="x",
                      attachments=[("appointment.ics", "text/calendar", ICS.encode())])
    with open(path, "rb") as fh:
        raw_outbox = fh.read()
    for raw in (raw_smtp, raw_outbox):
        [ics] = list(message_from_bytes(raw, policy=email_policy.default).iter_attachments())
        assert ics.get_content_type() == "text/calendar" and ics.get_content_charset() == "utf-8"
        assert "Khám tổng quát với BS. Trần Thị Bình" in ics.get_content()


def test_a_long_vietnamese_subject_keeps_its_spaces_in_the_outbox(tmp_path):
    from email import message_from_bytes, policy as email_policy

    from flask_mail import Mail

    from app.services.mail import send_email

    subject = "Nhắc lịch khám: Thứ Hai, 07/12/2026 lúc 08:30 · Phòng khám Đa khoa Quốc tế An Bình"
    path = send_email({"MAIL_OUTBOX_DIR": str(tmp_path), "MAIL_DEFAULT_SENDER": "clinic@example.vn"}, Mail(),
                      to=["an@example.vn"], subject=subject, body="x")
    with open(path, "rb") as fh:
        assert message_from_bytes(fh.read(), policy=email_policy.default)["Subject"] == subject


# --- what to bring, and the mail-merge ---------------------------------------------------------------


def _set_what_to_bring(db, service_id: int, note: str | None) -> None:
    from app.models import Service

    db.session.get(Service, service_id).what_to_bring = note
    db.session.commit()


def test_the_service_s_what_to_bring_is_in_the_text_and_the_html(app, db, clinic, clinic_contact):
    _set_what_to_bring(db, clinic.service, "Nhịn ăn 8 tiếng trước khi khám\n\nSổ khám <cũ> & phim X-quang\n")
    message = queue_reminder(db, confirmed_appointment(clinic), language="vi")
    assert deliver_message(db.session, message.id, app.config) == "sent"
    [mail] = outbox(app)
    text = body(mail).replace("\r\n", "\n")
    html = mail.get_body(preferencelist=("html",)).get_content()
    # the service's own lines first (an empty line is no item), then what every visit needs
    assert "Vui lòng mang theo:\n- Nhịn ăn 8 tiếng trước khi khám\n- Sổ khám <cũ> & phim X-quang\n- Căn cước" in text
    assert ">Nhịn ăn 8 tiếng trước khi khám</li>" in html
    assert ">Sổ khám &lt;cũ&gt; &amp; phim X-quang</li>" in html  # escaped, not markup
    assert html.count("<li ") == 5


def test_without_a_note_the_reminder_lists_what_every_visit_needs(app, db, clinic, clinic_contact):
    _set_what_to_bring(db, clinic.service, "Nhịn ăn 8 tiếng")
    _set_what_to_bring(db, clinic.service, None)  # the clinic removed the note: the next reminder says so
    message = queue_reminder(db, confirmed_appointment(clinic), language="en")
    deliver_message(db.session, message.id, app.config)
    [mail] = outbox(app)
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "Nhịn ăn" not in body(mail) and "Nhịn ăn" not in html
    assert html.count("<li ") == 3 and "national ID" in html


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_mail_merge_writes_what_jinja_writes_for_every_message(app, db, clinic, clinic_contact, monkeypatch,
                                                                     language):
    """The templates are rendered once per language and filled per message: the result is the
    template rendered for that message, also for names that HTML would take for markup."""
    import re

    from flask_babel import force_locale

    from app.models import Doctor, Patient, Service
    from app.services.messaging.reminder_message import render_mail_parts, what_to_bring

    monkeypatch.setitem(app.config, "REMINDER_INCLUDE_REQUESTED", True)
    db.session.get(Patient, clinic.patient).full_name = "O'Brien <b>&amp; \"Hà\"</b>"
    db.session.get(Doctor, clinic.doctor).full_name = "Lê <i>Văn</i> & Cường"
    db.session.get(Service, clinic.service).name = "Siêu âm; bụng & \"tim\""
    db.session.commit()
    _set_what_to_bring(db, clinic.service, "Kết quả <cũ>")
    for hours, status in ((2, "confirmed"), (3, "requested")):
        start = VISIT_UTC + timedelta(hours=hours)
        message = queue_reminder(db, confirmed_appointment(clinic, start=start, status=status), language=language,
                                 for_start_at=start)
        with app.test_request_context():
            rendered = render(db.session, message, app.config)
            assert isinstance(rendered, Rendered)
            urls = {match.group(1): match.group(0) for match in re.finditer(
                r"https://phongkham\.example\.vn/clinic/visit/(confirm|cancel|reschedule)/[\w.\-]+\?lang=\w+",
                rendered.text)}
            assert set(urls) == {"confirm", "cancel", "reschedule"}
            when = re.search(r"data-when>([^<]+)<", rendered.html).group(1)  # type: ignore[union-attr]
            with force_locale(language):
                text, html = render_mail_parts({
                    "patient_name": "O'Brien <b>&amp; \"Hà\"</b>", "when": when, "doctor": "BS. Lê <i>Văn</i> & Cường",
                    "service": "Siêu âm; bụng & \"tim\"", "clinic": "Phòng khám An Bình",
                    "address": "12 Lê Lợi, Quận 1, TP.HCM", "phone": "028 3822 1234",
                    "bring": what_to_bring("Kết quả <cũ>"), "links": urls, "requested": status == "requested",
                    "language": language, "cutoff_hours": 2})
        assert rendered.text == text
        assert rendered.html == html
        assert "O&#39;Brien &lt;b&gt;&amp;amp;" in html


def test_the_manager_writes_what_to_bring_on_the_service_form(app, db, clinic, login_as):
    from app.models import Service

    manager = login_as("manager")
    form = manager.get(f"/serviceview/edit/{clinic.service}").get_data(as_text=True)
    assert 'name="what_to_bring"' in form
    service = db.session.get(Service, clinic.service)
    response = manager.post(f"/serviceview/edit/{clinic.service}", data={
        "code": service.code, "name": service.name, "price": str(service.price),
        "duration_minutes": str(service.duration_minutes), "active": "y", "visit_modes": "both",
        "what_to_bring": "Nhịn ăn 8 tiếng trước khi khám\nSổ khám bệnh"}, follow_redirects=True)
    assert response.status_code == 200
    db.session.expire_all()
    saved = db.session.get(Service, clinic.service)
    assert saved.what_to_bring == "Nhịn ăn 8 tiếng trước khi khám\nSổ khám bệnh"
    assert saved.visit_modes == "both"  # the same form says how the service is given


@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_video_visits_reminder_carries_the_join_link_and_no_list_of_things_to_bring(app, db, clinic,
                                                                                       clinic_contact, language):
    from app.models import Appointment, Service

    db.session.get(Service, clinic.service).visit_modes = "both"
    db.session.commit()
    appointment = confirmed_appointment(clinic)
    db.session.get(Appointment, appointment).mode = "video"
    db.session.commit()
    join = f"https://phongkham.example.vn/portal/appointments/{appointment}/video"
    message = queue_reminder(db, appointment, language=language)
    assert deliver_message(db.session, message.id, app.config) == "sent"
    [mail] = outbox(app)
    text, html = body(mail), mail.get_body(preferencelist=("html",)).get_content()
    heading = {"vi": "Đây là buổi khám qua video", "en": "This is a video visit"}[language]
    for part in (text, html):
        assert join in part and heading in part
        assert set(links_in(part)) >= {"confirm", "cancel", "reschedule"}  # still confirm, cancel or move
        assert ("national ID" in part) is False and ("Căn cước" in part) is False  # nothing to bring along
    assert f'href="{join}" data-link="join"' in html
    sms = queue_reminder(db, appointment, language=language, channel="sms")
    with app.test_request_context():
        rendered = render(db.session, sms, app.config)
    assert isinstance(rendered, Rendered) and join in (rendered.short_text or "")
    assert len(rendered.short_text or "") <= 300
