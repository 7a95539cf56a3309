"""What the Background jobs page shows and does: the jobs of each queue (``high``, ``default``,
``low``) as RQ keeps them in Redis (queued, running, scheduled for a retry, failed), a failed or
waiting job retried or deleted, and the periodic jobs with their interval and next run.

Plain functions over a Redis connection and the settings; errors of Redis
(``redis.exceptions.RedisError``) go up to the page, which says Redis cannot be reached."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask_babel import gettext as _
from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from app.jobs.periodic import PERIODIC_JOBS
from app.jobs.queue import QUEUES, queue_name
from app.services.errors import Conflict, NotFound

STATES = ("queued", "started", "scheduled", "failed")
ROWS_PER_STATE = 50  # the newest this many of each state and queue; the counts are exact


@dataclass(frozen=True)
class JobRow:
    id: str
    func: str
    args: str
    state: str
    enqueued_at: datetime | None
    ended_at: datetime | None
    error: str  # a failed job's exception, last line


@dataclass
class QueueBoard:
    name: str  # high, default, low
    redis_name: str
    counts: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, list[JobRow]] = field(default_factory=dict)


@dataclass(frozen=True)
class PeriodicRow:
    name: str
    func: str
    queue: str
    every_seconds: int
    next_run: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _args(job: Job) -> str:
    try:
        parts = [repr(a) for a in job.args] + [f"{k}={v!r}" for k, v in job.kwargs.items()]
    except Exception:  # noqa: BLE001 - arguments that cannot be read (a class gone since) are not shown
        return "?"
    text = ", ".join(parts)
    return text if len(text) <= 120 else text[:119] + "…"


def _last_line(exc_info: str | None) -> str:
    lines = [line for line in (exc_info or "").strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _exc_string(job: Job) -> str | None:
    result = job.latest_result()
    return result.exc_string if result is not None else None


def _row(job: Job, state: str) -> JobRow:
    return JobRow(id=job.id, func=job.func_name or "?", args=_args(job), state=state,
                  enqueued_at=_aware(job.enqueued_at), ended_at=_aware(job.ended_at),
                  error=_last_line(_exc_string(job)) if state == "failed" else "")


def _ids(queue: Queue, state: str) -> tuple[int, list[str]]:
    if state == "queued":
        return queue.count, queue.get_job_ids(0, ROWS_PER_STATE)
    registry = {"started": queue.started_job_registry, "scheduled": queue.scheduled_job_registry,
                "failed": queue.failed_job_registry}[state]
    count = registry.count
    # the newest first: registries are sorted sets by time
    return count, registry.get_job_ids(max(0, count - ROWS_PER_STATE), -1)[::-1]


def job_board(config: Mapping, connection: Redis) -> list[QueueBoard]:
    """Each queue, in priority order, with the counts and the newest jobs of each state."""
    boards, seen = [], set()
    for name in QUEUES:
        queue = Queue(queue_name(config, name), connection=connection)
        if queue.name in seen:  # RQ_QUEUE: one queue for all
            continue
        seen.add(queue.name)
        board = QueueBoard(name=name, redis_name=queue.name)
        for state in STATES:
            count, ids = _ids(queue, state)
            board.counts[state] = count
            jobs = Job.fetch_many(ids, connection=connection) if ids else []
            board.jobs[state] = [_row(job, state) for job in jobs if job is not None]
        boards.append(board)
    return boards


def periodic_jobs(config: Mapping, connection: Redis | None) -> list[PeriodicRow]:
    """The periodic jobs as declared, with their next run when ``flask scheduler`` has them."""
    runs: dict[str, datetime] = {}
    if connection is not None:
        from app.jobs.scheduling import next_runs

        runs = next_runs(config, connection)
    return [PeriodicRow(p.name, p.func, p.queue, p.every_seconds, runs.get(p.name)) for p in PERIODIC_JOBS]


def _our_job(config: Mapping, connection: Redis, job_id: str) -> Job:
    """The job, if it belongs to one of this clinic's queues (another prefix's jobs are not ours)."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        raise NotFound(_("This job is gone (finished, deleted or expired).")) from None
    if job.origin not in {queue_name(config, name) for name in QUEUES}:
        raise NotFound(_("This job is gone (finished, deleted or expired)."))
    return job


def retry_job(config: Mapping, connection: Redis, job_id: str) -> None:
    """Put a failed job back on its queue (now)."""
    job = _our_job(config, connection, job_id)
    if not job.is_failed:
        raise Conflict(_("Only a failed job can be retried."))
    job.requeue()


def delete_job(config: Mapping, connection: Redis, job_id: str) -> None:
    """Remove a job that is waiting, scheduled or failed (a running job cannot be deleted)."""
    job = _our_job(config, connection, job_id)
    if job.is_started:
        raise Conflict(_("A running job cannot be deleted."))
    job.delete()
