"""The public site's account pages: signing up, confirming the e-mail address (and asking for a
new link), a forgotten password, and the language switch. Every answer that could tell whether
an address is registered is the same page either way (app.services.signup explains the choice)."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _, refresh
from flask_login import current_user

from app import web_sessions
from app.extensions import db
from app.i18n import current_language
from app.limits import limited
from app.models.types import utcnow
from app.public.common import appbuilder, bp, login_url, settings
from app.public.forms import (
    ChangePasswordForm,
    ConfirmForm,
    ForgotPasswordForm,
    NewPasswordForm,
    ResendForm,
    SignupForm,
)
from app.redirects import safe_next
from app.services import account_mail, signup as signup_service
from app.services.accounts import passwords
from app.services.accounts.links import LinkRefused
from app.services.errors import DomainError, ValidationFailed
from app.views import two_factor


@bp.get("/language/<locale>")
def language(locale: str) -> ResponseReturnValue:
    """The public site's language switch: the same session setting as FAB's ``/lang/<locale>``
    (app/i18n.py), but back to the page it was clicked on rather than FAB's page history."""
    if locale not in current_app.config["LANGUAGES"]:
        abort(404)
    session["locale"] = locale
    refresh()
    return redirect(safe_next(request.args.get("next"), url_for("public.index")))


def policy() -> passwords.PasswordPolicy:
    return passwords.PasswordPolicy.from_config(current_app.config)


def _send(kind: str, to: str, token: str | None = None, user_id: int | None = None, **params: object) -> None:
    """One account e-mail through the messaging core (app.services.account_mail): recorded for the
    delivery dashboard, sent at once without Redis, retried if the mail server is down."""
    account_mail.send_account_email(db.session, current_app.config, kind=kind, to=to, language=current_language(),
                                    params=params, token=token, user_id=user_id, now=utcnow())


def _link(endpoint: str) -> str:
    """The link of ``endpoint`` with the token's placeholder (the token itself is sealed apart)."""
    return url_for(endpoint, token=account_mail.TOKEN_PLACEHOLDER, _external=True)


def _mail_confirmation(address: str, token: str) -> None:
    _send("account_confirm", address, token, link=_link("public.confirm"),
          hours=int(current_app.config.get("CONFIRM_LINK_HOURS", 48)))


def _mail_signup_attempt(address: str) -> None:
    _send("account_exists", address, login_url=url_for(f"{appbuilder().sm.auth_view.endpoint}.login", _external=True),
          forgot_url=url_for("public.forgot_password", _external=True))


def _signup_page(form: SignupForm, next_url: str, errors: dict, status: int = 200) -> ResponseReturnValue:
    return render_template("public/signup.html", form=form, errors=errors, next_url=next_url, policy=policy()), status


@bp.get("/signup")
def signup() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"), url_for("public.my_appointments"))
    if current_user.is_authenticated:
        return redirect(next_url)
    return _signup_page(SignupForm(formdata=None), next_url, {})


@bp.post("/signup")
@limited("signup")
def signup_post() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"), url_for("public.my_appointments"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = SignupForm()
    form.validate()
    try:
        outcome = signup_service.sign_up_patient(
            db.session, full_name=form.full_name.data or "", phone=form.phone.data or "",
            email=form.email.data or "", date_of_birth=form.date_of_birth.data, password=form.password.data or "",
            settings=settings(), policy=policy(), now=utcnow(), config=current_app.config,
            known_errors=form.field_errors())
    except signup_service.SignupRefused as exc:
        return _signup_page(form, next_url, exc.errors, 422)
    except DomainError as exc:
        db.session.rollback()
        return _signup_page(form, next_url, {"form": exc.message}, exc.status)
    if outcome.token:
        _mail_confirmation(outcome.email, outcome.token)
    else:
        _mail_signup_attempt(outcome.email)
    return render_template("public/signup_sent.html", email=outcome.email, next_url=next_url)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> ResponseReturnValue:
    """GET shows a button (a mail scanner opening the link spends nothing); POST confirms."""
    form = ConfirmForm()
    try:
        if request.method == "GET" or not form.validate_on_submit():
            signup_service.check_confirmation(db.session, token, utcnow())
            return render_template("public/confirm.html", form=form)
        signup_service.confirm_email(db.session, token=token, now=utcnow(), settings=settings())
    except LinkRefused as exc:
        db.session.rollback()
        return render_template("public/link_refused.html", message=exc.message, purpose="confirm"), exc.status
    except DomainError as exc:  # the sign-up's details no longer pass the patient rules: the desk can help
        db.session.rollback()
        return render_template("public/message.html", title=_("This link cannot be used"), message=exc.message), \
            exc.status
    flash(_("Thank you: your e-mail address is confirmed. You can book now."), "success")
    if current_user.is_authenticated:
        return redirect(url_for("public.book"))
    return redirect(login_url(url_for("public.book")))


@bp.post("/confirm/resend")
@limited("resend")
def resend_confirmation() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(login_url(url_for("public.my_appointments")))
    form = ResendForm()
    if form.validate_on_submit():
        sent = signup_service.resend_confirmation(db.session, user_id=current_user.id, now=utcnow(),
                                                  config=current_app.config)
        if sent is not None:
            _mail_confirmation(*sent)
            flash(_("We sent a new link to %(email)s. Older links no longer work.", email=sent[0]), "success")
    return redirect(safe_next(request.form.get("next"), url_for("public.my_appointments")))


@bp.get("/password/forgot")
def forgot_password() -> ResponseReturnValue:
    return render_template("public/forgot_password.html", form=ForgotPasswordForm(formdata=None), errors={})


@bp.post("/password/forgot")
@limited("reset")
def forgot_password_post() -> ResponseReturnValue:
    """The same answer for a known and an unknown address; only a known one gets a message."""
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("public/forgot_password.html", form=form, errors=form.field_errors()), 422
    found = passwords.request_reset(db.session, email=form.email.data or "", now=utcnow(), config=current_app.config)
    if found is not None:
        user, token = found
        _send("password_reset", user.email, token, user.id, link=_link("public.reset_password"),
              minutes=int(current_app.config.get("RESET_LINK_MINUTES", 60)))
    return render_template("public/forgot_sent.html", email=form.email.data)


@bp.get("/password/reset/<token>")
def reset_password(token: str) -> ResponseReturnValue:
    """The form for a new password, if the link may still be used (reading it spends nothing)."""
    try:
        passwords.links.check_link(db.session, token, "reset", utcnow())
    except LinkRefused as exc:
        return render_template("public/link_refused.html", message=exc.message, purpose="reset"), exc.status
    return render_template("public/reset_password.html", form=NewPasswordForm(formdata=None), errors={})


@bp.post("/password/reset/<token>")
@limited("reset")
def reset_password_post(token: str) -> ResponseReturnValue:
    form = NewPasswordForm()
    try:
        errors = form.field_errors() if not form.validate_on_submit() else {}
        if errors:
            passwords.links.check_link(db.session, token, "reset", utcnow())
            return render_template("public/reset_password.html", form=form, errors=errors), 422
        passwords.reset_password(db.session, token=token, password=form.password.data, policy=policy(),
                                 now=utcnow(), settings=settings())
    except LinkRefused as exc:
        db.session.rollback()
        return render_template("public/link_refused.html", message=exc.message, purpose="reset"), exc.status
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("public/reset_password.html", form=form,
                               errors={exc.field or "password": exc.message}), 422
    flash(_("Your password is changed. Log in with the new one."), "success")
    return redirect(login_url(url_for("public.my_appointments")))


@bp.route("/me/password", methods=["GET", "POST"])
def change_password() -> ResponseReturnValue:
    """A patient's own password change (staff have FAB's "Reset my password", which asks the same:
    app.fab.passwords): the current password, then the rule; the other sessions end."""
    if not current_user.is_authenticated:
        return redirect(login_url(url_for("public.change_password")))
    form = ChangePasswordForm()
    if not form.is_submitted():
        return render_template("public/change_password.html", form=form, errors={})
    errors = form.field_errors()
    if not errors:
        try:
            passwords.change_password(db.session, user_id=current_user.id, current_password=form.current_password.data,
                                      new_password=form.password.data, policy=policy(), now=utcnow(),
                                      keep_session_id=web_sessions.current_session_id())
        except passwords.PasswordRefused as exc:
            errors = exc.errors
    if errors:
        return render_template("public/change_password.html", form=form, errors=errors), 422
    flash(_("Your password is changed. Your other sessions are signed out."), "success")
    return redirect(url_for("public.my_appointments"))


# Two-step login, in the public site's layout (the same handlers as the back office's page).
bp.add_url_rule("/account/two-factor", "two_factor", lambda: two_factor.manage("public"))
bp.add_url_rule("/account/two-factor/start", "two_factor_start", lambda: two_factor.start("public"), methods=["POST"])
bp.add_url_rule("/account/two-factor/confirm", "two_factor_confirm",
                limited("login")(lambda: two_factor.confirm("public")), methods=["POST"])
bp.add_url_rule("/account/two-factor/recovery-codes", "two_factor_renew",
                limited("login")(lambda: two_factor.renew("public")), methods=["POST"])
bp.add_url_rule("/account/two-factor/disable", "two_factor_disable",
                limited("login")(lambda: two_factor.disable("public")), methods=["POST"])
