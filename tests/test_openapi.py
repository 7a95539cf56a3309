"""The API's OpenAPI document (``/api/v1/_openapi``) is valid, so that clients and fuzzers can use
every operation; the hand-written endpoints are documented from their marshmallow schemas."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import OpenAPIV30SpecValidator

from app.api import billing_schemas, profile_schemas, schemas
from app.api.billing import BillingApi
from app.api.booking import BookingApi
from app.api.profile import ProfileApi
from app.api.series import SeriesApi

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def document(app) -> dict:
    from tests.factories import token_headers

    response = app.test_client().get("/api/v1/_openapi", headers=token_headers(app, "admin"))
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid(document):
    errors = [f"{list(error.absolute_path)}: {error.message}"
              for error in OpenAPIV30SpecValidator(document).iter_errors()]
    assert not errors, "\n".join(errors[:20])


def _bounds(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("minimum", "maximum"):
                yield f"{path}/{key}", value
            else:
                yield from _bounds(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _bounds(value, f"{path}/{index}")


def test_every_bound_is_a_number(document):
    bounds = list(_bounds(document))
    assert len(bounds) > 100
    assert [(path, value) for path, value in bounds if not isinstance(value, (int, float))] == []


@pytest.mark.parametrize("path,method,body", [
    ("/api/v1/appointments/book", "post", "BookRequest"),
    ("/api/v1/appointments/{pk}/status", "post", "StatusRequest"),
    ("/api/v1/appointments/{pk}/cancel", "post", "CancelRequest"),
    ("/api/v1/appointments/{pk}/reschedule", "post", "RescheduleRequest"),
    ("/api/v1/series/preview", "post", "SeriesRequest"),
    ("/api/v1/series/book", "post", "SeriesBookRequest"),
    ("/api/v1/series/appointments/{pk}/cancel-rest", "post", "CancelRestRequest"),
    ("/api/v1/me", "patch", "ProfilePatch"),
    ("/api/v1/billing/invoices", "post", "NewInvoiceRequest"),
    ("/api/v1/billing/invoices/{pk}/lines", "post", "LineRequest"),
    ("/api/v1/billing/lines/{pk}", "patch", "LinePatch"),
    ("/api/v1/billing/lines/{pk}", "put", "LinePatch"),
    ("/api/v1/billing/invoices/{pk}/discount", "put", "DiscountRequest"),
    ("/api/v1/billing/invoices/{pk}/issue", "post", "IssueRequest"),
    ("/api/v1/billing/invoices/{pk}/void", "post", "VoidRequest"),
    ("/api/v1/billing/invoices/{pk}/payments", "post", "PaymentRequest"),
    ("/api/v1/billing/invoices/{pk}/checkout", "post", "CheckoutRequest"),
    ("/api/v1/billing/payments/{pk}/refunds", "post", "RefundRequest"),
])
def test_custom_endpoints_are_documented_from_their_schemas(document, path, method, body):
    operation = document["paths"][path][method]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{body}"}
    component = document["components"]["schemas"][body]
    module = next(m for m in (profile_schemas, billing_schemas, schemas) if hasattr(m, body))
    assert set(component["properties"]) == set(getattr(module, body)().fields)
    assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"}


def test_query_parameters_come_from_the_schema(document):
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/availability"]["get"]["parameters"]}
    assert set(parameters) == {"doctor_id", "service_id", "date_from", "date_to"}
    assert all(p["required"] and p["in"] == "query" for p in parameters.values())
    assert parameters["doctor_id"]["schema"]["maximum"] == 2**31 - 1


def test_the_billing_api_documents_its_query_header_and_provider_answers(document):
    search = {p["name"]: p for p in document["paths"]["/api/v1/billing/invoices"]["get"]["parameters"]}
    assert set(search) == {"number", "patient_id", "status", "date_from", "date_to", "page", "page_size"}
    assert all(p["in"] == "query" and not p.get("required") for p in search.values())
    for path in ("/api/v1/billing/invoices/{pk}/payments", "/api/v1/billing/payments/{pk}/refunds"):
        headers = [p for p in document["paths"][path]["post"]["parameters"] if p["in"] == "header"]
        assert [h["name"] for h in headers] == ["Idempotency-Key"]
    for path in ("/api/v1/billing/invoices/{pk}/checkout", "/api/v1/billing/payments/{pk}/refunds"):
        assert "502" in document["paths"][path]["post"]["responses"]
    assert "502" not in document["paths"]["/api/v1/billing/invoices/{pk}/payments"]["post"]["responses"]
    # Amounts are a decimal string or a number, both documented.
    amount = document["components"]["schemas"]["PaymentRequest"]["properties"]["amount"]
    assert {option["type"] for option in amount["oneOf"]} == {"string", "number"}


@pytest.mark.parametrize("api", [BookingApi, SeriesApi, ProfileApi, BillingApi])
def test_no_yaml_is_copied_into_docstrings(api):
    for name in api.method_permission_name:
        assert "---" not in (getattr(api, name).__doc__ or ""), name


def test_the_api_does_not_import_the_screens():
    code = ("import sys, app.api, app.api.base, app.api.booking, app.api.series, app.api.calendar, app.api.schemas;"
            "print(sorted(m for m in sys.modules if m.startswith('app.views')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
