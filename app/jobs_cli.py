"""``flask worker [--burst] [QUEUES...]`` (an RQ worker on high, default, low) and ``flask
scheduler`` (the periodic jobs, rq-scheduler): the two processes to run beside the web app when
``REDIS_URL`` is set. Both run with the app's settings; job functions make their own app context."""
from __future__ import annotations

import click
from flask import Flask, current_app

from app.jobs.queue import QUEUES

WORKER_CLASSES = ("simple", "fork")


def _redis_url() -> str:
    url = current_app.config.get("REDIS_URL") or ""
    if not url:
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run in the web process.")
    return url


def register(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Run the jobs queued now (and due retries), then exit.")
    @click.option("--worker-class", type=click.Choice(WORKER_CLASSES), default=None,
                  help="simple: jobs run in this process; fork: one child process per job "
                       "(default: RQ_WORKER_CLASS).")
    @click.option("--name", default=None, help="The worker's name in Redis (default: RQ's).")
    @click.argument("queues", nargs=-1, type=click.Choice(QUEUES))
    def worker(burst: bool, worker_class: str | None, name: str | None, queues: tuple[str, ...]) -> None:
        """Run an RQ worker on QUEUES (default: high default low, in that order of priority)."""
        from redis import Redis
        from rq import Queue, SimpleWorker, Worker

        from app.extensions import db
        from app.jobs.queue import queue_names

        config = current_app.config
        connection = Redis.from_url(_redis_url())
        chosen = (worker_class or config.get("RQ_WORKER_CLASS") or "simple").lower()
        if chosen not in WORKER_CLASSES:
            raise click.ClickException(f"RQ_WORKER_CLASS must be simple or fork, not {chosen!r}.")
        worker_type = SimpleWorker if chosen == "simple" else Worker
        names = queue_names(config, queues or QUEUES)
        db.engine.dispose()  # no connection of this process is shared with a forked child
        rq_worker = worker_type([Queue(n, connection=connection) for n in names], connection=connection, name=name)
        click.echo(f"{chosen} worker on {', '.join(names)}{' (burst)' if burst else ''}")
        # with_scheduler: RQ's own scheduler puts retries (Retry intervals) back on their queue.
        ok = rq_worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
        if burst and not ok:
            click.echo("no job was run")

    @app.cli.command("scheduler")
    @click.option("--burst", is_flag=True, help="Register the periodic jobs, queue what is due now, and exit.")
    @click.option("--interval", type=click.FloatRange(0.1, 3600), default=None,
                  help="Seconds between two looks at the schedule (default: SCHEDULER_POLL_SECONDS).")
    def scheduler(burst: bool, interval: float | None) -> None:
        """Queue the periodic jobs (app/jobs/periodic.py) when they are due (rq-scheduler)."""
        from redis import Redis

        from app.jobs.periodic import PERIODIC_JOBS
        from app.jobs.scheduling import make_scheduler, register_periodic

        config = current_app.config
        connection = Redis.from_url(_redis_url())
        rq_scheduler = make_scheduler(config, connection, interval or config.get("SCHEDULER_POLL_SECONDS") or 5)
        changed = register_periodic(rq_scheduler, config)
        click.echo(f"scheduler: {len(PERIODIC_JOBS)} periodic jobs ({len(changed)} (re)registered)", err=True)
        rq_scheduler.run(burst=burst)
