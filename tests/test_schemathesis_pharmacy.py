"""The pharmacy's REST operations (``/api/v1/pharmacy/…``, ``supplier``, ``stock_batch``) fuzzed
deeper than the suite-wide run (tests/test_schemathesis.py), as a pharmacist and as a
receptionist: no server error, every answer as documented. A few real records exist first, so
that generated ids sometimes hit something."""
from __future__ import annotations

import pytest

from tests.fuzzing import examples, fuzz_operations, report, under
from tests.pharmacy_helpers import batch, medicine, prescription

EXAMPLES = examples(12)
PATHS = ("/api/v1/pharmacy/", "/api/v1/supplier/", "/api/v1/stock_batch/")


@pytest.mark.parametrize("role", ["pharmacist", "receptionist"])
def test_pharmacy_operations(app, db, clinic, role):
    med = medicine(db)
    batch(db, med, 20, 300)
    batch(db, med, 5, -2)
    prescription(db, clinic, (med, 3))
    operations, failures = fuzz_operations(app, role, under(*PATHS), examples=EXAMPLES)
    assert operations >= 12
    assert not failures, report(failures)
