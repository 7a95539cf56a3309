"""The core rules of billing (issue 11), at the service level with explicit sessions: exact totals
and rounding (random lines, discounts and VAT), the statuses an invoice moves through, payments and
refunds that never write half, gapless numbers given at issue, and the invoice that builds itself
from the signed visit and from the pharmacy's dispensing."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from app.models import Invoice, InvoiceLine, InvoiceSequence, Payment, Refund
from app.services import billing, money, payments
from app.services.billing_settings import BillingSettings
from app.services.errors import Conflict, FieldErrors
from tests.pharmacy_helpers import NOW, batch, item_ids, medicine, prescription

# Free lines without VAT keep the figures round; the clinic's default for them is 10 %.
QUIET = BillingSettings(email_on_issue=False, email_on_payment=False, vat_rates={
    "service": Decimal(0), "lab": Decimal(0), "medicine": Decimal(5), "other": Decimal(0)})
TAXED = BillingSettings(email_on_issue=False, email_on_payment=False)
RATES = (Decimal(0), Decimal(5), Decimal(8), Decimal(10))


# ---- totals and rounding (no database) ----------------------------------------------------------

quantities = st.integers(min_value=1, max_value=100_000).map(lambda n: Decimal(n).scaleb(-2))  # 0.01 .. 1000.00
vnd_prices = st.integers(min_value=0, max_value=50_000_000).map(Decimal)
usd_prices = st.integers(min_value=0, max_value=5_000_000).map(lambda n: Decimal(n).scaleb(-2))
lines_of = lambda prices: st.lists(st.tuples(quantities, prices, st.sampled_from(RATES)),  # noqa: E731
                                   min_size=1, max_size=12)


def _priced(currency: str, lines, discount_kind: str | None, discount_value: Decimal | None) -> Invoice:
    invoice = Invoice(currency=currency, discount_kind=discount_kind, discount_value=discount_value)
    for quantity, price, rate in lines:
        invoice.lines.append(InvoiceLine(kind="other", description="x", quantity=quantity, unit_price=price,
                                         tax_rate=rate))
    billing.recalculate(invoice)
    return invoice


def _check_invariants(invoice: Invoice, currency: str) -> None:
    def whole(amount: Decimal) -> bool:
        return money.is_exact(amount, currency)

    lines = invoice.lines
    for line in lines:
        assert line.amount == money.quantize(line.quantity * line.unit_price, currency)
        assert 0 <= line.discount_share <= line.amount
        assert line.tax == money.quantize((line.amount - line.discount_share) * line.tax_rate / 100, currency)
        assert all(whole(x) for x in (line.amount, line.discount_share, line.tax))
    assert invoice.subtotal == sum(line.amount for line in lines)
    assert sum(line.discount_share for line in lines) == invoice.discount
    assert 0 <= invoice.discount <= invoice.subtotal
    assert invoice.tax == sum(line.tax for line in lines)
    assert invoice.total == invoice.subtotal - invoice.discount + invoice.tax
    assert all(whole(x) for x in (invoice.subtotal, invoice.discount, invoice.tax, invoice.total))


@st.composite
def discounts(draw, currency: str):
    kind = draw(st.sampled_from([None, "amount", "percent"]))
    if kind == "percent":
        return kind, Decimal(draw(st.integers(min_value=1, max_value=10_000))).scaleb(-2)  # 0.01 .. 100 %
    if kind == "amount":
        value = Decimal(draw(st.integers(min_value=1, max_value=10**9)))
        return kind, value if currency == "VND" else value.scaleb(-2)
    return None, None


@settings(max_examples=300, deadline=None)
@given(lines=lines_of(vnd_prices), discount=discounts("VND"))
def test_vnd_totals_are_exact_whole_dong(lines, discount):
    invoice = _priced("VND", lines, *discount)
    _check_invariants(invoice, "VND")
    kind, value = discount
    if kind == "percent":
        assert invoice.discount == money.quantize(invoice.subtotal * value / 100, "VND")
    elif kind == "amount":
        assert invoice.discount == min(value, invoice.subtotal)


@settings(max_examples=200, deadline=None)
@given(lines=lines_of(usd_prices), discount=discounts("USD"))
def test_usd_totals_are_exact_cents(lines, discount):
    _check_invariants(_priced("USD", lines, *discount), "USD")


@settings(max_examples=300, deadline=None)
@given(total=st.integers(min_value=0, max_value=10**9),
       weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=15),
       currency=st.sampled_from(["VND", "USD"]))
def test_allocate_adds_up_exactly_and_no_part_above_its_weight(total, weights, currency):
    step = money.unit(currency)
    amounts = [Decimal(w) * step for w in weights]
    whole = sum(amounts, Decimal(0))
    share = min(Decimal(total) * step, whole)
    parts = money.allocate(share, amounts, currency)
    assert len(parts) == len(amounts)
    if whole > 0:
        assert sum(parts, Decimal(0)) == share
    assert all(Decimal(0) <= p <= a and money.is_exact(p, currency) for p, a in zip(parts, amounts, strict=True))


@pytest.mark.parametrize("amount, currency, expected", [
    ("0.5", "VND", "1"), ("1.5", "VND", "2"), ("2.5", "VND", "3"), ("2.4999", "VND", "2"), ("-2.5", "VND", "-3"),
    ("1.005", "USD", "1.01"), ("1.004", "USD", "1.00"), ("0.125", "USD", "0.13"), ("99999.995", "USD", "100000.00"),
])
def test_quantize_rounds_half_up_to_the_minor_unit(amount, currency, expected):
    assert money.quantize(Decimal(amount), currency) == Decimal(expected)
    assert str(money.quantize(Decimal(amount), currency)) == expected


def test_vat_on_the_discounted_amount_with_an_uneven_split():
    """Three lines of 1 đ each and a 1 đ discount: one line carries it (largest remainder), the
    VAT of each line is on its own amount after its share."""
    invoice = _priced("VND", [(Decimal(1), Decimal(100_001), Decimal(10)),
                              (Decimal(1), Decimal(100_001), Decimal(5)),
                              (Decimal(1), Decimal(100_001), Decimal(0))], "amount", Decimal(100_000))
    assert [line.discount_share for line in invoice.lines] == [Decimal(33_334), Decimal(33_333), Decimal(33_333)]
    assert [line.tax for line in invoice.lines] == [Decimal(6_667), Decimal(3_333), Decimal(0)]  # 6 666.7, 3 333.4
    assert (invoice.subtotal, invoice.discount, invoice.tax, invoice.total) == (
        Decimal(300_003), Decimal(100_000), Decimal(10_000), Decimal(210_003))


# ---- invoices in the database -------------------------------------------------------------------

def _now() -> datetime:
    return datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


def _draft(db, clinic, *lines: tuple[str, int, int], vat: BillingSettings = QUIET) -> int:
    """A draft of free lines (description, quantity, unit price)."""
    invoice = billing.new_draft(db.session, clinic.patient, None, _now(), vat)
    db.session.commit()
    for description, quantity, price in lines or (("Khám", 1, 300_000),):
        billing.add_line(db.session, invoice.id, billing.LineInput(
            kind="other", description=description, quantity=Decimal(quantity), unit_price=Decimal(price),
            reason="test"), None, _now(), vat, may_change_price=False)
    return invoice.id


def _issued(db, clinic, *lines: tuple[str, int, int], year: int = 2026) -> Invoice:
    return billing.issue_invoice(db.session, _draft(db, clinic, *lines), None, _now(), QUIET, year)


def _fresh(db, invoice_id: int) -> Invoice:
    db.session.expire_all()
    return db.session.get(Invoice, invoice_id)


def _count(db, model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _pay(db, invoice_id: int, amount, method: str = "cash", **extra) -> Payment:
    return payments.record_payment(db.session, invoice_id, method, amount, None, _now(), billing=QUIET, **extra)


def test_draft_issued_partially_paid_paid(db, clinic):
    invoice_id = _draft(db, clinic, ("Khám", 1, 200_000), ("Xét nghiệm", 2, 50_000))
    assert _fresh(db, invoice_id).status == "draft" and _fresh(db, invoice_id).number is None
    issued = billing.issue_invoice(db.session, invoice_id, None, _now(), QUIET, 2026)
    assert (issued.status, issued.total) == ("issued", Decimal(300_000))
    cash = _pay(db, invoice_id, Decimal(100_000), tendered=Decimal(200_000))
    assert (cash.change_given, _fresh(db, invoice_id).status) == (Decimal(100_000), "partially_paid")
    _pay(db, invoice_id, "200000", method="bank_transfer", reference="FT123")
    invoice = _fresh(db, invoice_id)
    assert (invoice.status, invoice.amount_paid, invoice.balance) == ("paid", Decimal(300_000), Decimal(0))


def test_an_issued_invoice_refuses_line_changes(db, clinic):
    invoice = _issued(db, clinic, ("Khám", 1, 200_000))
    line_id = invoice.lines[0].id
    before = (_count(db, InvoiceLine), _fresh(db, invoice.id).total)
    with pytest.raises(Conflict):
        billing.add_line(db.session, invoice.id, billing.LineInput(kind="other", description="Thêm", unit_price=1000,
                                                                   reason="x"), None, _now(), QUIET,
                         may_change_price=True)
    with pytest.raises(Conflict):
        billing.update_line(db.session, line_id, 3, None, None, None, _now(), may_change_price=True)
    with pytest.raises(Conflict):
        billing.remove_line(db.session, line_id, None, _now())
    with pytest.raises(Conflict):
        billing.set_discount(db.session, invoice.id, "percent", 10, "khách quen", None, _now(), may_discount=True)
    assert (_count(db, InvoiceLine), _fresh(db, invoice.id).total) == before


def test_void_only_with_nothing_paid(db, clinic):
    draft = _draft(db, clinic)
    assert billing.void_invoice(db.session, draft, "nhập nhầm", None, _now()).status == "void"
    issued = _issued(db, clinic)
    with pytest.raises(FieldErrors) as no_reason:
        billing.void_invoice(db.session, issued.id, "  ", None, _now())
    assert "reason" in no_reason.value.errors
    assert billing.void_invoice(db.session, issued.id, "sai dịch vụ", None, _now()).status == "void"
    assert _fresh(db, issued.id).number == "HD2026-000001"  # its number stays used
    paid = _issued(db, clinic)
    _pay(db, paid.id, Decimal(1000))
    with pytest.raises(Conflict):
        billing.void_invoice(db.session, paid.id, "đổi ý", None, _now())
    assert _fresh(db, paid.id).status == "partially_paid"


@pytest.mark.parametrize("state", ["draft", "void", "paid", "refunded"])
def test_paying_an_invoice_that_cannot_take_payments_is_a_conflict_and_writes_nothing(db, clinic, state):
    if state == "draft":
        invoice_id = _draft(db, clinic)
    else:
        invoice_id = _issued(db, clinic).id
        if state == "void":
            billing.void_invoice(db.session, invoice_id, "sai", None, _now())
        else:
            payment = _pay(db, invoice_id, Decimal(300_000))
            if state == "refunded":
                payments.refund_payment(db.session, payment.id, Decimal(300_000), "trả lại", None, _now(), QUIET)
    before = (_count(db, Payment), _fresh(db, invoice_id).amount_paid, _fresh(db, invoice_id).status)
    with pytest.raises(Conflict) as refused:
        _pay(db, invoice_id, Decimal(1000))
    assert refused.value.status == 409
    assert (_count(db, Payment), _fresh(db, invoice_id).amount_paid, _fresh(db, invoice_id).status) == before
    assert before[2] == state


def test_overpayment_is_refused(db, clinic):
    invoice = _issued(db, clinic)
    _pay(db, invoice.id, Decimal(250_000))
    with pytest.raises(Conflict) as refused:
        _pay(db, invoice.id, Decimal(50_001))
    assert refused.value.field == "amount"
    invoice = _fresh(db, invoice.id)
    assert (invoice.amount_paid, invoice.status, _count(db, Payment)) == (Decimal(250_000), "partially_paid", 1)


@pytest.mark.parametrize("amount", [0, -1, "-5000", "abc", "10.5", None, "NaN"])
def test_bad_payment_amounts_name_the_field_and_write_nothing(db, clinic, amount):
    invoice = _issued(db, clinic)
    with pytest.raises(FieldErrors) as refused:
        _pay(db, invoice.id, amount)
    assert refused.value.status == 422 and "amount" in refused.value.errors
    assert _count(db, Payment) == 0 and _fresh(db, invoice.id).amount_paid == 0


def test_cash_handed_over_below_the_amount_is_refused(db, clinic):
    invoice = _issued(db, clinic)
    with pytest.raises(FieldErrors) as refused:
        _pay(db, invoice.id, Decimal(300_000), tendered=Decimal(200_000))
    assert set(refused.value.errors) == {"tendered"}
    with pytest.raises(FieldErrors) as both:
        _pay(db, invoice.id, Decimal(-1), method="cheque")
    assert set(both.value.errors) == {"method", "amount"}
    assert _count(db, Payment) == 0


def test_refunds_never_above_what_was_paid_and_refunded_when_all_given_back(db, clinic):
    invoice = _issued(db, clinic)
    first = _pay(db, invoice.id, Decimal(100_000))
    second = _pay(db, invoice.id, Decimal(200_000), method="bank_transfer")
    for bad in (0, -10, "x"):
        with pytest.raises(FieldErrors) as refused:
            payments.refund_payment(db.session, first.id, bad, "lý do", None, _now(), QUIET)
        assert "amount" in refused.value.errors
    with pytest.raises(FieldErrors) as no_reason:
        payments.refund_payment(db.session, first.id, 1000, "", None, _now(), QUIET)
    assert "reason" in no_reason.value.errors
    with pytest.raises(Conflict):
        payments.refund_payment(db.session, first.id, Decimal(100_001), "lý do", None, _now(), QUIET)
    assert _count(db, Refund) == 0
    payments.refund_payment(db.session, first.id, Decimal(40_000), "trả một phần", None, _now(), QUIET)
    assert (_fresh(db, invoice.id).status, _fresh(db, invoice.id).amount_refunded) == ("paid", Decimal(40_000))
    with pytest.raises(Conflict):  # 60 000 is left on that payment
        payments.refund_payment(db.session, first.id, Decimal(60_001), "lý do", None, _now(), QUIET)
    payments.refund_payment(db.session, first.id, Decimal(60_000), "trả nốt", None, _now(), QUIET)
    with pytest.raises(Conflict):
        payments.refund_payment(db.session, first.id, Decimal(1), "lý do", None, _now(), QUIET)
    assert _fresh(db, invoice.id).status == "paid"  # the transfer is still kept
    payments.refund_payment(db.session, second.id, Decimal(200_000), "hoàn toàn bộ", None, _now(), QUIET)
    invoice = _fresh(db, invoice.id)
    assert (invoice.status, invoice.amount_paid, invoice.amount_refunded) == (
        "refunded", Decimal(300_000), Decimal(300_000))
    assert [r.method for r in payments.invoice_refunds(db.session, invoice.id)] == [
        "cash", "cash", "bank_transfer"]


def test_the_same_idempotency_key_pays_once(db, clinic):
    invoice = _issued(db, clinic)
    one = _pay(db, invoice.id, Decimal(100_000), idempotency_key="click-1")
    two = _pay(db, invoice.id, Decimal(100_000), idempotency_key="click-1")
    assert one.id == two.id and _fresh(db, invoice.id).amount_paid == Decimal(100_000)


def test_an_invoice_of_nothing_is_settled_as_it_is_issued(db, clinic):
    """A free follow-up (0 đ): numbered like any other, paid at once, not left open at the counter."""
    invoice = _issued(db, clinic, ("Tái khám miễn phí", 1, 0))
    assert (invoice.number, invoice.status, invoice.total) == ("HD2026-000001", "paid", 0)
    assert billing.open_invoices(db.session, clinic.patient) == []
    with pytest.raises(Conflict):
        _pay(db, invoice.id, Decimal(1000))


def test_a_line_too_large_for_the_books_is_refused(db, clinic):
    """Quantity x price beyond what an amount column holds: the field is named, nothing written."""
    invoice_id = _draft(db, clinic)
    with pytest.raises(FieldErrors) as refused:
        billing.add_line(db.session, invoice_id, billing.LineInput(
            kind="other", description="Lớn", quantity=Decimal(99_999_999), unit_price=Decimal(999_999_999_999),
            reason="x"), None, _now(), QUIET, may_change_price=False)
    assert "quantity" in refused.value.errors
    assert _count(db, InvoiceLine) == 1 and _fresh(db, invoice_id).total == Decimal(300_000)


def test_discount_percent_with_vat_on_a_draft(db, clinic):
    invoice_id = _draft(db, clinic, ("Khám", 1, 150_000), ("Thuốc", 3, 33_333), vat=TAXED)
    with pytest.raises(FieldErrors) as refused:
        billing.set_discount(db.session, invoice_id, "percent", 101, "", None, _now(), may_discount=True)
    assert set(refused.value.errors) == {"value", "reason"}
    invoice = billing.set_discount(db.session, invoice_id, "percent", "10", "khách quen", None, _now(),
                                   may_discount=True)
    # 249 999 subtotal; 10 % is 24 999.9 -> 25 000; free lines ("other") carry 10 % VAT.
    assert (invoice.subtotal, invoice.discount) == (Decimal(249_999), Decimal(25_000))
    assert sum(line.discount_share for line in invoice.lines) == Decimal(25_000)
    assert invoice.tax == sum(line.tax for line in invoice.lines) == Decimal(22_500)
    assert invoice.total == Decimal(249_999 - 25_000 + 22_500)


# ---- numbering ----------------------------------------------------------------------------------

def test_numbers_are_given_at_issue_in_issue_order_per_year(db, clinic):
    drafts = [_draft(db, clinic) for _ in range(3)]
    assert all(_fresh(db, d).number is None for d in drafts)
    numbers = [billing.issue_invoice(db.session, d, None, _now(), QUIET, 2026).number for d in reversed(drafts)]
    assert numbers == ["HD2026-000001", "HD2026-000002", "HD2026-000003"]
    assert _fresh(db, drafts[-1]).number == "HD2026-000001"
    assert _issued(db, clinic, year=2027).number == "HD2027-000001"
    assert _issued(db, clinic, year=2026).number == "HD2026-000004"
    assert {s.year: s.last_number for s in db.session.execute(select(InvoiceSequence)).scalars()} == {
        2026: 4, 2027: 1}
    assert billing.find_by_number(db.session, " hd2026-000002 ").id == drafts[1]
    with pytest.raises(Conflict):  # issued once
        billing.issue_invoice(db.session, drafts[0], None, _now(), QUIET, 2026)
    empty = billing.new_draft(db.session, clinic.patient, None, _now(), QUIET).id
    db.session.commit()
    with pytest.raises(Conflict):  # nothing to bill
        billing.issue_invoice(db.session, empty, None, _now(), QUIET, 2026)
    assert _issued(db, clinic).number == "HD2026-000005"


def test_a_rolled_back_issue_gives_its_number_back(db, clinic, monkeypatch):
    first, second = _draft(db, clinic), _draft(db, clinic)
    from app.services import billing_notify

    def broken(invoice):
        raise Conflict("the issuing transaction fails after the number was taken")

    monkeypatch.setattr(billing_notify, "mark_queued", broken)
    with pytest.raises(Conflict):
        billing.issue_invoice(db.session, first, None, _now(), BillingSettings(email_on_payment=False), 2026)
    assert (_fresh(db, first).status, _fresh(db, first).number) == ("draft", None)
    assert db.session.get(InvoiceSequence, 2026) is None or db.session.get(InvoiceSequence, 2026).last_number == 0
    monkeypatch.undo()
    assert billing.issue_invoice(db.session, second, None, _now(), QUIET, 2026).number == "HD2026-000001"
    assert billing.issue_invoice(db.session, first, None, _now(), QUIET, 2026).number == "HD2026-000002"


# ---- the invoice builds itself: the signed visit ------------------------------------------------

@pytest.fixture
def visit(app, db, clinic):
    """A checked-in appointment of the login "doctor" (consultation fee 200 000 đ) for the booked
    service (150 000 đ), started, with a CBC ordered at the visit (90 000 đ) and a diagnosis."""
    from app.models import Appointment, Diagnosis, Doctor, LabOrder, LabTest, Patient, Service
    from app.services import encounters
    from app.services.settings import ClinicSettings
    from tests.test_visit import _link_doctor

    doctor_id = _link_doctor(app, db, "doctor", "Lê Văn Bác Sĩ")
    doctor = db.session.get(Doctor, doctor_id)
    doctor.consultation_fee = Decimal(200_000)
    service = db.session.get(Service, clinic.service)
    service.doctors.append(doctor)
    db.session.get(Patient, clinic.patient).date_of_birth = date(1980, 5, 17)
    settings = ClinicSettings.from_config(app.config)
    local = datetime.now(settings.timezone)
    start = datetime.combine(local.date(), time.min, local.tzinfo) + (local - datetime.combine(
        local.date(), time.min, local.tzinfo)) / 2
    appointment = Appointment(patient_id=clinic.patient, doctor_id=doctor_id, service_id=clinic.service,
                              start_at=start.replace(microsecond=0), end_at=start.replace(microsecond=0)
                              + timedelta(minutes=20), status="checked_in", queue_number=1, queue_date=start.date(),
                              checked_in_at=datetime.now(timezone.utc) - timedelta(minutes=12))
    test = LabTest(code="CBC", name="Công thức máu", price=Decimal(90_000))
    db.session.add_all([appointment, test])
    db.session.commit()
    user = app.appbuilder.sm.find_user(username="doctor")
    with app.test_request_context():
        encounter = encounters.start_visit(db.session, appointment.id, user, datetime.now(timezone.utc),
                                           settings=settings)
        encounters.save_draft(db.session, encounter.id, {"chief_complaint": "Sốt"}, 1, user,
                              datetime.now(timezone.utc))
    db.session.add(Diagnosis(encounter_id=encounter.id, icd10_code="J06.9", text="Nhiễm trùng hô hấp trên cấp",
                             is_primary=True))
    db.session.add(LabOrder(patient_id=clinic.patient, doctor_id=doctor_id, encounter_id=encounter.id,
                            lab_test_id=test.id, test_code="CBC", test_name="Công thức máu"))
    db.session.add(LabOrder(patient_id=clinic.patient, doctor_id=doctor_id, encounter_id=encounter.id,
                            test_code="GLU", test_name="Glucose", status="cancelled"))
    db.session.commit()
    return {"encounter": encounter.id, "appointment": appointment.id, "lab_test": test.id, "user": user}


def _sign(app, db, visit) -> None:
    from app.services import encounters

    with app.test_request_context():
        encounters.sign_encounter(db.session, visit["encounter"], visit["user"], datetime.now(timezone.utc))


def _patient_invoices(db, clinic) -> list[Invoice]:
    db.session.expire_all()
    return billing.patient_invoices(db.session, clinic.patient)


def test_signing_a_visit_bills_the_service_the_fee_and_the_lab_tests(app, db, clinic, visit):
    _sign(app, db, visit)
    [invoice] = _patient_invoices(db, clinic)
    assert (invoice.status, invoice.number, invoice.appointment_id) == ("draft", None, visit["appointment"])
    got = [(line.kind, line.source, line.unit_price, line.quantity, line.tax_rate) for line in invoice.lines]
    assert got == [("service", "appointment", Decimal(150_000), 1, 0),
                   ("service", "consultation", Decimal(200_000), 1, 0),
                   ("lab", "lab_order", Decimal(90_000), 1, 0)]
    assert invoice.lines[0].service_id == clinic.service and invoice.lines[0].description == "Khám tổng quát"
    assert invoice.lines[2].lab_test_id == visit["lab_test"]
    assert invoice.total == Decimal(440_000)
    # Signing is billed once: the hook again (a retried job) adds nothing.
    from app.models import Encounter
    from app.services import billing_hooks

    encounter = db.session.get(Encounter, visit["encounter"])
    assert billing_hooks.visit_completed(db.session, encounter, None, _now(), QUIET) is None
    db.session.commit()
    [again] = _patient_invoices(db, clinic)
    assert len(again.lines) == 3 and again.total == Decimal(440_000)


def test_no_consultation_fee_when_the_clinic_does_not_charge_it(app, db, clinic, visit, monkeypatch):
    monkeypatch.setitem(app.config, "BILLING_CHARGE_CONSULTATION_FEE", False)
    _sign(app, db, visit)
    [invoice] = _patient_invoices(db, clinic)
    assert [line.source for line in invoice.lines] == ["appointment", "lab_order"]
    assert invoice.total == Decimal(240_000)


def test_a_visit_joins_the_patients_open_draft(app, db, clinic, visit):
    earlier = _draft(db, clinic, ("Sổ khám", 1, 20_000), vat=TAXED)
    _sign(app, db, visit)
    [invoice] = _patient_invoices(db, clinic)
    assert invoice.id == earlier and len(invoice.lines) == 4 and invoice.total == Decimal(20_000 * 110 // 100
                                                                                         + 440_000)


# ---- the invoice builds itself: the pharmacy ----------------------------------------------------

def _dispense(db, prescription_id: int, quantities=None):
    from app.services import dispensing

    return dispensing.dispense_prescription(db.session, prescription_id, quantities, None, NOW)


def test_dispensing_bills_the_medicines_at_their_price_with_medicine_vat(db, clinic):
    med = medicine(db)  # 1 000 đ a tablet
    batch(db, med, 100, 200)
    pid = prescription(db, clinic, (med, 10))
    [item] = item_ids(db, pid)
    _dispense(db, pid, {item: 4})
    _dispense(db, pid, {item: 3})  # partial dispensing twice: one line that grows
    [invoice] = _patient_invoices(db, clinic)
    [line] = invoice.lines
    assert (line.kind, line.medicine_id, line.source, line.source_id) == ("medicine", med, "prescription_item", item)
    assert (line.quantity, line.unit_price, line.amount, line.tax_rate, line.tax) == (7, 1000, 7000, 5, 350)
    assert (invoice.status, invoice.total) == ("draft", Decimal(7_350))
    # A return within the window takes units off the draft's line.
    from app.services import dispensing

    dispensing.return_dispense(db.session, item, 2, "Bệnh nhân trả lại", None, NOW + timedelta(hours=1))
    [invoice] = _patient_invoices(db, clinic)
    assert (invoice.lines[0].quantity, invoice.total) == (5, Decimal(5_250))
    # Issued: the next dispense opens a new draft; the issued invoice stays as it was.
    billing.issue_invoice(db.session, invoice.id, None, _now(), QUIET, 2026)
    _dispense(db, pid)
    newer, issued = _patient_invoices(db, clinic)
    assert (issued.status, issued.lines[0].quantity, issued.total) == ("issued", 5, Decimal(5_250))
    assert (newer.status, newer.number, [line.quantity for line in newer.lines]) == ("draft", None, [5])
    assert newer.total == Decimal(5_250)


def test_a_return_of_units_billed_on_an_issued_invoice_leaves_it_as_it_is(db, clinic):
    med = medicine(db)
    batch(db, med, 100, 200)
    pid = prescription(db, clinic, (med, 6))
    [item] = item_ids(db, pid)
    _dispense(db, pid)
    [invoice] = _patient_invoices(db, clinic)
    billing.issue_invoice(db.session, invoice.id, None, _now(), QUIET, 2026)
    from app.services import dispensing

    dispensing.return_dispense(db.session, item, 2, "Trả lại", None, NOW + timedelta(hours=1))
    [invoice] = _patient_invoices(db, clinic)
    assert (invoice.status, invoice.lines[0].quantity, invoice.total) == ("issued", 6, Decimal(6_300))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=5))
def test_any_partial_dispensing_sums_to_one_line(db, clinic, steps):
    med = medicine(db)
    batch(db, med, sum(steps), 200)
    pid = prescription(db, clinic, (med, sum(steps)))
    [item] = item_ids(db, pid)
    for n in steps:
        _dispense(db, pid, {item: n})
    lines = db.session.execute(select(InvoiceLine).where(InvoiceLine.source == "prescription_item",
                                                         InvoiceLine.source_id == item)).scalars().all()
    assert len(lines) == 1 and lines[0].quantity == sum(steps)
