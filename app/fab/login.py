"""FAB's login form with every ``next=`` checked by ``app.redirects.safe_next``, the second
step of a two-step login (``app.services.accounts.second_factor``), and a logout that ends the
session on the server."""
from __future__ import annotations

from typing import Any

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from app import web_sessions
from app.extensions import db
from app.limits import limited
from app.models.types import utcnow
from app.redirects import is_safe_path, safe_next
from app.services.accounts import second_factor
from app.services.roles import is_staff, role_names

PENDING_KEY = "mfa_pending"  # the session value of a login whose password was right, waiting for its code
MAX_CODE_TRIES = 5  # wrong codes before the password must be typed again


class LoginCodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[
        InputRequired(_l("Enter the code from your authenticator app, or a recovery code.")), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"})


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="clinic-mfa-pending-login")


def remember_pending_login(user_id: int, next_url: str) -> None:
    """``at``: when the password was right (wrong codes re-sign the value but do not extend it)."""
    session[PENDING_KEY] = _signer().dumps({"user": user_id, "next": next_url, "tries": 0,
                                            "at": int(utcnow().timestamp())})


def pending_login() -> dict[str, Any] | None:
    """The login waiting for its code (signed, younger than ``MFA_PENDING_SECONDS``), or None."""
    value = session.get(PENDING_KEY)
    if not value:
        return None
    try:
        pending = _signer().loads(value)
    except BadSignature:
        pending = None
    max_age = int(current_app.config.get("MFA_PENDING_SECONDS", 300))
    if not (isinstance(pending, dict) and isinstance(pending.get("user"), int) and isinstance(pending.get("at"), int)
            and 0 <= utcnow().timestamp() - pending["at"] <= max_age):
        session.pop(PENDING_KEY, None)
        return None
    return pending


def landing_url(user: Any, asked: str | None) -> str:
    """Where a completed login leads: the safe ``next`` asked for, else the start page of the
    user's side of the site: the patient portal for a login whose only role is Patient (the back
    office's start page would only tell them it is for staff), My day for a doctor, the lab
    worklist for a login whose only role is Lab, the cashier's counter for a cashier, the back office
    for other staff."""
    if is_safe_path(asked):
        return str(asked)
    if not is_staff(role_names(user)):
        return url_for("public.my_appointments")
    if "Doctor" in role_names(user):
        return url_for("MyDayView.day")  # a doctor's start page: today's patients (issue 9)
    if role_names(user) == {"Lab"}:  # lab technicians start at their worklist
        return url_for("LabView.worklist")
    if "Cashier" in role_names(user):  # cashiers start at the counter (issue 11)
        return url_for("CashierView.index")
    return current_app.appbuilder.get_url_for_index  # type: ignore[attr-defined]


class ClinicAuthDBView(AuthDBView):
    """FAB's login form, with ``next=`` checked by ``safe_next``. FAB's own check
    (``flask_appbuilder.utils.base.is_safe_redirect_url``) accepts ``/\\evil.example`` and
    ``\\\\evil.example``, which browsers read as ``//evil.example`` (another site), and CR/LF. A
    login link whose ``next`` is unsafe is answered with the plain login page (no ``next``),
    before FAB reads it. Posted logins count against the login rate limits.

    Two-step login: FAB's form logs in as soon as the password is right. Here, when the user has
    turned two-step login on, the password only makes the login pending (a signed session value
    that expires after ``MFA_PENDING_SECONDS``) and the code page asks for a code; ``login_user``
    is called only after it, the one place a form login completes. The password is still checked
    by the security manager's ``auth_user_db`` (lockout counts there)."""

    code_template = "clinic/login_code.html"

    login_template = "clinic/login.html"  # FAB's form, plus "forgot your password?" and sign-up links

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    @limited("login")  # per address and per account, the API login counted together (app.limits)
    def login(self):
        target = request.args.get("next")
        if target is not None and not is_safe_path(target):
            return redirect(url_for(f"{self.endpoint}.login"), 303)
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        status = 200
        if form.validate_on_submit():
            user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
            if not user:
                # The form again, its username kept (the password field never echoes its value), with
                # one message whatever the reason (wrong password, unknown user, locked, inactive).
                flash(str(self.invalid_login_message), "warning")
                status = 401
            elif second_factor.is_enrolled(db.session, user.id):
                remember_pending_login(user.id, self._get_safe_next_url(""))
                return redirect(url_for(f"{self.endpoint}.login_code"), 303)
            else:
                session.pop(PENDING_KEY, None)
                login_user(user, remember=False)
                return redirect(landing_url(user, request.args.get("next")))
        return self.render_template(self.login_template, title=self.title, form=form,
                                    appbuilder=self.appbuilder), status

    @expose("/login/code/", methods=["GET", "POST"])
    @no_cache
    @limited("login")
    def login_code(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_index)
        pending = pending_login()
        if pending is None:
            flash(_("Log in again: the time to type the code is over."), "warning")
            return redirect(url_for(f"{self.endpoint}.login"), 303)
        form = LoginCodeForm()
        status = 200
        if form.validate_on_submit():
            try:
                second_factor.verify_second_factor(db.session, pending["user"], form.code.data, utcnow())
            except second_factor.SecondFactorRefused as refused:
                pending["tries"] = int(pending.get("tries", 0)) + 1
                if pending["tries"] >= MAX_CODE_TRIES:
                    session.pop(PENDING_KEY, None)
                    flash(_("Too many wrong codes: log in again."), "warning")
                    return redirect(url_for(f"{self.endpoint}.login"), 303)
                session[PENDING_KEY] = _signer().dumps(pending)
                form.code.errors = [refused.message]
                status = 422
            else:
                session.pop(PENDING_KEY, None)
                user = self.appbuilder.sm.get_user_by_id(pending["user"])
                if user is None or not user.is_active:
                    return redirect(url_for(f"{self.endpoint}.login"), 303)
                login_user(user, remember=False)
                return redirect(landing_url(user, pending.get("next")), 303)
        elif form.is_submitted():
            status = 422
        return self.render_template(self.code_template, title=_("Two-step login"), form=form,
                                    login_url=url_for(f"{self.endpoint}.login")), status

    def _get_safe_next_url(self, default: str | None = None) -> str:
        return safe_next(request.args.get("next"),
                         self.appbuilder.get_url_for_index if default is None else default)

    @expose("/logout/", methods=["GET", "POST"])
    @no_cache
    def logout(self):
        """POST (with the CSRF token, checked by ``app.csrf``) ends the session: its row in the
        database, so a copy of the cookie is refused afterwards too. FAB logs out on a GET: any
        page of any site could do that with an image, the session cookie being SameSite=Lax.
        A GET (an old link, a bookmark) asks first."""
        index = current_app.config.get("LOGOUT_REDIRECT_URL", self.appbuilder.get_url_for_index)
        if request.method == "POST":
            index = safe_next(request.form.get("next"), index)  # the public site's header: back to it
            user = self._get_authenticated_user()
            web_sessions.end_current_session("logout")
            if user is not None:
                self.appbuilder.sm.on_user_logout(user)
            return redirect(index, 303)
        if not current_user.is_authenticated:
            return redirect(index)
        return self.render_template("clinic/logout.html")
