"""What the hand-written page forms (app/public/forms.py, app/views/appointment_forms.py) share:
fields and validators whose messages are the clinic's own (WTForms ships no Vietnamese), and the
form's errors as one message per field."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import Length, NumberRange

MAX_ID = 2**31 - 1  # record ids are 32-bit integers


def strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def at_most(characters: int) -> Length:
    return Length(max=characters, message=_l("Use at most %(max)d characters."))


def existing_id() -> NumberRange:
    return NumberRange(1, MAX_ID, message=_l("There is no such record."))


class WholeNumberField(IntegerField):
    """An integer field that says, in the user's language, when the input is not a whole number."""

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l("Enter a whole number.")) from None


def first_errors(form: FlaskForm) -> dict[str, str]:
    """The first message of each broken field (every field at once)."""
    return {name: str(messages[0]) for name, messages in form.errors.items() if messages}
