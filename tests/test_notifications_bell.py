"""The bell (app/views/notifications.py, app/public/notifications.py, app/api/notifications.py):
the unread count on every back-office and portal page, the user's own list, mark read, open (a
POST that marks it read and goes to its record), and the REST API; a user only ever reaches their
own notifications."""
from __future__ import annotations

import re

from app.models import Notification
from app.services.notifications import notify
from tests.test_menu_links import link_patient_login


def _user_id(app, username: str) -> int:
    return app.appbuilder.sm.find_user(username=username).id


def _notify(app, db, username: str, title: str, link: str | None = "/appointmentview/list/") -> int:
    row = notify(db.session, _user_id(app, username), "booking", title, "Chị Lan, khám tổng quát", link)
    db.session.commit()
    return row.id


def bell(html: str) -> int:
    found = re.search(r'class="badge bell-count[^"]*" data-unread-count="(\d+)"', html)
    assert found, "no bell on the page"
    return int(found.group(1))


def test_the_bell_counts_unread_on_a_back_office_page(app, db, login_as):
    _notify(app, db, "receptionist", "Đặt lịch mới: Trần Thị Lan")
    _notify(app, db, "receptionist", "Đặt lịch mới: Phạm Văn Hùng")
    _notify(app, db, "doctor", "Not for the receptionist")
    browser = login_as("receptionist")
    home = browser.get("/", follow_redirects=True).get_data(as_text=True)
    assert bell(home) == 2 and 'href="/notifications/"' in home
    assert bell(login_as("pharmacist").get("/", follow_redirects=True).get_data(as_text=True)) == 0


def test_a_guest_sees_no_bell(client):
    for path in ("/login/", "/clinic/", "/clinic/services"):
        html = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert "data-unread-count" not in html, path


def test_the_list_shows_only_ones_own_and_marks_read(app, db, login_as):
    mine = _notify(app, db, "receptionist", "Đặt lịch mới: Trần Thị Lan")
    other = _notify(app, db, "receptionist", "Hủy lịch: Phạm Văn Hùng", link=None)
    theirs = _notify(app, db, "doctor", "Kết quả xét nghiệm của bệnh nhân khác")
    browser = login_as("receptionist")
    page = browser.get("/notifications/").get_data(as_text=True)
    assert "Trần Thị Lan" in page and "Phạm Văn Hùng" in page and "bệnh nhân khác" not in page
    assert page.count("notification-unread") == 2
    # another user's id: nothing changes for them
    browser.post(f"/notifications/{theirs}/read")
    assert db.session.get(Notification, theirs).read_at is None
    refused = browser.post(f"/notifications/{mine}/read", csrf=False)
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(Notification, mine).read_at is None
    done = browser.post(f"/notifications/{mine}/read", follow_redirects=True).get_data(as_text=True)
    assert bell(done) == 1 and done.count("notification-unread") == 1
    browser.post("/notifications/read-all")
    db.session.expire_all()
    assert db.session.get(Notification, other).read_at is not None
    assert db.session.get(Notification, theirs).read_at is None
    assert bell(browser.get("/notifications/").get_data(as_text=True)) == 0


def test_opening_marks_read_and_goes_to_the_record(app, db, login_as):
    mine = _notify(app, db, "receptionist", "Đặt lịch mới", link="/appointmentview/show/7")
    theirs = _notify(app, db, "doctor", "Khác", link="/patientview/show/3")
    browser = login_as("receptionist")
    assert browser.get(f"/notifications/{mine}/open").status_code == 405  # no GET changes anything
    opened = browser.post(f"/notifications/{mine}/open")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/appointmentview/show/7")
    db.session.expire_all()
    assert db.session.get(Notification, mine).read_at is not None
    other = browser.post(f"/notifications/{theirs}/open")
    assert other.headers["Location"].endswith("/notifications/")  # not their link
    assert db.session.get(Notification, theirs).read_at is None


def test_the_portal_has_the_bell_and_the_list(app, db, api, login_as):
    link_patient_login(app, api)
    first = _notify(app, db, "patient", "Lịch hẹn của bạn đã được xác nhận", link="/clinic/me/appointments")
    _notify(app, db, "patient", "Kết quả xét nghiệm đã có", link="/clinic/me/visits")
    browser = login_as("patient")
    portal = browser.get("/clinic/me/appointments").get_data(as_text=True)
    assert bell(portal) == 2 and 'href="/clinic/me/notifications"' in portal
    page = browser.get("/clinic/me/notifications", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "đã được xác nhận" in page and "Đánh dấu tất cả là đã đọc" in page
    opened = browser.post(f"/clinic/me/notifications/{first}/open")
    assert opened.headers["Location"].endswith("/clinic/me/appointments")
    assert bell(browser.get("/clinic/me/appointments").get_data(as_text=True)) == 1
    browser.post("/clinic/me/notifications/read-all")
    assert bell(browser.get("/clinic/me/notifications").get_data(as_text=True)) == 0


def test_the_api_gives_ones_own_only(app, db, client, api_token):
    mine = [_notify(app, db, "receptionist", f"Thông báo {i}") for i in range(3)]
    theirs = _notify(app, db, "doctor", "Của bác sĩ")
    headers = api_token("receptionist")
    listed = client.get("/api/v1/notifications/?page_size=2", headers=headers).get_json()
    assert [n["id"] for n in listed["result"]] == [mine[2], mine[1]] and listed["unread"] == 3
    rest = client.get(f"/api/v1/notifications/?page_size=2&before_id={listed['next_before_id']}",
                      headers=headers).get_json()
    assert [n["id"] for n in rest["result"]] == [mine[0]] and rest["next_before_id"] is None
    assert client.get("/api/v1/notifications/count", headers=headers).get_json() == {"unread": 3}
    marked = client.post("/api/v1/notifications/mark-read", json={"ids": [mine[0], theirs]}, headers=headers)
    assert marked.status_code == 200 and marked.get_json() == {"marked": 1, "unread": 2}
    db.session.expire_all()
    assert db.session.get(Notification, theirs).read_at is None
    bad = client.post("/api/v1/notifications/mark-read", json={"ids": ["x"], "extra": 1}, headers=headers)
    assert bad.status_code == 422 and {"ids", "extra"} <= set(bad.get_json()["message"])
    every = client.post("/api/v1/notifications/mark-read", json={}, headers=headers).get_json()
    assert every == {"marked": 2, "unread": 0}
    assert client.get("/api/v1/notifications/count").status_code == 401


def test_the_generic_notification_screen_is_admins_only(app, db, login_as, api_token, client):
    _notify(app, db, "doctor", "Kết quả xét nghiệm: Trần Thị Lan")
    assert login_as("manager").get("/notificationview/list/").status_code in (302, 403)
    assert client.get("/api/v1/notification/", headers=api_token("manager")).status_code == 403
    assert "Trần Thị Lan" in login_as("admin").get("/notificationview/list/").get_data(as_text=True)


def test_times_are_in_clinic_time(app, db, api, login_as):
    from datetime import datetime, timezone

    link_patient_login(app, api)
    at = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)  # 23:30 on 1 Dec in the clinic (Asia/Ho_Chi_Minh)
    for username in ("receptionist", "patient"):
        notify(db.session, _user_id(app, username), "booking", "Đặt lịch mới", None, None, now=at)
    db.session.commit()
    office = login_as("receptionist").get("/notifications/").get_data(as_text=True)
    assert "2026-12-01 23:30" in office
    portal = login_as("patient").get("/clinic/me/notifications").get_data(as_text=True)
    assert ">12/1/26 23:30<" in portal


def test_a_page_whose_count_cannot_be_read_still_renders(app, db, login_as, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.services import notifications

    def broken(*args, **kwargs):
        raise OperationalError("SELECT count", {}, Exception("the transaction is aborted"))

    monkeypatch.setattr(notifications, "unread_count", broken)
    page = login_as("receptionist").get("/notifications/")
    assert page.status_code == 200 and "data-unread-count=\"0\"" in page.get_data(as_text=True)
