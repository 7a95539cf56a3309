"""The dashboard's filters (a GET form: it changes nothing, so no CSRF token): the range typed
the user's way (dd/mm/yyyy in Vietnamese), the grain, a department and a doctor. The rules of a
range (not reversed, at most three years) are ``app.services.dashboards.check_query``."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import TextInput

from app.views.fields import LocaleDateField

GRAIN_LABELS = {"day": _l("By day"), "week": _l("By week"), "month": _l("By month"), "quarter": _l("By quarter")}


def _id_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return -1  # not a choice: "Not a valid choice."


class DashboardForm(FlaskForm):
    class Meta:
        csrf = False

    start = LocaleDateField(_l("From"), validators=[InputRequired(_l("Enter the first day."))], day_first=True,
                            widget=TextInput())
    end = LocaleDateField(_l("Until"), validators=[InputRequired(_l("Enter the last day."))], day_first=True,
                          widget=TextInput())
    grain = SelectField(_l("Group"), choices=list(GRAIN_LABELS.items()), default="month")
    department = SelectField(_l("Department"), coerce=_id_or_none, validators=[Optional()])
    doctor = SelectField(_l("Doctor"), coerce=_id_or_none, validators=[Optional()])
