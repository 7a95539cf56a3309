"""What the REST layer costs on top of the read it serves: `GET /api/v1/patient/<id>` with a JWT
(FAB's ModelRestApi: token, permission check, rison arguments, schema dump) against a plain Flask
JSON route doing the same single SELECT of the same patient, in the same app and run, both through
Flask's test client (WSGI, no sockets), interleaved. A fresh database is built with the migrations
and `sync_roles`: a temporary SQLite file, or a scratch database on a PostgreSQL server (dropped).

    .venv/bin/python bench/api.py --quick     # 1,000 patients, 300 timed requests of each kind
    .venv/bin/python bench/api.py             # 20,000 patients, 2,000 of each
    .venv/bin/python bench/api.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Prints `name: value` lines: record_get_ms_median (as Admin, whose permissions live in the
database), bare_route_ms_median, api_overhead_ratio (target <= 2), statements_per_record_get, plus
context: the same three in this thread's CPU time (steadier on a shared machine; on PostgreSQL it
leaves out the server's work), the same GET as a Receptionist (a role declared in configuration),
the first GET after the permissions changed in another connection (the cache reads them again),
the bare route's statement count.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, Iterator

# Before config.py is imported: the generated secret and the SQLite file stay out of the checkout.
INSTANCE = tempfile.mkdtemp(prefix="clinic-bench-api-")
os.environ["INSTANCE_PATH"] = INSTANCE
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, abort, jsonify  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import event, insert, inspect, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.scratch import scratch_postgres  # noqa: E402
from config import Config  # noqa: E402

PASSWORD = "Bench-Passw0rd!"
TOTP_SECRET = "BENCHTOTPSECRETJBSWY3DPEHPK3PXP"  # the bench's own admin, in its own throwaway database
WARM_UP = 50  # untimed requests of each kind first


def build_app(url: str, patients: int) -> tuple[Flask, list[int]]:
    """The app on a migrated database with roles, two logins, ``patients`` patients, and the bare
    route ``/bench/patient/<id>``."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import Patient
    from app.models.types import utcnow
    from app.services.accounts.second_factor import enrol_with_secret

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    shown = [c.key for c in inspect(Patient).column_attrs if c.key != "search_text"]  # as the API shows

    @app.get("/bench/patient/<int:pk>")
    def bare_patient(pk: int):
        patient = db.session.execute(select(Patient).where(Patient.id == pk)).scalar_one_or_none()
        if patient is None:
            abort(404)
        return jsonify(id=pk, result={name: getattr(patient, name) for name in shown})

    with app.app_context():
        upgrade()
        sm = app.appbuilder.sm
        sm.sync_roles()
        for username, role in (("admin", "Admin"), ("reception", "Receptionist")):
            user = sm.add_user(username, role, "Bench", f"{username}@bench.example", sm.find_role(role),
                               password=PASSWORD)
            if role == "Admin":  # the Admin role needs two-step login (MFA_REQUIRED_ROLES)
                enrol_with_secret(db.session, user.id, TOTP_SECRET, utcnow())
        db.session.execute(insert(Patient), [
            {"code": f"BN{i:07d}", "full_name": f"Bench Patient {i}", "search_text": f"bn{i:07d} bench patient {i}",
             "phone": f"0903{i:06d}", "address": f"{i} Bench Street"} for i in range(patients)
        ])
        db.session.commit()
        ids = list(db.session.execute(select(Patient.id).order_by(Patient.id)).scalars())
    return app, ids


def token(client: FlaskClient, username: str) -> dict[str, str]:
    import pyotp

    response = client.post("/api/v1/security/login", json={
        "username": username, "password": PASSWORD, "provider": "db", "code": pyotp.TOTP(TOTP_SECRET).now()})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def timed_get(client: FlaskClient, url: str, headers: dict[str, str] | None = None) -> tuple[float, float]:
    """Milliseconds of wall-clock time and of this thread's CPU time (what a busy machine inflates
    less: time spent waiting for a core or for the database server is not in it)."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    response = client.get(url, headers=headers)
    elapsed, cpu = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu_started) * 1000
    assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:200])
    return elapsed, cpu


@contextmanager
def counting(app: Flask) -> Iterator[list[int]]:
    """Counts the statements sent to the database while the block runs (in ``counter[0]``)."""
    from app.extensions import db

    counter = [0]

    def count(*_args) -> None:
        counter[0] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)


def change_permissions(app: Flask) -> None:
    """What another process does when an admin edits a role: the version goes up."""
    from app.extensions import db
    from app.permission_cache import bump_version

    with app.app_context():
        with db.engine.begin() as connection:
            bump_version(connection)


def run(url: str, patients: int, runs: int) -> None:
    started = time.perf_counter()
    app, ids = build_app(url, patients)
    print(f"database: {make_url(url).get_backend_name()}")
    print(f"patients: {len(ids)}")
    print(f"build_seconds: {time.perf_counter() - started:.1f}")
    client = app.test_client()
    admin, reception = token(client, "admin"), token(client, "reception")
    pick: Callable[[int], int] = lambda i: ids[(i * 7919) % len(ids)]  # noqa: E731 - spread over the table

    kinds = {
        "record": lambda pk: timed_get(client, f"/api/v1/patient/{pk}", admin),
        "bare": lambda pk: timed_get(client, f"/bench/patient/{pk}"),
        "staff": lambda pk: timed_get(client, f"/api/v1/patient/{pk}", reception),
    }
    for i in range(WARM_UP):
        for measure in kinds.values():
            measure(pick(i))
    timings: dict[str, list[float]] = {name: [] for name in kinds}
    cpu: dict[str, list[float]] = {name: [] for name in kinds}
    for i in range(runs):  # interleaved, so a busy moment of the machine hits every kind alike
        for name, measure in kinds.items():
            wall, used = measure(pick(WARM_UP + i))
            timings[name].append(wall)
            cpu[name].append(used)

    with counting(app) as record_statements:
        for i in range(20):
            kinds["record"](pick(i))
    with counting(app) as bare_statements:
        for i in range(20):
            kinds["bare"](pick(i))
    after_change = []
    for i in range(20):
        change_permissions(app)
        after_change.append(kinds["record"](pick(i))[0])

    record, bare = statistics.median(timings["record"]), statistics.median(timings["bare"])
    print(f"timed_requests_per_kind: {runs}")
    print(f"record_get_ms_median: {record:.2f}")
    print(f"bare_route_ms_median: {bare:.2f}")
    print(f"api_overhead_ratio: {record / bare:.2f}")
    print(f"statements_per_record_get: {record_statements[0] / 20:g}")
    print(f"statements_per_bare_get: {bare_statements[0] / 20:g}")
    record_cpu, bare_cpu = statistics.median(cpu["record"]), statistics.median(cpu["bare"])
    print(f"record_get_cpu_ms_median: {record_cpu:.2f}")
    print(f"bare_route_cpu_ms_median: {bare_cpu:.2f}")
    print(f"api_overhead_ratio_cpu: {record_cpu / bare_cpu:.2f}")
    print(f"record_get_staff_ms_median: {statistics.median(timings['staff']):.2f}")
    print(f"record_get_after_permission_change_ms_median: {statistics.median(after_change):.2f}")
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1,000 patients and 300 timed requests of each kind instead of 20,000 and 2,000")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server URL (a scratch database is made there and dropped); "
                             "default: a temporary SQLite file")
    args = parser.parse_args()
    patients, runs = (1_000, 300) if args.quick else (20_000, 2_000)
    started = time.perf_counter()
    try:
        if args.database_url:
            if make_url(args.database_url).get_backend_name() != "postgresql":
                parser.error("--database-url takes a PostgreSQL server URL (SQLite is the default)")
            scratch = scratch_postgres(args.database_url)
        else:
            scratch = nullcontext(f"sqlite:///{Path(INSTANCE) / 'bench.db'}")
        with scratch as url:
            run(url, patients, runs)
    finally:
        shutil.rmtree(INSTANCE, ignore_errors=True)
    print(f"total_seconds: {time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main()
