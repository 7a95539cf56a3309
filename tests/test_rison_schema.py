"""FAB's ``@rison`` decorator validates ``q`` against a constant schema; ``app.fab.rison`` checks
each schema once per process instead of on every request, with the same answers."""
from __future__ import annotations

import inspect

import flask_appbuilder.api as fab_api
import jsonschema
import pytest

from app.fab.rison import SchemaCheckedOnce


def test_fab_still_validates_rison_with_jsonschema_validate():
    """``jsonschema.validate`` checks the schema against the meta-schema before every validation.
    When this fails, FAB validates differently and ``app.fab.rison`` may no longer be needed."""
    assert "jsonschema.validate(instance=" in inspect.getsource(fab_api.rison)


@pytest.fixture
def schema_checks(monkeypatch):
    """A fresh stand-in, and a count of the schema checks it makes."""
    checks: list[object] = []
    cls = jsonschema.validators.validator_for(fab_api.get_item_schema)
    original = cls.check_schema.__func__

    def counted(klass, schema, *args, **kwargs):
        checks.append(schema)
        return original(klass, schema, *args, **kwargs)

    monkeypatch.setattr(cls, "check_schema", classmethod(counted))
    monkeypatch.setattr(fab_api, "jsonschema", SchemaCheckedOnce())
    return checks


def test_each_schema_is_checked_once(app, api, schema_checks):
    for _ in range(3):
        assert api.client.get("/api/v1/patient/?q=(page_size:5)", headers=api.headers).status_code == 200
        assert api.client.get("/api/v1/patient/1?q=(keys:!(none))", headers=api.headers).status_code == 404
    assert schema_checks == [fab_api.get_list_schema, fab_api.get_item_schema]


def test_a_q_the_schema_refuses_is_still_a_400_naming_the_reason(app, api, schema_checks):
    response = api.client.get("/api/v1/patient/?q=(page_size:'many')", headers=api.headers)
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("Not a valid rison schema 'many' is not of type 'integer'")
    response = api.client.get("/api/v1/patient/1?q=(keys:!(bogus))", headers=api.headers)
    assert response.status_code == 400
    assert "'bogus' is not one of" in response.get_json()["message"]
