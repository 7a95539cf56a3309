"""Security → Locked accounts: the accounts locked now after too many failed logins, each with an
Unlock button (Admin only: the permission ``LockedAccount`` is in no role's configuration)."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from app.extensions import db
from app.fab.actor import acting_user_id
from app.models.types import utcnow
from app.services.accounts import lockout
from app.services.errors import DomainError
from app.views.fields import format_local


class UnlockForm(FlaskForm):
    """The Unlock button: a POST with the CSRF token and nothing else (the account is in the URL)."""


class LockedAccountsView(BaseView):
    route_base = "/locked-accounts"
    default_view = "index"
    class_permission_name = "LockedAccount"
    base_permissions = ["can_read", "can_write"]
    method_permission_name = {"index": "read", "unlock": "write"}

    @expose("/")
    @has_access
    def index(self):
        accounts = lockout.locked_accounts(db.session, utcnow())
        return self.render_template("clinic/locked_accounts.html", accounts=accounts, form=UnlockForm(),
                                    format_local=format_local)

    @expose("/<int:user_id>/unlock", methods=["POST"])
    @has_access
    def unlock(self, user_id: int):
        if UnlockForm().validate_on_submit():
            try:
                lockout.unlock_account(db.session, user_id=user_id, now=utcnow(), actor_id=acting_user_id())
                flash(_("The account is unlocked: its owner can log in again."), "success")
            except DomainError as exc:
                db.session.rollback()
                flash(exc.message, "warning")
        return redirect(url_for(f"{self.endpoint}.index"), 303)
