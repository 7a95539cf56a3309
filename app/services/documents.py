"""A small document store for schemaless records (chat messages, log events).

Two adapters keep the same contract (``tests/test_documents.py`` runs against both):

* :class:`SqlDocumentStore` - the embedded default: JSON text in the ``stored_document`` table.
* :class:`MongoDocumentStore` - MongoDB through pymongo, chosen when ``MONGO_URI`` is set.

Documents are plain dicts of JSON values plus aware datetimes. Every stored document carries
``id`` (a string, generated unless given) and ``created_at`` (an aware UTC datetime, now unless
given). Datetimes are kept to the millisecond (MongoDB's precision) in both adapters.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa
from bson import ObjectId
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.models.audit import StoredDocument
from app.services.errors import Conflict

__all__ = [
    "DocumentStore", "DocumentStoreUnavailable", "MongoDocumentStore", "SqlDocumentStore",
    "make_document_store",
]

ID_MAX_LENGTH = 36
COLLECTION_MAX_LENGTH = 60
_DATE_TAG = "$date"


class DocumentStoreUnavailable(RuntimeError):
    """The store cannot be reached or is not set up (raised by ``ping``)."""


@runtime_checkable
class DocumentStore(Protocol):
    """What chat and logging code may rely on, whichever backend is configured."""

    def insert(self, collection: str, doc: dict) -> str:
        """Store a copy of ``doc``; return its id. Raises ``Conflict`` if the given id exists."""

    def get(self, collection: str, doc_id: str) -> dict | None:
        """The document with ``id == doc_id``, or None."""

    def find(
        self,
        collection: str,
        filters: dict[str, Any] | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        newest_first: bool = True,
        contains: Mapping[str, str] | None = None,
    ) -> list[dict]:
        """Documents whose top-level keys equal ``filters``, whose string fields named in
        ``contains`` hold the given text (case-insensitively; SQLite folds ASCII letters only),
        created at or after ``since`` and at or before ``until``, ordered by ``created_at``,
        at most ``limit``."""

    def insert_many(self, collection: str, docs: list[dict]) -> int:
        """Store copies of ``docs`` in one write; return how many. Ids are generated unless given."""

    def delete_older_than(self, collection: str, before: datetime, *, batch: int = 5000) -> int:
        """Remove the documents created before ``before`` (in batches); return how many."""

    def update(self, collection: str, doc_id: str, changes: dict[str, Any]) -> bool:
        """Set top-level fields of one document (MongoDB's ``$set``; ``id`` and ``created_at``
        cannot change); True if it existed."""

    def delete(self, collection: str, doc_id: str) -> bool:
        """Remove one document; True if it existed."""

    def count(self, collection: str, filters: dict[str, Any] | None = None) -> int:
        """How many documents match ``filters``."""

    def ping(self) -> None:
        """Return quietly if the store is usable; raise ``DocumentStoreUnavailable`` otherwise."""


# --- shared normalisation --------------------------------------------------------------------

def _utc_ms(value: datetime, what: str = "datetime") -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _clean(value: Any, path: str) -> Any:
    """A deep copy of ``value`` limited to JSON types and aware datetimes (UTC, milliseconds)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return _utc_ms(value, path)
    if isinstance(value, (list, tuple)):
        return [_clean(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings, got {key!r}")
            if key.startswith("$") or "." in key:
                raise ValueError(f"{path}: key {key!r} may not start with '$' or contain '.'")
            out[key] = _clean(item, f"{path}.{key}")
        return out
    raise TypeError(f"{path}: {type(value).__name__} cannot be stored in a document")


def _check_collection(collection: str) -> None:
    if not isinstance(collection, str) or not collection or len(collection) > COLLECTION_MAX_LENGTH:
        raise ValueError(f"collection must be a non-empty string of at most {COLLECTION_MAX_LENGTH} characters")
    if collection.startswith("system.") or "$" in collection:
        raise ValueError(f"invalid collection name {collection!r}")


def _prepare(doc: Mapping) -> tuple[str, datetime, dict]:
    """Validate ``doc``; return (id, created_at, body without id and created_at)."""
    if not isinstance(doc, Mapping):
        raise TypeError("doc must be a mapping")
    if "_id" in doc:
        raise ValueError("'_id' is reserved: pass 'id' to choose the document id")
    body = _clean(doc, "doc")
    doc_id = body.pop("id", None)
    if doc_id is None:
        doc_id = str(ObjectId())  # sorts by creation time within a process
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > ID_MAX_LENGTH:
        raise ValueError(f"id must be a non-empty string of at most {ID_MAX_LENGTH} characters")
    created_at = body.pop("created_at", None)
    created_at = _utc_ms(created_at, "created_at") if created_at is not None else _utc_ms(datetime.now(timezone.utc))
    return doc_id, created_at, body


def _prepare_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Filters are top-level equality tests on scalar values (or aware datetimes)."""
    out: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if not isinstance(key, str) or key.startswith("$") or "." in key or key == "_id":
            raise ValueError(f"filter key {key!r} is not a top-level field name")
        if isinstance(value, (list, tuple, Mapping)):
            raise TypeError(f"filter on {key!r}: only scalar values can be compared")
        out[key] = _clean(value, f"filters.{key}")
    return out


def _prepare_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``update``'s changes: top-level fields other than ``id`` and ``created_at``, cleaned as a body."""
    if not isinstance(changes, Mapping) or not changes:
        raise ValueError("changes must be a non-empty mapping of field names to values")
    if any(key in ("id", "_id", "created_at") for key in changes):
        raise ValueError("'id' and 'created_at' cannot be changed")
    return _clean(changes, "changes")


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError("limit must be a positive integer")


def _same(value: Any, expected: Any) -> bool:
    """Equality as MongoDB sees it: bools never equal numbers; an array matches an element."""
    if isinstance(value, list) and not isinstance(expected, list):
        return any(_same(item, expected) for item in value)
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return value == expected


def _matches(doc: Mapping, filters: Mapping[str, Any]) -> bool:
    return all(_same(doc.get(key), expected) for key, expected in filters.items())


_FIELD = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _check_field(name: str) -> str:
    """A declared scalar field: written into SQL as a JSON path, so only plain lower-case names."""
    if not _FIELD.fullmatch(name):
        raise ValueError(f"scalar field {name!r} must be lower-case letters, digits and underscores")
    return name


def _prepare_contains(contains: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, needle in (contains or {}).items():
        if not isinstance(key, str) or key.startswith("$") or "." in key or key in ("_id", "id", "created_at"):
            raise ValueError(f"contains key {key!r} is not a top-level text field name")
        if not isinstance(needle, str):
            raise TypeError(f"contains on {key!r}: the text must be a string")
        if needle:
            out[key] = needle
    return out


def _contains(doc: Mapping, needles: Mapping[str, str]) -> bool:
    for key, needle in needles.items():
        value = doc.get(key)
        if not isinstance(value, str) or needle.casefold() not in value.casefold():
            return False
    return True


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pushable(value: Any) -> bool:
    """A filter value SQL compares as MongoDB would: a string or a whole number (not a bool)."""
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _dialect(session: Session) -> str:
    bind = session.get_bind()
    return bind.dialect.name


def _json_field(key: str, dialect: str) -> sa.ColumnElement[Any]:
    """Field ``key`` of the JSON body as SQL, written exactly as the expression indexes of
    migration 0027 are (the planner matches the expression's text, and a bound path would not)."""
    key = _check_field(key)
    if dialect == "postgresql":
        return sa.literal_column(f"(CAST(stored_document.body AS JSONB) ->> '{key}')", sa.UnicodeText)
    if dialect == "mssql":
        return sa.literal_column(f"JSON_VALUE(stored_document.body, '$.{key}')", sa.UnicodeText)
    return sa.literal_column(f"json_extract(stored_document.body, '$.{key}')")


def _json_value(value: str | int, dialect: str) -> Any:
    """PostgreSQL's ``->>`` and SQL Server's JSON_VALUE give text; SQLite's json_extract gives
    the JSON value's own type."""
    return value if dialect not in ("postgresql", "mssql") else str(value)


# --- SQL adapter -----------------------------------------------------------------------------

def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATE_TAG: value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_hook(obj: dict) -> Any:
    if len(obj) == 1 and _DATE_TAG in obj:
        return datetime.fromisoformat(obj[_DATE_TAG]).astimezone(timezone.utc)
    return obj


def _dumps(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _loads(text: str) -> dict:
    return json.loads(text, object_hook=_json_hook)


class SqlDocumentStore:
    """Documents as JSON text in ``stored_document`` (the embedded default).

    ``session_factory`` is a zero-argument callable returning a *new* Session, such as
    ``sessionmaker(engine)`` or ``lambda: Session(db.engine)``; each call commits on its own,
    independently of any request transaction. Collection, ``since``, ordering, id look-ups and
    (without filters) the limit run in SQL; equality filters on body fields run in Python over
    the rows already narrowed by collection and ``since``, read in batches until ``limit`` match.
    """

    _BATCH = 500

    def __init__(self, session_factory: Callable[[], Session],
                 scalar_fields: Mapping[str, tuple[str, ...]] | None = None):
        """``scalar_fields``: per collection, the top-level fields that always hold a string or an
        integer (the log events' level, request id, user...). Equality filters and ``contains`` on
        them run in SQL on the field extracted from the JSON text (expression indexes on
        ``stored_document``, migration 0027, make the indexed ones fast); filters on other fields
        still run in Python."""
        self._session_factory = session_factory
        self._scalar_fields = {name: frozenset(_check_field(f) for f in fields)
                               for name, fields in (scalar_fields or {}).items()}

    def insert(self, collection: str, doc: dict) -> str:
        _check_collection(collection)
        doc_id, created_at, body = _prepare(doc)
        with self._session_factory() as session:
            session.add(StoredDocument(collection=collection, doc_id=doc_id, body=_dumps(body), created_at=created_at))
            try:
                session.commit()
            except IntegrityError as exc:
                session.rollback()
                raise Conflict(f"document {doc_id!r} already exists in {collection!r}", field="id") from exc
        return doc_id

    def insert_many(self, collection: str, docs: list[dict]) -> int:
        _check_collection(collection)
        rows = []
        for doc in docs:
            doc_id, created_at, body = _prepare(doc)
            rows.append({"collection": collection, "doc_id": doc_id, "body": _dumps(body), "created_at": created_at})
        if not rows:
            return 0
        with self._session_factory() as session:
            try:
                session.execute(sa.insert(StoredDocument), rows)
                session.commit()
            except IntegrityError as exc:
                session.rollback()
                raise Conflict(f"a document id given already exists in {collection!r}", field="id") from exc
        return len(rows)

    def delete_older_than(self, collection: str, before: datetime, *, batch: int = 5000) -> int:
        _check_collection(collection)
        _check_limit(batch)
        cutoff = _utc_ms(before, "before")
        removed = 0
        while True:  # in batches: one short transaction each, never a table-long lock
            with self._session_factory() as session:
                ids = sa.select(StoredDocument.id).where(
                    StoredDocument.collection == collection, StoredDocument.created_at < cutoff,
                ).order_by(StoredDocument.created_at).limit(batch).scalar_subquery()
                deleted = session.execute(sa.delete(StoredDocument).where(StoredDocument.id.in_(ids))).rowcount  # type: ignore[attr-defined]
                session.commit()
            removed += deleted
            if deleted < batch:
                return removed

    def get(self, collection: str, doc_id: str) -> dict | None:
        _check_collection(collection)
        stmt = self._select(collection).where(StoredDocument.doc_id == doc_id)
        with self._session_factory() as session:
            row = session.execute(stmt).first()
        return self._to_doc(row) if row else None

    def find(
        self,
        collection: str,
        filters: dict[str, Any] | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        newest_first: bool = True,
        contains: Mapping[str, str] | None = None,
    ) -> list[dict]:
        _check_collection(collection)
        _check_limit(limit)
        needles = _prepare_contains(contains)
        order = (sa.desc, sa.desc) if newest_first else (sa.asc, sa.asc)
        with self._session_factory() as session:
            dialect = _dialect(session)
            stmt, rest = self._narrow(collection, filters, since, until, needles=needles, dialect=dialect)
            stmt = stmt.order_by(order[0](StoredDocument.created_at), order[1](StoredDocument.id))
            if not rest and not needles:
                return [self._to_doc(row) for row in session.execute(stmt.limit(limit))]
            if dialect == "postgresql" and (rest or needles):
                # Plan with the values, every time: psycopg prepares a statement run five times,
                # and PostgreSQL's generic plan of a text search then reads every trigram match
                # (a second on a million events) where the values' own plan takes milliseconds.
                session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
            if self._all_in_sql(collection, rest, needles):
                # SQL has applied every filter: its LIMIT holds (the check below only drops a
                # document that broke the scalar promise, so a page may then come out short).
                rows = [self._to_doc(row) for row in session.execute(stmt.limit(limit))]
                return [doc for doc in rows if _matches(doc, rest) and _contains(doc, needles)]
            found: list[dict] = []
            for doc in self._stream(session, stmt):
                if _matches(doc, rest) and _contains(doc, needles):
                    found.append(doc)
                    if len(found) >= limit:
                        break
        return found

    def update(self, collection: str, doc_id: str, changes: dict[str, Any]) -> bool:
        _check_collection(collection)
        body_changes = _prepare_changes(changes)
        stmt = (sa.select(StoredDocument)
                .where(StoredDocument.collection == collection, StoredDocument.doc_id == doc_id)
                .with_for_update())
        with self._session_factory() as session:
            row = session.execute(stmt).scalar_one_or_none()
            if row is None:
                return False
            row.body = _dumps({**_loads(row.body), **body_changes})
            session.commit()
        return True

    def delete(self, collection: str, doc_id: str) -> bool:
        _check_collection(collection)
        stmt = sa.delete(StoredDocument).where(
            StoredDocument.collection == collection, StoredDocument.doc_id == doc_id
        )
        with self._session_factory() as session:
            deleted = session.execute(stmt).rowcount  # type: ignore[attr-defined]  # a DML result
            session.commit()
        return bool(deleted)

    def count(self, collection: str, filters: dict[str, Any] | None = None) -> int:
        _check_collection(collection)
        with self._session_factory() as session:
            stmt, rest = self._narrow(collection, filters, None, dialect=_dialect(session))
            if not rest:
                counted = sa.select(sa.func.count()).select_from(stmt.subquery())
                return int(session.execute(counted).scalar_one())
            return sum(1 for doc in self._stream(session, stmt) if _matches(doc, rest))

    def ping(self) -> None:
        try:
            with self._session_factory() as session:
                session.execute(sa.select(StoredDocument.id).limit(1)).all()
        except SQLAlchemyError as exc:
            raise DocumentStoreUnavailable(f"SQL document store unusable: {exc}") from exc

    # helpers

    @staticmethod
    def _select(collection: str) -> sa.Select:
        return sa.select(StoredDocument.doc_id, StoredDocument.created_at, StoredDocument.body).where(
            StoredDocument.collection == collection
        )

    def _all_in_sql(self, collection: str, rest: Mapping[str, Any], needles: Mapping[str, str]) -> bool:
        scalar = self._scalar_fields.get(collection, frozenset())
        return all(key in scalar and _pushable(value) for key, value in rest.items()) and \
            all(key in scalar for key in needles)

    def _narrow(
        self, collection: str, filters: dict[str, Any] | None, since: datetime | None,
        until: datetime | None = None, *, needles: Mapping[str, str] | None = None, dialect: str = "",
    ) -> tuple[sa.Select, dict[str, Any]]:
        """The SQL part of a query, and the filters left for Python. Filters on the collection's
        scalar fields narrow in SQL too, and are checked again in Python (a document that broke
        the promise, ``"3"`` where ``3`` is meant, is then left out as MongoDB would)."""
        rest = _prepare_filters(filters)
        stmt = self._select(collection)
        scalar = self._scalar_fields.get(collection, frozenset())
        for key, value in rest.items():
            if key in scalar and _pushable(value):
                stmt = stmt.where(_json_field(key, dialect) == _json_value(value, dialect))
        for key, needle in (needles or {}).items():
            if key in scalar:
                stmt = stmt.where(_json_field(key, dialect).ilike(f"%{_like_escape(needle)}%", escape="\\"))
        if since is not None:
            stmt = stmt.where(StoredDocument.created_at >= _utc_ms(since, "since"))
        if until is not None:
            stmt = stmt.where(StoredDocument.created_at <= _utc_ms(until, "until"))
        if "id" in rest:
            wanted = rest.pop("id")
            stmt = stmt.where(StoredDocument.doc_id == wanted) if isinstance(wanted, str) else stmt.where(sa.false())
        if "created_at" in rest:
            wanted = rest.pop("created_at")
            matches = StoredDocument.created_at == wanted if isinstance(wanted, datetime) else sa.false()
            stmt = stmt.where(matches)
        return stmt, rest

    def _stream(self, session: Session, stmt: sa.Select) -> Iterator[dict]:
        for row in session.execute(stmt.execution_options(yield_per=self._BATCH)):
            yield self._to_doc(row)

    @staticmethod
    def _to_doc(row: Any) -> dict:
        body = _loads(row.body)
        return {"id": row.doc_id, "created_at": row.created_at, **body}


# --- MongoDB adapter -------------------------------------------------------------------------

def _aware(value: Any) -> Any:
    """pymongo/mongomock datetimes -> aware UTC with ``datetime.timezone.utc``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    if isinstance(value, list):
        return [_aware(item) for item in value]
    if isinstance(value, dict):
        return {key: _aware(item) for key, item in value.items()}
    return value


class MongoDocumentStore:
    """Documents in MongoDB: one collection per name, ``_id`` holding the string id.

    The database is the one named in ``uri`` (``clinic`` if none). ``client`` may be injected
    (tests pass a ``mongomock.MongoClient``); otherwise a pymongo client is made with
    ``uuidRepresentation="standard"`` and ``tz_aware=True``.
    """

    def __init__(self, uri: str, *, client: Any = None, server_timeout_ms: int = 5000,
                 indexed_fields: Mapping[str, tuple[str, ...]] | None = None):
        if client is None:
            from pymongo import MongoClient

            client = MongoClient(
                uri, uuidRepresentation="standard", tz_aware=True,
                serverSelectionTimeoutMS=server_timeout_ms, connect=False,
            )
        self._client = client
        self._db = client.get_default_database(default="clinic")
        self._indexed: set[str] = set()
        # Fields filtered often (the log viewer's): each gets an index with the time.
        self._indexed_fields = {name: tuple(_check_field(f) for f in fields)
                                for name, fields in (indexed_fields or {}).items()}

    def insert(self, collection: str, doc: dict) -> str:
        from pymongo.errors import DuplicateKeyError

        doc_id, created_at, body = _prepare(doc)
        try:
            self._collection(collection).insert_one({"_id": doc_id, "created_at": created_at, **body})
        except DuplicateKeyError as exc:
            raise Conflict(f"document {doc_id!r} already exists in {collection!r}", field="id") from exc
        return doc_id

    def insert_many(self, collection: str, docs: list[dict]) -> int:
        from pymongo.errors import BulkWriteError

        prepared = []
        for doc in docs:
            doc_id, created_at, body = _prepare(doc)
            prepared.append({"_id": doc_id, "created_at": created_at, **body})
        if not prepared:
            return 0
        try:
            self._collection(collection).insert_many(prepared, ordered=False)
        except BulkWriteError as exc:
            raise Conflict(f"a document id given already exists in {collection!r}", field="id") from exc
        return len(prepared)

    def delete_older_than(self, collection: str, before: datetime, *, batch: int = 5000) -> int:
        _check_limit(batch)
        cutoff = _utc_ms(before, "before")
        return int(self._collection(collection, index=False).delete_many({"created_at": {"$lt": cutoff}}).deleted_count)

    def get(self, collection: str, doc_id: str) -> dict | None:
        found = self._collection(collection, index=False).find_one({"_id": doc_id})
        return self._to_doc(found) if found else None

    def find(
        self,
        collection: str,
        filters: dict[str, Any] | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        newest_first: bool = True,
        contains: Mapping[str, str] | None = None,
    ) -> list[dict]:
        import re as regex

        _check_limit(limit)
        query = self._query(filters)
        for key, needle in _prepare_contains(contains).items():
            text_query = {key: {"$regex": regex.escape(needle), "$options": "i"}}
            query = {"$and": [query, text_query]} if key in query else {**query, **text_query}
        bounds: dict[str, datetime] = {}
        if since is not None:
            bounds["$gte"] = _utc_ms(since, "since")
        if until is not None:
            bounds["$lte"] = _utc_ms(until, "until")
        if bounds:
            if "created_at" in query:  # an equality filter on created_at as well
                query = {"$and": [query, {"created_at": bounds}]}
            else:
                query["created_at"] = bounds
        direction = -1 if newest_first else 1
        cursor = (
            self._collection(collection, index=False)
            .find(query)
            .sort([("created_at", direction), ("_id", direction)])
            .limit(limit)
        )
        return [self._to_doc(doc) for doc in cursor]

    def update(self, collection: str, doc_id: str, changes: dict[str, Any]) -> bool:
        body_changes = _prepare_changes(changes)
        result = self._collection(collection, index=False).update_one({"_id": doc_id}, {"$set": body_changes})
        return result.matched_count > 0

    def delete(self, collection: str, doc_id: str) -> bool:
        return self._collection(collection, index=False).delete_one({"_id": doc_id}).deleted_count > 0

    def count(self, collection: str, filters: dict[str, Any] | None = None) -> int:
        return int(self._collection(collection, index=False).count_documents(self._query(filters)))

    def ping(self) -> None:
        try:
            self._client.admin.command("ping")
        except Exception as exc:  # pymongo raises several unrelated classes here
            raise DocumentStoreUnavailable(f"MongoDB document store unusable: {exc}") from exc

    # helpers

    def _collection(self, name: str, *, index: bool = True) -> Any:
        _check_collection(name)
        collection = self._db[name]
        if index and name not in self._indexed:
            collection.create_index([("created_at", -1), ("_id", -1)])
            for field in self._indexed_fields.get(name, ()):
                collection.create_index([(field, 1), ("created_at", -1)])
            self._indexed.add(name)
        return collection

    @staticmethod
    def _query(filters: dict[str, Any] | None) -> dict[str, Any]:
        return {("_id" if key == "id" else key): value for key, value in _prepare_filters(filters).items()}

    @staticmethod
    def _to_doc(raw: Mapping) -> dict:
        doc = _aware(dict(raw))
        doc_id = doc.pop("_id")
        return {"id": str(doc_id), "created_at": doc.pop("created_at", None), **doc}


# Fields of each collection that always hold a string or an integer: filtered in the database,
# and indexed (with the time) there. The log events: level, request id, user (the viewer's filters).
SCALAR_FIELDS: dict[str, tuple[str, ...]] = {
    "log_events": ("level", "request_id", "user_id", "route", "status", "logger", "job_id", "message"),
}
INDEXED_FIELDS = {"log_events": ("level", "request_id", "user_id", "status")}  # in SQL: migration 0027


def make_document_store(config: Mapping, session_factory: Callable[[], Session]) -> DocumentStore:
    """MongoDB when ``MONGO_URI`` is set, otherwise the SQL table behind ``session_factory``."""
    uri = config.get("MONGO_URI") or ""
    if uri:
        return MongoDocumentStore(uri, indexed_fields=INDEXED_FIELDS)
    return SqlDocumentStore(session_factory, scalar_fields=SCALAR_FIELDS)
