"""The document store's additions for chat (``until``, ``update``) and the chat's own storage,
against both adapters: the SQL table and MongoDB (``mongomock`` stands in: no MongoDB server can
run here; see tests/test_documents.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.documents import DocumentStore
from tests.test_documents import ADAPTERS, T0, _seed


@pytest.fixture(params=sorted(ADAPTERS))
def store(request, tmp_path) -> DocumentStore:
    return ADAPTERS[request.param][0](tmp_path)


def test_until_bounds_the_time_inclusively(store):
    ids = _seed(store)
    found = store.find("chat", until=T0 + timedelta(minutes=2), newest_first=False)
    assert [d["id"] for d in found] == ids[:3]
    window = store.find("chat", since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3), limit=10)
    assert [d["n"] for d in window] == [3, 2, 1]
    assert [d["n"] for d in store.find("chat", {"room": "a"}, until=T0 + timedelta(minutes=3))] == [2, 0]


def test_until_needs_an_aware_time(store):
    with pytest.raises(ValueError):
        store.find("chat", until=T0.replace(tzinfo=None))


def test_update_sets_fields_and_keeps_the_rest(store):
    ids = _seed(store)
    assert store.update("chat", ids[1], {"read_at": T0 + timedelta(hours=1), "chosen": 2}) is True
    doc = store.get("chat", ids[1])
    assert doc["read_at"] == T0 + timedelta(hours=1) and doc["chosen"] == 2
    assert doc["sender"] == "user1" and doc["created_at"] == T0 + timedelta(minutes=1)
    assert store.find("chat", {"chosen": 2})[0]["id"] == ids[1]
    assert store.update("chat", "missing", {"chosen": 1}) is False
    assert store.get("chat", ids[0]).get("chosen") is None


@pytest.mark.parametrize("changes", [{}, {"id": "x"}, {"created_at": T0}, {"$set": 1}, {"a.b": 1}])
def test_update_refuses_what_it_cannot_set(store, changes):
    ids = _seed(store)
    with pytest.raises((ValueError, TypeError)):
        store.update("chat", ids[0], changes)
    assert store.get("chat", ids[0])["n"] == 0


def test_chat_history_survives_a_new_store_on_the_same_database(tmp_path):
    """A restart: a new SQL store over the same database file reads the same messages."""
    first = ADAPTERS["sql"][0](tmp_path)
    first.insert("chat_7", {"conversation_id": 7, "sender": "patient", "text": "Cho tôi hỏi giá khám tổng quát",
                            "created_at": T0})
    again = ADAPTERS["sql"][0](tmp_path)
    assert [d["text"] for d in again.find("chat_7")] == ["Cho tôi hỏi giá khám tổng quát"]
