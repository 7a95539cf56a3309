"""GET /health: is the app usable? 200 when the database and configured services answer, 503 if not."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from app.extensions import db
from app.jobs.queue import redis_status
from app.models.types import utcnow
from app.services.health import cache_levels, outbox_status, ping_database, socketio_queue

bp = Blueprint("health", __name__)


def _check(probe) -> dict:
    try:
        return {"status": probe() or "ok"}
    except Exception as exc:  # a health probe reports any failure, it never raises
        current_app.logger.warning("health check failed: %s", exc)
        return {"status": "error", "error": type(exc).__name__}


def _database() -> str:
    return ping_database(db.session)


def _documents() -> str:
    current_app.extensions["documents"].ping()
    return "ok"


def _check_outbox() -> dict:
    try:
        return outbox_status(db.session, current_app.config, utcnow())
    except Exception as exc:  # a health probe reports any failure, it never raises
        current_app.logger.warning("health check failed: %s", exc)
        db.session.rollback()
        return {"status": "error", "error": type(exc).__name__}


@bp.get("/health")
def health():
    checks = {
        "database": {**_check(_database), "engine": db.engine.dialect.name},
        "redis": _check(lambda: redis_status(current_app.config)),
        "documents": {**_check(_documents), "backend": "mongodb" if current_app.config.get("MONGO_URI") else "sql"},
        "socketio": {**socketio_queue(current_app.config, lambda: redis_status(current_app.config)),
                     "mode": current_app.extensions["socketio"].async_mode},
        "cache": cache_levels(current_app.extensions["cache"]),
        # Events waiting for the relay: degraded (not an error) when they wait too long.
        "outbox": _check_outbox(),
    }
    db.session.rollback()
    # A degraded cache (Redis down: in-process level only) still answers; the "redis" check says it is down.
    healthy = all(check["status"] in ("ok", "embedded", "degraded") for check in checks.values())
    return jsonify(status="ok" if healthy else "error", checks=checks), 200 if healthy else 503
