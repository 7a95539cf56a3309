"""How fast availability and booking are on a big calendar (PostgreSQL only): 100 doctors, 1,000,000
past and future appointments, then free slots of one doctor over 30 days, 32 clients (threads, each
holding one connection) booking through `book_appointment` against the same clients doing bare
INSERTs, and a check that no two active appointments of one doctor overlap. Each client first does
WARM_UP untimed operations of either kind, so both are timed with prepared statements, as on a
running server. A scratch database is created on the server and dropped.

    .venv/bin/python bench/booking.py --quick          # 20 doctors, 50,000 appointments, 500 bookings
    .venv/bin/python bench/booking.py                  # 100 doctors, 1,000,000 appointments, 2,000 bookings
    .venv/bin/python bench/booking.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Prints `name: value` lines: availability_ms_median, booking_per_s, insert_per_s, booking_vs_insert
(target >= 0.5) and overlaps (expected 0), plus some context lines.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_appbuilder import Model  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import app  # noqa: E402,F401
import app.models  # noqa: E402,F401
from app.models import Doctor, Service, WorkSchedule, doctor_service  # noqa: E402
from app.models.scheduling import ACTIVE_STATUSES  # noqa: E402
from app.services import audit_chain  # noqa: E402
from app.services.booking import book_appointment, free_slots  # noqa: E402
from app.services.settings import BookingPolicy, ClinicSettings  # noqa: E402
from bench.scratch import scratch_postgres  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SETTINGS = ClinicSettings(timezone=TZ, booking=BookingPolicy())
THREADS = 32
WARM_UP = 10  # untimed operations per client before each timed phase
DAY_START, DAY_END = dtime(7, 0), dtime(19, 0)
GRID = timedelta(minutes=20)  # the service's length; the bulk appointments sit on this grid
SLOTS_PER_DAY = 36  # 07:00-19:00 in 20-minute slots
SPAN_DAYS = 730  # bulk appointments from today - 2 years to today + 2 years
ACTIVE_SQL = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)
EXCLUSION_SQL = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    *(f"ALTER TABLE appointment ADD CONSTRAINT ex_appointment_{owner}_overlap "
      f"EXCLUDE USING gist ({owner}_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
      f"WHERE (status IN ({ACTIVE_SQL}))" for owner in ("doctor", "patient")),
]


def ts(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S+00")


def copy_rows(session: Session, table: str, columns: str, lines) -> None:
    """COPY text-format lines (already tab-separated, newline-terminated) through psycopg."""
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer: list[str] = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= 20_000:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))


def build(session: Session, doctors: int, patients: int, extra_patients: int, appointments: int,
          today: date) -> tuple[list[int], int, list[int], list[int]]:
    """Doctors working every day 07:00-19:00 offering one 20-minute service, patients, and the bulk
    appointments. Returns doctor ids, the service id, bulk patient ids and the spare patient ids."""
    service = Service(code="BENCH", name="Bench consultation", price=0, duration_minutes=20, active=True)
    session.add(service)
    doctor_rows = [Doctor(full_name=f"Doctor {i:03d}", consultation_fee=0, years_of_experience=0, active=True)
                   for i in range(doctors)]
    session.add_all(doctor_rows)
    session.flush()
    doctor_ids = [d.id for d in doctor_rows]
    session.execute(insert(doctor_service), [{"doctor_id": d, "service_id": service.id} for d in doctor_ids])
    session.execute(insert(WorkSchedule), [
        {"doctor_id": d, "weekday": w, "start_time": DAY_START, "end_time": DAY_END, "valid_from": date(2000, 1, 1)}
        for d in doctor_ids for w in range(7)
    ])
    now = ts(datetime.now(timezone.utc))
    total_patients = patients + extra_patients
    copy_rows(session, "patient", "code, full_name, search_text, created_at, updated_at", (
        f"BP{i:07d}\tBench Patient {i}\tbp{i:07d} bench patient {i}\t{now}\t{now}\n" for i in range(total_patients)
    ))
    patient_ids = list(session.execute(text("SELECT id FROM patient ORDER BY id")).scalars())
    bulk_patients, spare_patients = patient_ids[:patients], patient_ids[patients:]

    # The slot grid (clinic-local 07:00-19:00 every day), as UTC text, from today-2y to today+2y.
    first_day = today - timedelta(days=SPAN_DAYS)
    now_utc = datetime.now(timezone.utc)
    slots: list[tuple[str, str, str]] = []  # (start, end, status)
    for day_index in range(2 * SPAN_DAYS + 1):
        local = datetime.combine(first_day + timedelta(days=day_index), DAY_START, tzinfo=TZ)
        for k in range(SLOTS_PER_DAY):
            start = local + k * GRID
            slots.append((ts(start), ts(start + GRID), "completed" if start < now_utc else "confirmed"))
    n = len(slots)
    per_doctor, remainder = divmod(appointments, doctors)
    if per_doctor + 1 > n:
        raise SystemExit(f"{appointments} appointments do not fit {doctors} doctors' grids of {n} slots")

    def lines():
        # Doctor d takes `count` evenly spread grid slots (increasing, so never two at once), shifted by
        # d so doctors differ. The patient of (slot s, doctor d) is bulk_patients[(s * D + d) % P]:
        # at one slot the D doctors get D consecutive (mod P) patients, all different since P >= D, and
        # all appointments sit on the one 20-minute grid, so a patient never has two overlapping.
        shared_service = service.id
        for d, doctor_id in enumerate(doctor_ids):
            count = per_doctor + (1 if d < remainder else 0)
            stride = n // count
            shift = d % stride
            for j in range(count):
                s = (j * n) // count + shift
                if s >= n:
                    s = n - 1 - (count - 1 - j)  # only the last few; stays increasing and distinct
                start, end, status = slots[s]
                patient = bulk_patients[(s * doctors + d) % patients]
                yield f"{patient}\t{doctor_id}\t{shared_service}\t{start}\t{end}\t{status}\twalk_in\t{now}\t{now}\n"

    copy_rows(session, "appointment",
              "patient_id, doctor_id, service_id, start_at, end_at, status, channel, created_at, updated_at", lines())
    session.commit()
    return doctor_ids, service.id, bulk_patients, spare_patients


def measure_availability(engine, doctor_id: int, service_id: int, today: date, runs: int) -> tuple[float, int, int]:
    date_from, date_to = today + timedelta(days=1), today + timedelta(days=30)
    timings, found = [], 0
    with Session(engine) as session:
        busy = session.execute(text(
            "SELECT count(*) FROM appointment WHERE doctor_id = :d AND start_at >= :a AND start_at < :b"
        ), {"d": doctor_id, "a": datetime.combine(date_from, dtime(0), tzinfo=TZ),
            "b": datetime.combine(date_to + timedelta(days=1), dtime(0), tzinfo=TZ)}).scalar()
        for _ in range(runs):
            started = time.perf_counter()
            found = len(free_slots(session, doctor_id=doctor_id, service_id=service_id, date_from=date_from,
                                   date_to=date_to, settings=SETTINGS))
            timings.append((time.perf_counter() - started) * 1000)
            session.rollback()  # a fresh transaction each time, like a request
    return statistics.median(timings), found, busy


def booking_plan(engine, doctor_ids: list[int], service_id: int, today: date, total: int) -> list[list[datetime]]:
    """Start times for each thread: thread t books doctor t % D; threads sharing a doctor take alternate
    days. Starts come from free_slots (on the 15-minute grid) and are thinned so they do not overlap."""
    plan: list[list[datetime]] = []
    wanted = [total // THREADS + (1 if t < total % THREADS else 0) for t in range(THREADS)]
    free_by_doctor: dict[int, list] = {}
    with Session(engine) as session:
        for doctor_id in {doctor_ids[t % len(doctor_ids)] for t in range(THREADS)}:
            free_by_doctor[doctor_id] = free_slots(
                session, doctor_id=doctor_id, service_id=service_id, date_from=today + timedelta(days=2),
                date_to=today + timedelta(days=62), settings=SETTINGS)
    for t in range(THREADS):
        doctor_id = doctor_ids[t % len(doctor_ids)]
        sharers = [u for u in range(THREADS) if doctor_ids[u % len(doctor_ids)] == doctor_id]
        share, rank = len(sharers), sharers.index(t)
        chosen: list[datetime] = []
        last_end = None
        for slot in free_by_doctor[doctor_id]:
            day = slot.start.astimezone(TZ).date()
            if (day - today).days % share != rank:
                continue
            if last_end is not None and slot.start < last_end:
                continue
            chosen.append(slot.start)
            last_end = slot.end
            if len(chosen) == wanted[t]:
                break
        if len(chosen) < wanted[t]:
            raise SystemExit(f"thread {t}: only {len(chosen)} free slots for {wanted[t]} bookings")
        plan.append(chosen)
    return plan


def run_threads(engine, work) -> tuple[float, int, list[BaseException]]:
    """Run ``work(t, connection, warm)`` in THREADS threads, each client on a connection of its
    own: first untimed with warm=True (the connection then has its statements prepared and
    planned, as a long-running server's have), then timed with warm=False. Returns seconds,
    operations done in the timed part, errors."""
    errors: list[BaseException] = []
    done = [0] * THREADS
    barrier = threading.Barrier(THREADS + 1)
    connections = [engine.connect() for _ in range(THREADS)]

    def runner(t: int) -> None:
        for warm in (True, False):
            if not warm:
                barrier.wait()
            try:
                count = work(t, connections[t], warm)
                done[t] = 0 if warm else count
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=runner, args=(t,)) for t in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started, sum(done), errors
    finally:
        for connection in connections:
            connection.close()


def measure_booking(engine, doctor_ids, service_id, patients: list[int], plan) -> tuple[float, int, list]:
    """Each client books its planned starts through ``book_appointment``, with a Session on its
    connection (as the INSERT clients use theirs): the first WARM_UP untimed."""
    offsets = [sum(len(p) for p in plan[:t]) for t in range(THREADS)]

    def work(t: int, connection, warm: bool) -> int:
        doctor_id = doctor_ids[t % len(doctor_ids)]
        booked = 0
        part = range(WARM_UP) if warm else range(WARM_UP, len(plan[t]))
        with Session(bind=connection) as session:
            for i in part:
                book_appointment(session, patient_id=patients[offsets[t] + i], doctor_id=doctor_id,
                                 service_id=service_id, start=plan[t][i], settings=SETTINGS, channel="phone")
                booked += 1
        return booked

    return run_threads(engine, work)


def measure_insert(engine, doctor_ids, service_id, patients: list[int], total: int, today: date):
    """The same clients, one bare INSERT per transaction, on distinct free slots far in the future;
    each client's first WARM_UP untimed."""
    base = datetime.combine(today + timedelta(days=SPAN_DAYS + 100), DAY_START, tzinfo=TZ)
    statement = text(
        "INSERT INTO appointment (patient_id, doctor_id, service_id, start_at, end_at, status, channel, "
        "created_at, updated_at) VALUES (:p, :d, :s, :a, :b, 'confirmed', 'phone', now(), now())")

    def work(t: int, connection, warm: bool) -> int:
        inserted = 0
        ops = list(range(t, total + WARM_UP * THREADS, THREADS))  # op k: doctor k % D, (k // D)-th slot
        for k in (ops[:WARM_UP] if warm else ops[WARM_UP:]):
            start = base + (k // len(doctor_ids)) * GRID
            connection.execute(statement, {"p": patients[k], "d": doctor_ids[k % len(doctor_ids)],
                                           "s": service_id, "a": start, "b": start + GRID})
            connection.commit()
            inserted += 1
        return inserted

    return run_threads(engine, work)


def count_overlaps(engine) -> int:
    # The literal pair test, plus the equivalent range test so the planner can use the exclusion
    # constraint's GiST index instead of comparing every pair of a doctor's appointments.
    with engine.connect() as conn:
        return conn.execute(text(f"""
            SELECT count(*) FROM appointment a JOIN appointment b
              ON a.doctor_id = b.doctor_id AND a.id < b.id
             AND a.start_at < b.end_at AND b.start_at < a.end_at
             AND tstzrange(a.start_at, a.end_at, '[)') && tstzrange(b.start_at, b.end_at, '[)')
             AND b.status IN ({ACTIVE_SQL})
            WHERE a.status IN ({ACTIVE_SQL})""")).scalar()


def run(url: str, doctors: int, patients: int, appointments: int, bookings: int, runs: int) -> None:
    today = datetime.now(TZ).date()
    warm_ups = WARM_UP * THREADS
    engine = create_engine(url, pool_size=THREADS + 2, max_overflow=4)
    try:
        Model.metadata.create_all(engine)
        with engine.begin() as conn:
            for sql in audit_chain.POSTGRES_DDL:  # the audit trail's chain and guards, as migration 0006_audit_chain
                conn.execute(text(sql))
            for sql in EXCLUSION_SQL[:1]:
                conn.execute(text(sql))
        started = time.perf_counter()
        with Session(engine) as session:
            doctor_ids, service_id, _bulk, spare = build(session, doctors, patients, 2 * (bookings + warm_ups),
                                                         appointments, today)
        copied = time.perf_counter() - started
        with engine.begin() as conn:
            for sql in EXCLUSION_SQL[1:]:
                conn.execute(text(sql))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
            total = conn.execute(text("SELECT count(*) FROM appointment")).scalar()
        print(f"doctors: {doctors}")
        print(f"appointments: {total}")
        print(f"build_seconds: {copied:.1f}")
        print(f"build_with_constraints_seconds: {time.perf_counter() - started:.1f}")

        median, found, busy = measure_availability(engine, doctor_ids[0], service_id, today, runs)
        print(f"availability_free_slots: {found} (doctor with {busy} appointments in those 30 days)")
        print(f"availability_ms_median: {median:.1f}")

        plan = booking_plan(engine, doctor_ids, service_id, today, bookings + warm_ups)
        seconds, booked, errors = measure_booking(engine, doctor_ids, service_id, spare[:bookings + warm_ups], plan)
        booking_per_s = booked / seconds
        print(f"bookings: {booked} in {seconds:.2f} s by {THREADS} threads ({len(errors)} thread errors)")
        for exc in errors[:3]:
            print(f"booking_error: {exc!r}")
        seconds, inserted, errors = measure_insert(engine, doctor_ids, service_id, spare[bookings + warm_ups:],
                                                   bookings, today)
        insert_per_s = inserted / seconds
        print(f"inserts: {inserted} in {seconds:.2f} s by {THREADS} threads ({len(errors)} thread errors)")
        for exc in errors[:3]:
            print(f"insert_error: {exc!r}")
        print(f"booking_per_s: {booking_per_s:.0f}")
        print(f"insert_per_s: {insert_per_s:.0f}")
        print(f"booking_vs_insert: {booking_per_s / insert_per_s:.2f}")
        started = time.perf_counter()
        print(f"overlaps: {count_overlaps(engine)}")
        print(f"overlaps_query_seconds: {time.perf_counter() - started:.1f}")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="20 doctors, 50,000 appointments and 500 bookings instead of 100, 1,000,000 and 2,000")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server URL; a scratch database is used there")
    parser.add_argument("--runs", type=int, default=50, help="timed availability runs")
    args = parser.parse_args()
    doctors, appointments, bookings = (20, 50_000, 500) if args.quick else (100, 1_000_000, 2_000)
    patients = 20_000
    started = time.perf_counter()
    with scratch_postgres(args.postgres) as url:
        run(url, doctors, patients, appointments, bookings, args.runs)
    print(f"total_seconds: {time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main()
