"""The public site's forms (Flask-WTF): each checks its own fields, all at once, keeps the typed
values, and carries the CSRF token. The rules behind them (a free slot, the cut-off, a unique
email) stay in app.services."""
from __future__ import annotations

from datetime import datetime, timezone

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    Field,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import EqualTo, InputRequired, Optional
from wtforms.widgets import HiddenInput

from app.form_fields import WholeNumberField, at_most, existing_id, first_errors, strip

SLOT_FORMAT = "%Y-%m-%dT%H:%MZ"  # a start time in UTC, as it travels in URLs and forms


def slot_param(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(SLOT_FORMAT)


def parse_slot(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value or "", SLOT_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


class SlotField(Field):
    """A start time offered by the page (``2026-12-01T02:00Z``); its data is an aware UTC datetime."""

    widget = HiddenInput()

    def _value(self) -> str:
        return slot_param(self.data) if isinstance(self.data, datetime) else (self.raw_data or [""])[0]

    def process_formdata(self, valuelist: list) -> None:
        self.data = None
        if valuelist and valuelist[0]:
            self.data = parse_slot(valuelist[0])
            if self.data is None:
                raise ValueError(_l("Choose one of the times below."))


class IsoDateField(DateField):
    """A date as ``<input type="date">`` sends it (YYYY-MM-DD)."""

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l("Enter the date as YYYY-MM-DD.")) from None


def record_id(label: str) -> WholeNumberField:
    return WholeNumberField(label, validators=[InputRequired(), existing_id()], widget=HiddenInput())


class BookConfirmForm(FlaskForm):
    """The last step of online booking: the chosen service, doctor and time, and a reason."""

    service = record_id("service")
    doctor = record_id("doctor")
    start = SlotField("start", validators=[InputRequired(_l("Choose one of the times below."))])
    # Asked only when the service is offered both ways; otherwise the service's own type.
    mode = RadioField(_l("How would you like to be seen?"), choices=[
        ("in_person", _l("At the clinic")), ("video", _l("By video call"))], default="in_person",
        validators=[Optional()], validate_choice=False)
    reason = TextAreaField(_l("Reason for the visit (optional)"), filters=[strip],
                           validators=[Optional(), at_most(500)])


class CancelForm(FlaskForm):
    reason = StringField(_l("Reason for cancelling"), filters=[strip],
                         validators=[InputRequired(_l("Say why the appointment is cancelled.")), at_most(500)])


class MoveForm(FlaskForm):
    start = SlotField("start", validators=[InputRequired(_l("Choose one of the times below."))])


class FieldErrors:
    def field_errors(self) -> dict[str, str]:
        """The first message of each broken field (the CSRF token's is reported by app/csrf.py)."""
        return {name: message for name, message in first_errors(self).items()
                if name != "csrf_token"}


class SignupForm(FieldErrors, FlaskForm):
    """Field shapes only (lengths, a real date); who may sign up is app.services.signup's to say,
    and its answers are shown next to these, all at once. The e-mail address is the login (no
    username: see app.services.signup)."""

    full_name = StringField(_l("Full name"), filters=[strip], validators=[at_most(150)])
    phone = StringField(_l("Phone"), filters=[strip], validators=[at_most(40)])
    email = StringField(_l("Email"), filters=[strip], validators=[at_most(254)])
    date_of_birth = IsoDateField(_l("Date of birth"), validators=[Optional()])
    password = PasswordField(_l("Password"), validators=[at_most(128)])
    next = HiddenField()


class ConfirmForm(FlaskForm):
    """The button that uses a confirmation link (CSRF only)."""


class ResendForm(FlaskForm):
    """Ask for a new confirmation link (CSRF only)."""


class ForgotPasswordForm(FieldErrors, FlaskForm):
    email = StringField(_l("Email"), filters=[strip],
                        validators=[InputRequired(_l("This field is required.")), at_most(254)])


class NewPasswordForm(FieldErrors, FlaskForm):
    """A new password, typed twice; its strength is app.services.accounts.passwords' to judge."""

    password = PasswordField(_l("New password"),
                             validators=[InputRequired(_l("This field is required.")), at_most(128)])
    conf_password = PasswordField(_l("New password again"), validators=[
        EqualTo("password", _l("The two passwords are not the same."))])


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[InputRequired(_l("This field is required.")), at_most(128)])


class ProfileForm(FieldErrors, FlaskForm):
    """The profile page (staff and patients alike): field shapes only; the rules (a real phone,
    a valid address, a known language) are app.services.accounts.profile's, shown all at once."""

    full_name = StringField(_l("Full name"), filters=[strip], validators=[at_most(150)])
    phone = StringField(_l("Phone"), filters=[strip], validators=[at_most(40)])
    email = StringField(_l("Email"), filters=[strip], validators=[at_most(254)])
    language = SelectField(_l("Language"), choices=[], validate_choice=False)
    channels = SelectMultipleField(_l("Send me notices by"), choices=[("email", _l("E-mail")), ("sms", _l("SMS")),
                                                                      ("zalo", _l("Zalo"))],
                                   validate_choice=False)
    # HH:MM, checked by the service (both or neither, the form of each) so that all problems show at once
    quiet_from = StringField(_l("Quiet from"), filters=[strip], validators=[at_most(5)])
    quiet_until = StringField(_l("Quiet until"), filters=[strip], validators=[at_most(5)])


class EmailChangeForm(FlaskForm):
    """The button that uses an e-mail change link (CSRF only)."""


class ReviewForm(FlaskForm):
    """Rate a completed visit: 1 to 5 stars per criterion, an optional comment. The rules (stars
    from 1 to 5, the comment's length, whose visit, once) are ``app.services.reviews``'; the form
    carries the values and the CSRF token."""

    professional = StringField(_l("Professional quality"))
    attitude = StringField(_l("Attitude"))
    waiting_time = StringField(_l("Waiting time"))
    overall = StringField(_l("Overall"))
    comment = TextAreaField(_l("Comment (optional)"), filters=[strip])
