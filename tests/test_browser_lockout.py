"""Security → Locked accounts in a real browser: an admin sees the locked account and unlocks it,
on a desktop and a phone, in English and Vietnamese."""
from __future__ import annotations

import os
import uuid

import pytest

from app.models.types import utcnow
from app.services.accounts import lockout
from tests.conftest import PASSWORD

SHOTS = os.environ.get("SCREENSHOT_DIR")  # set it to keep the screenshots


def lock_new_user(app, db) -> str:
    name = f"locked_{uuid.uuid4().hex[:8]}"
    sm = app.appbuilder.sm
    user = sm.add_user(name, "Hoa", "Trần Thị", f"{name}@test.example", sm.find_role("Doctor"), password=PASSWORD)
    policy = lockout.LockoutPolicy(threshold=5, minutes=15)
    for _ in range(6):
        outcome = lockout.record_login_attempt(db.session, user_id=user.id, username=name, password_ok=False,
                                               now=utcnow(), policy=policy)
    assert outcome.outcome == lockout.LOCKED_NOW
    return name


@pytest.mark.parametrize("width, locale, unlock, done", [
    (1280, "en-US", "Unlock", "The account is unlocked"),
    (390, "en-US", "Unlock", "The account is unlocked"),
    (1280, "vi-VN", "Mở khóa", "Đã mở khóa tài khoản"),
    (390, "vi-VN", "Mở khóa", "Đã mở khóa tài khoản"),
])
def test_an_admin_unlocks_an_account(app, db, page_as, width, locale, unlock, done):
    name = lock_new_user(app, db)
    page = page_as("admin", width=width, locale=locale)
    page.goto(f"{page.base_url}/locked-accounts/")
    row = page.locator("#locked-accounts tr", has_text=name)
    row.wait_for()
    assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"locked-{width}-{locale}.png"), full_page=True)
    button = row.get_by_role("button", name=unlock)
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width  # on the screen, without scrolling sideways
    button.click()
    page.wait_for_load_state()
    assert done in page.content()
    assert name not in page.content()
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"unlocked-{width}-{locale}.png"), full_page=True)
