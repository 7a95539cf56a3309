"""FAB's password screens, with the clinic's password rule (app.services.accounts.passwords).

FAB 5.3 asks nothing of a new password on its own screens (its ``PasswordComplexityValidator``
is off unless configured, and sees only the password, not whose it is, so it cannot tell a
staff login from a patient's nor refuse the user's own name), and its "Reset my password" does
not ask for the current password: anyone at an unlocked screen could take over the account. It
also ends no session. Here:

Each keeps FAB's class name: FAB's endpoints and permissions are named after the class.

- ``ResetMyPasswordView`` (the user's "Reset my password"): the current password first,
  then the rule for the user's roles; the user's other sessions end;
- ``ResetPasswordView`` (an admin's "Reset password" of another user): the rule for that
  user's roles; all of that user's sessions end;
- ``UserDBModelView`` (an admin adds a user): the rule for the roles chosen in the form.

They are set on the security manager (``app.security``) through FAB's class attributes."""
from __future__ import annotations

from typing import Any

from flask import current_app, flash, g, request
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security import views as fab_views
from flask_babel import gettext as _, lazy_gettext as _l
from werkzeug.security import check_password_hash
from wtforms import Field, Form, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from app import web_sessions
from app.extensions import db
from app.models.types import utcnow
from app.services.accounts import passwords
from app.services.errors import ValidationFailed
from app.services.roles import is_staff


def policy() -> passwords.PasswordPolicy:
    return passwords.PasswordPolicy.from_config(current_app.config)


def _target_user_id() -> int | None:
    try:
        return int(request.args.get("pk", ""))
    except ValueError:
        return None


class RuleForUser:
    """The password rule for ``user_id()``'s roles and names."""

    def __init__(self, user_id) -> None:
        self.user_id = user_id

    def __call__(self, form: Form, field: Field) -> None:
        user_id = self.user_id()
        if user_id is None:
            raise ValidationError(_("This login does not exist."))
        try:
            passwords.check_for_user(db.session, user_id, field.data, policy())
        except ValidationFailed as exc:
            raise ValidationError(exc.message) from None


class RuleForNewUser:
    """The password rule for the roles and names typed in FAB's "add user" form."""

    def __call__(self, form: Form, field: Field) -> None:
        roles = getattr(form, "roles", None)
        names = [getattr(getattr(form, name, None), "data", None)
                 for name in ("username", "first_name", "last_name", "email")]
        problems = passwords.password_problems(
            field.data, staff=is_staff(role.name for role in (roles.data or []) if role is not None)
            if roles is not None else True, inputs=passwords.user_inputs(*names), policy=policy())
        if problems:
            raise ValidationError(" ".join(problems))


def current_password_of_user(form: Form, field: Field) -> None:
    user = getattr(g, "user", None)
    if user is None or not field.data or not check_password_hash(user.password or "", field.data):
        raise ValidationError(_("This is not your current password."))


def _password(label, description, validators) -> PasswordField:
    return PasswordField(label, description=description, validators=validators, widget=BS3PasswordFieldWidget())


def _confirmation() -> PasswordField:
    return _password(_l("Confirm Password"), _l("Please rewrite the password to confirm"),
                     [EqualTo("password", message=_l("Passwords must match"))])


class ChangeMyPasswordForm(DynamicForm):
    current_password = _password(_l("Current password"), _l("The password you log in with now"),
                                 [DataRequired(), current_password_of_user])
    password = _password(_l("New password"), _l("Long and hard to guess: a few unusual words work well"),
                         [DataRequired(), Length(max=passwords.MAX_CHECKED_LENGTH),
                          RuleForUser(lambda: getattr(getattr(g, "user", None), "id", None))])
    conf_password = _confirmation()


class AdminSetPasswordForm(DynamicForm):
    password = _password(_l("Password"), _l("Long and hard to guess: a few unusual words work well"),
                         [DataRequired(), Length(max=passwords.MAX_CHECKED_LENGTH), RuleForUser(_target_user_id)])
    conf_password = _confirmation()


class ResetMyPasswordView(fab_views.ResetMyPasswordView):
    form = ChangeMyPasswordForm

    def form_post(self, form: DynamicForm) -> Any:
        try:
            passwords.change_password(db.session, user_id=g.user.id, current_password=form.current_password.data,
                                      new_password=form.password.data, policy=policy(), now=utcnow(),
                                      keep_session_id=web_sessions.current_session_id())
        except ValidationFailed as exc:  # checked by the form already; a race at most
            db.session.rollback()
            flash(exc.message, "danger")
            return None
        flash(_("Your password is changed. Your other sessions are signed out."), "info")
        return None


class ResetPasswordView(fab_views.ResetPasswordView):
    form = AdminSetPasswordForm

    def form_post(self, form: DynamicForm) -> Any:
        user_id = _target_user_id()
        try:
            passwords.set_password(db.session, user_id=user_id or 0, password=form.password.data, policy=policy(),
                                   now=utcnow(), actor_id=g.user.id)
        except ValidationFailed as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return None
        flash(_("The password is changed; that user's sessions are signed out."), "info")
        return None


class UserDBModelView(fab_views.UserDBModelView):
    add_form_extra_fields = {
        "password": _password(_l("Password"), _l("The user's password for authentication"),
                              [DataRequired(), Length(max=passwords.MAX_CHECKED_LENGTH), RuleForNewUser()]),
        "conf_password": _password(_l("Confirm Password"), _l("Please rewrite the user's password to confirm"),
                                   [DataRequired(), EqualTo("password", message=_l("Passwords must match"))]),
    }
