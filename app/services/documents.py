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
    ) -> list[dict]:
        """Documents whose top-level keys equal ``filters``, created at or after ``since`` and at
        or before ``until``, ordered by ``created_at``, at most ``limit``."""

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

    def __init__(self, session_factory: Callable[[], Session]):
        self._session_factory = session_factory

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
    ) -> list[dict]:
        _check_collection(collection)
        _check_limit(limit)
        stmt, rest = self._narrow(collection, filters, since, until)
        order = (sa.desc, sa.desc) if newest_first else (sa.asc, sa.asc)
        stmt = stmt.order_by(order[0](StoredDocument.created_at), order[1](StoredDocument.id))
        if not rest:
            with self._session_factory() as session:
                return [self._to_doc(row) for row in session.execute(stmt.limit(limit))]
        found: list[dict] = []
        with self._session_factory() as session:
            for doc in self._stream(session, stmt):
                if _matches(doc, rest):
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
        stmt, rest = self._narrow(collection, filters, None)
        with self._session_factory() as session:
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

    def _narrow(
        self, collection: str, filters: dict[str, Any] | None, since: datetime | None,
        until: datetime | None = None,
    ) -> tuple[sa.Select, dict[str, Any]]:
        """The SQL part of a query, and the filters left for Python."""
        rest = _prepare_filters(filters)
        stmt = self._select(collection)
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

    def __init__(self, uri: str, *, client: Any = None, server_timeout_ms: int = 5000):
        if client is None:
            from pymongo import MongoClient

            client = MongoClient(
                uri, uuidRepresentation="standard", tz_aware=True,
                serverSelectionTimeoutMS=server_timeout_ms, connect=False,
            )
        self._client = client
        self._db = client.get_default_database(default="clinic")
        self._indexed: set[str] = set()

    def insert(self, collection: str, doc: dict) -> str:
        from pymongo.errors import DuplicateKeyError

        doc_id, created_at, body = _prepare(doc)
        try:
            self._collection(collection).insert_one({"_id": doc_id, "created_at": created_at, **body})
        except DuplicateKeyError as exc:
            raise Conflict(f"document {doc_id!r} already exists in {collection!r}", field="id") from exc
        return doc_id

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
    ) -> list[dict]:
        _check_limit(limit)
        query = self._query(filters)
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


def make_document_store(config: Mapping, session_factory: Callable[[], Session]) -> DocumentStore:
    """MongoDB when ``MONGO_URI`` is set, otherwise the SQL table behind ``session_factory``."""
    uri = config.get("MONGO_URI") or ""
    if uri:
        return MongoDocumentStore(uri)
    return SqlDocumentStore(session_factory)
