"""The search box at scale, on PostgreSQL, for both engines (whoosh files and PostgreSQL's full-text
search): patients with Vietnamese names, phones and national IDs, and appointments, bulk-inserted;
each kind indexed by ``flask search reindex``'s service; then 200 typical queries (full names
without accents, the start of a name, a typo, a phone number written several ways, a patient code)
through the same service the box calls (access filter and display from the database included).

    .venv/bin/python bench/search.py --quick     # 5,000 patients, 20,000 appointments (under a minute)
    .venv/bin/python bench/search.py             # 100,000 patients, 1,000,000 appointments

Prints `name: value` lines per engine: `<engine>_reindex_s` (patients), `<engine>_reindex_all_s`
(every kind), `<engine>_search_ms_p50`, `<engine>_search_ms_p95` (target p95 < 100 ms),
`<engine>_empty` (queries that found nothing, of 200). A scratch database is built with the
migrations and dropped afterwards; the whoosh index lives in a temporary folder.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="clinic-bench-search-")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bench.scratch import scratch_postgres  # noqa: E402
from config import Config  # noqa: E402

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Hữu", "Quang", "Thu", "Gia", "Bảo", "Xuân"]
GIVEN = ["An", "Anh", "Ánh", "Bình", "Châu", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Hương",
         "Khánh", "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Nga", "Ngọc", "Phong", "Phúc", "Quân", "Quỳnh",
         "Sơn", "Tâm", "Thảo", "Thắng", "Trang", "Trung", "Tuấn", "Tuyết", "Vân", "Việt", "Yến"]
DOCTORS = 100


def name_of(n: int) -> str:
    rng = random.Random(n)
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def phone_of(n: int) -> str:
    return f"+8490{n:07d}"


def seed(app, patients: int, appointments: int) -> None:
    """Core inserts (no ORM flush: nothing is indexed while seeding)."""
    from app.extensions import db
    from app.models import Appointment, Department, Doctor, Medicine, Patient, Service
    from app.services.text import fold

    with app.app_context():
        department = Department(code="NOI", name="Khoa Nội")
        db.session.add(department)
        db.session.flush()
        service = Service(code="KB", name="Khám tổng quát", price=Decimal(150000), duration_minutes=15,
                          department_id=department.id)
        db.session.add(service)
        doctors = [Doctor(full_name=f"Bác sĩ {name_of(10**7 + n)}", title="BS.", department_id=department.id,
                          consultation_fee=Decimal(200000)) for n in range(DOCTORS)]
        db.session.add_all(doctors)
        db.session.add_all([Medicine(code=f"M{n:04d}", name=f"Thuốc {GIVEN[n % len(GIVEN)]} {n}",
                                     active_ingredient="Paracetamol", unit="viên") for n in range(200)])
        db.session.commit()
        now = datetime.now(timezone.utc)
        batch = 10000
        for start in range(0, patients, batch):
            rows = []
            for n in range(start, min(patients, start + batch)):
                name = name_of(n)
                rows.append({"code": f"BN{n + 1:06d}", "full_name": name, "search_text": f"{fold(name)} bn{n + 1:06d}",
                             "phone": phone_of(n), "national_id": f"0791{n:08d}", "created_at": now,
                             "updated_at": now})
            db.session.execute(insert(Patient), rows)
        db.session.commit()
        patient_ids = list(db.session.execute(select(Patient.id).order_by(Patient.id)).scalars())
        doctor_ids = [d.id for d in doctors]
        first = datetime(2026, 1, 5, 7, tzinfo=ZONE).astimezone(timezone.utc)
        for start in range(0, appointments, batch):
            rows = []
            for k in range(start, min(appointments, start + batch)):
                # doctor k % DOCTORS in slot k // DOCTORS: no doctor's or patient's visits overlap
                begin = first + timedelta(minutes=15 * (k // DOCTORS))
                rows.append({"patient_id": patient_ids[k % len(patient_ids)], "doctor_id": doctor_ids[k % DOCTORS],
                             "service_id": service.id, "start_at": begin, "end_at": begin + timedelta(minutes=15),
                             "status": "completed", "channel": "phone", "created_at": now, "updated_at": now})
            db.session.execute(insert(Appointment), rows)
        db.session.commit()


SHAPES = ("full_name", "accented", "typing", "typo", "phone_spaced", "phone_plus", "code", "two_words")


def queries(patients: int, count: int = 200) -> list[str]:
    """Typical things typed at the desk."""
    from app.services.text import fold

    rng = random.Random(7)
    found: list[str] = []
    while len(found) < count:
        n = rng.randrange(patients)
        name = name_of(n)
        kind = len(found) % len(SHAPES)  # SHAPES[kind] names it
        if kind == 0:
            found.append(fold(name))  # the full name, no accents
        elif kind == 1:
            found.append(name)  # with accents
        elif kind == 2:
            found.append(fold(name)[: max(4, len(fold(name)) - 2)])  # still typing
        elif kind == 3:
            words = fold(name).split()
            words[-1] = words[-1] + words[-1][-1]  # a typo: "anh" -> "anhh"
            found.append(" ".join(words))
        elif kind == 4:
            digits = phone_of(n)[3:]
            found.append(f"0{digits[:3]} {digits[3:6]} {digits[6:]}")  # 0901 234 567
        elif kind == 5:
            found.append(phone_of(n))  # +8490...
        elif kind == 6:
            found.append(f"BN{n + 1:06d}")
        else:
            found.append(" ".join(fold(name).split()[-2:]))  # middle and given name
    return found


def measure(app, engine_name: str, patients: int) -> dict[str, float]:
    from app.extensions import db
    from app.services import search

    app.config["SEARCH_ENGINE"] = engine_name
    results: dict[str, float] = {}
    with app.app_context():
        engine = search.make_engine(app.config, db.engine)
        engine.clear()
        results["reindex_s"] = results["reindex_all_s"] = 0.0
        for kind in search.KINDS:  # each kind once (patients were indexed twice before: alone, then with all)
            started = time.perf_counter()
            search.reindex(db.session, engine, kind, batch=2000)
            elapsed = time.perf_counter() - started
            if kind == "patients":
                results["reindex_s"] = elapsed
            results["reindex_all_s"] += elapsed
        engine.mark_complete()
        db.session.rollback()
        admin = SimpleNamespace(id=None, roles=[SimpleNamespace(name="Admin")])
        kinds = ["patients", "appointments", "medicines"]
        times, empty = [], 0
        by_shape: dict[str, list[float]] = {}
        for number, text in enumerate(queries(patients)):
            started = time.perf_counter()
            answer = search.search_records(db.session, admin, text, kinds=kinds, engine=engine,
                                           now=datetime.now(timezone.utc), zone=ZONE)
            took = (time.perf_counter() - started) * 1000
            times.append(took)
            by_shape.setdefault(SHAPES[number % len(SHAPES)], []).append(took)
            db.session.rollback()
            empty += not answer.groups
        times.sort()
        results["search_ms_p50"] = statistics.median(times)
        results["search_ms_p95"] = times[int(len(times) * 0.95) - 1]
        results["empty"] = empty
        for shape, took_ms in by_shape.items():  # which kind of query is slow
            results[f"search_ms_max_{shape}"] = max(took_ms)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 patients and 20,000 appointments")
    parser.add_argument("--patients", type=int)
    parser.add_argument("--appointments", type=int)
    parser.add_argument("--engines", default="postgres,whoosh")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    patients = args.patients or (5000 if args.quick else 100_000)
    appointments = args.appointments or (20_000 if args.quick else 1_000_000)

    from flask_migrate import upgrade

    from app import create_app

    index_dir = tempfile.mkdtemp(prefix="clinic-bench-search-index-")
    try:
        with scratch_postgres(args.postgres) as url:
            app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, SEARCH_INDEX_DIR=index_dir,
                             SEARCH_INDEX_ON_WRITE=False, SCHEDULER_IN_PROCESS=False, CACHE_ENABLED=False)
            with app.app_context():
                upgrade()
            started = time.perf_counter()
            seed(app, patients, appointments)
            print(f"patients: {patients}")
            print(f"appointments: {appointments}")
            print(f"seed_s: {time.perf_counter() - started:.1f}")
            for name in args.engines.split(","):
                for key, value in measure(app, name.strip(), patients).items():
                    print(f"{name}_{key}: {value:.1f}" if isinstance(value, float) else f"{name}_{key}: {value}")
                sys.stdout.flush()
            from app.extensions import db

            with app.app_context():
                db.engine.dispose()
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)
        shutil.rmtree(os.environ["INSTANCE_PATH"], ignore_errors=True)


if __name__ == "__main__":
    main()
