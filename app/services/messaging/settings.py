"""Messaging settings as plain values (read once from the configuration)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping
from zoneinfo import ZoneInfo


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in str(text).replace(" ", "").split(",") if part)


@dataclass(frozen=True)
class MessagingSettings:
    timezone: ZoneInfo
    default_language: str = "vi"
    max_attempts: int = 5  # sends tried before a message is marked failed
    backoff_seconds: tuple[int, ...] = (60, 300, 900, 3600)  # wait after the 1st, 2nd, ... failure
    claim_timeout: timedelta = timedelta(minutes=10)  # a "sending" claim older than this was left by a dead worker
    channels: tuple[str, ...] = ("email", "sms", "zalo")  # the channels this clinic sends on at all
    sms_default: bool = False  # who never chose: SMS too (without it: SMS only when there is no e-mail address)
    sms_ascii: bool = False  # strip Vietnamese diacritics from SMS (GSM-7 providers)
    sms_provider: str = "outbox"  # outbox | twilio
    zalo_enabled: bool = False
    # PostgreSQL: a sent message's record is committed without waiting for the disk (see delivery.py)
    async_commit: bool = True
    # Reminders
    reminder_hour: int = 18  # the day before the visit, at this hour of clinic time
    reminder_hours_before: int = 0  # a second reminder this many hours before (0: none)
    remind_requested: bool = False  # remind appointments still waiting for confirmation too
    link_days: int = 14  # how long the links in a reminder work (never past the visit)
    digest_hour: int = 7  # the stock digest, every day at this hour of clinic time

    @classmethod
    def from_config(cls, config: Mapping) -> "MessagingSettings":
        channels = tuple(c for c in str(config.get("MESSAGE_CHANNELS", "email,sms,zalo")).replace(" ", "").split(",")
                         if c in ("email", "sms", "zalo"))
        return cls(
            timezone=ZoneInfo(config.get("CLINIC_TIMEZONE", "Asia/Ho_Chi_Minh")),
            default_language=str(config.get("BABEL_DEFAULT_LOCALE") or "en"),
            max_attempts=max(1, int(config.get("MESSAGE_MAX_ATTEMPTS", 5))),
            backoff_seconds=_ints(config.get("MESSAGE_BACKOFF_SECONDS", "60,300,900,3600")) or (60,),
            claim_timeout=timedelta(seconds=int(config.get("MESSAGE_CLAIM_TIMEOUT_SECONDS", 600))),
            channels=channels,
            sms_default=bool(config.get("SMS_DEFAULT_ON", False)),
            sms_ascii=bool(config.get("SMS_ASCII_ONLY", False)),
            sms_provider=str(config.get("SMS_PROVIDER") or "outbox"),
            zalo_enabled=bool(config.get("ZALO_ENABLED", False)),
            async_commit=bool(config.get("MESSAGE_ASYNC_COMMIT", True)),
            reminder_hour=int(config.get("REMINDER_HOUR", 18)),
            reminder_hours_before=int(config.get("REMINDER_HOURS_BEFORE", 0)),
            remind_requested=bool(config.get("REMINDER_INCLUDE_REQUESTED", False)),
            link_days=int(config.get("REMINDER_LINK_DAYS", 14)),
            digest_hour=int(config.get("STOCK_DIGEST_HOUR", 7)),
        )

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed try."""
        index = min(max(attempts, 1), len(self.backoff_seconds)) - 1
        return timedelta(seconds=self.backoff_seconds[index])
