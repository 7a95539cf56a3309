"""The profile page of every signed-in user: patients on the public site (``/clinic/me/profile``),
staff in the back office (``/profile/``, app/views/profile.py); the same form and handler, each in
its site's layout. Also the page an e-mail change link opens, and "download all my data".

Thin: every rule is in app.services.accounts.profile; the mails are written here."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _, refresh
from flask_login import current_user

from app.extensions import db
from app.i18n import current_language
from app.models.types import utcnow
from app.public.common import bp, current_path, login_url, settings
from app.public.forms import EmailChangeForm, ProfileForm
from app.services import account_mail, signup as signup_service
from app.services.accounts import links, profile as profile_service
from app.services.accounts.links import LinkRefused
from app.services.errors import DomainError, NotFound
from app.services.roles import is_staff, role_names

# Pages of the other account work, linked when they are installed (endpoint names).
SESSIONS_ENDPOINTS = ("AccountSessionsView.sessions",)
SIGN_OUT_EVERYWHERE_ENDPOINTS = ("AccountSessionsView.end_all",)  # a POST
TWO_FACTOR_ENDPOINTS = {"staff": ("two_factor.manage",), "public": ("public.two_factor", "two_factor.manage")}
PASSWORD_ENDPOINTS = {"staff": ("ResetMyPasswordView.this_form_get",), "public": ("public.change_password",)}


def endpoint_url(candidates: tuple[str, ...]) -> str | None:
    """The URL of the first of ``candidates`` that exists in this app, else None."""
    for endpoint in candidates:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return None


def _send(kind: str, to: str, language: str, token: str | None = None, user_id: int | None = None,
          **params: object) -> None:
    """One account e-mail through the messaging core (app.services.account_mail)."""
    account_mail.send_account_email(db.session, current_app.config, kind=kind, to=to, language=language,
                                    params=params, token=token, user_id=user_id, now=utcnow())


def mail_email_change(user: Any, outcome: profile_service.ProfileUpdate) -> None:
    """The link to the new address (none when it belongs to another login: its owner is told
    instead, and the answer to the user is the same), and a notice to the old address; in the
    language saved on the profile, else this request's."""
    if outcome.email_change is None:
        return
    language = outcome.profile.language or current_language()
    address, token = outcome.email_change
    user_id = getattr(user, "id", None)
    if token is not None:
        _send("email_change", address, language, token, user_id,
              link=url_for("public.email_change", token=account_mail.TOKEN_PLACEHOLDER, _external=True),
              hours=int(current_app.config.get("EMAIL_CHANGE_LINK_HOURS", 24)))
    else:
        _send("email_change_taken", address, language)
    if outcome.old_email:
        _send("email_change_notice", outcome.old_email, language, None, user_id, email=address)


def site_of(user: Any) -> str:
    """"staff" (back office) or "public" (a patient, or a login with no role)."""
    return "staff" if is_staff(role_names(user)) else "public"


def profile_url(user: Any) -> str:
    return url_for("ProfileView.index") if site_of(user) == "staff" else url_for("public.profile")


def _form_for(found: profile_service.Profile, formdata: Any = None) -> ProfileForm:
    form = ProfileForm(formdata=formdata, data={
        "full_name": found.full_name, "phone": profile_service.display_phone(found.phone, settings().phone_region),
        "email": found.email or "",
        "language": found.language or "", "channels": found.channels,
        "quiet_from": profile_service.format_quiet_time(found.quiet_from),
        "quiet_until": profile_service.format_quiet_time(found.quiet_until)})
    used = set(str(current_app.config.get("MESSAGE_CHANNELS", "email,sms,zalo")).replace(" ", "").split(","))
    form.channels.choices = [(value, label) for value, label in form.channels.choices
                             if value in used or value in found.channels]
    form.language.choices = [("", _("Follow my browser"))] + [
        (code, language["name"]) for code, language in current_app.config["LANGUAGES"].items()]
    return form


def _render(site: str, form: ProfileForm, found: profile_service.Profile, errors: dict,
            status: int = 200, render: Any = None) -> ResponseReturnValue:
    from app.api.profile import two_factor_status

    context = {
        "form": form, "profile": found, "errors": errors, "site": site,
        "two_factor": two_factor_status(current_user),
        "two_factor_url": endpoint_url(TWO_FACTOR_ENDPOINTS[site]),
        "sessions_url": endpoint_url(SESSIONS_ENDPOINTS),
        "sign_out_everywhere_url": endpoint_url(SIGN_OUT_EVERYWHERE_ENDPOINTS),
        "password_url": endpoint_url(PASSWORD_ENDPOINTS[site]),
        "export_url": url_for("public.export_my_data") if found.is_patient else None,
        "action": request.path,
    }
    if render is not None:  # the back office: FAB's render_template (its layout's context)
        return render("clinic/profile.html", **context), status
    return render_template("public/profile.html", **context), status


def profile_page(site: str, render: Any = None) -> ResponseReturnValue:
    """GET shows the form; POST saves it (all problems at once, 422) and comes back to the page."""
    now = utcnow()
    found = profile_service.read_profile(db.session, current_user.id, now)
    if request.method != "POST":
        return _render(site, _form_for(found), found, {}, render=render)
    form = _form_for(found, request.form)
    changes = {"full_name": form.full_name.data or "", "phone": form.phone.data or None,
               "email": form.email.data or "", "language": form.language.data or None,
               "channels": list(form.channels.data or []),
               "quiet_from": form.quiet_from.data or None, "quiet_until": form.quiet_until.data or None}
    languages = list(current_app.config["LANGUAGES"])
    if not form.validate_on_submit():
        errors = form.field_errors()
        if not errors:  # only the CSRF token was refused
            return _render(site, form, found, {"form": _("The form expired. Please try again.")}, 422, render)
        problems = profile_service.profile_problems(  # the rules' problems too: every field at once
            db.session, user_id=current_user.id, settings=settings(), languages=languages,
            changes={name: value for name, value in changes.items() if name not in errors})
        return _render(site, form, found, {**problems, **errors}, 422, render)
    try:
        outcome = profile_service.update_profile(db.session, user_id=current_user.id, changes=changes,
                                                 settings=settings(), languages=languages, now=now,
                                                 config=current_app.config)
    except profile_service.ProfileRefused as exc:
        return _render(site, form, found, exc.errors, 422, render)
    except DomainError as exc:
        db.session.rollback()
        return _render(site, form, found, {"form": exc.message}, exc.status, render)
    if outcome.profile.language:
        session["locale"] = outcome.profile.language  # this session follows the new choice now
    elif "language" in outcome.changed:
        session.pop("locale", None)
    refresh()
    flash(_("Your profile is saved."), "success")
    if outcome.email_change is not None:
        mail_email_change(current_user, outcome)
        flash(_("We sent a link to %(email)s: your e-mail address changes when you open it.",
                email=outcome.email_change[0]), "info")
    return redirect(request.path, 303)


@bp.route("/me/profile", methods=["GET", "POST"])
def profile() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(login_url(current_path()))
    if site_of(current_user) == "staff":
        return redirect(url_for("ProfileView.index"))
    return profile_page("public")


@bp.get("/me/export")
def export_my_data() -> ResponseReturnValue:
    """All the patient's data as a JSON file (the read is audited; nothing else changes)."""
    if not current_user.is_authenticated:
        return redirect(login_url(current_path()))
    now = utcnow()
    try:
        data = profile_service.export_my_data(db.session, user_id=current_user.id, now=now)
    except NotFound as exc:
        db.session.rollback()
        return render_template("public/message.html", title=_("No patient record"), message=exc.message), 404
    name = f"my-clinic-data-{now.date().isoformat()}.json"
    return Response(profile_service.export_json(data), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.route("/me/email/<token>", methods=["GET", "POST"])
def email_change(token: str) -> ResponseReturnValue:
    """GET shows a button (a mail scanner opening the link spends nothing); POST moves the login to
    the new address and tells the old one."""
    form = EmailChangeForm()
    now: datetime = utcnow()
    try:
        link = links.check_link(db.session, token, "email_change", now)
        if request.method == "GET" or not form.validate_on_submit():
            return render_template("public/email_change.html", form=form, email=link.email)
        from flask_appbuilder.security.sqla.models import User

        owner = db.session.get(User, link.user_id)
        old = owner.email if owner is not None else None
        user_id = signup_service.change_email(db.session, token=token, now=now)
    except LinkRefused as exc:
        db.session.rollback()
        return render_template("public/link_refused.html", message=exc.message, purpose="email_change"), exc.status
    except DomainError as exc:
        db.session.rollback()
        return render_template("public/message.html", title=_("This link cannot be used"), message=exc.message), \
            exc.status
    if old and old.lower() != (link.email or "").lower():
        language = profile_service.stored_language(db.session, user_id, current_app.config["LANGUAGES"])
        _send("email_changed", old, language or current_language(), None, user_id, email=link.email)
    flash(_("Your e-mail address is now %(email)s.", email=link.email), "success")
    if current_user.is_authenticated and current_user.id == user_id:
        return redirect(profile_url(current_user))
    return redirect(login_url(url_for("public.profile")))
