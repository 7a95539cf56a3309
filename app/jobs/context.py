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

    fields = _job_fields()
    try:
        with app.app_context(), log_context(**fields):
            yield app
    finally:
        if fields:  # an RQ job: its events are written before a forked work horse exits
            from app import log_store

            log_store.flush(5.0)  # only as long as the writer needs: seconds on a busy machine


def _job_fields() -> dict[str, str | None]:
    """The RQ job's id and function, and the id of the request that queued it, for every event it
    logs (nothing in-process: ``queue`` binds those and the request's context is still there)."""
    try:
        from rq import get_current_job

        job = get_current_job()
        if job is None:
            return {}
        fields = {"job_id": job.id, "job": job.func_name}
        request_id = (job.meta or {}).get("request_id")
        if isinstance(request_id, str):
            fields["request_id"] = request_id  # the request that queued it (app.jobs.queue)
        return fields
    except Exception:  # noqa: BLE001 - a job runs even if its log context cannot be had
        return {}


def on_rq() -> bool:
    """Running inside an RQ job (as opposed to in-process)."""
    from rq import get_current_job

    return get_current_job() is not None
