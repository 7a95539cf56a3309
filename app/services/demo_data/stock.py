"""Demo stock step: receive batches as the dispensing needs them (FIFO by expiry), write off what
expires, top up for today, and write the batches and the ledger."""
from __future__ import annotations

import math
from collections import deque
from datetime import date, datetime, time, timedelta

from sqlalchemy import bindparam, insert, select, update

from app.models import Medicine, StockBatch, StockMovement, Supplier
from app.services.demo_data.core import CHUNK, UTC, Batch
from app.services.demo_data.medicines import MEDICINES, SUPPLIER_DETAILS, SUPPLIERS
from app.services.demo_data.visits import Visits


class Stock(Visits):
    """Builds and writes the stock batches and their movements."""

    # ---- stock: batches and the ledger -----------------------------------------------------

    def build_stock(self) -> None:
        """Receive batches as the dispensing needs them (FIFO by expiry), write off what expires,
        then top up for today: most medicines well stocked, a few short-dated lots, a few
        medicines below their reorder level."""
        rng, tz, today, now = self.rng, self.tz, self.today, self.now
        history_days = max((today - self.history_start).days, 1)
        self.batches: list[Batch] = []
        movements: list[tuple] = []  # (at, order, kind, batch, medicine index, quantity, ref type, ref id, note)
        lot_seq = [0] * len(MEDICINES)
        self.reorder_levels = []

        def new_batch(mi: int, received_at: datetime, quantity: int, expiry: date | None = None) -> Batch:
            med = MEDICINES[mi]
            lot_seq[mi] += 1
            b = Batch()
            b.medicine = mi
            b.lot = f"{received_at.astimezone(tz):%y%m}{mi + 1:02d}-{lot_seq[mi]:03d}"
            b.received_at = received_at
            received_day = received_at.astimezone(tz).date()
            b.expiry = expiry or received_day + timedelta(days=30 * med.shelf_months - rng.randint(60, 240))
            b.received = b.remaining = quantity
            b.cost = self.money(max(10, round(med.price * rng.uniform(0.55, 0.75) / 10) * 10))
            b.supplier = SUPPLIERS[int(rng.random() * len(SUPPLIERS))]
            self.batches.append(b)
            movements.append((received_at, 0, "receipt", b, mi, quantity, "stock_batch", None,
                              f"Nhập kho từ {b.supplier}"))
            return b

        def write_off(b: Batch) -> None:
            at = datetime.combine(b.expiry, time(7, 0), tzinfo=tz).astimezone(UTC)
            movements.append((at, 2, "expiry_write_off", b, b.medicine, -b.remaining, "stock_batch", None,
                              "Hủy thuốc hết hạn sử dụng"))
            b.remaining = 0

        for mi, med in enumerate(MEDICINES):
            events = self.dispense_events[mi]
            events.sort(key=lambda e: e[0])
            demand = sum(e[1] for e in events)
            rate = demand / history_days  # units per day
            lot_size = max(med.pack, math.ceil(rate * 60 / med.pack) * med.pack)
            reorder = max(med.pack // 5 or 1, int(round(rate * 14 / 10.0)) * 10)
            open_batches: deque[Batch] = deque()
            for at, quantity, presc_id in events:
                day = at.astimezone(tz).date()
                while quantity:
                    while open_batches and (open_batches[0].remaining == 0 or open_batches[0].expiry <= day):
                        b = open_batches.popleft()
                        if b.remaining:
                            write_off(b)
                    if not open_batches:
                        size = max(quantity, round(lot_size * rng.uniform(0.8, 1.5) / med.pack) * med.pack)
                        received = at - timedelta(days=rng.randint(1, 6), minutes=rng.randint(0, 600))
                        open_batches.append(new_batch(mi, received, size))
                    b = open_batches[0]
                    take = min(quantity, b.remaining)
                    b.remaining -= take
                    quantity -= take
                    movements.append((at, 1, "dispense", b, mi, -take, "prescription", presc_id, None))
            for b in list(open_batches):
                if b.expiry < today and b.remaining:
                    write_off(b)
            self.reorder_levels.append(reorder)
        # Today's stock: a few short-dated lots, a few medicines running low, the rest topped up.
        order = list(range(len(MEDICINES)))
        rng.shuffle(order)
        short_dated, running_low = order[:5], order[5:10]
        for mi in short_dated:
            med = MEDICINES[mi]
            received = now - timedelta(days=rng.randint(60, 150), minutes=rng.randint(0, 600))
            expiry = today + timedelta(days=rng.randint(3, 27))
            new_batch(mi, received, med.pack * rng.randint(1, 3), expiry=expiry)
        for mi, med in enumerate(MEDICINES):
            stock = sum(b.remaining for b in self.batches if b.medicine == mi)
            reorder = self.reorder_levels[mi]
            if mi in running_low:
                if stock >= reorder:
                    self.reorder_levels[mi] = reorder = (stock // 10 + 1) * 10 + med.pack // 2
                continue
            if stock < 2 * reorder + med.pack:
                size = max(3 * reorder, med.pack * 2)
                size = math.ceil(size / med.pack) * med.pack
                received = now - timedelta(days=rng.randint(2, 25), minutes=rng.randint(0, 600))
                new_batch(mi, received, size)
        # Ids in order of receipt; ledger ids in time order.
        self.batches.sort(key=lambda b: (b.received_at, b.medicine))
        for i, b in enumerate(self.batches, start=1):
            b.id = i
        movements.sort(key=lambda m: (m[0], m[1], m[3].id))
        self.movements = movements

    def write_suppliers(self) -> None:
        """The suppliers the batches came from (lead times of a few days to two weeks), and each
        medicine's usual supplier: the one that delivered most of its batches."""
        rows = [{"name": name, "contact": contact, "phone": phone, "lead_time_days": lead, "active": True,
                 "created_at": self.now, "updated_at": self.now}
                for name, (contact, phone, lead) in zip(SUPPLIERS, SUPPLIER_DETAILS, strict=True)]
        self.session.execute(insert(Supplier.__table__), rows)
        ids: dict[str, int] = {name: pk for name, pk in self.session.execute(select(Supplier.name, Supplier.id))}
        # A medicine never received yet: a supplier all the same (the one it would be ordered from).
        usual: dict[int, dict[str, int]] = {mi + 1: {SUPPLIERS[mi % len(SUPPLIERS)]: 0} for mi in range(len(MEDICINES))}
        for b in self.batches:
            counts = usual.setdefault(b.medicine + 1, {})
            counts[b.supplier] = counts.get(b.supplier, 0) + 1
        self.session.execute(
            update(Medicine.__table__).where(Medicine.__table__.c.id == bindparam("medicine_id"))
            .values(supplier_id=bindparam("supplier")),
            [{"medicine_id": m, "supplier": ids[max(c, key=lambda name: c[name])]} for m, c in usual.items()])

    def write_stock(self) -> None:
        self.write_suppliers()
        self.session.execute(
            update(Medicine.__table__).where(Medicine.__table__.c.id == bindparam("medicine_id"))
            .values(reorder_level=bindparam("level")),
            [{"medicine_id": i, "level": level} for i, level in enumerate(self.reorder_levels, start=1)])
        self.insert(StockBatch.__table__, [
            dict(id=b.id, medicine_id=b.medicine + 1, lot_number=b.lot, expiry_date=b.expiry, quantity=b.remaining,
                 unit_cost=b.cost, created_at=b.received_at, updated_at=b.received_at)
            for b in self.batches])
        rows = []
        for i, (at, _order, kind, b, mi, quantity, ref_type, ref_id, note) in enumerate(self.movements, start=1):
            rows.append(dict(id=i, batch_id=b.id, medicine_id=mi + 1, kind=kind, quantity=quantity,
                             reference_type=ref_type, reference_id=b.id if ref_type == "stock_batch" else ref_id,
                             note=note, actor_id=None, created_at=at))
            if len(rows) == CHUNK:
                self.insert(StockMovement.__table__, rows)
                rows = []
        self.insert(StockMovement.__table__, rows)

