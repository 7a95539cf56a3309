"""The front desk's walk-in form (Flask-WTF, CSRF): the patient found by search or a new one
(name, phone, date of birth typed dd/mm/yyyy), the service and the doctor ("first free now" or a
chosen one). The rules stay in ``app.services.front_desk``."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import TextInput

from app.form_fields import at_most, strip
from app.models import Patient
from app.models.people import SEXES
from app.views.fields import LocaleDateField, RemoteSelectField, lazy_choice_label

ANY_DOCTOR = "0"


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return -1  # not a choice: "Not a valid choice."


class WalkInForm(FlaskForm):
    patient = RemoteSelectField(_l("Patient"), validators=[Optional()], model=Patient,
                                url="/lookup/Patient", describe=str)
    full_name = StringField(_l("New patient: full name"), filters=[strip], validators=[Optional(), at_most(150)],
                            render_kw={"autocomplete": "off"})
    phone = StringField(_l("Phone"), filters=[strip], validators=[Optional(), at_most(20)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    # A plain input: FAB's text widget would overwrite the "dd/mm/yyyy" hint with the label.
    date_of_birth = LocaleDateField(_l("Date of birth"), validators=[Optional()], day_first=True, widget=TextInput())
    sex = SelectField(_l("Sex"), choices=[("", "—")] + [(s, lazy_choice_label(s)) for s in SEXES],
                      validators=[Optional()])
    service = SelectField(_l("Service"), coerce=_int_or_none, validators=[InputRequired(_l("Choose the service."))])
    doctor = SelectField(_l("Doctor"), coerce=_int_or_none, default=0)
    reason = StringField(_l("Reason for the visit"), filters=[strip], validators=[Optional(), at_most(500)])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.patient.data is None and not self.full_name.data and not self.patient.errors:
            self.patient.errors = [*self.patient.errors, str(_l("Find the patient or enter the new patient's name."))]
            ok = False
        return ok
