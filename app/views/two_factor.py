"""Two-step login pages (turn on with a QR, recovery codes, turn off) and the gate that keeps a user
whose role needs it away from everything else until they have turned it on.

The same handlers serve the back office (``/account/two-factor/``, FAB's layout) and the public
site (``/clinic/account/two-factor``, its layout, app/public/account.py). Thin: every rule is in
``app.services.accounts.second_factor``."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from app.extensions import db
from app.limits import limited
from app.models.types import utcnow
from app.services.accounts import second_factor
from app.services.errors import DomainError

bp = Blueprint("two_factor", __name__, url_prefix="/account/two-factor")

_CODE_MESSAGE = _l("Enter the code from your authenticator app.")
_CODE_LABEL = _l("Code from the app")


def _code_field(label: Any = _CODE_LABEL) -> StringField:
    return StringField(label, validators=[InputRequired(_CODE_MESSAGE), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"})


class ConfirmForm(FlaskForm):
    code = _code_field()


class RenewForm(FlaskForm):
    code = _code_field()


class DisableForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[InputRequired(_l("Enter your password.")), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    code = _code_field(_l("Code from the app, or a recovery code"))


# --- the pages, for either site -------------------------------------------------------------------

SITES = {
    # site -> (layout, endpoint of each action)
    "staff": ("clinic/base.html", {"manage": "two_factor.manage", "start": "two_factor.start",
                                   "confirm": "two_factor.confirm", "renew": "two_factor.renew",
                                   "disable": "two_factor.disable"}),
    "public": ("public/base.html", {"manage": "public.two_factor", "start": "public.two_factor_start",
                                    "confirm": "public.two_factor_confirm", "renew": "public.two_factor_renew",
                                    "disable": "public.two_factor_disable"}),
}


def _appbuilder() -> Any:
    return current_app.appbuilder  # type: ignore[attr-defined]


def _render(site: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    layout, endpoints = SITES[site]
    user = current_user._get_current_object()
    state = second_factor.status(db.session, user)
    context.setdefault("state", "on" if state.enrolled else (
        "scan" if second_factor.pending_secret(db.session, user.id) else "off"))
    if context["state"] == "scan" and "qr" not in context:
        secret = second_factor.pending_secret(db.session, user.id) or ""
        uri = second_factor.provisioning_uri(secret, user.username, current_app.config.get("MFA_ISSUER") or "Clinic")
        context.update(qr=second_factor.qr_svg(uri), secret_groups=" ".join(secret[i:i + 4]
                                                                          for i in range(0, len(secret), 4)))
    context.setdefault("confirm_form", ConfirmForm())
    context.setdefault("renew_form", RenewForm())
    context.setdefault("disable_form", DisableForm())
    appbuilder = _appbuilder()
    return render_template(
        "two_factor/manage.html", layout=layout, site=site, required=state.required,
        codes_left=state.recovery_codes_left,
        urls={name: url_for(endpoint) for name, endpoint in endpoints.items()}, done_url=(
            url_for("public.my_appointments") if site == "public" else appbuilder.get_url_for_index),
        logout_link=appbuilder.get_url_for_logout, appbuilder=appbuilder, base_template=appbuilder.base_template,
        **context), status


def _login_first() -> ResponseReturnValue | None:
    if current_user.is_authenticated:
        return None
    return redirect(_appbuilder().get_url_for_login_with(request.full_path.rstrip("?")))


def manage(site: str) -> ResponseReturnValue:
    return _login_first() or _render(site)


def start(site: str) -> ResponseReturnValue:
    if (answer := _login_first()) is not None:
        return answer
    try:
        second_factor.start_enrolment(db.session, current_user.id, utcnow())
    except DomainError as refused:
        flash(refused.message, "warning")
    return redirect(url_for(SITES[site][1]["manage"]), 303)


def confirm(site: str) -> ResponseReturnValue:
    if (answer := _login_first()) is not None:
        return answer
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            codes = second_factor.confirm_enrolment(db.session, current_user.id, form.code.data, utcnow())
        except DomainError as refused:
            form.code.errors = [refused.message]
        else:
            return _render(site, state="codes", codes=codes, message=_("Two-step login is on."))
    return _render(site, 422, confirm_form=form)


def renew(site: str) -> ResponseReturnValue:
    if (answer := _login_first()) is not None:
        return answer
    form = RenewForm()
    if form.validate_on_submit():
        try:
            codes = second_factor.regenerate_recovery_codes(db.session, current_user.id, form.code.data, utcnow())
        except DomainError as refused:
            form.code.errors = [refused.message]
        else:
            return _render(site, state="codes", codes=codes,
                           message=_("New recovery codes made; the old ones no longer work."))
    return _render(site, 422, renew_form=form)


def disable(site: str) -> ResponseReturnValue:
    if (answer := _login_first()) is not None:
        return answer
    form = DisableForm()
    if form.validate_on_submit():
        try:
            second_factor.disable_second_factor(db.session, current_user._get_current_object(), form.password.data,
                                                form.code.data, utcnow())
        except DomainError as refused:
            getattr(form, refused.field or "code").errors = [refused.message]
        else:
            flash(_("Two-step login is off."), "success")
            return redirect(url_for(SITES[site][1]["manage"]), 303)
    return _render(site, 422 if form.is_submitted() else 200, disable_form=form)


bp.add_url_rule("/", "manage", lambda: manage("staff"))
bp.add_url_rule("/start", "start", lambda: start("staff"), methods=["POST"])
bp.add_url_rule("/confirm", "confirm", limited("login")(lambda: confirm("staff")), methods=["POST"])
bp.add_url_rule("/recovery-codes", "renew", limited("login")(lambda: renew("staff")), methods=["POST"])
bp.add_url_rule("/disable", "disable", limited("login")(lambda: disable("staff")), methods=["POST"])


# --- the gate ---------------------------------------------------------------------------------------

def _open_while_enrolling() -> set[str]:
    """Endpoints a user who must still enrol may reach: the enrolment, logout, language, static files."""
    appbuilder = _appbuilder()
    auth_view = appbuilder.sm.auth_view
    return {"static", "appbuilder.static", "vendor_socketio", f"{auth_view.endpoint}.logout",
            f"{auth_view.endpoint}.login", f"{auth_view.endpoint}.login_code", "LocaleView.index", "public.language",
            *SITES["staff"][1].values(), *SITES["public"][1].values()}


def must_enrol(user: Any) -> bool:
    """A logged-in user whose role needs two-step login and who has not turned it on. The user's
    enrolment is read with the user (``ClinicSecurityManager.load_user``: no extra query)."""
    if not second_factor.is_required(user):
        return False
    enrolled = getattr(user, "mfa_enrolled", None)
    if enrolled is None:
        enrolled = second_factor.is_enrolled(db.session, user.id)
    return not enrolled


def enrolment_refused() -> Response:
    response = jsonify(message=_("Your role needs two-step login: enrol in the web app first."))
    response.status_code = 403
    return response


def gate() -> ResponseReturnValue | None:
    """Before every request of a browser session: a user who must enrol reaches only the pages
    of ``_open_while_enrolling``; pages send them to the enrolment, API calls get a 403 JSON. (A
    token call is checked when its token is read: ``ClinicSecurityManager.load_user_jwt``.)"""
    if request.endpoint is None or request.blueprint == "health" or not current_user.is_authenticated:
        return None
    if request.endpoint in _open_while_enrolling() or not must_enrol(current_user):
        return None
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return enrolment_refused()
    return redirect(url_for("two_factor.manage"), 303)


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.before_request(gate)
