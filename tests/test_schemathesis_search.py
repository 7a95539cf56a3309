"""The search API (``/api/v1/search/``) fuzzed from the OpenAPI document, for staff, an admin (who
also searches the log events) and a patient, over a small indexed clinic: no input (operators,
quotes, emoji, control characters, very long text) answers a server error, every answer matches
its documented schema."""
from __future__ import annotations

import pytest

from tests.fuzzing import examples, fuzz_operations, report, under

EXAMPLES = examples(60)


@pytest.fixture
def indexed(app, db, clinic):
    from app.extensions import db as database
    from app.services import search

    assert clinic.appointment and clinic.invoice
    app.config["SEARCH_ENGINE"] = "whoosh"
    with app.app_context():
        engine = search.make_engine(app.config, database.engine)
        search.reindex(database.session, engine)
    yield engine
    app.config["SEARCH_ENGINE"] = ""


@pytest.mark.parametrize("role", ["receptionist", "admin", "patient"])
def test_search_operations(app, indexed, role):
    operations, failures = fuzz_operations(app, role, under("/api/v1/search/"), examples=EXAMPLES)
    assert operations == 1
    assert not failures, report(failures)
