"""Numbers and dates typed the way the user's language writes them (app/views/fields.py): the pure
parse and format functions behind every number and date input of the back office."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.views.fields import format_date_input, format_decimal_input, parse_date, parse_decimal

TEMPERATURE, MONEY, LAB_VALUE = 1, 0, 4  # decimals the field takes (money in dong: none)


@pytest.mark.parametrize("typed, language, places, expected", [
    ("37,8", "vi", TEMPERATURE, "37.8"),
    ("37.8", "vi", TEMPERATURE, "37.8"),        # a point cannot group one digit: unambiguous
    ("37.8", "en", TEMPERATURE, "37.8"),
    ("37,8", "en", TEMPERATURE, "37.8"),        # a comma cannot group one digit: unambiguous
    ("1,5", "vi", TEMPERATURE, "1.5"),
    ("1.5", "vi", TEMPERATURE, "1.5"),
    ("1.000", "vi", MONEY, "1000"),             # a thousand dong, never 1
    ("1.000.000", "vi", MONEY, "1000000"),
    ("1 000 000", "vi", MONEY, "1000000"),
    ("150.000,00", "vi", MONEY, "150000"),
    ("1,000", "en", MONEY, "1000"),
    ("1,500", "vi", MONEY, "1500"),             # dong have no decimals: only a thousands separator fits
    ("1,234.5", "vi", 2, "1234.5"),             # both separators: the last one is the decimal one
    ("1.234,5", "en", 2, "1234.5"),
    ("12,345", "vi", LAB_VALUE, "12.345"),
    ("-3,5", "vi", TEMPERATURE, "-3.5"),
    ("", "vi", TEMPERATURE, None),
])
def test_numbers_in_either_language(typed, language, places, expected):
    parsed = parse_decimal(typed, language, places)
    assert parsed == (None if expected is None else Decimal(expected))


@pytest.mark.parametrize("typed, language, places, reason", [
    ("1,000", "vi", MONEY, "could mean 1000 or 1"),      # English habit or Vietnamese decimals?
    ("1.000", "en", MONEY, "could mean 1000 or 1"),
    ("1.000", "vi", LAB_VALUE, "could mean 1000 or 1"),
    ("2,50", "vi", MONEY, "Whole numbers only."),
    ("37,85", "vi", TEMPERATURE, r"Too many decimals \(at most 1\)."),
    ("37,8,5", "vi", TEMPERATURE, "Not a number."),
    ("1.00.000", "vi", MONEY, "Not a number."),
    ("abc", "en", TEMPERATURE, "Not a number."),
    ("1e5", "en", None, "Not a number."),
])
def test_numbers_that_are_refused_say_why(typed, language, places, reason):
    with pytest.raises(ValueError, match=reason):
        parse_decimal(typed, language, places)


@pytest.mark.parametrize("value, language, places, shown", [
    (Decimal("37.8"), "vi", TEMPERATURE, "37,8"),
    (Decimal("37.8"), "en", TEMPERATURE, "37.8"),
    (Decimal("150000.00"), "vi", MONEY, "150.000"),
    (Decimal("150000.00"), "en", MONEY, "150,000"),
    (Decimal("2.00"), "vi", 2, "2"),
    (None, "vi", MONEY, ""),
])
def test_numbers_are_shown_so_that_they_read_back_the_same(value, language, places, shown):
    assert format_decimal_input(value, language, places) == shown
    if value is not None:
        assert parse_decimal(shown, language, places) == value


@pytest.mark.parametrize("typed, language, expected", [
    ("20/07/1985", "vi", date(1985, 7, 20)),
    ("20-07-1985", "vi", date(1985, 7, 20)),
    ("20.7.1985", "vi", date(1985, 7, 20)),
    ("07/08/1985", "vi", date(1985, 8, 7)),     # day first in Vietnamese
    ("07/08/1985", "en", date(1985, 7, 8)),     # month first in English
    ("20/07/1985", "en", date(1985, 7, 20)),    # no 20th month: only one reading
    ("1985-07-20", "vi", date(1985, 7, 20)),
    ("1985-07-20", "en", date(1985, 7, 20)),
    ("", "vi", None),
])
def test_dates_in_either_language(typed, language, expected):
    assert parse_date(typed, language) == expected


@pytest.mark.parametrize("typed, reason", [
    ("20/07/85", "four digits"),
    ("31/02/1985", "Not a date"),
    ("1985-02-31", "Not a date"),
    ("yesterday", "dd/mm/yyyy"),
])
def test_dates_that_are_refused_say_why(typed, reason):
    with pytest.raises(ValueError, match=reason):
        parse_date(typed, "vi")


def test_dates_are_shown_in_the_users_order():
    assert format_date_input(date(1985, 7, 20), "vi") == "20/07/1985"
    assert format_date_input(date(1985, 7, 20), "en") == "1985-07-20"
    assert parse_date(format_date_input(date(1985, 7, 20), "vi"), "vi") == date(1985, 7, 20)


def test_list_and_show_pages_write_dates_in_the_readers_order(api, login_as):
    patient = api.create("patient", {"full_name": "Lê Thị Hoa", "date_of_birth": "1985-07-20"})
    browser = login_as("receptionist")
    vi = {"Accept-Language": "vi"}
    assert "20/07/1985" in browser.get("/patientview/list/", headers=vi).get_data(as_text=True)
    assert "20/07/1985" in browser.get(f"/patientview/show/{patient}", headers=vi).get_data(as_text=True)
    assert "1985-07-20" in browser.get(f"/patientview/show/{patient}").get_data(as_text=True)
