"""The FHIR API's patient search at size (bench/events.py's last phase): a scratch PostgreSQL
database built with the migrations (so with the trigram index on ``patient.search_text``),
``patients`` patients with Vietnamese names, then ``GET /fhir/R4/Patient?name=...`` with a
receptionist's JWT (the desk finds any patient; a doctor only their care team's) through Flask's
test client: the whole request (token, permission, access rule, search, count, paging links,
validation by fhir.resources), for a mix of full names, family names, given names, accent-free
names and patient codes.

    .venv/bin/python bench/fhir_search.py --quick     # 10,000 patients
    .venv/bin/python bench/fhir_search.py             # 100,000 patients

Prints `fhir_patient_search_ms_p95`, `fhir_patient_search_ms_p50` and context lines.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from app.services.text import fold  # noqa: E402
from bench.scratch import scratch_postgres  # noqa: E402
from config import Config  # noqa: E402

PASSWORD = "Bench-Passw0rd!"
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý")
MIDDLE = ("Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Quốc", "Đức", "Thu", "Kim")
GIVEN = ("An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hòa", "Hùng", "Khánh", "Lan", "Linh", "Long",
         "Mai", "Nam", "Nga", "Phong", "Phúc", "Quân", "Quỳnh", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến")
WARM_UP = 20


def build(url: str, patients: int):
    """The app on a migrated scratch database, a receptionist login, ``patients`` patients; the names."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import Patient

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, LOG_LEVEL="WARNING",  # not an access line a request
                     SCHEDULER_IN_PROCESS=False)  # no periodic jobs against a database about to be dropped
    rng = random.Random(17)
    names = [f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}" for _ in range(patients)]
    with app.app_context():
        upgrade()
        sm = app.appbuilder.sm
        sm.sync_roles()
        sm.add_user("bench_desk", "Bench", "Desk", "desk@bench.example", sm.find_role("Receptionist"),
                    password=PASSWORD)
        for start in range(0, patients, 10_000):
            db.session.execute(insert(Patient), [
                {"code": f"BN{i:07d}", "full_name": names[i], "phone": f"0903{i:06d}",
                 "search_text": f"{fold(names[i])} bn{i:07d} 0903{i:06d}"}
                for i in range(start, min(start + 10_000, patients))])
        db.session.commit()
        db.session.execute(text("ANALYZE patient"))
        db.session.commit()
    return app, names


def run(url: str, patients: int, searches: int) -> None:
    from bench.helpers import release_database

    started = time.perf_counter()
    app, names = build(url, patients)
    print(f"fhir_patients: {patients}")
    print(f"fhir_build_seconds: {time.perf_counter() - started:.1f}")
    client = app.test_client()
    answer = client.post("/api/v1/security/login",
                         json={"username": "bench_desk", "password": PASSWORD, "provider": "db"})
    assert answer.status_code == 200, answer.get_json()
    headers = {"Authorization": f"Bearer {answer.get_json()['access_token']}"}
    rng = random.Random(3)
    picks = []
    for n in range(WARM_UP + searches):
        name = rng.choice(names)
        family, _middle, given = name.split(" ")
        kind = n % 5
        picks.append({0: name, 1: family, 2: given, 3: fold(name),
                      4: f"BN{rng.randrange(patients):07d}"}[kind])
    timings, totals = [], []
    for n, term in enumerate(picks):
        begun = time.perf_counter()
        response = client.get("/fhir/R4/Patient", query_string={"name": term, "_count": 20}, headers=headers)
        elapsed = (time.perf_counter() - begun) * 1000
        assert response.status_code == 200, (term, response.status_code, response.get_data(as_text=True)[:300])
        if n >= WARM_UP:
            timings.append(elapsed)
            totals.append(response.get_json().get("total", 0))
    timings.sort()
    print(f"fhir_searches: {len(timings)}")
    print(f"fhir_matches_median: {statistics.median(totals):.0f}")
    print(f"fhir_patient_search_ms_p50: {statistics.median(timings):.1f}")
    print(f"fhir_patient_search_ms_p95: {timings[int(len(timings) * 0.95) - 1]:.1f}")
    release_database(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 patients instead of 100,000")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with scratch_postgres(args.postgres) as url:
        run(url, 10_000 if args.quick else 100_000, 100 if args.quick else 400)


if __name__ == "__main__":
    main()
