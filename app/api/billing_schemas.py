"""Schemas of the billing API (app/api/billing.py): what clients send and what the API answers,
documented in OpenAPI. Amounts travel as decimal strings ("150000") or JSON numbers (150000); the
services decide what an amount may be (above zero, no fraction of the currency's smallest unit:
"1000.5" đồng is refused naming the field), so that the counter and the API share one rule."""
from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.schemas import ErrorOut, StrictSchema
from app.fab.interface import MAX_ID
from app.models.billing import DISCOUNT_KINDS, INVOICE_STATUSES, LINE_KINDS, PAYMENT_METHODS, PAYMENT_STATUSES
from app.services.billing import REASON_MAX
from app.services.payments import COUNTER_METHODS, ONLINE_METHODS

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)
AMOUNT_TEXT = re.compile(r"^\s*[+-]?[0-9]{1,18}(\.[0-9]{1,18})?\s*$")
AMOUNT_DOC = {"oneOf": [{"type": "string", "pattern": r"^[+-]?[0-9]{1,18}(\.[0-9]{1,18})?$", "example": "150000"},
                        {"type": "number"}]}
DECIMAL_OUT = {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "150000"}
KEY_MAX = 80  # Payment.idempotency_key


class Amount(fields.Field):
    """An amount or a quantity: a JSON number or a decimal string, read as an exact ``Decimal``
    (never through a binary float's rounding). Its sign, size and precision are the services'
    rules, each with its own message."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {**AMOUNT_DOC, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValidationError(_("Give an amount as a number or a string of digits, e.g. \"150000\"."))
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(_("Give an amount as a number or a string of digits, e.g. \"150000\"."))
        if isinstance(value, str) and not AMOUNT_TEXT.match(value):
            raise ValidationError(_("Give an amount as a number or a string of digits, e.g. \"150000\"."))
        try:
            return Decimal(str(value).strip())  # str(1000.5) == "1000.5": the number as the client wrote it
        except InvalidOperation:  # pragma: no cover - the pattern lets only decimals through
            raise ValidationError(_("Give an amount as a number or a string of digits, e.g. \"150000\".")) from None


def _id(strict: bool = True, **kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=strict, validate=validate.Range(1, MAX_ID), **kwargs)


def _reason(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=REASON_MAX), **kwargs)


class _Counted(validate.Range):
    """A page number or size (not an id: its message says so)."""


class BillingSchema(StrictSchema):
    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        for validator in field_obj.validators:
            if isinstance(validator, _Counted):
                validator.error = _("Give a whole number between %(low)s and %(high)s.", low="{min}", high="{max}")


# --- what clients send -------------------------------------------------------------------------


class NewInvoiceRequest(BillingSchema):
    patient_id = _id(required=True, metadata={"description": "the patient billed"})


class InvoiceQuery(BillingSchema):
    number = fields.String(load_default=None, validate=validate.Length(max=30),
                           metadata={"description": "all or part of the invoice number, e.g. HD2026-000012"})
    patient_id = _id(False, load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(INVOICE_STATUSES))
    date_from = fields.Date(load_default=None, validate=validate.Range(FIRST_DAY, LAST_DAY),
                            metadata={"description": "issued (a draft: created) on or after this clinic day"})
    date_to = fields.Date(load_default=None, validate=validate.Range(FIRST_DAY, LAST_DAY),
                          metadata={"description": "issued (a draft: created) on or before this clinic day"})
    page = fields.Integer(load_default=0, validate=_Counted(0, 100000), metadata={"description": "from 0"})
    page_size = fields.Integer(load_default=25, validate=_Counted(1, 100))

    @validates_schema
    def _dates_in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError(_("The end date is before the start date."), "date_to")


class LineRequest(BillingSchema):
    """A service, medicine or lab test from the catalogue (at its price; another price needs the
    permission to change prices and a reason), or a free line (kind ``other``: description, price
    and reason)."""

    kind = fields.String(required=True, validate=validate.OneOf(LINE_KINDS))
    quantity = Amount(load_default=Decimal(1), metadata={"description": "absent: 1"})
    service_id = _id(allow_none=True, load_default=None)
    medicine_id = _id(allow_none=True, load_default=None)
    lab_test_id = _id(allow_none=True, load_default=None)
    description = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=300),
                                metadata={"description": "absent on a catalogue line: the item's name"})
    unit_price = Amount(allow_none=True, load_default=None,
                        metadata={"description": "absent on a catalogue line: the catalogue price"})
    reason = _reason(allow_none=True, load_default=None)


class LinePatch(BillingSchema):
    """Only the fields sent change; a new price needs a reason (and, on a catalogue line, the
    permission to change prices)."""

    quantity = Amount(allow_none=True, load_default=None)
    unit_price = Amount(allow_none=True, load_default=None)
    reason = _reason(allow_none=True, load_default=None)


class DiscountRequest(BillingSchema):
    kind = fields.String(required=True, allow_none=True, validate=validate.OneOf(DISCOUNT_KINDS),
                         metadata={"description": "null takes the discount back"})
    value = Amount(allow_none=True, load_default=None,
                   metadata={"description": "an amount, or a percent of the subtotal"})
    reason = _reason(allow_none=True, load_default=None)


class IssueRequest(BillingSchema):
    pass


class VoidRequest(BillingSchema):
    reason = _reason(required=True)


class PaymentRequest(BillingSchema):
    """Money taken at the counter. Send an ``Idempotency-Key`` header: the same key again answers
    the first payment and records nothing (a double click, a retry after a lost answer)."""

    method = fields.String(required=True, validate=validate.OneOf(COUNTER_METHODS))
    amount = Amount(required=True)
    tendered = Amount(allow_none=True, load_default=None,
                      metadata={"description": "cash only: what the patient handed over (the change is kept)"})
    reference = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=120),
                              metadata={"description": "the bank's transfer reference, a receipt number"})
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=300))

    @validates_schema
    def _tendered_is_cash(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("tendered") is not None and data.get("method") == "bank_transfer":
            raise ValidationError(_("Only cash is handed over: leave this out for a bank transfer."), "tendered")


class CheckoutRequest(BillingSchema):
    method = fields.String(required=True, validate=validate.OneOf(tuple(ONLINE_METHODS)))
    amount = Amount(allow_none=True, load_default=None, metadata={"description": "absent: all that is owed"})
    return_path = fields.String(allow_none=True, load_default=None,
                                validate=[validate.Length(max=500), validate.Regexp(r"^/(?![/\\])[^\s]*$")],
                                metadata={"description": "where the payer comes back to on this site (a path, "
                                                         "e.g. /portal/invoices/12); absent: the start page"})


class RefundRequest(BillingSchema):
    """Money given back on one payment, by its own method (a card or VNPay through the provider)."""

    amount = Amount(required=True)
    reason = _reason(required=True)


# --- what the API answers ----------------------------------------------------------------------


def _money(**kwargs: Any) -> fields.String:
    return fields.String(metadata={**DECIMAL_OUT, **kwargs.pop("metadata", {})}, **kwargs)


def _instant(**kwargs: Any) -> fields.String:
    return fields.String(metadata={"format": "date-time"}, **kwargs)


class LineOut(Schema):
    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(LINE_KINDS))
    service_id = fields.Integer(allow_none=True)
    medicine_id = fields.Integer(allow_none=True)
    lab_test_id = fields.Integer(allow_none=True)
    description = fields.String()
    quantity = _money()
    unit_price = _money()
    amount = _money(metadata={"description": "quantity x unit price"})
    discount_share = _money()
    tax_rate = _money(metadata={"description": "VAT, percent"})
    tax = _money()
    reason = fields.String(allow_none=True)
    price_overridden = fields.Boolean()
    source = fields.String(allow_none=True, metadata={"description": "what billed it: appointment, "
                                                                     "consultation, lab_order, prescription_item"})


class RefundOut(Schema):
    id = fields.Integer()
    payment_id = fields.Integer()
    invoice_id = fields.Integer()
    amount = _money()
    method = fields.String(validate=validate.OneOf(PAYMENT_METHODS))
    status = fields.String()
    reason = fields.String()
    provider_reference = fields.String(allow_none=True)
    refunded_at = _instant()


class PaymentOut(Schema):
    id = fields.Integer()
    invoice_id = fields.Integer()
    method = fields.String(validate=validate.OneOf(PAYMENT_METHODS))
    status = fields.String(validate=validate.OneOf(PAYMENT_STATUSES))
    amount = _money()
    tendered = _money(allow_none=True)
    change_given = _money(allow_none=True)
    amount_refunded = _money()
    refundable = _money(metadata={"description": "what can still be given back"})
    provider = fields.String(allow_none=True)
    provider_reference = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    paid_at = _instant(allow_none=True)


class InvoiceSummaryOut(Schema):
    id = fields.Integer()
    number = fields.String(allow_none=True, metadata={"description": "given when issued; null on a draft"})
    status = fields.String(validate=validate.OneOf(INVOICE_STATUSES))
    patient_id = fields.Integer()
    patient = fields.String()
    currency = fields.String()
    subtotal = _money()
    discount = _money()
    tax = _money()
    total = _money()
    amount_paid = _money()
    amount_refunded = _money()
    balance = _money(metadata={"description": "what is still owed"})
    created_at = _instant(allow_none=True)
    issued_at = _instant(allow_none=True)


class InvoiceOut(InvoiceSummaryOut):
    appointment_id = fields.Integer(allow_none=True)
    discount_kind = fields.String(allow_none=True)
    discount_value = _money(allow_none=True)
    discount_reason = fields.String(allow_none=True)
    voided_at = _instant(allow_none=True)
    void_reason = fields.String(allow_none=True)
    email_status = fields.String()
    lines = fields.List(fields.Nested(LineOut))
    payments = fields.List(fields.Nested(PaymentOut))
    refunds = fields.List(fields.Nested(RefundOut))


class InvoiceListResult(Schema):
    count = fields.Integer(metadata={"description": "how many match, on all pages"})
    page = fields.Integer()
    page_size = fields.Integer()
    result = fields.List(fields.Nested(InvoiceSummaryOut))


class InvoiceResult(Schema):
    id = fields.Integer()
    result = fields.Nested(InvoiceOut)


class LineResult(Schema):
    id = fields.Integer(metadata={"description": "the line's id"})
    line = fields.Nested(LineOut)
    result = fields.Nested(InvoiceOut)


class PaymentResult(Schema):
    id = fields.Integer(metadata={"description": "the payment's id"})
    payment = fields.Nested(PaymentOut)
    result = fields.Nested(InvoiceOut)


class RefundResult(Schema):
    id = fields.Integer(metadata={"description": "the refund's id"})
    refund = fields.Nested(RefundOut)
    result = fields.Nested(InvoiceOut)


class CheckoutResult(Schema):
    payment_url = fields.String(metadata={"description": "send the payer there (Stripe Checkout or VNPay)"})


COMPONENTS = (NewInvoiceRequest, InvoiceQuery, LineRequest, LinePatch, DiscountRequest, IssueRequest, VoidRequest,
              PaymentRequest, CheckoutRequest, RefundRequest, LineOut, RefundOut, PaymentOut, InvoiceSummaryOut,
              InvoiceOut, InvoiceListResult, InvoiceResult, LineResult, PaymentResult, RefundResult, CheckoutResult,
              ErrorOut)
