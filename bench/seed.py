"""How fast `flask seed` fills an empty database (target: 100,000 patients in under 2 minutes on
2 cores). Runs the real seed service on a fresh SQLite file, and on PostgreSQL when --postgres
gives a server URL (a scratch database is created and dropped there).

    .venv/bin/python bench/seed.py --quick            # 10,000 patients
    .venv/bin/python bench/seed.py                    # 100,000 patients
    .venv/bin/python bench/seed.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Prints `name: value` lines: seed_patients, sqlite_seconds, sqlite_patients_per_s,
sqlite_projected_100k_seconds (and the same for postgres).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_appbuilder import Model  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import app  # noqa: E402,F401  (the SQLite pragmas: foreign keys on, as in production)
import app.models  # noqa: E402,F401
from app.services.demo_data import seed_demo_data  # noqa: E402
from bench.scratch import scratch_postgres  # noqa: E402


def seed_once(url: str, patients: int) -> float:
    engine = create_engine(url)
    Model.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            seed_demo_data(session, patients=patients, seed=7, timezone=ZoneInfo("Asia/Ho_Chi_Minh"))
            return time.perf_counter() - started
    finally:
        engine.dispose()


def report(name: str, patients: int, seconds: float) -> None:
    print(f"{name}_seconds: {seconds:.1f}")
    print(f"{name}_patients_per_s: {patients / seconds:.0f}")
    print(f"{name}_projected_100k_seconds: {seconds * 100_000 / patients:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 patients instead of 100,000")
    parser.add_argument("--patients", type=int, default=None)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a scratch database is used there")
    args = parser.parse_args()
    patients = args.patients or (10_000 if args.quick else 100_000)
    print(f"seed_patients: {patients}")
    with tempfile.TemporaryDirectory() as folder:
        report("sqlite", patients, seed_once(f"sqlite:///{folder}/bench.db", patients))
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            report("postgres", patients, seed_once(url, patients))


if __name__ == "__main__":
    main()
