"""The bell and the delivery dashboard in a real browser (Debian's headless Chromium): a staff user
with two notifications sees "2" on the bell, opens the list, opens one, lands on its record, and
the bell says 1; a manager reads the delivery dashboard and a message's detail. At 1280 and 390
pixels wide, in English and Vietnamese; screenshots go to ``tmp_path`` (``--basetemp`` keeps them)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.test_delivery_dashboard import _message
from tests.test_notifications_bell import _notify

TEXTS = {"en-US": {"list": "Notifications", "dashboard": "Delivery dashboard", "no_phone": "No phone number on file"},
         "vi-VN": {"list": "Thông báo", "dashboard": "Bảng theo dõi gửi tin", "no_phone": "Không có số điện thoại"}}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["en-US", "vi-VN"])
def test_the_bell_counts_down_when_a_notification_is_opened(app, db, page_as, tmp_path, width, locale):
    _notify(app, db, "receptionist", "Đặt lịch mới: Trần Thị Lan", link="/appointmentview/list/")
    _notify(app, db, "receptionist", "Hủy lịch: Phạm Văn Hùng", link="/patientview/list/")
    page = page_as("receptionist", width=width, locale=locale)
    page.goto(f"{page.base_url}/")
    bell = "#bell-phone" if width < 768 else "#bell"  # on a phone the menu bar is folded: the bell is beside its toggle
    count = page.locator(f"{bell} .bell-count")
    assert count.is_visible() and count.get_attribute("data-unread-count") == "2" and count.inner_text().strip() == "2"
    page.screenshot(path=tmp_path / "1-home.png")
    page.click(bell)
    page.wait_for_url("**/notifications/")
    assert page.locator("h1").inner_text().startswith(TEXTS[locale]["list"])
    assert page.locator(".notification-unread").count() == 2
    page.screenshot(path=tmp_path / "2-list.png", full_page=True)
    item = page.locator(".notification-item", has_text="Trần Thị Lan")
    item.locator(".notification-open").click()
    page.wait_for_url("**/appointmentview/list/")
    assert page.locator(f"{bell} .bell-count").get_attribute("data-unread-count") == "1"
    assert page.locator(f"{bell} .bell-count").inner_text().strip() == "1"


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["en-US", "vi-VN"])
def test_the_manager_reads_the_delivery_dashboard(db, page_as, tmp_path, width, locale):
    now = datetime.now(timezone.utc)
    _message(db, created_at=now - timedelta(minutes=30))
    failed = _message(db, status="failed", attempts=5, last_error="SMTP 451: try again later",
                      recipient="binh.tran@example.vn", name="Trần Thị Bình", created_at=now - timedelta(minutes=20))
    _message(db, status="skipped", skip_reason="no_address", channel="sms", recipient=None, name="Lê Văn Cường",
             attempts=0, kind="appointment_reminder", created_at=now - timedelta(minutes=10))
    page = page_as("manager", width=width, locale=locale)
    page.goto(f"{page.base_url}/messages/")
    texts = TEXTS[locale]
    assert page.locator("h1").inner_text() == texts["dashboard"]
    assert texts["no_phone"] in page.locator("#messages").inner_text()
    assert page.locator('#status-counts [data-status="failed"]').get_attribute("data-count") == "1"
    # nothing wider than the screen: the table becomes cards on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=tmp_path / "1-dashboard.png", full_page=True)
    page.click(f'tr[data-message="{failed}"] a')
    page.wait_for_url(f"**/messages/{failed}")
    assert page.locator("#message-body").count() == 0  # a failed one was never sent: no text kept
    assert page.locator("#resend").is_visible()
    page.screenshot(path=tmp_path / "2-detail.png", full_page=True)
