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
    from app.logging_setup import log_context

    with app.app_context(), log_context(**_job_fields()):
        yield app


def _job_fields() -> dict[str, str | None]:
    """The RQ job's id and function for every event it logs (nothing in-process: ``queue`` binds those)."""
    try:
        from rq import get_current_job

        job = get_current_job()
        return {"job_id": job.id, "job": job.func_name} if job is not None else {}
    except Exception:  # noqa: BLE001 - a job runs even if its log context cannot be had
        return {}


def on_rq() -> bool:
    """Running inside an RQ job (as opposed to in-process)."""
    from rq import get_current_job

    return get_current_job() is not None
