"""The daily-use rollup (``medicine_daily_use``): units dispensed per medicine per clinic day, net
of returns. ``add_use`` is called by the dispensing service inside its transaction; reads sum the
window's rows; ``rebuild_daily_use`` makes the rollup again from the ledger."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import StockMovement
from app.models.stock_usage import MedicineDailyUse

USE_KINDS = ("dispense", "return")


def add_use(session: Session, medicine_id: int, day: date, units: int) -> None:
    """Add ``units`` (negative for a return) to the medicine's use on ``day``: one upsert."""
    if not units:
        return
    dialect = session.get_bind().dialect.name
    values = {"medicine_id": medicine_id, "day": day, "units": units}
    if dialect == "postgresql":
        pg = postgresql.insert(MedicineDailyUse).values(**values)
        statement = pg.on_conflict_do_update(index_elements=["medicine_id", "day"],
                                             set_={"units": MedicineDailyUse.units + pg.excluded.units})
        session.execute(statement)
        return
    if dialect == "sqlite":
        lite = sqlite.insert(MedicineDailyUse).values(**values)
        session.execute(lite.on_conflict_do_update(index_elements=["medicine_id", "day"],
                                                   set_={"units": MedicineDailyUse.units + lite.excluded.units}))
        return
    row = session.get(MedicineDailyUse, (medicine_id, day), with_for_update=True)
    if row is None:
        session.add(MedicineDailyUse(medicine_id=medicine_id, day=day, units=units))
    else:
        row.units += units


def use_since(session: Session, first_day: date, medicine_ids: list[int] | None = None):
    """A subquery: (medicine_id, used) summed from ``first_day`` on."""
    query = (select(MedicineDailyUse.medicine_id.label("medicine_id"), func.sum(MedicineDailyUse.units).label("used"))
             .where(MedicineDailyUse.day >= first_day))
    if medicine_ids is not None:
        query = query.where(MedicineDailyUse.medicine_id.in_(medicine_ids))
    return query.group_by(MedicineDailyUse.medicine_id).subquery()


def daily_use(session: Session, medicine_id: int, first_day: date) -> list[tuple[date, int]]:
    rows = session.execute(select(MedicineDailyUse.day, MedicineDailyUse.units).where(
        MedicineDailyUse.medicine_id == medicine_id, MedicineDailyUse.day >= first_day)
        .order_by(MedicineDailyUse.day)).all()
    return [(d if isinstance(d, date) else date.fromisoformat(str(d)), int(u)) for d, u in rows]


def rebuild_daily_use(session: Session, zone: ZoneInfo, days: int = 400) -> int:
    """Make the rollup again from the ledger's dispenses and returns of the last ``days`` days (the
    caller commits); the number of rows written."""
    totals: dict[tuple[int, date], int] = {}
    query = select(StockMovement.medicine_id, StockMovement.created_at, StockMovement.quantity).where(
        StockMovement.kind.in_(USE_KINDS))
    for medicine_id, at, quantity in session.execute(query).yield_per(10000):
        day = at.astimezone(zone).date()
        totals[(medicine_id, day)] = totals.get((medicine_id, day), 0) - int(quantity)
    latest = max((d for _m, d in totals), default=None)
    session.execute(delete(MedicineDailyUse))
    rows = [{"medicine_id": m, "day": d, "units": n} for (m, d), n in totals.items()
            if n and latest is not None and d > latest - timedelta(days=days)]
    for start in range(0, len(rows), 5000):
        session.execute(insert(MedicineDailyUse), rows[start:start + 5000])
    return len(rows)
