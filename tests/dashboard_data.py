"""A small clinic whose dashboard figures are worked out by hand (tests/test_dashboards*.py).

The clinic's zone is Asia/Ho_Chi_Minh (UTC+7, no daylight saving): 2026-10-31 17:30 UTC is
2026-11-01 00:30 there, so rows near midnight and month ends land in the next local day and month.

Appointments (30 minutes each but a6, 1 minute; UTC -> local):
  a1 P1 doctor A  10-31 16:30 -> 10-31 23:30  completed; in 16:20, started 16:30, done 16:50
  a2 P1 doctor A  10-31 17:30 -> 11-01 00:30  completed; in 17:25, started 17:40, done 17:55
  a3 P2 doctor B  11-10 03:00 -> 11-10 10:00  completed (no workflow events)
  a4 P3 doctor A  11-11 03:00 -> 11-11 10:00  no_show
  a5 P2 doctor B  11-12 03:00 -> 11-12 10:00  cancelled
  a6 P3 doctor A  11-30 16:59 -> 11-30 23:59  checked_in
  a7 P3 doctor A  11-30 17:00 -> 12-01 00:00  confirmed
Doctor A (department "Nội") works Mondays 08:00-12:00; doctor B has no department nor schedule.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from app.models import (
    Appointment,
    AppointmentEvent,
    Department,
    Doctor,
    Invoice,
    InvoiceLine,
    Medicine,
    Patient,
    Payment,
    Prescription,
    PrescriptionItem,
    Refund,
    Review,
    Service,
    StockBatch,
    StockMovement,
    WorkSchedule,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@dataclass
class Ids:
    department: int
    doctor_a: int
    doctor_b: int


def build(session) -> Ids:
    dept = Department(code="NOI", name="Nội")
    session.add(dept)
    session.flush()
    a = Doctor(full_name="An", title="BS.", department_id=dept.id)
    b = Doctor(full_name="Bình")
    patients = [Patient(code=f"P{i}", full_name=f"Bệnh nhân {i}") for i in (1, 2, 3)]
    service = Service(code="KB", name="Khám", price=Decimal(200000), duration_minutes=30)
    session.add_all([a, b, service, *patients])
    session.flush()
    session.add(WorkSchedule(doctor_id=a.id, weekday=0, start_time=time(8), end_time=time(12),
                             valid_from=date(2026, 1, 1)))
    p1, p2, p3 = (p.id for p in patients)

    def appt(patient: int, doctor: int, start: str, status: str, checked_in: str | None = None,
             minutes: int = 30) -> Appointment:
        at = utc(start)
        row = Appointment(patient_id=patient, doctor_id=doctor, service_id=service.id, start_at=at,
                          end_at=at + timedelta(minutes=minutes), status=status,
                          checked_in_at=utc(checked_in) if checked_in else None)
        session.add(row)
        session.flush()
        return row

    a1 = appt(p1, a.id, "2026-10-31 16:30", "completed", "2026-10-31 16:20")
    a2 = appt(p1, a.id, "2026-10-31 17:30", "completed", "2026-10-31 17:25")
    appt(p2, b.id, "2026-11-10 03:00", "completed")
    appt(p3, a.id, "2026-11-11 03:00", "no_show")
    appt(p2, b.id, "2026-11-12 03:00", "cancelled")
    appt(p3, a.id, "2026-11-30 16:59", "checked_in", "2026-11-30 16:58", minutes=1)
    appt(p3, a.id, "2026-11-30 17:00", "confirmed")
    for appointment, started, done in ((a1, "2026-10-31 16:30", "2026-10-31 16:50"),
                                       (a2, "2026-10-31 17:40", "2026-10-31 17:55")):
        session.add_all([
            AppointmentEvent(appointment_id=appointment.id, from_status="checked_in", to_status="in_consultation",
                             at=utc(started)),
            AppointmentEvent(appointment_id=appointment.id, from_status="in_consultation", to_status="completed",
                             at=utc(done))])

    # Invoices: inv1 (a2, doctor A) issued 11-01 09:00 local, paid; inv2 (no visit) issued 11-01 00:10
    # local, part paid; inv3 void; inv4 (a1, doctor A) issued 10-31 23:00 local, unpaid.
    def invoice(number: str | None, status: str, issued: str, total: int, paid: int, appointment: int | None,
                lines: list[tuple[str, int | None, int, int]]) -> Invoice:
        row = Invoice(number=number, patient_id=p1, appointment_id=appointment, status=status,
                      subtotal=Decimal(sum(line[2] for line in lines)),
                      discount=Decimal(sum(line[3] for line in lines)), total=Decimal(total),
                      amount_paid=Decimal(paid), issued_at=utc(issued))
        session.add(row)
        session.flush()
        for kind, service_id, amount, share in lines:
            session.add(InvoiceLine(invoice_id=row.id, kind=kind, service_id=service_id, description=kind,
                                    quantity=Decimal(1), unit_price=Decimal(amount), amount=Decimal(amount),
                                    discount_share=Decimal(share)))
        return row

    inv1 = invoice("HD1", "paid", "2026-11-01 02:00", 230000, 230000, a2.id,
                   [("service", service.id, 200000, 20000), ("medicine", None, 50000, 0)])
    inv2 = invoice("HD2", "partially_paid", "2026-10-31 17:10", 100000, 40000, None, [("other", None, 100000, 0)])
    invoice(None, "void", "2026-11-05 02:00", 999, 0, None, [("other", None, 999, 0)])
    invoice("HD4", "issued", "2026-10-31 16:00", 70000, 0, a1.id, [("service", service.id, 70000, 0)])
    inv1.amount_refunded = Decimal(30000)
    pay1 = Payment(invoice_id=inv1.id, method="cash", amount=Decimal(230000), status="succeeded",
                   paid_at=utc("2026-11-01 02:05"), amount_refunded=Decimal(30000))
    session.add_all([
        pay1,
        Payment(invoice_id=inv2.id, method="card", amount=Decimal(40000), status="succeeded",
                paid_at=utc("2026-11-30 17:30")),
        Payment(invoice_id=inv2.id, method="cash", amount=Decimal(5000), status="failed",
                paid_at=utc("2026-11-15 02:00")),
    ])
    session.flush()
    session.add(Refund(payment_id=pay1.id, invoice_id=inv1.id, amount=Decimal(30000), method="cash",
                       reason="test", refunded_at=utc("2026-11-02 03:00")))

    # Pharmacy: Paracetamol (1 000 ₫) dispensed 10 then 2 returned (doctor A's prescription);
    # Amoxicillin (3 000 ₫) 5 (doctor B's) and 1 at 11-01 00:30 local (10-31 17:30 UTC).
    para = Medicine(code="PARA", name="Paracetamol", strength="500 mg", unit="viên", price=Decimal(1000))
    amox = Medicine(code="AMOX", name="Amoxicillin", unit="viên", price=Decimal(3000))
    session.add_all([para, amox])
    session.flush()
    b1 = StockBatch(medicine_id=para.id, lot_number="L1", expiry_date=date(2026, 12, 15), quantity=90,
                    unit_cost=Decimal(500))
    b2 = StockBatch(medicine_id=amox.id, lot_number="L2", expiry_date=date(2027, 2, 1), quantity=10,
                    unit_cost=Decimal(2000))
    b3 = StockBatch(medicine_id=para.id, lot_number="L3", expiry_date=date(2026, 12, 20), quantity=0,
                    unit_cost=Decimal(100))
    session.add_all([b1, b2, b3])
    session.flush()

    def item(doctor: int, medicine: int) -> int:
        prescription = Prescription(patient_id=p1, doctor_id=doctor, status="dispensed")
        session.add(prescription)
        session.flush()
        row = PrescriptionItem(prescription_id=prescription.id, medicine_id=medicine, dose="1", frequency="2",
                               duration_days=5, quantity=10)
        session.add(row)
        session.flush()
        return row.id

    item_a, item_b = item(a.id, para.id), item(b.id, amox.id)
    for batch, medicine, kind, quantity, at, ref in (
            (b1, para, "receipt", 100, "2026-11-01 01:00", None),
            (b1, para, "dispense", -10, "2026-11-05 03:00", item_a),
            (b1, para, "return", 2, "2026-11-06 03:00", item_a),
            (b2, amox, "dispense", -5, "2026-11-07 03:00", item_b),
            (b2, amox, "dispense", -1, "2026-10-31 17:30", item_b)):
        session.add(StockMovement(batch_id=batch.id, medicine_id=medicine.id, kind=kind, quantity=quantity,
                                  created_at=utc(at), reference_type="prescription_item" if ref else None,
                                  reference_id=ref))

    # Reviews: doctor A two approved in November and a pending one; doctor B one in October (local).
    for doctor, stars, status, at in ((a.id, (5, 4, 3, 5), "approved", "2026-11-02 03:00"),
                                      (a.id, (3, 4, 5, 4), "approved", "2026-11-03 03:00"),
                                      (a.id, (1, 1, 1, 1), "pending", "2026-11-03 04:00"),
                                      (b.id, (4, None, None, 4), "approved", "2026-10-31 16:00")):
        session.add(Review(patient_id=p2, doctor_id=doctor, rating_professional=stars[0], rating_attitude=stars[1],
                           rating_waiting_time=stars[2], rating_overall=stars[3], status=status, created_at=utc(at)))
    session.commit()
    return Ids(dept.id, a.id, b.id)
