"""The forms of the cashier's counter (Flask-WTF, CSRF): a line, a quantity change, the discount,
voiding, a payment at the counter, an online payment and a refund. Amounts are typed the user's
way (``LocaleDecimalField``: "1.000.000" in Vietnamese, no decimals in đồng); the rules (what may
be paid, refunded or changed) stay in ``app.services.billing`` and ``app.services.payments``,
whose messages come back next to the fields."""
from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import AnyOf, InputRequired, Optional
from wtforms.widgets import TextInput

from app.form_fields import WholeNumberField, at_most, strip
from app.views.fields import LocaleDecimalField, money_places

REQUIRED = _l("This field is required.")
LINE_KINDS = {"service": _l("Service"), "medicine": _l("Medicine"), "lab": _l("Lab test"), "other": _l("Free line")}
DISCOUNT_KINDS = {"amount": _l("Amount"), "percent": _l("Percent")}
COUNTER_METHODS = {"cash": _l("Cash"), "bank_transfer": _l("Bank transfer")}
MAX_AMOUNT = 10 ** 13  # more than any column holds: "Too large."


def currency_places() -> int:
    """Decimals an amount in the clinic's currency takes (VND: none)."""
    return money_places(current_app.config.get("CLINIC_CURRENCY", "VND"), 2)


class NumberField(LocaleDecimalField):
    """A number typed the user's way, in a plain text input that keeps the page's classes (FAB's
    widget replaces them)."""

    widget = TextInput()


class MoneyField(NumberField):
    """An amount in the clinic's currency: its decimals (none in đồng) read when the form is used."""

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, places=0, limit=MAX_AMOUNT, **kwargs)

    def _value(self) -> str:
        self.places = currency_places()
        return super()._value()

    def process_formdata(self, valuelist: list) -> None:
        self.places = currency_places()
        super().process_formdata(valuelist)


def new_key() -> str:
    return uuid.uuid4().hex


class LineForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=list(LINE_KINDS.items()), default="service", validate_choice=False,
                       validators=[AnyOf(list(LINE_KINDS), message=_l("Choose a service, medicine, lab test or a "
                                                                       "free line."))])
    service_id = WholeNumberField(_l("Service"), validators=[Optional()])
    medicine_id = WholeNumberField(_l("Medicine"), validators=[Optional()])
    lab_test_id = WholeNumberField(_l("Lab test"), validators=[Optional()])
    description = StringField(_l("Description"), filters=[strip], validators=[Optional(), at_most(300)])
    quantity = NumberField(_l("Quantity"), places=2, limit=10 ** 8, default=1,
                                  validators=[InputRequired(REQUIRED)])
    unit_price = MoneyField(_l("Unit price"), validators=[Optional()])
    reason = StringField(_l("Reason"), filters=[strip], validators=[Optional(), at_most(300)])


class QuantityForm(FlaskForm):
    quantity = NumberField(_l("Quantity"), places=2, limit=10 ** 8, validators=[InputRequired(REQUIRED)])
    unit_price = MoneyField(_l("Unit price"), validators=[Optional()])
    reason = StringField(_l("Reason"), filters=[strip], validators=[Optional(), at_most(300)])


class DiscountForm(FlaskForm):
    kind = SelectField(_l("Discount"), choices=list(DISCOUNT_KINDS.items()), default="amount",
                       validate_choice=False)
    value = NumberField(_l("Value"), places=2, limit=MAX_AMOUNT, validators=[Optional()])
    reason = StringField(_l("Reason"), filters=[strip], validators=[Optional(), at_most(300)])
    remove = HiddenField()


class ReasonForm(FlaskForm):
    """Voiding an invoice: the reason is required (the service says so)."""

    reason = StringField(_l("Reason"), filters=[strip], validators=[Optional(), at_most(300)])


class PlainForm(FlaskForm):
    """A button only (issue, start a draft): the CSRF token."""


class PaymentForm(FlaskForm):
    """Cash (amount tendered, the change) or a bank transfer the cashier saw arrive (its reference).
    ``key`` is made when the form is shown: the same form sent twice records one payment."""

    method = HiddenField(default="cash", validators=[AnyOf(list(COUNTER_METHODS), message=_l("Choose cash or bank "
                                                                                              "transfer."))])
    amount = MoneyField(_l("Amount"), validators=[Optional()])
    tendered = MoneyField(_l("Amount tendered"), validators=[Optional()])
    reference = StringField(_l("Bank reference"), filters=[strip], validators=[Optional(), at_most(120)])
    note = StringField(_l("Note"), filters=[strip], validators=[Optional(), at_most(300)])
    key = HiddenField(default=new_key, validators=[Optional(), at_most(80)])


class OnlinePaymentForm(FlaskForm):
    amount = MoneyField(_l("Amount"), validators=[Optional()])


class RefundForm(FlaskForm):
    amount = MoneyField(_l("Amount to refund"), validators=[Optional()])
    reason = StringField(_l("Reason"), filters=[strip], validators=[Optional(), at_most(300)])
    key = HiddenField(default=new_key, validators=[Optional(), at_most(80)])
