"""gunicorn's settings file, read from the working directory by every ``gunicorn`` started here
(the Dockerfile's command, bench/fanout.py); the command line still chooses the worker class and
the address.

One setting matters for live updates: after a worker has loaded the app, everything it holds
(Flask-AppBuilder, SQLAlchemy's metadata, the translations, plotly: a few hundred thousand objects
that live as long as the process) is moved out of the garbage collector's reach with
``gc.freeze()``. Otherwise every full collection walks all of them again: with a thousand open
Socket.IO connections such a pass took 100 to 400 ms, during which a gevent worker (one thread)
delivers nothing, and a broadcast caught behind it reached everyone that much later
(bench/fanout.py's p99)."""
from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    gc.collect()  # what is garbage already goes now, not frozen for the life of the worker
    gc.freeze()
