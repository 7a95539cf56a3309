"""``seed_demo_data``: the steps of the demo seeder in order, in one transaction."""
from __future__ import annotations

import gc
from datetime import date, datetime
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from app.models import (
    Appointment,
    Department,
    Diagnosis,
    Doctor,
    Employee,
    Encounter,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    LabOrder,
    LabResult,
    Medicine,
    Patient,
    Payment,
    Prescription,
    PrescriptionItem,
    Refund,
    Review,
    ScheduleException,
    Service,
    Specialty,
    StockBatch,
    StockMovement,
    WorkSchedule,
    doctor_service,
)
from app.services import icd10
from app.services.demo_data.lab_catalogue import seed_lab_catalogue
from app.services.demo_data.stock import Stock


def seed_demo_data(
    session: Session,
    *,
    patients: int = 200,
    seed: int = 42,
    timezone: ZoneInfo,
    currency: str = "VND",
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Fill an empty clinic database with demo data and commit; return the rows added per table.

    ``timezone`` is the clinic's zone (working hours are local there; instants are stored in UTC).
    ``today`` defaults to today in that zone: the past ends yesterday, bookings run from today for
    four weeks. ``progress(n)`` is called after each chunk of patients is written, with ``n`` the
    number of patients in that chunk (the calls add up to ``patients``: pass ``tqdm.update``).
    Raises ``ValueError`` when the clinic already has data. Makes no users or roles.
    """
    if patients < 0:
        raise ValueError("patients must be zero or more")
    _require_empty(session)
    if today is None:
        today = datetime.now(timezone).date()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a million new dicts: the cyclic collector would only cost time here
    try:
        seeder = Seeder(session, seed=seed, tz=timezone, currency=(currency or "VND").upper(), today=today,
                         progress=progress)
        counts = seeder.run(patients)
        counts["icd10_code"] = icd10.load_sample(session)  # the code table the visit's diagnosis search uses
        # the dashboards' rollups, from the rows just inserted (bulk inserts: no write hook saw them)
        from app.services.dashboards import rollups

        rollups.rebuild(session, timezone)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    return counts


def _require_empty(session: Session) -> None:
    for model in (Department, Doctor, Service, Patient, Medicine, Appointment, Invoice):
        if session.execute(select(func.count()).select_from(model.__table__)).scalar():
            raise ValueError(f"The clinic already has data (table {model.__tablename__} is not empty); "
                             "demo data only goes into an empty database.")


class Seeder(Stock):
    """Every step: people, catalogue, appointments, visits, stock."""

    def run(self, n_patients: int) -> dict[str, int]:
        for table in (Department, Specialty, Service, Doctor, Employee, WorkSchedule, ScheduleException,
                      Medicine, StockBatch, StockMovement, Patient, Appointment, Encounter, Diagnosis, LabOrder,
                      LabResult, Prescription, PrescriptionItem, Invoice, InvoiceLine, Payment, Refund,
                      InvoiceSequence, Review):
            self.counts[table.__tablename__] = 0
        self.counts[doctor_service.name] = 0
        self.build_name_pools()
        self.build_catalogue()
        self.build_patients(n_patients)
        self.build_appointments()
        self.prepare_visits()
        self.write_catalogue()
        self.lab_test_ids = seed_lab_catalogue(self.session, self.money)
        self.counts["lab_test"] = len(self.lab_test_ids)
        self.write_patients_and_visits()
        self.mark_video_visits()
        self.insert(InvoiceSequence.__table__, [dict(year=year, last_number=last)
                                                for year, last in sorted(self.invoice_sequence.items())])
        self.build_stock()
        self.write_stock()
        self.write_interactions()
        self.fix_sequences()
        from app.services.stock_usage import rebuild_daily_use

        rebuild_daily_use(self.session, self.tz)  # days of cover read the daily-use rollup
        from app.services.demo_data.messages import seed_messages

        self.counts["outbound_message"] = seed_messages(self.session, self.tz, self.today)  # the delivery dashboard
        return self.counts


    def mark_video_visits(self) -> None:
        """About a third of the coming bookings of the services offered by video are video visits."""
        from app.services.demo_data.clinic import VIDEO_SERVICES

        services = [self.service_code[code] for code in VIDEO_SERVICES]
        self.session.execute(update(Appointment).where(
            Appointment.service_id.in_(services), Appointment.status.in_(("requested", "confirmed")),
            Appointment.id % 3 == 0).values(mode="video"))

    def write_interactions(self) -> None:
        """The demo interaction table (``interactions.csv``: real pairs among the demo medicines'
        ingredients), beside any pair the clinic loaded already."""
        from pathlib import Path

        from app.services import prescribing

        text = (Path(__file__).with_name("interactions.csv")).read_text(encoding="utf-8")
        result = prescribing.write_interactions(self.session, prescribing.parse_interactions(text),
                                                keep_existing=True)
        self.counts["drug_interaction"] = result.added

    def fix_sequences(self) -> None:
        """Ids were given explicitly: move PostgreSQL's sequences past them."""
        bind = self.session.get_bind()
        if bind.dialect.name != "postgresql":
            return
        for table in (Department, Specialty, Service, Doctor, Employee, WorkSchedule, ScheduleException, Medicine,
                      StockBatch, StockMovement, Patient, Appointment, Encounter, Diagnosis, LabOrder, LabResult,
                      Prescription, PrescriptionItem, Invoice, InvoiceLine, Payment, Refund, Review):
            name = table.__tablename__
            self.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT MAX(id) FROM {bind.dialect.identifier_preparer.quote(name)}))"))
