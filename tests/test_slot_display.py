"""The public booking's time step: free times offered as a strip of days and one day's times by
morning, afternoon and evening, the first free time first (app/services/slot_display.py), and the
page that shows them on a phone, with and without JavaScript."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.services.slot_display import choose_slots, parse_day
from tests.factories import DAY

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class Slot:
    start: datetime


def at(day: date, hhmm: str) -> Slot:
    hours, minutes = map(int, hhmm.split(":"))
    local = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=ZONE)
    return Slot(local.astimezone(timezone.utc))


MON, TUE, THU = date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 10)


def test_days_periods_and_the_first_free_time():
    slots = [at(TUE, "19:00"), at(MON, "16:45"), at(MON, "08:00"), at(MON, "12:00"), at(MON, "11:45"),
             at(MON, "18:00"), at(THU, "07:00")]
    choice = choose_slots(slots, ZONE)
    assert [(d.day, d.free) for d in choice.days] == [(MON, 5), (TUE, 1), (THU, 1)]
    assert choice.day == MON and choice.first == at(MON, "08:00")
    assert [(p.name, [s.start.astimezone(ZONE).strftime("%H:%M") for s in p.slots]) for p in choice.periods] == [
        ("morning", ["08:00", "11:45"]), ("afternoon", ["12:00", "16:45"]), ("evening", ["18:00"])]


def test_a_chosen_day_is_shown_and_an_empty_period_is_left_out():
    choice = choose_slots([at(MON, "08:00"), at(TUE, "19:00"), at(TUE, "19:15")], ZONE, TUE)
    assert choice.day == TUE and [p.name for p in choice.periods] == ["evening"]
    assert choice.first == at(MON, "08:00")  # still the earliest of all


def test_a_day_without_free_times_falls_back_to_the_first():
    assert choose_slots([at(TUE, "09:00")], ZONE, THU).day == TUE


def test_local_days_not_utc_days():
    # 06:30 clinic time is 23:30 UTC the day before: it belongs to the clinic's Tuesday morning.
    choice = choose_slots([at(TUE, "06:30")], ZONE)
    assert choice.day == TUE and choice.periods[0].name == "morning"


def test_no_free_times():
    choice = choose_slots([], ZONE)
    assert choice.empty and choice.days == [] and choice.periods == []


def test_parse_day():
    assert parse_day("2026-12-07") == MON
    assert parse_day("07/12/2026") is None and parse_day(None) is None and parse_day("9999-99-99") is None


def test_the_time_step_on_a_phone_without_javascript(browser_engine, live_server, clinic):
    assert clinic.service and clinic.doctor
    context = browser_engine.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN",
                                         java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/clinic/book?service={clinic.service}&doctor={clinic.doctor}")
        assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
        assert page.locator(".pub-first-slot").count() == 1
        days = page.locator(".pub-date")
        assert days.count() >= 13 and page.locator(".pub-date.active").count() == 1
        first_day_buttons = page.locator("#times .pub-slot").count()
        assert 0 < first_day_buttons <= 48  # one day, not two weeks: 07:00-19:00 every 15 minutes at most
        # Another day by its link (no script): that day's times, grouped.
        page.locator(f'.pub-date[href*="day={DAY}"]').click()
        page.wait_for_load_state()
        assert page.locator(".pub-date.active").get_attribute("href").find(f"day={DAY}") > 0
        assert page.locator("#times").get_attribute("data-day") == str(DAY)
        assert [p.get_attribute("data-period") for p in page.locator(".pub-period").all()] == [
            "morning", "afternoon", "evening"]
        assert page.locator('.pub-period[data-period="morning"] .pub-slot').first.inner_text() == "07:00"
        assert page.locator(".pub-period h4").first.inner_text() == "Buổi sáng"
        assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1
    finally:
        context.close()


def test_tomorrow_is_one_link_away(client, clinic):
    html = client.get(f"/clinic/book?service={clinic.service}&doctor={clinic.doctor}&day={DAY + timedelta(days=1)}")
    page = html.get_data(as_text=True)
    assert f'data-day="{DAY + timedelta(days=1)}"' in page
    assert page.count('aria-current="date"') == 1
