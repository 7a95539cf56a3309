"""The clinic's settings as plain values, so services never read the Flask config themselves."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Mapping
from zoneinfo import ZoneInfo

DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:5000"  # the development server


def public_base_url(config: Mapping) -> str:
    """The site's address for links made without a request (jobs, messages): ``PUBLIC_BASE_URL``,
    else the development server's. No trailing slash."""
    return str(config.get("PUBLIC_BASE_URL") or DEFAULT_PUBLIC_BASE_URL).rstrip("/")


@dataclass(frozen=True)
class BookingPolicy:
    slot_minutes: int = 15  # start times fall on this grid, counted from the start of each session
    buffer_minutes: int = 0  # kept free after each visit
    min_notice: timedelta = timedelta(minutes=60)
    horizon: timedelta = timedelta(days=90)
    online_enabled: bool = True
    online_needs_confirmation: bool = True
    patient_cutoff: timedelta = timedelta(hours=2)  # patients may cancel or move until this long before

    @classmethod
    def from_config(cls, config: Mapping) -> "BookingPolicy":
        return cls(
            slot_minutes=int(config.get("BOOKING_SLOT_MINUTES", 15)),
            buffer_minutes=int(config.get("BOOKING_BUFFER_MINUTES", 0)),
            min_notice=timedelta(minutes=int(config.get("BOOKING_MIN_NOTICE_MINUTES", 60))),
            horizon=timedelta(days=int(config.get("BOOKING_HORIZON_DAYS", 90))),
            online_enabled=bool(config.get("BOOKING_ONLINE_ENABLED", True)),
            online_needs_confirmation=bool(config.get("BOOKING_ONLINE_NEEDS_CONFIRMATION", True)),
            patient_cutoff=timedelta(hours=int(config.get("BOOKING_PATIENT_CUTOFF_HOURS", 2))),
        )


@dataclass(frozen=True)
class ClinicSettings:
    timezone: ZoneInfo
    currency: str = "VND"
    phone_region: str = "VN"
    booking: BookingPolicy = field(default_factory=BookingPolicy)
    name: str = "Clinic"  # CLINIC_NAME: the header of printed documents (visit summary)
    address: str = ""  # CLINIC_ADDRESS
    phone: str = ""  # CLINIC_PHONE

    @classmethod
    def from_config(cls, config: Mapping) -> "ClinicSettings":
        return cls(
            timezone=ZoneInfo(config.get("CLINIC_TIMEZONE", "Asia/Ho_Chi_Minh")),
            currency=config.get("CLINIC_CURRENCY", "VND"),
            phone_region=config.get("CLINIC_PHONE_REGION", "VN"),
            booking=BookingPolicy.from_config(config),
            name=config.get("APP_NAME") or "Clinic",
            address=config.get("CLINIC_ADDRESS") or "",
            phone=config.get("CLINIC_PHONE") or "",
        )

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self) -> date:
        """Today in the clinic's time zone (not the server's)."""
        return datetime.now(self.timezone).date()
