"""The clinic's settings as plain values, so services never read the Flask config themselves."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Mapping
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ClinicSettings:
    timezone: ZoneInfo
    currency: str = "VND"
    phone_region: str = "VN"

    @classmethod
    def from_config(cls, config: Mapping) -> "ClinicSettings":
        return cls(
            timezone=ZoneInfo(config.get("CLINIC_TIMEZONE", "Asia/Ho_Chi_Minh")),
            currency=config.get("CLINIC_CURRENCY", "VND"),
            phone_region=config.get("CLINIC_PHONE_REGION", "VN"),
        )

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self) -> date:
        """Today in the clinic's time zone (not the server's)."""
        return datetime.now(self.timezone).date()
