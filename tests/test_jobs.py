"""enqueue/redis_status: in-process without REDIS_URL, real RQ on the Redis at 127.0.0.1:6379.

The Redis tests use database 15 and a queue name unique to the run, and remove what they made
(no FLUSHDB: other test runs may share that database).
"""
from __future__ import annotations

import logging
import socket
import uuid

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker
from rq.job import Job

from app.jobs import InlineJob, enqueue, redis_status
from tests import jobs_helpers

REDIS_URL = "redis://127.0.0.1:6379/15"


def test_in_process_runs_the_function_now():
    jobs_helpers.CALLS.clear()
    job = enqueue({"REDIS_URL": ""}, "tests.jobs_helpers.add", 2, b=3)
    assert isinstance(job, InlineJob)
    assert job.id and job.result == 5 and job.is_finished and job.get_status() == "finished"
    assert jobs_helpers.CALLS == [(2, 3)]
    greeting = enqueue({}, "tests.jobs_helpers.greet", "Hương", greeting="Chào bà", job_timeout=30, job_id="j1")
    assert (greeting.id, greeting.result) == ("j1", "Chào bà, Hương!")  # RQ's own keywords are not passed on
    assert enqueue({}, "tests.jobs_helpers.add", args=(1,), kwargs={"b": 1}).result == 2


def test_in_process_failure_is_logged_not_raised(caplog):
    with caplog.at_level(logging.ERROR, logger="app.jobs.queue"):
        job = enqueue({}, "tests.jobs_helpers.fail", "hỏng rồi")
    assert job.is_failed and job.result is None
    assert "RuntimeError: hỏng rồi" in job.exc_info
    assert "tests.jobs_helpers.fail" in caplog.text


def test_in_process_bad_name_raises():
    with pytest.raises(AttributeError):
        enqueue({}, "tests.jobs_helpers.nope")
    with pytest.raises(ImportError):
        enqueue({}, "no_such_package.module.func")
    with pytest.raises(ValueError):
        enqueue({}, "add")


@pytest.mark.needs_redis
def test_redis_status_embedded_and_ok():
    assert redis_status({"REDIS_URL": ""}) == "embedded"
    assert redis_status({}) == "embedded"
    assert redis_status({"REDIS_URL": REDIS_URL}) == "ok"


def test_redis_status_raises_on_closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RedisConnectionError):  # refused, not any error (a typo in the code would pass too)
        redis_status({"REDIS_URL": f"redis://127.0.0.1:{port}/0"}, timeout=0.5)


@pytest.fixture
def rq_config():
    name = f"test-{uuid.uuid4().hex[:10]}"
    connection = Redis.from_url(REDIS_URL)
    yield {"REDIS_URL": REDIS_URL, "RQ_QUEUE": name}
    queue = Queue(name, connection=connection)
    for registry in (queue.finished_job_registry, queue.failed_job_registry):
        for job_id in registry.get_job_ids():
            Job.fetch(job_id, connection=connection).delete()
    queue.delete(delete_jobs=True)
    connection.close()


@pytest.mark.needs_redis
def test_redis_mode_enqueues_for_a_real_worker(rq_config):
    job = enqueue(rq_config, "tests.jobs_helpers.add", 20, b=22)
    assert isinstance(job, Job)
    assert job.origin == rq_config["RQ_QUEUE"]
    assert job.func_name == "tests.jobs_helpers.add"
    assert job.get_status() == "queued"
    failing = enqueue(rq_config, "tests.jobs_helpers.fail", "boom", retry=None)  # no retry: failed at once

    connection = Redis.from_url(REDIS_URL)
    queue = Queue(rq_config["RQ_QUEUE"], connection=connection)
    assert queue.count == 2
    worker = SimpleWorker([queue], connection=connection)
    worker.work(burst=True)
    connection.delete(worker.key)  # its record would otherwise linger for a minute

    done = Job.fetch(job.id, connection=connection)
    assert done.get_status() == "finished"
    assert done.return_value() == 42
    assert Job.fetch(failing.id, connection=connection).get_status() == "failed"
    assert queue.count == 0


def test_enqueue_many_in_process_runs_each_now():
    jobs_helpers.CALLS.clear()
    from app.jobs.queue import enqueue_many

    assert enqueue_many({}, "tests.jobs_helpers.add", [(1,), (2, 3)]) == 2
    assert jobs_helpers.CALLS == [(1, 0), (2, 3)]


@pytest.mark.needs_redis
def test_enqueue_many_makes_one_job_each_in_batches(rq_config):
    from app.jobs.queue import enqueue_many

    assert enqueue_many(rq_config, "tests.jobs_helpers.add", [(n, n) for n in range(5)], batch=2, result_ttl=0,
                        retry=None) == 5
    connection = Redis.from_url(REDIS_URL)
    queue = Queue(rq_config["RQ_QUEUE"], connection=connection)
    jobs = [Job.fetch(job_id, connection=connection) for job_id in queue.job_ids]
    assert [job.args for job in jobs] == [(n, n) for n in range(5)]  # one job per call, in order
    jobs_helpers.CALLS.clear()
    worker = SimpleWorker([queue], connection=connection)  # runs them in this process
    worker.work(burst=True)
    connection.delete(worker.key)
    assert queue.count == 0 and jobs_helpers.CALLS == [(n, n) for n in range(5)]
    assert not any(Job.exists(j.id, connection=connection) for j in jobs)  # result_ttl=0: nothing kept
