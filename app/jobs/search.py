"""Search index jobs (``app.services.search``): enqueued by ``app.services.search.hooks`` after a
commit, with (kind, id) pairs only, on the ``low`` queue. Run twice, the second run writes the
same documents again."""
from __future__ import annotations

from app.jobs.context import app_context


def index_records(changes: list[list]) -> int:
    """Bring the documents of these records up to date; how many were written."""
    from sqlalchemy.orm import Session

    from app.extensions import db
    from app.services import search

    with app_context() as app:
        session = Session(db.engine)  # its own session: the committing one is left alone
        try:
            return search.index_records(session, search.make_engine(app.config, db.engine),
                                        [(str(kind), int(ref_id)) for kind, ref_id in changes])
        finally:
            session.close()
