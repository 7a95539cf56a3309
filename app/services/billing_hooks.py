"""Where the visit and the pharmacy hand over to billing: called in the same transaction as the
signature or the stock movements (never commits)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence

from sqlalchemy.orm import Session

from app.models import Encounter, StockMovement
from app.services.billing_settings import BillingSettings


def _settings() -> BillingSettings:
    from flask import current_app, has_app_context

    return BillingSettings.from_config(current_app.config) if has_app_context() else BillingSettings()


def visit_completed(session: Session, encounter: Encounter, actor_id: int | None, now: datetime,
                    billing: BillingSettings | None = None) -> Any:
    """A signed visit bills its service, the consultation fee and its lab tests."""
    from app.services import billing as billing_service

    return billing_service.bill_visit(session, encounter, actor_id, now, billing or _settings())


def dispensed(session: Session, movements: Sequence[StockMovement], billing: BillingSettings | None = None) -> None:
    """Medicines left the shelf for a prescription (``kind == "dispense"``, negative quantities) or
    came back (``kind == "return"``, positive): the patient's draft invoice follows."""
    from app.services import billing as billing_service

    now = max((m.created_at for m in movements if m.created_at is not None), default=datetime.now(timezone.utc))
    billing_service.bill_dispensed(session, movements, now, billing or _settings())
