"""Log events of level INFO and above kept in the document store, without ever slowing or failing
what logs them.

One ``DocumentLogHandler`` per process sits on the root logger beside the console handler. Its
``emit`` (in the logging thread) turns the record into a plain dict and puts it on a bounded queue;
nothing else. A daemon thread takes events off the queue in batches and writes each batch with one
``insert_many`` (``app.services.documents``), then sends it to the admins' live tail (Socket.IO
room ``logtail:all``). When the queue is full (the store is slower than the logs for a long time)
events are dropped and counted, never waited for; when the store fails, the batch is dropped and
the writer pauses (``RETRY_SECONDS``) while events keep being dropped: the console still has every
line. The writer's own thread is never logged to the store (no loop through a failing store).

Processes fork (gunicorn's workers, RQ's work horses): the child starts its own writer on its first
event, and a job flushes its events before the horse exits (``flush`` in ``app.jobs.context``).
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from datetime import datetime, timezone
from typing import Any

from flask import Flask

from app.logging_setup import _RECORD_ATTRS, CONTEXT_FIELDS, ContextFilter
from app.services.log_events import COLLECTION, KEPT_LEVEL, jsonable, source_of

HANDLER_NAME = "clinic-documents"
TAIL_ROOM = "logtail:all"
TAIL_EVENT = "log:events"
TAIL_MAX = 50  # events sent to the live tail per batch (the rest are counted)
RETRY_SECONDS = 5.0
# How long the writer waits for more events after the first before it writes: one insert for a
# few requests' events instead of a transaction per request (measured on an idle machine: a
# request of 4 ms took 1.4 ms longer with a write per request). The live tail is that much later.
LINGER_SECONDS = 0.25
MESSAGE_MAX = 2000
EXCEPTION_MAX = 8000


def _plain(value: Any) -> Any:
    """A JSON value for an extra field (anything else as its text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value][:50]
    if isinstance(value, dict):
        return {str(key).replace(".", "_").lstrip("$"): _plain(item) for key, item in list(value.items())[:50]}
    return str(value)[:MESSAGE_MAX]


class DocumentLogHandler(logging.Handler):
    """The queue and its writer (see the module's docstring)."""

    def __init__(self, capacity: int = 10_000, batch: int = 500, linger: float = LINGER_SECONDS) -> None:
        super().__init__(level=KEPT_LEVEL)
        self.set_name(HANDLER_NAME)
        self.addFilter(ContextFilter())
        self.capacity, self.batch, self.linger = capacity, batch, linger
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(capacity)
        self._app: Flask | None = None
        self._store: Any = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._paused_until = 0.0
        self._start_lock = threading.Lock()
        self.written = self.dropped = self.failures = 0

    # --- set-up ---------------------------------------------------------------------------

    def attach(self, app: Flask | None, store: Any) -> None:
        """Write to ``store`` from now on (None: keep nothing); ``app`` for the live tail."""
        self._app, self._store = app, store
        self._paused_until = 0.0

    @property
    def store(self) -> Any:
        return self._store

    # --- the logging thread's side --------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._store is None or record.thread == getattr(self._thread, "ident", None):
                return
            if self._paused_until and time.monotonic() < self._paused_until:
                self.dropped += 1
                return
            self._ensure_writer()
            self._queue.put_nowait(self.event_from(record))
        except queue.Full:
            self.dropped += 1
        except Exception:  # noqa: BLE001 - keeping a log line never breaks the code that logged it
            self.dropped += 1

    def event_from(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record as a document: the JSON line's fields (the filter has added the context)."""
        event: dict[str, Any] = {
            "created_at": datetime.fromtimestamp(record.created, timezone.utc),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage()[:MESSAGE_MAX],
        }
        for key in CONTEXT_FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                event[key] = _plain(value)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and key not in CONTEXT_FIELDS and not key.startswith("_") \
                    and key not in event and key not in ("id", "created_at", "source", "exception"):
                event[key.replace(".", "_").lstrip("$") or "field"] = _plain(value)
        if record.exc_info:
            event["exception"] = logging.Formatter().formatException(record.exc_info)[-EXCEPTION_MAX:]
        event["source"] = source_of(event)
        return event

    def _ensure_writer(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="log-documents", daemon=True)
            self._thread.start()

    # --- the writer -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get()
            except Exception:  # noqa: BLE001
                continue
            events = [first]
            deadline = time.monotonic() + self.linger
            while len(events) < self.batch:
                remaining = deadline - time.monotonic()
                try:
                    events.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(events)
            for _ in events:
                self._queue.task_done()

    def _write(self, events: list[dict[str, Any]]) -> None:
        store, app = self._store, self._app
        if store is None:
            return
        try:
            if app is not None:
                with app.app_context():  # the SQL store's sessions come from the app's engine
                    store.insert_many(COLLECTION, events)
            else:
                store.insert_many(COLLECTION, events)
            self.written += len(events)
        except Exception:  # noqa: BLE001 - the store is down or refused: drop, pause, go on
            self.failures += 1
            self.dropped += len(events)
            self._paused_until = time.monotonic() + RETRY_SECONDS
            return
        if app is not None:
            self._tail(app, events)

    @staticmethod
    def _tail(app: Flask, events: list[dict[str, Any]]) -> None:
        try:
            if app.extensions.get("realtime_server") is None:
                return
            from app.realtime.emit import send

            with app.app_context():
                send(TAIL_EVENT, {"events": [jsonable(e) for e in events[-TAIL_MAX:]],
                                  "more": max(0, len(events) - TAIL_MAX)}, [TAIL_ROOM])
        except Exception:  # noqa: BLE001 - the tail is a convenience
            pass

    def flush(self) -> None:
        """``logging.shutdown`` (at exit) calls this: the queued events are written first."""
        if self._store is not None:
            self.drain(2.0)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event is written (or ``timeout``); True if the queue emptied."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline or self._thread is None or not self._thread.is_alive():
                return not self._queue.unfinished_tasks
            time.sleep(0.01)
        return True

    def after_fork_in_child(self) -> None:
        """A forked child (an RQ work horse, a gunicorn worker) starts afresh: the parent's queued
        events and the writer thread stay the parent's, and so do the database connections the
        writer opened. Sharing a pooled connection across processes corrupts it, and a lock the
        writer held at the fork would never be released here: the child gets a new queue, a new
        lock and a new pool (SQLAlchemy's ``dispose(close=False)``, its documented way after a fork)."""
        self._queue = queue.Queue(self.capacity)
        self._start_lock = threading.Lock()
        self._thread, self._pid, self._paused_until = None, 0, 0.0
        app = self._app
        if app is not None:
            try:
                from app.extensions import db

                with app.app_context():
                    db.engine.dispose(close=False)
            except Exception:  # noqa: BLE001 - the child goes on; its first write may fail and pause
                pass

    def stats(self) -> dict[str, int]:
        return {"queued": self._queue.qsize(), "written": self.written, "dropped": self.dropped,
                "failures": self.failures}


_handler: DocumentLogHandler | None = None


def handler() -> DocumentLogHandler:
    """This process's handler, put on the root logger the first time."""
    global _handler
    if _handler is None:
        _handler = DocumentLogHandler()
        logging.getLogger().addHandler(_handler)
        os.register_at_fork(after_in_child=_after_fork_in_child)
    return _handler


def _after_fork_in_child() -> None:
    if _handler is not None and _handler.store is not None:
        _handler.after_fork_in_child()


def init_app(app: Flask) -> None:
    """Keep this app's INFO+ events in its document store when ``LOG_DOCUMENTS`` is on."""
    if app.config.get("LOG_DOCUMENTS"):
        handler().attach(app, app.extensions["documents"])


def flush(timeout: float = 5.0) -> None:
    """Write what is queued now (a job's events before an RQ work horse exits)."""
    if _handler is not None and _handler.store is not None:
        _handler.drain(timeout)
