"""Chat throughput through the service (``app.services.chat.post_message``): 100 conversations,
each a patient and a receptionist taking turns, from several threads at once (each thread its own
conversations, as separate web requests would be), on PostgreSQL (a scratch database built with
the migrations and dropped afterwards) with the SQL document store; the MongoDB store cannot run
here.

    .venv/bin/python bench/chat.py --quick      # 100 conversations x 10 messages
    .venv/bin/python bench/chat.py              # 100 conversations x 50 messages

Prints `name: value` lines: conversations, messages (stored), lost (messages posted but not in
the history afterwards: must be 0), chat_msgs_per_s (messages stored per second, wall clock),
threads, elapsed_s. Every message is the real path: access check, validation, the conversation
row locked, the document stored, counters updated, the push hook. With ``--sqlite`` it runs on a
SQLite file instead (for a machine without PostgreSQL).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="clinic-bench-chat-")
os.environ.setdefault("FLASK_SKIP_DOTENV", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_postgres  # noqa: E402
from config import Config  # noqa: E402


def seed(app, conversations: int) -> tuple[list[int], list[int], int]:
    """Patients with logins and their conversations; one receptionist. Returns (patient user ids,
    conversation ids, receptionist id)."""
    from app.extensions import db
    from app.models import Patient
    from app.services import chat

    with app.app_context():
        sm = app.appbuilder.sm
        sm.sync_roles()
        desk = sm.add_user("bench_desk", "Lễ", "Tân", "desk@bench.example", sm.find_role("Receptionist"),
                           password="Bench-Passw0rd!")
        patient_role = sm.find_role("Patient")
        users, ids = [], []
        for i in range(conversations):
            user = sm.add_user(f"bench_p{i}", "Bệnh", f"Nhân {i}", f"p{i}@bench.example", patient_role,
                               password="Bench-Passw0rd!")
            patient = Patient(code=f"BCH{i:04d}", full_name=f"Bệnh Nhân {i}", search_text=f"benh nhan {i}",
                              user_id=user.id)
            db.session.add(patient)
            db.session.commit()
            users.append(user.id)
            ids.append(chat.patient_conversation(db.session, patient.id, datetime.now(timezone.utc)).id)
        return users, ids, desk.id


def talk(app, pairs: list[tuple[int, int]], desk_id: int, per_conversation: int, errors: list) -> None:
    from app.extensions import db
    from app.services import chat

    store = app.extensions["documents"]
    with app.app_context():
        sm = app.appbuilder.sm
        desk = sm.get_user_by_id(desk_id)
        patients = {uid: sm.get_user_by_id(uid) for uid, _cid in pairs}
        try:
            for n in range(per_conversation):
                for uid, cid in pairs:
                    who = patients[uid] if n % 2 == 0 else desk
                    text = f"Cho tôi hỏi giá khám tổng quát #{n}" if n % 2 == 0 else f"Dạ 350.000 đ ạ #{n}"
                    chat.post_message(db.session, store, who, cid, text, datetime.now(timezone.utc))
        except Exception as exc:  # noqa: BLE001 - reported as a line, the run goes on
            errors.append(repr(exc))
        finally:
            db.session.remove()


def count_stored(app, ids: list[int]) -> int:
    from app.services import chat

    store = app.extensions["documents"]
    with app.app_context():
        return sum(len(store.find(chat.collection_of(cid), limit=10_000)) for cid in ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 messages per conversation")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--messages", type=int, help="per conversation (default 50; 10 with --quick)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    args = parser.parse_args()
    per = args.messages or (10 if args.quick else 50)

    from flask_migrate import upgrade

    from app import create_app

    place = nullcontext(f"sqlite:///{os.environ['INSTANCE_PATH']}/bench.db") if args.sqlite \
        else scratch_postgres(args.postgres)
    with place as url:
        app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, SCHEDULER_IN_PROCESS=False,
                         SQLALCHEMY_ENGINE_OPTIONS={"pool_size": args.threads + 2})
        with app.app_context():
            upgrade()
        users, ids, desk = seed(app, args.conversations)
        pairs = list(zip(users, ids, strict=True))
        groups = [pairs[i::args.threads] for i in range(args.threads)]
        errors: list[str] = []
        threads = [threading.Thread(target=talk, args=(app, group, desk, per, errors)) for group in groups]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        stored = count_stored(app, ids)
        expected = len(ids) * per
        print(f"conversations: {len(ids)}")
        print(f"messages: {stored}")
        print(f"lost: {expected - stored}")
        print(f"chat_msgs_per_s: {stored / elapsed:.1f}")
        print(f"threads: {args.threads}")
        print(f"elapsed_s: {elapsed:.1f}")
        print(f"database: {'sqlite' if args.sqlite else 'postgresql'}")
        for error in errors[:5]:
            print(f"error: {error}")
        with app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
