"""One contract for every DocumentStore adapter.

The SQL adapter runs on a real SQLite file. The Mongo adapter runs on ``mongomock``: no MongoDB
server can run in this environment, so only the adapter's query building and conversions are
exercised, not a real server (mongomock also treats ``1 == True`` in queries, unlike MongoDB).
The unreachable-store test does use the real pymongo client, against a closed port.
"""
from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import mongomock
import pytest
import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import sessionmaker

import app.models  # noqa: F401 - registers every table on the shared metadata
from app.services.documents import (
    DocumentStore,
    DocumentStoreUnavailable,
    MongoDocumentStore,
    SqlDocumentStore,
    make_document_store,
)
from app.services.errors import Conflict

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sql_store(tmp_path) -> SqlDocumentStore:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'docs.db'}")
    Model.metadata.create_all(engine)
    return SqlDocumentStore(sessionmaker(engine))


def _mongo_store(tmp_path) -> MongoDocumentStore:
    return MongoDocumentStore("mongodb://localhost/clinic_test", client=mongomock.MongoClient(tz_aware=True))


def _sql_unreachable(tmp_path) -> SqlDocumentStore:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'docs.db'}")
    return SqlDocumentStore(sessionmaker(engine))


def _mongo_unreachable(tmp_path) -> MongoDocumentStore:
    return MongoDocumentStore(f"mongodb://127.0.0.1:{_closed_port()}/clinic", server_timeout_ms=300)


ADAPTERS = {"sql": (_sql_store, _sql_unreachable), "mongo": (_mongo_store, _mongo_unreachable)}


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request):
    return request.param


@pytest.fixture
def store(adapter, tmp_path) -> DocumentStore:
    return ADAPTERS[adapter][0](tmp_path)


def _seed(store: DocumentStore) -> list[str]:
    """Five chat messages one minute apart, in two rooms."""
    ids = []
    for i in range(5):
        ids.append(store.insert("chat", {
            "room": "a" if i % 2 == 0 else "b", "n": i, "sender": f"user{i}",
            "tags": ["urgent"] if i == 3 else [], "created_at": T0 + timedelta(minutes=i),
        }))
    return ids


def test_adapters_satisfy_protocol(store):
    assert isinstance(store, DocumentStore)


def test_round_trip_vietnamese_and_nested(store):
    sent_at = datetime(2024, 5, 1, 15, 30, 12, 345678, tzinfo=timezone(timedelta(hours=7)))
    doc = {
        "text": "Chào bác sĩ, tôi bị đau đầu và sốt nhẹ từ hôm qua.",
        "patient": {"name": "Nguyễn Thị Hương", "age": 34, "allergies": ["penicillin", "đậu phộng"]},
        "sent_at": sent_at,
        "score": 4.5, "read": False, "reply_to": None,
        "history": [{"at": T0, "đã_xem": True}],
    }
    doc_id = store.insert("chat", doc)
    assert isinstance(doc_id, str) and doc_id
    assert "id" not in doc and "created_at" not in doc  # the caller's dict is not changed

    got = store.get("chat", doc_id)
    assert got["id"] == doc_id
    assert got["text"] == doc["text"]
    assert got["patient"] == doc["patient"]
    assert got["score"] == 4.5 and got["read"] is False and got["reply_to"] is None
    # Datetimes come back aware, in UTC, to the millisecond.
    assert got["sent_at"] == sent_at.replace(microsecond=345000)
    assert got["sent_at"].tzinfo == timezone.utc
    assert got["history"] == [{"at": T0, "đã_xem": True}]
    assert got["history"][0]["at"].tzinfo == timezone.utc
    created = got["created_at"]
    assert created.tzinfo == timezone.utc
    assert abs(datetime.now(timezone.utc) - created) < timedelta(minutes=1)
    assert store.get("chat", "nope") is None
    assert store.get("other", doc_id) is None  # collections are separate


def test_given_id_and_created_at_are_kept_and_ids_unique(store):
    assert store.insert("log", {"id": "evt-1", "created_at": T0, "msg": "x"}) == "evt-1"
    assert store.get("log", "evt-1")["created_at"] == T0
    with pytest.raises(Conflict):
        store.insert("log", {"id": "evt-1", "msg": "again"})
    assert store.insert("log2", {"id": "evt-1"}) == "evt-1"  # same id, other collection


def test_invalid_documents_are_refused(store):
    with pytest.raises(ValueError):
        store.insert("log", {"created_at": datetime(2024, 1, 1)})  # naive
    with pytest.raises(TypeError):
        store.insert("log", {"when": object()})
    with pytest.raises(ValueError):
        store.insert("log", {"_id": "x"})
    with pytest.raises(ValueError):
        store.insert("log", {"nested": {"$date": "2024"}})
    with pytest.raises(ValueError):
        store.find("log", since=datetime(2024, 1, 1))  # naive
    with pytest.raises(ValueError):
        store.find("log", limit=0)


def test_filters(store):
    _seed(store)
    assert [d["n"] for d in store.find("chat", {"room": "a"})] == [4, 2, 0]
    assert [d["n"] for d in store.find("chat", {"room": "b", "sender": "user3"})] == [3]
    assert store.find("chat", {"room": "c"}) == []
    assert [d["n"] for d in store.find("chat", {"tags": "urgent"})] == [3]  # array contains
    assert [d["n"] for d in store.find("chat", {"missing": None})] == [4, 3, 2, 1, 0]
    assert [d["n"] for d in store.find("chat", {"n": 2})] == [2]
    some_id = store.find("chat", {"n": 1})[0]["id"]
    assert [d["n"] for d in store.find("chat", {"id": some_id})] == [1]
    assert [d["n"] for d in store.find("chat", {"created_at": T0 + timedelta(minutes=2)})] == [2]


def test_since_ordering_and_limit(store):
    _seed(store)
    assert [d["n"] for d in store.find("chat")] == [4, 3, 2, 1, 0]
    assert [d["n"] for d in store.find("chat", newest_first=False)] == [0, 1, 2, 3, 4]
    since = T0 + timedelta(minutes=2)
    assert [d["n"] for d in store.find("chat", since=since)] == [4, 3, 2]  # inclusive
    assert [d["n"] for d in store.find("chat", since=since, newest_first=False, limit=2)] == [2, 3]
    local = since.astimezone(timezone(timedelta(hours=7)))
    assert [d["n"] for d in store.find("chat", since=local)] == [4, 3, 2]
    assert [d["n"] for d in store.find("chat", limit=2)] == [4, 3]
    assert [d["n"] for d in store.find("chat", {"room": "a"}, limit=2, newest_first=False)] == [0, 2]
    assert [d["n"] for d in store.find("chat", {"room": "a"}, since=since)] == [4, 2]


def test_same_instant_keeps_insertion_order(store):
    for i in range(3):
        store.insert("chat", {"n": i, "created_at": T0})
    assert [d["n"] for d in store.find("chat", newest_first=False)] == [0, 1, 2]
    assert [d["n"] for d in store.find("chat")] == [2, 1, 0]


def test_delete_and_count(store):
    ids = _seed(store)
    assert store.count("chat") == 5
    assert store.count("chat", {"room": "a"}) == 3
    assert store.count("empty") == 0
    assert store.delete("chat", ids[0]) is True
    assert store.delete("chat", ids[0]) is False
    assert store.get("chat", ids[0]) is None
    assert store.count("chat") == 4
    assert store.count("chat", {"room": "a"}) == 2


def test_ping(store, adapter, tmp_path):
    store.ping()
    with pytest.raises(DocumentStoreUnavailable):
        ADAPTERS[adapter][1](tmp_path).ping()


def test_factory_chooses_by_mongo_uri(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'docs.db'}")
    assert isinstance(make_document_store({"MONGO_URI": ""}, sessionmaker(engine)), SqlDocumentStore)
    assert isinstance(make_document_store({}, sessionmaker(engine)), SqlDocumentStore)
    mongo = make_document_store({"MONGO_URI": f"mongodb://127.0.0.1:{_closed_port()}/x"}, sessionmaker(engine))
    assert isinstance(mongo, MongoDocumentStore)


def test_insert_many_and_delete_older_than(store):
    docs = [{"level": "INFO", "n": i, "created_at": T0 + timedelta(days=i)} for i in range(5)]
    assert store.insert_many("log_events", docs) == 5 and store.insert_many("log_events", []) == 0
    store.insert("chat", {"created_at": T0, "text": "other collection"})
    assert store.delete_older_than("log_events", T0 + timedelta(days=3)) == 3
    assert [d["n"] for d in store.find("log_events")] == [4, 3]
    assert store.count("chat") == 1
    given = store.find("log_events")[0]["id"]
    with pytest.raises(Conflict):
        store.insert_many("log_events", [{"id": given}])


def test_contains_is_case_insensitive_and_literal(store):
    store.insert_many("log_events", [
        {"message": "Payment 100% done_now", "created_at": T0},
        {"message": "payment failed", "created_at": T0 + timedelta(seconds=1)},
        {"message": 42, "created_at": T0 + timedelta(seconds=2)},
        {"other": "payment", "created_at": T0 + timedelta(seconds=3)}])
    assert [d["message"] for d in store.find("log_events", contains={"message": "PAYMENT"})] == [
        "payment failed", "Payment 100% done_now"]
    assert [d["message"] for d in store.find("log_events", contains={"message": "0% d"})] == ["Payment 100% done_now"]
    assert store.find("log_events", contains={"message": ".*"}) == []  # never a pattern
    assert store.find("log_events", contains={"message": "_n"}) != [] and \
        store.find("log_events", contains={"message": "%_x"}) == []
    with pytest.raises(ValueError):
        store.find("log_events", contains={"$where": "x"})


def test_declared_scalar_fields_filter_in_sql_and_keep_mongo_semantics(tmp_path):
    from app.services.documents import SCALAR_FIELDS

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'scalar.db'}")
    Model.metadata.create_all(engine)
    store = SqlDocumentStore(sessionmaker(engine), scalar_fields=SCALAR_FIELDS)
    store.insert_many("log_events", [
        {"user_id": 3, "level": "INFO", "created_at": T0},
        {"user_id": "3", "level": "INFO", "created_at": T0 + timedelta(seconds=1)},  # the promise broken
        {"user_id": 4, "level": "ERROR", "status": 500, "created_at": T0 + timedelta(seconds=2)}])
    assert [d["created_at"] for d in store.find("log_events", {"user_id": 3})] == [T0]
    assert store.count("log_events", {"level": "INFO"}) == 2
    assert [d["status"] for d in store.find("log_events", {"status": 500, "level": "ERROR"})] == [500]
    with pytest.raises(ValueError):
        SqlDocumentStore(sessionmaker(engine), scalar_fields={"log_events": ("Bad-Name",)})
