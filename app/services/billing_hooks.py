"""Where the pharmacy hands over to billing: one call, made by ``app.services.dispensing`` in the
same transaction as the stock movements."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy.orm import Session

from app.models import StockMovement


def dispensed(session: Session, movements: Sequence[StockMovement]) -> None:
    """Medicines left the shelf for a prescription (``kind == "dispense"``, negative quantities) or
    came back (``kind == "return"``, positive), each movement referencing its prescription item
    (``reference_type == "prescription_item"``). Does nothing yet: the billing issue turns
    dispensed medicines into invoice lines here (and a return into a credit), inside the caller's
    transaction (do not commit)."""
    return None
