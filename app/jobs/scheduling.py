"""The periodic jobs of ``app.jobs.periodic.PERIODIC_JOBS``, run two ways:

* With Redis: ``flask scheduler`` runs rq-scheduler (:class:`ClinicScheduler`). Each periodic job
  is registered under a fixed id (``periodic:<name>``), so a restart re-uses the entry instead of
  adding a second one. Registration and every pass of the loop happen under rq-scheduler's Redis
  lock: a second scheduler started at the same time waits for the lock and then finds nothing due,
  so two schedulers running at once queue each job once.
* Without Redis: :func:`start_timer` runs them from the web process on a daemon thread, in one
  process only (a file lock under the instance folder).
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from flask import Flask
from redis import Redis
from rq_scheduler import Scheduler

from app.jobs.periodic import PERIODIC_JOBS, Periodic
from app.jobs.queue import enqueue, queue_name

log = logging.getLogger(__name__)

PERIODIC_ID = "periodic-{name}"
PERIODIC_TIMEOUT = 900  # seconds a periodic job may run (RQ's job_timeout)


class ClinicScheduler(Scheduler):
    """rq-scheduler whose keys carry ``RQ_QUEUE_PREFIX`` (clinics and test runs sharing a Redis
    each get their own schedule and lock; with no prefix the keys are rq-scheduler's own)."""

    def __init__(self, *args: Any, prefix: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefix = prefix
        if prefix:
            self.scheduler_lock_key = f"{Scheduler.scheduler_lock_key}:{prefix}"
            self.scheduled_jobs_key = f"{Scheduler.scheduled_jobs_key}:{prefix}"


def make_scheduler(config: Mapping, connection: Redis, interval: float) -> ClinicScheduler:
    return ClinicScheduler(queue_name=queue_name(config), connection=connection, interval=interval,
                           prefix=config.get("RQ_QUEUE_PREFIX") or "")


def periodic_job_id(config: Mapping, periodic: Periodic) -> str:
    """``periodic-reminders``, after the queue prefix (RQ allows letters, digits, ``_`` and ``-``)."""
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", config.get("RQ_QUEUE_PREFIX") or "")
    return prefix + PERIODIC_ID.format(name=periodic.name)


def _is_current(scheduler: Scheduler, job_id: str, periodic: Periodic, queue: str) -> bool:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    if job_id not in scheduler:
        return False
    try:
        job = Job.fetch(job_id, connection=scheduler.connection)
    except NoSuchJobError:
        return False
    return (job.func_name, job.origin, job.meta.get("interval")) == (periodic.func, queue, periodic.every_seconds)


def register_periodic(scheduler: ClinicScheduler, config: Mapping, *, now: datetime | None = None,
                      wait_seconds: float = 120.0) -> list[str]:
    """Put every periodic job in the schedule (first run now) unless it is there already as it is
    declared; the ids (re)scheduled. Done under the scheduler's lock, so a scheduler running its
    loop meanwhile cannot queue a job that is being registered a second time."""
    deadline = time.monotonic() + wait_seconds
    while not scheduler.acquire_lock():
        if time.monotonic() > deadline:
            raise TimeoutError("another scheduler holds the lock")
        time.sleep(0.2)
    changed: list[str] = []
    try:
        when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
        for periodic in PERIODIC_JOBS:
            job_id, queue = periodic_job_id(config, periodic), queue_name(config, periodic.queue)
            if _is_current(scheduler, job_id, periodic, queue):
                continue
            scheduler.cancel(job_id)
            scheduler.schedule(when, periodic.func, interval=periodic.every_seconds, id=job_id, queue_name=queue,
                               timeout=PERIODIC_TIMEOUT,
                               description=f"{periodic.name} (every {periodic.every_seconds} s)")
            changed.append(job_id)
    finally:
        scheduler.remove_lock()
    return changed


def next_runs(config: Mapping, connection: Redis) -> dict[str, datetime]:
    """When each periodic job (by name) runs next, as the schedule in Redis says."""
    scheduler = make_scheduler(config, connection, 60)
    runs: dict[str, datetime] = {}
    for periodic in PERIODIC_JOBS:
        score = connection.zscore(scheduler.scheduled_jobs_key, periodic_job_id(config, periodic))
        if score is not None:
            runs[periodic.name] = datetime.fromtimestamp(float(score), timezone.utc)
    return runs


# --- without Redis: a timer in the web process ------------------------------------------------

LOCK_FILE = "scheduler.lock"
_held: dict[str, IO[str]] = {}  # lock path -> the open file holding it (for the process's life)


def take_timer_lock(instance_path: str) -> bool:
    """The process-wide lock that admits one timer per instance folder (an exclusive ``flock`` held
    until the process ends; the kernel drops it when a process dies). False if another has it."""
    path = str(Path(instance_path) / LOCK_FILE)
    if path in _held:
        return False  # this process runs the timer already
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - kept open: the lock lives as long as the file
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _held[path] = handle
    return True


def release_timer_lock(instance_path: str) -> None:
    handle = _held.pop(str(Path(instance_path) / LOCK_FILE), None)
    if handle is not None:
        handle.close()


class PeriodicTimer(threading.Thread):
    """Runs each periodic job in-process every ``every_seconds`` (first run after ``first_delay``)."""

    def __init__(self, app: Flask, *, first_delay: float = 60.0, tick: float = 1.0) -> None:
        super().__init__(name="periodic-jobs", daemon=True)
        self.app, self.tick = app, tick
        self.stopped = threading.Event()
        start = time.monotonic() + first_delay
        self.due = {periodic.name: start for periodic in PERIODIC_JOBS}
        self.runs: dict[str, int] = {periodic.name: 0 for periodic in PERIODIC_JOBS}

    def run_due(self, now: float) -> None:
        for periodic in PERIODIC_JOBS:
            if now < self.due[periodic.name]:
                continue
            self.due[periodic.name] = now + periodic.every_seconds
            self.runs[periodic.name] += 1
            try:
                with self.app.app_context():
                    job = enqueue(self.app.config, periodic.func, queue=periodic.queue)
                if job.is_failed:
                    log.error("periodic job %s failed (see the log above)", periodic.name)
            except (ImportError, AttributeError) as exc:
                log.error("periodic job %s: cannot load %s: %s", periodic.name, periodic.func, exc)
            except Exception:  # noqa: BLE001 - the timer goes on with the next job
                log.exception("periodic job %s failed", periodic.name)

    def run(self) -> None:
        while not self.stopped.wait(self.tick):
            self.run_due(time.monotonic())

    def stop(self) -> None:
        self.stopped.set()


def timer_wanted(config: Mapping) -> bool:
    """Run the timer in this process? Only without Redis, with ``SCHEDULER_IN_PROCESS``, outside
    tests, and not in a ``flask`` command other than ``flask run`` (a shell, a migration or a
    worker is not the web process)."""
    if config.get("REDIS_URL") or not config.get("SCHEDULER_IN_PROCESS") or config.get("TESTING"):
        return False
    import click

    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"


def start_timer(app: Flask, *, first_delay: float = 60.0) -> PeriodicTimer | None:
    """Start the in-process timer if this process wins the instance folder's lock."""
    if not take_timer_lock(app.instance_path):
        log.info("periodic jobs: another process runs the timer")
        return None
    timer = PeriodicTimer(app, first_delay=first_delay)
    timer.start()
    app.extensions["periodic_timer"] = timer
    return timer
