"""The pharmacy's settings as plain values (read once from the Flask config by the entry points)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping


@dataclass(frozen=True)
class PharmacyPolicy:
    # Skip a batch that expires before the end of the course when a batch lasting the course has stock.
    course_end_rule: bool = True
    return_window: timedelta = timedelta(hours=24)  # a dispense may be returned (undone) this long after
    min_shelf_life_days: int = 90  # a delivery whose expiry is closer than this is refused
    usage_days: int = 30  # average daily use is measured over this many past days
    expiry_window_days: int = 60  # the dashboard lists batches expiring within this many days
    default_lead_time_days: int = 7  # for a medicine with no usual supplier

    @classmethod
    def from_config(cls, config: Mapping) -> "PharmacyPolicy":
        return cls(
            course_end_rule=bool(config.get("PHARMACY_COURSE_END_RULE", True)),
            return_window=timedelta(hours=int(config.get("PHARMACY_RETURN_WINDOW_HOURS", 24))),
            min_shelf_life_days=int(config.get("PHARMACY_MIN_SHELF_LIFE_DAYS", 90)),
            usage_days=max(1, int(config.get("PHARMACY_USAGE_DAYS", 30))),
            expiry_window_days=int(config.get("PHARMACY_EXPIRY_WINDOW_DAYS", 60)),
            default_lead_time_days=int(config.get("PHARMACY_DEFAULT_LEAD_TIME_DAYS", 7)),
        )
