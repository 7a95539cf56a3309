"""Administration → Logs in a real browser (Debian's headless Chromium): an admin narrows the
kept events by level and by a time typed the reader's way, opens one request, and watches a new
event arrive on the live tail; on a desktop and a phone's width, in English and in Vietnamese,
nothing wider than the screen. Screenshots go to ``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from app import log_store
from tests.test_log_store import seeded  # noqa: F401 (fixture)

TEXT = {
    "en": {"title": "Logs", "from": "From date", "request": "One request", "live": "Live"},
    "vi": {"title": "Nhật ký hệ thống", "from": "Từ ngày", "request": "Một yêu cầu", "live": "Trực tiếp"},
}


def _rows(page) -> list[str]:
    return page.evaluate("Array.from(document.querySelectorAll('#log-rows tr.log-event'))"
                         ".map(r => r.getAttribute('data-level') + ' ' + r.getAttribute('data-request'))")


@pytest.mark.needs_chromium
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_admin_searches_opens_a_request_and_tails_the_logs(app, page_as, seeded, tmp_path, width, lang):  # noqa: F811
    from app.views.fields import clinic_zone

    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    text = TEXT[lang]
    page = page_as("admin", width=width)
    handler = log_store.handler()

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"logs-{lang}-{width}-{name}.png"), full_page=True)
        assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1, name

    try:
        page.goto(f"{page.base_url}/clinic/language/{lang}?next=/logs/")
        page.wait_for_load_state()
        assert text["title"] in page.content() and text["from"] in page.content()
        assert len(_rows(page)) == 6
        shot("1-open")

        page.select_option("#level", "ERROR")
        page.locator("form.log-search button[type=submit]").click()
        page.wait_for_load_state()
        assert _rows(page) == ["ERROR req-b"]

        with app.app_context():
            zone = clinic_zone()
        since = (seeded + timedelta(minutes=15)).astimezone(zone)  # its own day: it may be past midnight
        day = since.strftime("%d/%m/%Y") if lang == "vi" else since.strftime("%Y-%m-%d")
        page.select_option("#level", "")
        page.fill("#since_day", day)
        page.fill("#since_time", since.strftime("%H:%M"))
        page.locator("form.log-search button[type=submit]").click()
        page.wait_for_load_state()
        assert [row.split()[0] for row in _rows(page)] == ["INFO", "INFO", "INFO", "ERROR"]
        assert page.input_value("#since_day") == day
        shot("2-filtered")

        page.locator('#log-rows tr[data-request="req-b"] a.log-request-link').first.click()
        page.wait_for_load_state()
        assert text["request"] in page.content()
        events = page.locator("#request-events tbody tr.log-event")
        assert events.count() == 3
        assert "stock low for batch 12" in events.nth(0).inner_text()  # oldest first
        shot("3-request")

        page.goto(f"{page.base_url}/logs/")
        page.wait_for_load_state()
        assert text["live"] in page.locator(".log-tail-switch").inner_text()
        deadline = time.monotonic() + 10
        while not page.evaluate("!!(window.clinicRealtime && window.clinicRealtime.socket.connected)"):
            assert time.monotonic() < deadline, "the page's live connection never came up"
            time.sleep(0.1)
        handler.attach(app, app.extensions["documents"])  # from now on events are kept (and tailed)
        page.check("#log-tail")
        time.sleep(0.5)  # the join reaches the server
        logging.getLogger("app.test.browser").warning("live event for the tail %s", lang)
        deadline = time.monotonic() + 15
        while "live event for the tail" not in page.locator("#log-rows tr").first.inner_text():
            assert time.monotonic() < deadline, "the new event never reached the page"
            time.sleep(0.2)
        first = page.locator("#log-rows tr").first
        assert first.get_attribute("data-level") == "WARNING"
        shot("4-live")
    finally:
        handler.drain(5)
        handler.attach(None, None)
        page.goto(f"{page.base_url}/clinic/language/en?next=/")
        page.context.close()


@pytest.mark.needs_chromium
@pytest.mark.parametrize("lang, width, group", [("en", 1280, "Log events"), ("vi", 390, "Sự kiện nhật ký")])
def test_admin_finds_an_event_from_the_top_bar_search_and_opens_its_request(page_as, seeded, lang, width,  # noqa: F811
                                                                           group, tmp_path):
    page = page_as("admin", width=width)
    try:
        page.goto(f"{page.base_url}/clinic/language/{lang}?next=/patientview/list/")
        page.wait_for_load_state()
        box = page.locator("#staff-search-input")
        box.click()
        box.type("stock low")
        deadline = time.monotonic() + 10
        while not page.evaluate("document.querySelectorAll('#staff-search-results .clinic-search-option').length"):
            assert time.monotonic() < deadline, "no results came"
            time.sleep(0.1)
        groups = page.locator("#staff-search-results .clinic-search-group").all_inner_texts()
        assert [g.lower() for g in groups] == [group.lower()]
        page.screenshot(path=str(tmp_path / f"logs-search-{lang}-{width}.png"))
        assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_url("**/logs/request/req-b")
        assert page.locator("#request-events tbody tr.log-event").count() == 3
    finally:
        page.goto(f"{page.base_url}/clinic/language/en?next=/")
        page.context.close()
