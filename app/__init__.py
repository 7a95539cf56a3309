"""The application factory."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, redirect, url_for
from flask_appbuilder import AppBuilder
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import INSTANCE_DIR, Config


def create_app(config_class: type = Config, **overrides: Any) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    app.config.from_object(config_class)
    app.config.update(overrides)
    from app.permissions import fab_roles

    app.config["FAB_ROLES"] = fab_roles()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    from app.fab import input as fab_input

    fab_input.install(app)  # before any route: ids in URLs, FAB's list arguments, the login payload
    register_extensions(app)
    with app.app_context():
        from app.api import register_apis
        from app.views import register_views

        appbuilder = AppBuilder()
        appbuilder.init_app(app, app.extensions["sqlalchemy"].session)
        from app import i18n

        i18n.init_app(app)  # FAB's languages; the browser's choice until the user picks one
        register_views(appbuilder)
        register_apis(appbuilder)
    from app.fab import denials, rison

    rison.install()  # FAB checks each rison schema once, not on every request
    denials.install()  # every permission refusal of a request leaves an audit row
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    from app import logging_setup

    logging_setup.init_app(app)  # JSON or console events with the request id; the access event
    from app import log_store

    log_store.init_app(app)  # INFO+ events kept as documents for the admin log viewer (LOG_DOCUMENTS)
    from app.jobs.scheduling import start_timer, timer_wanted

    if timer_wanted(app.config):  # no Redis: the periodic jobs on a timer, in one process only
        start_timer(app)
    return app


def register_extensions(app: Flask) -> None:
    from app import audit, models  # noqa: F401  (models: every table on the shared metadata)
    from app.extensions import db, mail, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True)
    mail.init_app(app)
    from app import realtime

    realtime.init_app(app)  # this app's own Socket.IO server (the Redis message queue with REDIS_URL)
    audit.register(db)
    from app.services import outbox

    outbox.register(db)  # domain events, written with the change that caused them
    from app.services import cache

    cache.init_app(app)  # the two-level cache of hot reads (in-process, then Redis with REDIS_URL)
    from app import csrf, security_headers
    from app.services.search import hooks as search_hooks  # noqa: F401  (the index follows every write)

    csrf.init_app(app)  # before FAB: FAB refuses deletes over GET once app.extensions["csrf"] exists
    security_headers.init_app(app)
    from sqlalchemy.orm import Session

    from app.services.documents import make_document_store

    # One store per process (a MongoClient holds a connection pool); SQL sessions are opened per call.
    app.extensions["documents"] = make_document_store(app.config, lambda: Session(db.engine))


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite enforces foreign keys only when asked; WAL lets readers work during a write."""
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    from app.api.calendar import register_calendar
    from app.health import bp as health_bp
    from app.public import bp as public_bp

    app.register_blueprint(health_bp)
    register_calendar(app)
    app.register_blueprint(public_bp)  # the public site, /clinic
    from app.public.video_call import bp as portal_video_bp

    app.register_blueprint(portal_video_bp)  # the patient's video visit page, /portal/appointments/<id>/video
    from app.public.video_guest import bp as video_guest_bp

    app.register_blueprint(video_guest_bp)  # a guest's one-time link into a video visit, /video-guest/<secret>
    from app.public.queue_display import bp as queue_display_bp

    app.register_blueprint(queue_display_bp)  # the waiting-room TV and the patient's ticket, /queue
    from app.views import two_factor

    two_factor.init_app(app)  # the enrolment pages, and the gate for roles that need two-step login
    from app.views import chart

    chart.register(app)  # plotly.js from the installed package (/static-vendor/plotly.min.js)
    from app.views import vnpay_routes

    vnpay_routes.register(app)  # VNPay's return page and IPN (/pay/vnpay/return, /webhooks/vnpay/ipn)
    from app.views import stripe_webhook

    stripe_webhook.register(app)  # POST /webhooks/stripe (signed by Stripe, no CSRF token)
    from app.views import webhooks as webhook_views

    webhook_views.register(app)  # POST /webhooks/test-receiver/<token> (our own signed deliveries)
    # Browsers ask for /favicon.ico on every site: without it each first page logged a 404 error.
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: redirect(url_for("static", filename="favicon.svg"), 301))


def register_errorhandlers(app: Flask) -> None:
    from app.errors import register
    from app.views.care import register as register_care

    register(app)
    register_care(app)  # a record outside the reader's care: 403 leading to "break the glass"


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
