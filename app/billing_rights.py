"""What the signed-in user may do with money, read once per request by the billing entry points
(the cashier's counter, the back office, the billing API) and handed to the services as plain
booleans. Each power is a FAB permission ``can_<power>`` on ``Invoice`` (declared by the counter's
view and the billing API; given to roles in ``app.permissions.POWERS``)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class BillingRights:
    read: bool
    write: bool
    change_price: bool
    discount: bool
    refund: bool


def current_rights() -> BillingRights:
    sm = current_app.appbuilder.sm  # type: ignore[attr-defined]
    return BillingRights(
        read=bool(sm.has_access("can_read", "Invoice")),
        write=bool(sm.has_access("can_write", "Invoice")),
        change_price=bool(sm.has_access("can_change_price", "Invoice")),
        discount=bool(sm.has_access("can_discount", "Invoice")),
        refund=bool(sm.has_access("can_refund", "Invoice")),
    )
