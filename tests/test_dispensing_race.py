"""Two (fifty) pharmacists dispensing the last units of a medicine at once, on PostgreSQL: the
batch rows are locked, so exactly the units on the shelf go out, never below zero, and the
ledger still adds up. SQLite has one writer at a time: the race is PostgreSQL's."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import StockBatch
from app.services import dispensing
from app.services.errors import Conflict
from app.services.stock import verify_ledger
from tests.pharmacy_helpers import NOW, batch, medicine, prescription

pytestmark = pytest.mark.needs_postgres


def test_fifty_dispenses_of_ten_units(app, db, clinic):
    from app.extensions import db as database

    med = medicine(db)
    for quantity, days in ((3, 100), (3, 200), (4, 300)):
        batch(db, med, quantity, days)
    prescriptions = [prescription(db, clinic, (med, 1)) for _ in range(50)]
    barrier = threading.Barrier(50)
    outcomes: list[str] = []

    def dispense(pid: int) -> None:
        with app.app_context(), Session(database.engine) as session:
            barrier.wait()
            try:
                dispensing.dispense_prescription(session, pid, None, None, NOW)
                outcomes.append("dispensed")
            except Conflict:
                outcomes.append("refused")
            except Exception as exc:  # noqa: BLE001 - reported below
                outcomes.append(repr(exc))

    threads = [threading.Thread(target=dispense, args=(pid,)) for pid in prescriptions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["dispensed"] * 10 + ["refused"] * 40
    db.session.expire_all()
    assert db.session.execute(select(func.sum(StockBatch.quantity))).scalar_one() == 0
    assert db.session.execute(select(func.min(StockBatch.quantity))).scalar_one() == 0
    assert verify_ledger(db.session) == []
