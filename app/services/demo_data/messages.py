"""A few outgoing messages of every status for the demo, so the delivery dashboard (/messages/)
shows what patients would receive: reminders sent by e-mail and SMS, one that failed (with its
error, ready to be sent again), one queued for tomorrow evening, and skipped ones with each usual
reason. Deterministic: the first patients by id."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.models import OutboundMessage, Patient


def seed_messages(session: Session, tz: ZoneInfo, today: date) -> int:
    patients = session.execute(
        sa.select(Patient.id, Patient.full_name, Patient.email, Patient.phone)
        .where(Patient.email.is_not(None), Patient.phone.is_not(None)).order_by(Patient.id).limit(8)).all()
    if not patients:
        return 0
    evening = datetime.combine(today - timedelta(days=1), time(18, 0), tzinfo=tz).astimezone(timezone.utc)
    tomorrow_evening = datetime.combine(today + timedelta(days=1), time(18, 0), tzinfo=tz).astimezone(timezone.utc)

    def pick(i: int) -> Any:
        return patients[i % len(patients)]

    def reminder_text(name: str) -> tuple[str, str]:
        return ("Nhắc lịch khám ngày mai",
                f"Chào {name},\n\nPhòng khám nhắc bạn lịch khám vào ngày mai lúc 08:30.\n"
                "Vui lòng mang theo CCCD và thẻ BHYT (nếu có).\n\nHẹn gặp bạn!")

    rows: list[dict[str, Any]] = []

    def add(i: int, channel: str, kind: str, status: str, minutes: int, *, skip_reason: str | None = None,
            last_error: str | None = None, attempts: int = 1, not_before: datetime | None = None,
            recipient: str | None = "auto") -> None:
        p = pick(i)
        address = (p.email if channel == "email" else p.phone) if recipient == "auto" else recipient
        subject, text = reminder_text(p.full_name)
        sent = status == "sent"
        plain = status in ("failed", "queued")  # may be sent (again): the plain renderer takes the text as is
        rows.append(dict(
            channel=channel, kind="plain" if plain else kind, language="vi", recipient=address,
            recipient_name=p.full_name, patient_id=p.id, status=status, skip_reason=skip_reason,
            attempts=attempts if status not in ("queued", "skipped") else 0, last_error=last_error,
            not_before=not_before, created_at=evening + timedelta(minutes=minutes),
            sent_at=evening + timedelta(minutes=minutes, seconds=4) if sent else None,
            params={"subject": subject, "text": text} if plain else {"demo": True},
            subject=subject if sent else None,
            body=(text if channel == "email" else f"{subject}: 08:30 ngay mai. Tra loi C de xac nhan.") if sent
            else None))

    add(0, "email", "appointment_reminder", "sent", 0)
    add(1, "email", "appointment_reminder", "sent", 1)
    add(1, "sms", "appointment_reminder", "sent", 1)
    add(2, "email", "appointment_confirmed", "sent", 2)
    add(2, "email", "lab_results_ready", "sent", 3)
    add(3, "email", "appointment_reminder", "failed", 3, attempts=5,
        last_error="SMTP 421: Service not available, closing transmission channel")
    add(4, "sms", "appointment_reminder", "skipped", 4, skip_reason="no_address", recipient=None)
    add(5, "email", "appointment_reminder", "skipped", 5, skip_reason="opted_out")
    add(6, "sms", "appointment_reminder", "skipped", 6, skip_reason="quiet_hours")
    add(7, "email", "appointment_reminder", "skipped", 7, skip_reason="cancelled")
    add(0, "email", "appointment_reminder", "queued", 8, not_before=tomorrow_evening)
    session.execute(sa.insert(OutboundMessage.__table__), rows)
    return len(rows)
