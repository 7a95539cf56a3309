"""The application context a job runs in: in the web process (jobs run in-process without
``REDIS_URL``) the running app's; in an RQ worker, an app made once per process."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

_worker_app: Flask | None = None


@contextmanager
def app_context() -> Iterator[Flask]:
    global _worker_app
    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    else:
        if _worker_app is None:
            from app import create_app

            _worker_app = create_app()
        app = _worker_app
    with app.app_context():
        yield app


def on_rq() -> bool:
    """Running inside an RQ job (as opposed to in-process)."""
    from rq import get_current_job

    return get_current_job() is not None
