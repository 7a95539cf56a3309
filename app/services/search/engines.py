"""Which engine a process searches with (``SEARCH_ENGINE``): one instance per setting and process."""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from sqlalchemy import Engine

from app.services.search.base import SearchEngine

ENGINES = ("whoosh", "postgres")
_made: dict[tuple[str, str], SearchEngine] = {}
_lock = threading.Lock()


def engine_name(config: Mapping, database_url: str) -> str:
    """``SEARCH_ENGINE`` when set; otherwise ``postgres`` on a PostgreSQL database (one index shared
    by every process and machine), ``whoosh`` elsewhere (SQLite, SQL Server)."""
    chosen = str(config.get("SEARCH_ENGINE") or "").strip().lower()
    if chosen:
        if chosen not in ENGINES:
            raise ValueError(f"SEARCH_ENGINE must be one of {', '.join(ENGINES)}, not {chosen!r}")
        return chosen
    return "postgres" if database_url.startswith("postgresql") else "whoosh"


def make_engine(config: Mapping, database: Engine | Callable[[], Engine]) -> SearchEngine:
    """The engine of ``config``, made once per process (a whoosh index keeps its files open)."""
    db_engine = database() if callable(database) else database
    name = engine_name(config, db_engine.url.render_as_string(hide_password=True))
    where = str(config.get("SEARCH_INDEX_DIR")) if name == "whoosh" else db_engine.url.render_as_string()
    with _lock:
        engine = _made.get((name, where))
        if engine is None:
            if name == "whoosh":
                from app.services.search.whoosh_engine import WhooshEngine

                engine = WhooshEngine(where)
            else:
                from app.services.search.postgres_engine import PostgresEngine

                engine = PostgresEngine(db_engine)
            _made[(name, where)] = engine
    return engine
