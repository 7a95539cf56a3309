"""The development server, for one machine (HOST, default 127.0.0.1; PORT, default 5000):

    python run.py             serve
    python run.py --prepare   first bring the database up to date in this same process (migrate,
                              sync roles, demo data when it is empty), then serve; what
                              `python3 manage.py run` does, printing where the time went
    python run.py --prepare --no-serve    only that (`python3 manage.py migrate`)

Production runs gunicorn (see the Dockerfile) after `flask db upgrade && flask sync-roles`.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable

# `manage.py run` passes the moment it started, so "ready in" counts its set-up too.
STARTED = float(os.environ.pop("CLINIC_STARTED_AT", "") or time.time())


class Stopwatch:
    """Named steps and their seconds, for one line: "app 2.1 s, migrate 0.3 s, ...". """

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.mark = time.perf_counter()

    def lap(self, name: str, note: str = "") -> None:
        now = time.perf_counter()
        self.steps.append(f"{name} {now - self.mark:.1f} s" + (f" ({note})" if note else ""))
        self.mark = now


def prepare(app, clock: Stopwatch) -> None:
    """Schema, roles and permissions, demo data when the database is empty: one app, one process."""
    from flask_migrate import upgrade

    from app.cli import database_is_empty, seed_demo_clinic
    from app.extensions import db

    with app.app_context():
        upgrade()
        clock.lap("migrate")
        app.appbuilder.sm.sync_roles()
        clock.lap("roles")
        if database_is_empty():
            seed_demo_clinic(print)
            clock.lap("seed")
        else:
            clock.lap("seed", "data present")
        db.session.remove()


def serve(app, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Werkzeug's threaded server, as Flask-SocketIO's threading mode runs it (its ``run`` would
    print two warnings that contradict each other)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    ready(f"http://{host}:{server.server_port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str]) -> None:
    if any(arg not in ("--prepare", "--no-serve") for arg in argv):
        print(f"run.py: unknown arguments {argv}\n{__doc__}", file=sys.stderr)
        sys.exit(2)
    clock = Stopwatch()
    if os.environ.get("CLINIC_SETUP_SECONDS"):
        clock.steps.append(f"setup {float(os.environ.pop('CLINIC_SETUP_SECONDS')):.1f} s")
    from app import create_app

    app = create_app()
    clock.lap("app")
    if "--prepare" in argv:
        prepare(app, clock)
    if "--no-serve" in argv:
        print(", ".join(clock.steps) + f"; done in {time.time() - STARTED:.1f} s", flush=True)
        return

    def ready(url: str) -> None:
        print(", ".join(clock.steps) + f"; ready in {time.time() - STARTED:.1f} s", flush=True)
        print(f"Serving {url} with Werkzeug's development server, for one machine "
              "(production runs gunicorn: see the Dockerfile). Ctrl+C stops it.", flush=True)

    serve(app, os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5000")), ready)


if __name__ == "__main__":
    main(sys.argv[1:])
