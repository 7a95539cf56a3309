"""How fast the patient chart and the visit workspace open for a patient with a long history
(PostgreSQL only): 100,000 patients (a background of visits for some of them), one patient with 200
visits (vitals, diagnoses, a prescription each, lab results every other visit, a few files); then,
logged in through the login form as that patient's doctor, through Flask's test client (WSGI, no
sockets): the chart page `/chart/<id>` and the workspace `/visit/<id>` of one of the visits,
interleaved, medians over N requests each, and the SQL statements one page sends (an SQLAlchemy
event listener). A scratch database is made on the server and dropped afterwards.

    .venv/bin/python bench/chart.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/chart.py --quick ...   # 10,000 patients, 30 timed requests of each page
    (the URL may also come from BENCH_DATABASE_URL)

Prints `name: value` lines: chart_ms_median, workspace_ms_median (targets: under 150 ms each),
queries_per_chart, queries_per_workspace (bounded: they do not grow with the history; the
chart's count is also printed for a patient with 5 visits), plus context lines: the medians in
this thread's CPU time (steadier when the machine is shared), the 90th percentiles.
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

# Before config.py is imported: the generated secret stays out of the checkout.
INSTANCE = tempfile.mkdtemp(prefix="clinic-bench-chart-")
os.environ["INSTANCE_PATH"] = INSTANCE
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import event, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.helpers import form_login, release_database  # noqa: E402
from bench.scratch import scratch_postgres  # noqa: E402
from config import Config, database_url  # noqa: E402

PASSWORD = "Bench-Passw0rd!"
TOTP_SECRET = "BENCHTOTPSECRETJBSWY3DPEHPK3PXP"  # the bench doctor's, in its own throwaway database
WARM_UP = 10
HISTORY = 200  # visits of the charted patient
BACKGROUND_VISITS = 20_000  # visits of other patients (other doctors and this one)
NOW = datetime.now(timezone.utc)


def _rows_in_chunks(rows: list[dict], size: int = 10_000):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def build(app: Flask, patients: int) -> dict:
    """The data: patients, doctors, the background visits, the charted patient's history."""
    from flask_migrate import upgrade

    from app.extensions import db
    from app.models import (
        Attachment,
        Diagnosis,
        Doctor,
        Encounter,
        LabOrder,
        LabResult,
        Medicine,
        Patient,
        Prescription,
        PrescriptionItem,
    )
    from app.models.types import utcnow
    from app.services.accounts.second_factor import enrol_with_secret

    rng = random.Random(9)
    with app.app_context():
        upgrade()
        sm = app.appbuilder.sm
        sm.sync_roles()
        user = sm.add_user("doctor", "Bench", "Doctor", "doctor@bench.example", sm.find_role("Doctor"),
                           password=PASSWORD)
        enrol_with_secret(db.session, user.id, TOTP_SECRET, utcnow())
        session = db.session
        session.execute(insert(Doctor), [{"full_name": f"Bác sĩ {i}", "user_id": user.id if i == 0 else None}
                                         for i in range(20)])
        doctors = list(session.execute(select(Doctor.id).order_by(Doctor.id)).scalars())
        mine = doctors[0]
        for chunk in _rows_in_chunks([
            {"code": f"BN{i:07d}", "full_name": f"Nguyễn Văn Bệnh Nhân {i}",
             "search_text": f"nguyen van benh nhan {i} bn{i:07d} +8490{i:07d}", "phone": f"+8490{i:07d}",
             "allergies": "Penicillin" if i % 17 == 0 else None, "created_at": NOW, "updated_at": NOW}
            for i in range(patients)
        ]):
            session.execute(insert(Patient), chunk)
        first_patient = session.execute(select(Patient.id).order_by(Patient.id).limit(1)).scalar_one()
        session.execute(insert(Medicine), [{"code": f"M{i}", "name": f"Thuốc {i}", "strength": "500 mg",
                                            "unit": "viên", "price": Decimal(1000)} for i in range(30)])
        medicines = list(session.execute(select(Medicine.id)).scalars())

        def vitals() -> dict:
            return {"weight_kg": Decimal(rng.randint(550, 800)).scaleb(-1), "height_cm": Decimal("168.0"),
                    "systolic_bp": rng.randint(110, 160), "diastolic_bp": rng.randint(65, 100),
                    "pulse": rng.randint(60, 95), "temperature_c": Decimal(rng.randint(362, 385)).scaleb(-1),
                    "spo2": rng.randint(95, 100), "respiratory_rate": rng.randint(14, 20)}

        background = []
        for _ in range(BACKGROUND_VISITS):
            at = NOW - timedelta(minutes=rng.randint(60, 3 * 365 * 24 * 60))
            background.append({"patient_id": first_patient + rng.randrange(patients), "doctor_id": rng.choice(doctors),
                               "chief_complaint": "Khám định kỳ", "created_at": at, "updated_at": at,
                               "signed_at": at, "version": 1, **vitals()})
        for chunk in _rows_in_chunks(background):
            session.execute(insert(Encounter), chunk)

        # The charted patient: 200 visits over six years with this doctor.
        patient = first_patient + patients // 2
        session.execute(Patient.__table__.update().where(Patient.id == patient).values(
            allergies="Penicillin; hải sản", chronic_conditions="Tăng huyết áp; đái tháo đường típ 2"))
        visits = []
        for n in range(HISTORY):
            at = NOW - timedelta(days=(HISTORY - n) * 11, hours=rng.randint(0, 8))
            visits.append({"patient_id": patient, "doctor_id": mine, "chief_complaint": f"Tái khám lần {n + 1}",
                           "history": "Đau đầu, chóng mặt", "examination": "Tim đều", "created_at": at,
                           "updated_at": at, "signed_at": at + timedelta(minutes=20) if n < HISTORY - 1 else None,
                           "treatment_plan": "Tiếp tục điều trị", "version": 1, **vitals()})
        session.execute(insert(Encounter), visits)
        encounters = list(session.execute(select(Encounter.id, Encounter.created_at).where(
            Encounter.patient_id == patient).order_by(Encounter.created_at)).all())
        diagnoses, prescriptions, orders = [], [], []
        for k, (encounter, at) in enumerate(encounters):
            diagnoses.append({"encounter_id": encounter, "icd10_code": "I10", "text": "Tăng huyết áp vô căn",
                              "is_primary": True})
            if k % 2:
                diagnoses.append({"encounter_id": encounter, "icd10_code": "E11.9", "text": "Đái tháo đường típ 2",
                                  "is_primary": False})
            prescriptions.append({"encounter_id": encounter, "patient_id": patient, "doctor_id": mine,
                                  "status": "dispensed", "issued_at": at + timedelta(minutes=25), "created_at": at,
                                  "updated_at": at})
            if k % 2 == 0:
                orders.append({"encounter_id": encounter, "patient_id": patient, "doctor_id": mine, "test_code": "SH",
                               "test_name": "Sinh hóa máu", "status": "completed", "created_at": at,
                               "updated_at": at})
        session.execute(insert(Diagnosis), diagnoses)
        session.execute(insert(Prescription), prescriptions)
        session.execute(insert(LabOrder), orders)
        items = [{"prescription_id": p, "medicine_id": rng.choice(medicines), "dose": "1 viên",
                  "frequency": "2 lần/ngày", "duration_days": 30, "quantity": 60, "dispensed_quantity": 60,
                  "route": "oral"}
                 for p in session.execute(select(Prescription.id).where(Prescription.patient_id == patient)).scalars()
                 for _ in range(2)]
        session.execute(insert(PrescriptionItem), items)
        results = []
        ordered = select(LabOrder.id, LabOrder.created_at).where(LabOrder.patient_id == patient)
        for order, at in session.execute(ordered):
            for analyte, unit, low, high in (("Glucose", "mmol/L", 3.9, 6.4), ("HbA1c", "%", 4.0, 6.0),
                                             ("Cholesterol", "mmol/L", 3.0, 5.2)):
                value = round(rng.uniform(low * 0.9, high * 1.4), 1)
                results.append({"lab_order_id": order, "analyte": analyte, "value": str(value),
                                "numeric_value": Decimal(str(value)), "unit": unit,
                                "reference_range": f"{low}–{high}",
                                "flag": "high" if value > high else "low" if value < low else "normal",
                                "status": "final", "released_to_patient": True,
                                "resulted_at": at + timedelta(hours=2), "created_at": at, "updated_at": at})
        session.execute(insert(LabResult), results)
        session.execute(insert(Attachment), [
            {"patient_id": patient, "owner_type": "encounter", "owner_id": encounters[-1 - k][0],
             "file_name": f"xquang-{k}.png", "content_type": "image/png", "size_bytes": 1000,
             "storage_key": f"bench-{k}", "uploaded_at": encounters[-1 - k][1]} for k in range(10)])
        # A small second history, to show that the statement count does not grow with it.
        small = first_patient + 1
        for k in range(5):
            at = NOW - timedelta(days=30 * (5 - k))
            session.execute(insert(Encounter), [{"patient_id": small, "doctor_id": mine, "chief_complaint": "Ho",
                                                 "created_at": at, "updated_at": at, "version": 1, **vitals()}])
        session.commit()
        from sqlalchemy import text

        for table in ("patient", "encounter", "diagnosis", "prescription", "prescription_item", "lab_order",
                      "lab_result", "attachment"):
            session.execute(text(f"ANALYZE {table}"))
        session.commit()
        workspace = encounters[len(encounters) // 2][0]
        return {"patient": patient, "workspace": workspace, "small": small}


def login(app: Flask, client: FlaskClient) -> None:
    form_login(app, client, "doctor", PASSWORD, TOTP_SECRET)


CPU: dict[str, list[float]] = {}


def timed_get(client: FlaskClient, url: str, kind: str | None = None) -> float:
    """Milliseconds of wall-clock time; with ``kind``, this thread's CPU time is kept too (what a
    busy machine inflates less: waiting for a core or for the database server is not in it)."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if kind:
        CPU.setdefault(kind, []).append((time.thread_time() - cpu_started) * 1000)
    assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
    return elapsed


def statements(app: Flask, client: FlaskClient, url: str) -> int:
    from app.extensions import db

    counter = [0]

    def count(*_args) -> None:
        counter[0] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        timed_get(client, url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return counter[0]


def run(url: str, patients: int, runs: int) -> None:
    from app import create_app

    started = time.perf_counter()
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    ids = build(app, patients)
    print("database: postgresql")
    print(f"patients: {patients}")
    print(f"visits_of_charted_patient: {HISTORY}")
    print(f"build_seconds: {time.perf_counter() - started:.1f}")
    client = app.test_client()
    login(app, client)
    pages = {"chart": f"/chart/{ids['patient']}", "workspace": f"/visit/{ids['workspace']}"}
    for _ in range(WARM_UP):
        for page in pages.values():
            timed_get(client, page)
    timings: dict[str, list[float]] = {name: [] for name in pages}
    for _ in range(runs):  # interleaved: a busy moment of the shared machine hits both alike
        for name, page in pages.items():
            timings[name].append(timed_get(client, page, name))
    print(f"timed_requests_per_page: {runs}")
    print(f"chart_ms_median: {statistics.median(timings['chart']):.1f}")
    print(f"workspace_ms_median: {statistics.median(timings['workspace']):.1f}")
    print(f"chart_cpu_ms_median: {statistics.median(CPU['chart']):.1f}")
    print(f"workspace_cpu_ms_median: {statistics.median(CPU['workspace']):.1f}")
    print(f"chart_ms_p90: {statistics.quantiles(timings['chart'], n=10)[-1]:.1f}")
    print(f"workspace_ms_p90: {statistics.quantiles(timings['workspace'], n=10)[-1]:.1f}")
    print(f"queries_per_chart: {statements(app, client, pages['chart'])}")
    print(f"queries_per_workspace: {statements(app, client, pages['workspace'])}")
    small = f"/chart/{ids['small']}"
    print(f"queries_per_chart_of_5_visits: {statements(app, client, small)}")
    release_database(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="10,000 patients and 30 timed requests of each page instead of 100,000 and 200 "
                             "(the charted patient keeps its 200 visits)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""),
                        help="a PostgreSQL server URL (a scratch database is made there and dropped); "
                             "default: $BENCH_DATABASE_URL")
    args = parser.parse_args()
    if not args.database_url or make_url(database_url(args.database_url)).get_backend_name() != "postgresql":
        print("bench/chart.py needs a PostgreSQL server: --database-url postgresql+psycopg://user@host:5432/postgres "
              "(or BENCH_DATABASE_URL)", file=sys.stderr)
        sys.exit(2)
    patients, runs = (10_000, 30) if args.quick else (100_000, 200)
    started = time.perf_counter()
    try:
        with scratch_postgres(database_url(args.database_url)) as url:
            run(url, patients, runs)
    finally:
        shutil.rmtree(INSTANCE, ignore_errors=True)
    print(f"total_seconds: {time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main()
