"""Audit stamps are the server's: no REST resource lets any role write when a record was made,
changed or uploaded (``created_at``, ``updated_at``, ``uploaded_at``) or by whom (every ``*_by``,
``*_by_id``). A create or an edit that sends one is refused 422 naming the field (refusing says
more than silently ignoring it), and nothing is stored."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect as sa_inspect

from app.api import MODELS, NO_GENERIC_WRITES
from app.api.base import server_set
from app.permissions import CLINICAL, RESOURCE_BY_NAME, ROLE_CONFIGS, writable
from tests.factories import Api, token_headers
from tests.test_api_crud import CASES, _author

STAMP_TIME = "2020-01-01T00:00:00+07:00"


def stamps(name: str) -> list[str]:
    mapper = sa_inspect(MODELS[name])
    names = [attr.key for attr in mapper.column_attrs] + [rel.key for rel in mapper.relationships]
    return sorted(n for n in names if server_set(n) and n not in ("id", "search_text"))


def writers(name: str) -> list[str]:
    """Admin and one staff role that may write the resource (the refusal is the resource's
    schema, the same for every role)."""
    return ["admin"] + sorted(role.lower() for role in ROLE_CONFIGS if name in writable(role))[:1]


CASES_BY_FIELD = [(name, field, role) for name in sorted(MODELS) if name not in NO_GENERIC_WRITES
                  for field in stamps(name) for role in writers(name)]


def test_every_writable_resource_has_stamps_checked():
    checked = {name for name, _field, _role in CASES_BY_FIELD}
    # Attachment: read-only here; its upload endpoint refuses every field but the file (tests/test_files.py).
    # money is written only through the billing services, which set every stamp themselves
    assert {"Patient", "Appointment", "Encounter"} <= checked
    fields = {field for _name, field, _role in CASES_BY_FIELD}
    assert {"created_at", "updated_at", "created_by"} <= fields


def _value(field: str, user_id: int) -> object:
    return STAMP_TIME if field.endswith("_at") else user_id


@pytest.mark.parametrize("name,field,role", CASES_BY_FIELD)
def test_stamps_cannot_be_written(app, client, clinic, admin_id, name, field, role):
    resource = RESOURCE_BY_NAME[name].api
    as_role = Api(client, token_headers(app, role))
    admin = Api(client, token_headers(app, "admin"))
    body = CASES[name].create(clinic)
    if name in CLINICAL:  # both are outside the test patient's care team (issue 8)
        clinic.break_glass("admin")
        clinic.break_glass(role)
        _author(clinic, admin_id)  # only the author of a draft record changes it (issue 9)
    before = admin.count(resource)

    refused = as_role.post(resource, {**body, field: _value(field, admin_id)})
    assert refused.status_code == 422, refused.get_json()
    assert field in refused.get_json()["message"], refused.get_json()
    assert admin.count(resource) == before

    pk = admin.create(resource, body)
    shown = admin.show(resource, pk)
    refused = as_role.put(resource, pk, {field: _value(field, admin_id)})
    assert refused.status_code == 422, refused.get_json()
    assert field in refused.get_json()["message"], refused.get_json()
    assert admin.show(resource, pk) == shown
