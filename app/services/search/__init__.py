"""One search over patients, appointments, visits, prescriptions, medicines and invoices (issue 16,
items 4 and 5), through one engine interface (``base.SearchEngine``): whoosh files (embedded) or
PostgreSQL's full-text search (``engines.engine_name``). What each kind indexes, who may read its
records and how a hit is shown: ``kinds``. How the index follows writes: ``hooks`` and
``app.jobs.search``. What a typed text becomes: ``query``.

Who sees what: the view passes the kinds a role may search (its FAB permissions, ``searchable_kinds``);
here each kind's hits are kept only when ``user`` may read the record (``Kind.readable``: the
care-team rule for visits and prescriptions), then shown from the database (never from the
index: a stale document shows nothing it no longer says). A list of patient-owned hits is an
audited read, as a picker's list is (``access.record_list_read``)."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services import access
from app.services.documents import DocumentStore
from app.services.search import kinds as kinds_module, log_hits
from app.services.search.base import (
    INCOMPLETE,
    OK,
    Document,
    Health,
    Query,
    SearchEngine,
    SearchUnavailable,
)
from app.services.search.engines import engine_name, make_engine
from app.services.search.kinds import KINDS, PATIENT_RECORDS, Kind, Result, register
from app.services.search.log_hits import LOGS
from app.services.search.query import query_keys, terms

__all__ = ["KINDS", "LOGS", "Document", "Group", "Health", "Kind", "Result", "SearchAnswer", "SearchEngine",
           "SearchUnavailable", "engine_name", "health", "index_documents", "index_records", "kind_label",
           "make_engine", "register", "reindex", "search_own_records", "search_records", "searchable_kinds"]

log = logging.getLogger(__name__)

BOX_LIMIT = 5  # hits per kind in the search box
PAGE_LIMIT = 20  # hits per kind on the results page
OVERFETCH = 3  # hits asked of the engine per hit shown: some are dropped by the access rules
PORTAL_KINDS = ("appointments", "visits", "prescriptions", "invoices")
UNAVAILABLE = "unavailable"
PATIENT_RECORDS_CHANGE = "patient_records"  # a change meaning "the patient's records name them anew"


@dataclass
class Group:
    kind: str
    label: str
    results: list[Result]


@dataclass
class SearchAnswer:
    text: str
    groups: list[Group] = field(default_factory=list)
    state: str = OK  # ok | unavailable (missing or corrupt index: ``reason``)
    reason: str = ""

    @property
    def total(self) -> int:
        return sum(len(group.results) for group in self.groups)


def searchable_kinds(can_read: Callable[[str], bool], is_admin: bool) -> list[str]:
    """The kinds a staff login may search: those whose resource its role reads (``can_read(name)``,
    FAB's ``can_read`` on that resource, asked by the view); ``admin_only`` kinds for admins, and
    log events (``log_hits``) for an admin whose role reads the log viewer."""
    names = [kind.name for kind in KINDS.values()
             if (is_admin or not kind.admin_only) and (kind.permission is None or can_read(kind.permission))]
    if is_admin and can_read(log_hits.PERMISSION):
        names.append(LOGS)
    return names


def kind_label(name: str) -> str:
    """A kind's heading, in the reader's language."""
    return str(log_hits.LABEL if name == LOGS else KINDS[name].label)


def _answer(session: Session, user: Any, text: str, kinds: Sequence[str], engine: SearchEngine, limit: int,
            region: str, now: datetime, show: Callable[[Kind, Sequence[int]], dict[int, Result]],
            patient_id: int | None = None) -> SearchAnswer:
    answer = SearchAnswer(text=text)
    wanted = [name for name in kinds if name in KINDS]
    query = Query(terms=terms(text), keys=query_keys(text, region), kinds=tuple(wanted), limit=limit * OVERFETCH,
                  patient_id=patient_id)
    if not wanted or not (query.terms or query.keys):
        return answer
    try:
        hits = engine.search(query)
    except SearchUnavailable as exc:
        log.warning("search unavailable: %s", exc)
        answer.state, answer.reason = UNAVAILABLE, exc.state
        return answer
    for name in wanted:
        kind = KINDS[name]
        ids = [hit.ref_id for hit in hits.get(name, [])]
        if not ids:
            continue
        readable = kind.readable(session, user, ids, now)
        ids = [ref_id for ref_id in ids if ref_id in readable]
        results: list[Result] = []
        while ids and len(results) < limit:  # only what is shown is loaded (more if some are gone)
            chunk, ids = ids[:limit - len(results)], ids[limit - len(results):]
            shown = show(kind, chunk)
            results.extend(shown[ref_id] for ref_id in chunk if ref_id in shown)
        if results:
            if kind.audited_model is not None:
                access.record_list_read(session, user, kind.audited_model, [_Ref(r.id) for r in results])
            answer.groups.append(Group(name, str(kind.label), results))
    return answer


@dataclass(frozen=True)
class _Ref:
    id: int


def search_records(session: Session, user: Any, text: str | None, *, kinds: Sequence[str], engine: SearchEngine,
                   now: datetime, zone: tzinfo, region: str = "VN", limit: int = BOX_LIMIT,
                   log_store: DocumentStore | None = None) -> SearchAnswer:
    """The back office's search: up to ``limit`` results of each of ``kinds`` (those the user's
    role may search: ``searchable_kinds``) that ``user`` may read, grouped in the registry's order,
    then the log events (``"logs"`` among ``kinds``: searched in ``log_store``, even when the index
    is unavailable)."""
    answer = _answer(session, user, text or "", [name for name in kinds if name != LOGS], engine, limit, region,
                     now, lambda kind, ids: kind.show(session, ids, zone))
    if LOGS in kinds and log_store is not None:  # only admins have it among their kinds
        results = log_hits.log_results(log_store, text or "", limit=limit, zone=zone)
        if results:
            answer.groups.append(Group(LOGS, kind_label(LOGS), results))
    return answer


def search_own_records(session: Session, user: Any, patient_id: int, text: str | None, *, engine: SearchEngine,
                       now: datetime, zone: tzinfo, region: str = "VN", limit: int = BOX_LIMIT) -> SearchAnswer:
    """The portal's search: the patient's own appointments, signed visits, prescriptions of those
    visits and issued invoices, as the portal shows them (``Kind.show_own``)."""
    kinds = [name for name in PORTAL_KINDS if name in KINDS and KINDS[name].show_own is not None]

    def show(kind: Kind, ids: Sequence[int]) -> dict[int, Result]:
        assert kind.show_own is not None
        return kind.show_own(session, patient_id, ids, zone)

    return _answer(session, user, text or "", kinds, engine, limit, region, now, show, patient_id=patient_id)


# --- keeping the index -----------------------------------------------------------------------------

def _expand(session: Session, changes: Iterable[tuple[str, int]]) -> dict[str, set[int]]:
    wanted: dict[str, set[int]] = {}
    for kind, ref_id in changes:
        if kind == PATIENT_RECORDS_CHANGE:
            for name, model in PATIENT_RECORDS.items():
                ids = session.execute(select(model.id).where(model.patient_id == ref_id)).scalars()
                wanted.setdefault(name, set()).update(ids)
        elif kind in KINDS:
            wanted.setdefault(kind, set()).add(int(ref_id))
    return wanted


def index_records(session: Session, engine: SearchEngine, changes: Iterable[tuple[str, int]]) -> int:
    """Bring these records' documents up to date: written again when the record exists (and is
    searchable), removed when it does not. ``changes``: (kind, id) pairs, and
    (``"patient_records"``, patient id) for every record naming a renamed patient."""
    written = 0
    for name, ids in _expand(session, changes).items():
        documents = KINDS[name].build(session, sorted(ids))
        written += engine.index(documents)
        gone = ids - {doc.ref_id for doc in documents}
        if gone:
            engine.delete(name, sorted(gone))
    return written


def index_documents(engine: SearchEngine, documents: Iterable[Document]) -> int:
    """Documents built elsewhere (a kind without SQL rows to watch, such as log events)."""
    return engine.index(documents)


def _batches(session: Session, kind: Kind, size: int,
             progress: Callable[[int], None] | None) -> Iterator[list[Document]]:
    last = 0
    query = kind.all_ids()
    id_column = query.selected_columns[0]
    while True:
        ids = list(session.execute(query.where(id_column > last).order_by(id_column).limit(size)).scalars())
        if not ids:
            return
        last = ids[-1]
        documents = kind.build(session, ids)
        session.expunge_all()  # a reindex of 100,000 rows keeps no more than a batch in memory
        if progress is not None:
            progress(len(ids))
        yield documents


def count(session: Session, kind_name: str) -> int:
    from sqlalchemy import func

    query = KINDS[kind_name].all_ids()
    return int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def reindex(session: Session, engine: SearchEngine, kind: str | None = None, *, batch: int = 1000,
            progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Rebuild the documents of ``kind`` (None: every kind; a missing or corrupt whoosh index is
    made anew first) from the database; how many documents each kind now has. ``progress(n)`` is
    called after each batch of ``n`` records."""
    names = [kind] if kind else list(KINDS)
    for name in names:
        if name not in KINDS:
            raise ValueError(f"unknown kind {name!r} (one of {', '.join(KINDS)})")
    if kind is None or engine.health().state not in (OK, INCOMPLETE):
        engine.clear()
    written = {name: engine.rebuild(name, _batches(session, KINDS[name], batch, progress)) for name in names}
    if kind is None:
        engine.mark_complete()
    return written


def health(engine: SearchEngine) -> Health:
    return engine.health()


_ = kinds_module  # the registry is filled on import
