"""The dashboards' JSON API (``/api/v1/dashboards/figure``) fuzzed from the OpenAPI document, on
the small clinic of ``tests/dashboard_data.py``: no input answers a server error, every answer
matches its documented schema (a 422 names the broken fields)."""
from __future__ import annotations

import pytest

from tests.dashboard_data import build
from tests.fuzzing import examples, fuzz_operations, report, under

EXAMPLES = examples(40)


@pytest.fixture
def dashboard_data(db):
    return build(db.session)


@pytest.mark.parametrize("role", ["manager"])
def test_dashboard_operations(app, dashboard_data, role):
    operations, failures = fuzz_operations(app, role, under("/api/v1/dashboards/"), examples=EXAMPLES)
    assert operations == 1
    assert not failures, report(failures)
