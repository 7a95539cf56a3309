"""Enqueue a job by dotted function name, on RQ or in-process.

Jobs are referenced by name (``"app.jobs.reminders.send_due"``) so that the web process and the
RQ worker each import the function themselves; arguments must therefore be picklable. Job code
must make its own application context when it needs one (the RQ worker has none).
"""
from __future__ import annotations

import importlib
import logging
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from redis import Redis

from app.logging_setup import current_context, log_context

__all__ = ["QUEUES", "InlineJob", "connect", "default_retry", "enqueue", "enqueue_many",
           "import_function", "queue_name", "queue_names",
           "redis_status"]

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
QUEUES = ("high", "default", "low")  # a worker takes them in this order
DEFAULT_RETRY_INTERVALS = "10,60,300"  # seconds before RQ's 2nd, 3rd and 4th try
# Keywords rq.Queue.enqueue keeps for itself; in-process runs drop them the same way.
RQ_KEYWORDS = frozenset({
    "job_timeout", "description", "result_ttl", "ttl", "failure_ttl", "depends_on", "job_id",
    "at_front", "meta", "retry", "repeat", "on_success", "on_failure", "on_stopped", "rate_limit",
    "webhooks", "pipeline", "unique",
})


@dataclass
class InlineJob:
    """The outcome of a job run in-process; mirrors the RQ ``Job`` attributes callers use."""

    func_path: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    result: Any = None
    status: str = "queued"  # then "finished" or "failed"
    exc_info: str | None = None
    ended_at: datetime | None = None

    @property
    def is_finished(self) -> bool:
        return self.status == "finished"

    @property
    def is_failed(self) -> bool:
        return self.status == "failed"

    def get_status(self) -> str:
        return self.status


def import_function(func_path: str) -> Callable[..., Any]:
    """The callable named ``package.module.function`` (or ``package.module.Class.method``)."""
    if not isinstance(func_path, str) or "." not in func_path:
        raise ValueError(f"a dotted function path is needed, got {func_path!r}")
    parts = func_path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            target: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue  # not a module: try a shorter prefix
            raise  # the module exists but one of its own imports is missing
        for attr in parts[split:]:
            target = getattr(target, attr)
        if not callable(target):
            raise TypeError(f"{func_path} is not callable")
        return target
    raise ImportError(f"cannot import {func_path!r}")


def _run_inline(func_path: str, args: tuple, kwargs: dict) -> InlineJob:
    func = import_function(func_path)  # a bad name is the caller's bug: raise now
    job_id = kwargs.get("job_id")
    kwargs = {key: value for key, value in kwargs.items() if key not in RQ_KEYWORDS}
    if "args" in kwargs or "kwargs" in kwargs:  # RQ's explicit form: enqueue(f, args=..., kwargs=...)
        if args:
            raise TypeError("positional arguments cannot be combined with args=/kwargs=")
        args, kwargs = tuple(kwargs.get("args") or ()), dict(kwargs.get("kwargs") or {})
    job = InlineJob(func_path=func_path, id=job_id or uuid.uuid4().hex)
    try:
        with log_context(job_id=job.id, job=func_path):
            job.result = func(*args, **kwargs)
        job.status = "finished"
    except Exception:
        # Like a worker: the caller's request goes on, the failure is logged and kept on the job.
        job.status = "failed"
        job.exc_info = traceback.format_exc()
        log.exception("in-process job %s (%s) failed", job.id, func_path)
    job.ended_at = datetime.now(timezone.utc)
    return job


def _carry_request_id(options: dict[str, Any]) -> None:
    """The enqueuing request's id goes with the job (``meta``), so the worker's events carry it
    and the log viewer shows a request's jobs with it. In-process jobs inherit the context."""
    request_id = current_context().get("request_id")
    if request_id:
        options["meta"] = {"request_id": request_id, **(options.get("meta") or {})}


def queue_name(config: Mapping, queue: str = DEFAULT_QUEUE) -> str:
    """The Redis name of queue ``queue``: ``RQ_QUEUE_PREFIX`` + the name, so tests and several
    clinics can share one Redis. ``RQ_QUEUE`` set to another name than ``default`` puts every job
    on that one queue (single-queue installs from before the three queues)."""
    single = config.get("RQ_QUEUE") or DEFAULT_QUEUE
    return f"{config.get('RQ_QUEUE_PREFIX') or ''}{queue if single == DEFAULT_QUEUE else single}"


def queue_names(config: Mapping, queues: tuple[str, ...] = QUEUES) -> list[str]:
    """The Redis names of ``queues``, in order, each once."""
    return list(dict.fromkeys(queue_name(config, name) for name in queues))


_clients: dict[str, Redis] = {}


def connect(config: Mapping) -> Redis:
    """A client of ``REDIS_URL`` (one per URL and process), with short timeouts: a Redis that is
    down makes a request that queues fail fast, not hang."""
    url = config.get("REDIS_URL") or ""
    if not url:
        raise ValueError("REDIS_URL is not set")
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return client


def default_retry(config: Mapping) -> Any:
    """RQ's ``Retry`` from ``RQ_RETRY_INTERVALS`` ("10,60,300": three more tries after 10 s, 1 min
    and 5 min); None when the setting is empty (a failed job goes straight to the failed registry)."""
    from rq import Retry

    text = config.get("RQ_RETRY_INTERVALS", DEFAULT_RETRY_INTERVALS)
    intervals = [int(part) for part in str(text or "").replace(" ", "").split(",") if part]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def enqueue(config: Mapping, func_path: str, *args: Any, queue: str = DEFAULT_QUEUE, **kwargs: Any) -> Any:
    """Run ``func_path(*args, **kwargs)`` in the background.

    With ``REDIS_URL`` set: enqueue on the RQ queue ``queue`` (``high``, ``default`` or ``low``;
    its Redis name from :func:`queue_name`) and return the ``rq.job.Job``. RQ's own keywords
    (``job_timeout``, ``result_ttl``, ``job_id``, ``at_front``, ``meta``, ``retry``, ...) are taken
    by RQ, not passed to the function. Unless the caller passes ``retry`` (``None``: no retry), a
    job that fails is tried again by :func:`default_retry`'s schedule, then kept in RQ's failed
    registry. A Redis that cannot be reached raises (``redis.exceptions.ConnectionError``): callers
    commit their rows first and leave the job to a later sweep.

    Without it: run the function now, in this process, and return an :class:`InlineJob` (``.id``,
    ``.result``, ``.status``); an exception from the function is logged and recorded, not raised.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r} (one of {', '.join(QUEUES)})")
    url = config.get("REDIS_URL") or ""
    if not url:
        return _run_inline(func_path, args, kwargs)
    from rq import Queue

    if "retry" not in kwargs:
        kwargs["retry"] = default_retry(config)
    if kwargs.get("retry") is None:
        kwargs.pop("retry", None)
    _carry_request_id(kwargs)
    return Queue(queue_name(config, queue), connection=connect(config)).enqueue(func_path, *args, **kwargs)


def enqueue_many(config: Mapping, func_path: str, calls: Sequence[tuple], *, queue: str = DEFAULT_QUEUE,
                 batch: int = 1000, **options: Any) -> int:
    """``enqueue`` once per argument tuple in ``calls``, each its own job, sent to Redis in
    pipelined batches of ``batch`` (100,000 reminders are 100 round trips, not 100,000).
    ``options`` are RQ's keywords, the same for every job. Without ``REDIS_URL`` each runs now,
    in this process. Returns how many were queued (or run)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r} (one of {', '.join(QUEUES)})")
    if not (config.get("REDIS_URL") or ""):
        for args in calls:
            _run_inline(func_path, tuple(args), dict(options))
        return len(calls)
    from rq import Queue

    if "retry" not in options:
        options["retry"] = default_retry(config)
    if options.get("retry") is None:
        options.pop("retry", None)
    _carry_request_id(options)
    rq_queue = Queue(queue_name(config, queue), connection=connect(config))
    for start in range(0, len(calls), batch):
        rq_queue.enqueue_many([Queue.prepare_data(func_path, args=tuple(args), **options)
                               for args in calls[start:start + batch]])
    return len(calls)


def redis_status(config: Mapping, *, timeout: float = 2.0) -> str:
    """``"embedded"`` without ``REDIS_URL``; ``"ok"`` when Redis answers PING; raises otherwise."""
    url = config.get("REDIS_URL") or ""
    if not url:
        return "embedded"
    client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        if not client.ping():
            raise ConnectionError("Redis did not answer PING")
    finally:
        client.close()
    return "ok"
