"""The days the demo clinic is closed: Vietnam's public holidays, from the ``holidays`` package
(it computes the lunar ones, Tết and the Hùng Kings' day, and the days off moved by decree, with
no network), named in Vietnamese."""
from __future__ import annotations

from datetime import date

import holidays


class PublicHolidays:
    """Vietnam's public holidays by day, for any year (each year is computed on first use)."""

    def __init__(self) -> None:
        self._days = holidays.country_holidays("VN", language="vi")

    def name(self, day: date) -> str | None:
        """The holiday's name, or None on an ordinary day."""
        return self._days.get(day)
