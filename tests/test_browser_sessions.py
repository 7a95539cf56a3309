"""The sessions page in a real browser: readable at desktop and phone width in English and
Vietnamese, ends another session, and the menu's logout (a form) ends this one."""
from __future__ import annotations

import os
import uuid

import pytest

from tests.conftest import PASSWORD
from tests.test_sessions import IPHONE, PAGE, browser, logged_in

SHOTS = os.environ.get("SCREENSHOT_DIR")  # set it to look at the pages


@pytest.fixture
def own_user(app) -> str:
    with app.app_context():
        sm = app.appbuilder.sm
        name = f"web_{uuid.uuid4().hex[:10]}"
        sm.add_user(name, "Lan", "Nguyễn", f"{name}@test.example", sm.find_role("Receptionist"), password=PASSWORD)
        return name


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale, end_label, everywhere", [
    ("en-US", "End this session", "Sign out everywhere"),
    ("vi-VN", "Kết thúc phiên này", "Đăng xuất khỏi mọi nơi"),
])
def test_end_another_session_from_the_sessions_page(app, page_as, own_user, width, locale, end_label, everywhere):
    phone = browser(app, own_user, agent=IPHONE)
    page = page_as(own_user, width=width, locale=locale)
    page.goto(page.base_url + PAGE)
    items = page.locator(".session-item")
    assert items.count() == 2
    assert page.locator("#sign-out-everywhere").inner_text().strip() == everywhere
    overflow = page.evaluate("document.body.scrollWidth - window.innerWidth")
    assert overflow <= 1, overflow
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"sessions-{locale}-{width}.png"), full_page=True)
    other = page.locator(".session-item", has_text="iPhone")
    other.get_by_role("button", name=end_label).click()
    page.wait_for_load_state()
    assert page.locator(".session-item").count() == 1
    assert page.locator(".session-item .label-primary").count() == 1  # this browser is left
    assert not logged_in(phone)


def test_the_menus_logout_ends_the_session(app, page_as, own_user):
    page = page_as(own_user, width=1280)
    page.goto(page.base_url + PAGE)
    copy = app.test_client()
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    copy.set_cookie("session", cookie["value"])
    assert logged_in(copy)
    page.locator(".navbar-right .dropdown-toggle").last.click()
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "user-menu-1280.png"))
    page.locator("form.menu-form button").click()
    page.wait_for_load_state()
    page.goto(page.base_url + PAGE)
    assert "/login/" in page.url
    assert not logged_in(copy)
