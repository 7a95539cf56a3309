"""The billing API's operations (``/api/v1/billing/…``) fuzzed deeper than the suite-wide run
(tests/test_schemathesis.py), as a cashier and as a patient: no server error, every answer as
documented. The one documented server answer is the 502 of the operations that ask a payment
provider (card and VNPay checkout, a refund by card), which cannot be reached here. A few real
records exist first (a draft with a line, an issued invoice partly paid in cash), so that
generated ids sometimes hit something."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fuzzing import examples, fuzz_operations, report, under

EXAMPLES = examples(12)
PATHS = ("/api/v1/billing/",)
ASK_A_PROVIDER = ("/checkout", "/refunds")


def not_a_server_error_but_the_providers(ctx, response, case):
    """A 502 from an operation that asks a payment provider is its documented answer; any other
    5xx is a fault."""
    if response.status_code == 502 and case.operation.path.endswith(ASK_A_PROVIDER):
        return None
    return not_a_server_error(ctx, response, case)


def some_invoices(app, clinic) -> dict[str, list[int]]:
    """A draft with a catalogue service and a medicine, an issued invoice partly paid in cash; the
    ids of the records, by the path that names them (and one that names nothing)."""
    from app.extensions import db
    from app.services import billing
    from app.services.billing_settings import BillingSettings

    settings = BillingSettings(email_on_issue=False, email_on_payment=False)
    now = datetime.now(timezone.utc)
    clinic.pay(clinic.invoice, 100000)
    with app.app_context():
        draft = billing.new_draft(db.session, clinic.patient, None, now, settings)
        db.session.commit()
        billing.add_line(db.session, draft.id, billing.LineInput(kind="service", service_id=clinic.service),
                         None, now, settings, may_change_price=False)
        billing.add_line(db.session, draft.id, billing.LineInput(kind="medicine", medicine_id=clinic.medicine,
                                                                 quantity=Decimal(3)), None, now, settings,
                         may_change_price=False)
        from app.models import Invoice, InvoiceLine, Payment

        ids = {"/invoices/": [row.id for row in db.session.query(Invoice)],
               "/lines/": [row.id for row in db.session.query(InvoiceLine)],
               "/payments/": [row.id for row in db.session.query(Payment)]}
    return {path: [*found, 999999] for path, found in ids.items()}


def aim(case, ids: dict[str, list[int]], patient: int) -> None:
    """Most generated ids name nothing: point the path's id (and a new invoice's patient) at the
    records made first, picked by the generated value, so that the rules behind the 404 run too."""
    pk = case.path_parameters.get("pk") if case.path_parameters else None
    if pk is not None:
        for prefix, known in ids.items():
            if prefix in case.operation.path:
                case.path_parameters["pk"] = known[pk % len(known)]
    if isinstance(case.body, dict) and isinstance(case.body.get("patient_id"), int) and case.body["patient_id"] % 2:
        case.body["patient_id"] = patient


@pytest.mark.parametrize("role", ["cashier", "patient"])
def test_billing_operations(app, db, clinic, role):
    ids = some_invoices(app, clinic)
    operations, failures = fuzz_operations(
        app, role, under(*PATHS), examples=EXAMPLES, prepare=lambda case: aim(case, ids, clinic.patient),
        checks=[not_a_server_error_but_the_providers, response_schema_conformance])
    assert operations >= 13
    assert not failures, report(failures)
