"""Background jobs on the real Redis (database 15, a queue prefix unique to each test) with real
``flask worker`` / ``flask scheduler`` processes: queues and their order, retries then the failed
registry, the admin page's Retry and Delete, two schedulers at once, the in-process timer's lock,
and Redis down (pages still served, health says so, nothing raised where a job is queued)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from app.jobs.periodic import PERIODIC_JOBS
from app.jobs.queue import QUEUES, enqueue, queue_name

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/15"


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def _cleanup(connection: Redis, prefix: str) -> None:
    """Remove every job and key of this prefix (never FLUSHDB: the database is shared)."""
    ids: set[str] = set()
    for name in QUEUES:
        queue = Queue(queue_name({"RQ_QUEUE_PREFIX": prefix}, name), connection=connection)
        ids.update(queue.get_job_ids())
        for registry in (queue.finished_job_registry, queue.failed_job_registry, queue.scheduled_job_registry,
                         queue.started_job_registry, queue.deferred_job_registry, queue.canceled_job_registry):
            ids.update(registry.get_job_ids())
    for job in Job.fetch_many(sorted(ids), connection=connection):
        if job is not None:
            job.delete()
    for pattern in (f"*{prefix}*", f"rq:job:{prefix.rstrip(':')}_periodic-*"):
        for key in connection.scan_iter(match=pattern, count=500):
            connection.delete(key)


@pytest.fixture
def rq_env(tmp_path):
    """The settings of a test's own queues: ``config`` for enqueue, ``env`` for subprocesses."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    connection = Redis.from_url(REDIS_URL)
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MONGO_URI", "MAIL_SERVER"}}
    env.update(FLASK_APP="app:create_app", REDIS_URL=REDIS_URL, RQ_QUEUE_PREFIX=prefix,
               INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}",
               PYTHONPATH=str(ROOT))

    class Env:
        pass

    setup = Env()
    setup.prefix, setup.connection, setup.env = prefix, connection, env
    setup.periodic = prefix.rstrip(":") + "_"  # the periodic jobs' ids start so
    setup.config = {"REDIS_URL": REDIS_URL, "RQ_QUEUE_PREFIX": prefix}
    yield setup
    _cleanup(connection, prefix)
    connection.close()


def _flask(env: dict, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _job(connection: Redis, job_id: str) -> Job:
    return Job.fetch(job_id, connection=connection)


@pytest.mark.needs_redis
@pytest.mark.parametrize("worker_class", ["simple", "fork"])
def test_a_worker_runs_the_queues_high_first(rq_env, worker_class):
    low = enqueue(rq_env.config, "tests.jobs_helpers.add", 1, b=1, queue="low")
    default = enqueue(rq_env.config, "tests.jobs_helpers.add", 2, b=2)
    high = enqueue(rq_env.config, "tests.jobs_helpers.add", 3, b=3, queue="high")
    assert (high.origin, default.origin, low.origin) == (f"{rq_env.prefix}high", f"{rq_env.prefix}default",
                                                         f"{rq_env.prefix}low")
    done = _flask({**rq_env.env, "RQ_WORKER_CLASS": worker_class}, "worker", "--burst")
    assert done.returncode == 0, done.stderr
    assert f"{worker_class} worker on {rq_env.prefix}high, {rq_env.prefix}default, {rq_env.prefix}low" in done.stdout
    jobs = [_job(rq_env.connection, job.id) for job in (high, default, low)]
    assert [job.get_status() for job in jobs] == ["finished"] * 3
    assert [job.return_value() for job in jobs] == [6, 4, 2]
    assert jobs[0].ended_at <= jobs[1].ended_at <= jobs[2].ended_at  # high, then default, then low


@pytest.mark.needs_redis
def test_a_worker_takes_only_the_queues_named(rq_env):
    low = enqueue(rq_env.config, "tests.jobs_helpers.add", 1, queue="low")
    high = enqueue(rq_env.config, "tests.jobs_helpers.add", 2, queue="high")
    assert _flask(rq_env.env, "worker", "--burst", "high").returncode == 0
    assert _job(rq_env.connection, high.id).get_status() == "finished"
    assert _job(rq_env.connection, low.id).get_status() == "queued"
    assert _flask(rq_env.env, "worker", "--burst", "urgent").returncode != 0  # not a queue of ours


@pytest.mark.needs_redis
def test_a_failing_job_is_retried_then_kept_in_the_failed_registry(rq_env, tmp_path):
    default_retry = enqueue(rq_env.config, "tests.jobs_helpers.add", 1)
    assert (default_retry.retries_left, default_retry.retry_intervals) == (3, [10, 60, 300])
    assert enqueue(rq_env.config, "tests.jobs_helpers.add", 1, retry=None).retries_left is None  # the caller's choice

    tries = tmp_path / "tries.txt"
    quick = {**rq_env.config, "RQ_RETRY_INTERVALS": "0,0"}  # two more tries at once, for the test's sake
    failing = enqueue(quick, "tests.jobs_helpers.fail_and_count", str(tries))
    done = _flask(rq_env.env, "worker", "--burst", "default")
    assert done.returncode == 0, done.stderr
    assert tries.read_text().count("try") == 3  # the first try and two retries
    job = _job(rq_env.connection, failing.id)
    assert job.get_status() == "failed"
    failed = Queue(f"{rq_env.prefix}default", connection=rq_env.connection).failed_job_registry
    assert failing.id in failed.get_job_ids()
    assert "RuntimeError: không gửi được" in job.latest_result().exc_string


@pytest.mark.needs_redis
def test_a_retry_with_a_pause_waits_in_the_scheduled_registry(rq_env, tmp_path):
    tries = tmp_path / "tries.txt"
    failing = enqueue({**rq_env.config, "RQ_RETRY_INTERVALS": "60"}, "tests.jobs_helpers.fail_and_count", str(tries))
    assert _flask(rq_env.env, "worker", "--burst").returncode == 0
    assert tries.read_text().count("try") == 1
    job = _job(rq_env.connection, failing.id)
    assert job.get_status() == "scheduled" and job.retries_left == 0
    scheduled = Queue(f"{rq_env.prefix}default", connection=rq_env.connection).scheduled_job_registry
    assert failing.id in scheduled.get_job_ids()


# --- the admin page -----------------------------------------------------------------------------

def _failed_job(rq_env, message: str = "hộp thư đầy") -> str:
    job = enqueue({**rq_env.config, "RQ_RETRY_INTERVALS": ""}, "tests.jobs_helpers.fail", message)
    worker = SimpleWorker([Queue(job.origin, connection=rq_env.connection)], connection=rq_env.connection)
    worker.work(burst=True)
    rq_env.connection.delete(worker.key)
    assert _job(rq_env.connection, job.id).get_status() == "failed"
    return job.id


@pytest.fixture
def app_on_redis(app, rq_env, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "RQ_QUEUE_PREFIX", rq_env.prefix)
    return app


@pytest.mark.needs_redis
def test_admin_sees_failed_and_queued_jobs_and_retries_then_deletes(app_on_redis, rq_env, login_as):
    failed_id = _failed_job(rq_env)
    waiting = enqueue(rq_env.config, "tests.jobs_helpers.greet", "Hương", queue="low")
    admin = login_as("admin")
    page = admin.get("/background-jobs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert failed_id in html and "tests.jobs_helpers.fail" in html and "RuntimeError: hộp thư đầy" in html
    assert "Traceback" not in html  # the exception's last line, not the whole trace
    assert waiting.id in html and "&#39;Hương&#39;" in html
    for periodic in PERIODIC_JOBS:
        assert f'data-periodic="{periodic.name}"' in html
    assert "every minute" in html and "every day" in html

    response = admin.post(f"/background-jobs/{failed_id}/retry")
    assert response.status_code == 303
    job = _job(rq_env.connection, failed_id)
    assert job.get_status() == "queued" and failed_id in Queue(job.origin, connection=rq_env.connection).job_ids
    assert "The job is back on its queue." in admin.get("/background-jobs/").get_data(as_text=True)

    admin.post(f"/background-jobs/{failed_id}/retry")  # queued now: not failed, nothing done
    assert "Only a failed job can be retried." in admin.get("/background-jobs/").get_data(as_text=True)

    assert admin.post(f"/background-jobs/{waiting.id}/delete").status_code == 303
    assert not Job.exists(waiting.id, connection=rq_env.connection)
    assert waiting.id not in Queue(waiting.origin, connection=rq_env.connection).job_ids


@pytest.mark.needs_redis
def test_retry_and_delete_need_the_csrf_token_and_the_admin_role(app_on_redis, rq_env, login_as):
    failed_id = _failed_job(rq_env)
    admin = login_as("admin")
    admin.post(f"/background-jobs/{failed_id}/delete", csrf=False)
    assert _job(rq_env.connection, failed_id).get_status() == "failed"  # no token: nothing done

    receptionist = login_as("receptionist")
    assert receptionist.get("/background-jobs/").status_code in (302, 403)
    receptionist.post(f"/background-jobs/{failed_id}/retry")
    receptionist.post(f"/background-jobs/{failed_id}/delete")
    assert _job(rq_env.connection, failed_id).get_status() == "failed"
    menu = receptionist.get("/").get_data(as_text=True)
    assert "Background jobs" not in menu
    assert "/background-jobs/" in admin.get("/").get_data(as_text=True)


@pytest.mark.needs_redis
def test_another_prefix_s_jobs_are_not_the_page_s(app_on_redis, rq_env, login_as):
    other = f"t{uuid.uuid4().hex[:10]}:"
    job = enqueue({"REDIS_URL": REDIS_URL, "RQ_QUEUE_PREFIX": other}, "tests.jobs_helpers.add", 1, retry=None)
    try:
        admin = login_as("admin")
        assert job.id not in admin.get("/background-jobs/").get_data(as_text=True)
        admin.post(f"/background-jobs/{job.id}/delete")
        assert Job.exists(job.id, connection=rq_env.connection)
    finally:
        _cleanup(rq_env.connection, other)


def test_without_redis_the_page_says_jobs_run_in_process(app, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    html = login_as("admin").get("/background-jobs/").get_data(as_text=True)
    assert 'id="jobs-in-process"' in html and "run at once inside the web process" in html
    assert "data-queue=" not in html
    assert 'data-periodic="reminders"' in html


# --- Redis down ---------------------------------------------------------------------------------

def test_redis_down_pages_are_served_and_health_says_so(app, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", _closed_port_url())
    admin = login_as("admin")
    for url in ("/", "/background-jobs/", "/patientview/list/"):
        assert admin.get(url).status_code == 200, url
    html = admin.get("/background-jobs/").get_data(as_text=True)
    assert 'id="jobs-redis-down"' in html and "Redis cannot be reached" in html
    health = admin.get("/health")
    assert health.status_code == 503 and health.get_json()["checks"]["redis"]["status"] == "error"


def test_redis_down_queueing_messages_raises_nothing_and_tries_once(app, monkeypatch, caplog):
    from app.services.messaging import delivery

    config = {"REDIS_URL": _closed_port_url(), "MESSAGE_BATCH_SIZE": 2}
    calls = []
    real = delivery.__dict__.get("enqueue")  # the module imports it inside the function
    assert real is None
    import app.jobs.queue as queue_module

    original = queue_module.enqueue_many

    def counting(*args, **kwargs):
        calls.append((kwargs.get("queue"), len(args[2])))
        return original(*args, **kwargs)

    monkeypatch.setattr(queue_module, "enqueue_many", counting)
    delivery.enqueue_deliveries(config, [101, 102, 103])  # no exception
    assert calls == [("high", 2)]  # one pipelined try of both jobs (2 + 1 messages): the sweep sends them later
    assert "left for the sweep" in caplog.text


@pytest.mark.needs_redis
def test_deliveries_go_on_the_high_queue_without_rq_retry(rq_env):
    from app.services.messaging import delivery

    delivery.enqueue_deliveries({**rq_env.config, "MESSAGE_BATCH_SIZE": 2}, [7, 8, 9])
    queue = Queue(f"{rq_env.prefix}high", connection=rq_env.connection)
    jobs = [_job(rq_env.connection, job_id) for job_id in queue.job_ids]
    assert [(job.func_name, job.args, job.retries_left) for job in jobs] == [
        ("app.jobs.messages.deliver", (7, 8), None), ("app.jobs.messages.deliver", (9,), None)]


def test_redis_down_issuing_an_invoice_keeps_the_invoice_and_its_mail_for_the_sweep(app, db, clinic, monkeypatch):
    import sqlalchemy as sa

    from app.models import OutboundMessage
    from tests.test_invoice_documents import _invoice, _invoice_row, _patient, _settings

    monkeypatch.setitem(app.config, "REDIS_URL", _closed_port_url())
    invoice = _invoice(app, _patient(clinic), settings=_settings(email_on_issue=True))  # no exception
    row = _invoice_row(db, invoice)
    assert row.status == "issued" and row.email_status == "queued"
    [message] = db.session.scalars(sa.select(OutboundMessage).where(OutboundMessage.kind.like("invoice%"))).all()
    assert (message.status, message.attempts) == ("queued", 0)  # committed: the sweep sends it when Redis is back


# --- the scheduler ------------------------------------------------------------------------------

def _queued_ids(rq_env) -> list[str]:
    return [job_id for name in QUEUES
            for job_id in Queue(f"{rq_env.prefix}{name}", connection=rq_env.connection).job_ids]


@pytest.mark.needs_redis
def test_two_schedulers_at_once_queue_each_periodic_job_once(rq_env, tmp_path):
    command = [sys.executable, "-m", "flask", "scheduler", "--interval", "0.3"]
    started = time.time()
    logs = [tmp_path / f"scheduler-{n}.log" for n in (1, 2)]
    schedulers = []
    for log in logs:
        with log.open("w") as out:
            schedulers.append(subprocess.Popen(command, cwd=ROOT, env=rq_env.env, stdout=out, stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
                len(set(_queued_ids(rq_env))) == len(PERIODIC_JOBS)
                and all("periodic jobs (" in log.read_text() for log in logs)):
            time.sleep(0.2)
        time.sleep(4)  # both are up and polling: a doubled job would show up now
    finally:
        for process in schedulers:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    outputs = [log.read_text() for log in logs]
    elapsed = time.time() - started
    queued = _queued_ids(rq_env)
    expected = {f"{rq_env.periodic}periodic-{p.name}": p for p in PERIODIC_JOBS}
    assert set(queued) == set(expected), outputs
    for job_id, periodic in expected.items():
        # once per interval passed since the first run (the every-minute jobs may come due again
        # when a loaded machine makes this test last over a minute); never twice at once
        allowed = 1 + int(elapsed // periodic.every_seconds)
        assert 1 <= queued.count(job_id) <= allowed, (job_id, queued.count(job_id), elapsed, outputs)
    assert queued.count(f"{rq_env.periodic}periodic-prune-sessions") == 1
    by_queue = {job_id: _job(rq_env.connection, job_id).origin for job_id in queued}
    assert by_queue[f"{rq_env.periodic}periodic-reminders"] == f"{rq_env.prefix}high"
    assert by_queue[f"{rq_env.periodic}periodic-prune-sessions"] == f"{rq_env.prefix}low"
    registered = sorted(out.split("periodic jobs (")[1].split(" ")[0] for out in outputs)
    count = str(len(PERIODIC_JOBS))
    # the second found them there (or re-wrote the same ids)
    assert registered in (["0", count], [count, count]), outputs

    # A restart re-uses the schedule: the long-interval jobs are not queued again.
    again = _flask(rq_env.env, "scheduler", "--burst")
    assert again.returncode == 0 and "(0 (re)registered)" in again.stderr, again.stderr
    assert _queued_ids(rq_env).count(f"{rq_env.periodic}periodic-prune-sessions") == 1
    schedule = rq_env.connection.zrange(f"rq:scheduler:scheduled_jobs:{rq_env.prefix}", 0, -1, withscores=True)
    assert sorted(member.decode() for member, _score in schedule) == sorted(expected)
    for member, score in schedule:  # next run one interval after the last
        interval = expected[member.decode()].every_seconds
        assert started + interval - 1 <= score <= time.time() + interval


@pytest.mark.needs_redis
def test_the_page_shows_when_each_periodic_job_runs_next(app_on_redis, rq_env, login_as):
    assert _flask(rq_env.env, "scheduler", "--burst").returncode == 0
    html = login_as("admin").get("/background-jobs/").get_data(as_text=True)
    assert "is flask scheduler running?" not in html
    assert html.count('data-periodic="') == len(PERIODIC_JOBS)


def test_worker_and_scheduler_need_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(FLASK_APP="app:create_app", INSTANCE_PATH=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    for command in ("worker", "scheduler"):
        done = _flask(env, command, "--burst")
        assert done.returncode != 0 and "REDIS_URL is not set" in done.stderr


# --- without Redis: the timer in the web process ------------------------------------------------

TIMER_PROBE = """
import sys, time
from app import create_app
from config import Config
app = create_app(Config, TESTING=False, REDIS_URL="", SCHEDULER_IN_PROCESS=True)
print("timer" if "periodic_timer" in app.extensions else "no timer", flush=True)
time.sleep(float(sys.argv[1]))
"""


def test_one_web_process_runs_the_timer(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "FLASK_APP"}}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
               PYTHONPATH=str(ROOT))
    probes = [subprocess.Popen([sys.executable, "-c", TIMER_PROBE, "6"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    answers = sorted(process.communicate(timeout=90)[0].strip() for process in probes)
    assert answers == ["no timer", "timer"], answers
    # the holder has ended: the lock is free again for the next web process
    again = subprocess.run([sys.executable, "-c", TIMER_PROBE, "0"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=90)
    assert again.stdout.strip() == "timer", again.stderr


def test_a_flask_command_does_not_start_the_timer(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(FLASK_APP="app:create_app", INSTANCE_PATH=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
               SCHEDULER_IN_PROCESS="true")
    code = "from flask import current_app as a; print('timer' if 'periodic_timer' in a.extensions else 'no timer')"
    done = subprocess.run([sys.executable, "-m", "flask", "shell"], input=code + "\n", cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=90)
    assert "no timer" in done.stdout, done.stderr


def test_timer_lock_and_conditions(tmp_path):
    from app.jobs import scheduling

    assert scheduling.take_timer_lock(str(tmp_path)) is True
    try:
        assert scheduling.take_timer_lock(str(tmp_path)) is False  # one per process too
        other = subprocess.run([sys.executable, "-c", "import sys; from app.jobs.scheduling import take_timer_lock; "
                                "print(take_timer_lock(sys.argv[1]))", str(tmp_path)], cwd=ROOT, capture_output=True,
                               text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert other.stdout.strip() == "False", other.stderr
    finally:
        scheduling.release_timer_lock(str(tmp_path))
    base = {"SCHEDULER_IN_PROCESS": True, "REDIS_URL": "", "TESTING": False}
    assert scheduling.timer_wanted(base)
    assert not scheduling.timer_wanted({**base, "REDIS_URL": REDIS_URL})  # flask scheduler's job then
    assert not scheduling.timer_wanted({**base, "SCHEDULER_IN_PROCESS": False})
    assert not scheduling.timer_wanted({**base, "TESTING": True})


def test_the_timer_runs_each_periodic_job_on_its_interval(app, monkeypatch):
    from app.jobs import scheduling

    ran: list[str] = []
    monkeypatch.setattr(scheduling, "enqueue", lambda config, func, queue: ran.append(func) or _Done())
    timer = scheduling.PeriodicTimer(app, first_delay=10)
    start = time.monotonic()
    timer.run_due(start)  # not yet
    assert ran == []
    timer.run_due(start + 11)
    assert ran == [p.func for p in PERIODIC_JOBS]
    ran.clear()
    timer.run_due(start + 11 + 61)  # a minute later: the every-minute jobs only
    assert ran == [p.func for p in PERIODIC_JOBS if p.every_seconds <= 61]


class _Done:
    is_failed = False


def test_queue_names_with_a_prefix_or_one_single_queue():
    from app.jobs.queue import queue_names

    assert queue_names({}) == ["high", "default", "low"]
    assert queue_names({"RQ_QUEUE_PREFIX": "an-binh:"}) == ["an-binh:high", "an-binh:default", "an-binh:low"]
    assert queue_name({"RQ_QUEUE": "clinic"}, "high") == "clinic"  # RQ_QUEUE: every job on that one queue
    assert queue_names({"RQ_QUEUE": "clinic", "RQ_QUEUE_PREFIX": "x:"}) == ["x:clinic"]
    with pytest.raises(ValueError):
        enqueue({}, "tests.jobs_helpers.add", 1, queue="urgent")


@pytest.mark.needs_redis
def test_a_job_makes_its_own_app_context_in_the_worker(rq_env, app, db_url):
    """``app.jobs.maintenance.prune_sessions`` (the daily periodic job) run by a real worker on
    the suite's database: the job builds nothing itself, it uses the worker's app."""
    job = enqueue(rq_env.config, "app.jobs.maintenance.prune_sessions", queue="low", retry=None)
    done = _flask({**rq_env.env, "DATABASE_URL": db_url}, "worker", "--burst", "low")
    assert done.returncode == 0, done.stderr
    finished = _job(rq_env.connection, job.id)
    assert finished.get_status() == "finished", done.stderr
    assert isinstance(finished.return_value(), int)


# --- the jobs in words ----------------------------------------------------------------------------

def test_every_job_the_app_queues_has_a_name_in_words_in_both_languages(app):
    from flask_babel import force_locale

    from app.views.background_jobs import JOB_LABELS, job_label

    app_jobs = {p.func for p in PERIODIC_JOBS} | {
        "app.jobs.messages.deliver", "app.jobs.notices.appointment_event", "app.jobs.notices.lab_results_released",
        "app.jobs.notices.prescription_dispensed", "app.jobs.billing_mail.send", "app.jobs.billing_mail.send_receipt"}
    assert app_jobs <= set(JOB_LABELS)
    with app.test_request_context(), force_locale("vi"):
        assert job_label("app.jobs.notices.appointment_event") == "Thông báo về một lịch hẹn"
        assert all(job_label(func) != func for func in app_jobs)
    with app.test_request_context():
        assert job_label("tests.jobs_helpers.greet") == "tests.jobs_helpers.greet"  # unknown: its dotted name


@pytest.mark.needs_redis
def test_the_page_names_the_jobs_in_words_and_keeps_the_dotted_name(app_on_redis, rq_env, login_as):
    waiting = enqueue(rq_env.config, "app.jobs.notices.appointment_event", 1, "booked", queue="low")
    html = login_as("admin").get("/background-jobs/?_l_=vi").get_data(as_text=True)
    row = html[html.index(f'data-job="{waiting.id}"'):]
    row = row[:row.index("</tr>")]
    assert "Thông báo về một lịch hẹn" in row and "app.jobs.notices.appointment_event" in row
    periodic = html[html.index('data-periodic="reminders"'):]
    periodic = periodic[:periodic.index("</tr>")]
    assert "Xếp hàng các tin nhắc lịch hẹn đến hạn" in periodic and "app.jobs.reminders.run_due" in periodic
