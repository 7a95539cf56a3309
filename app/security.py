"""The security manager: FAB's, with roles synced from ``app.permissions``, permission checks
answered from a per-process cache (``app.permission_cache``), and no internet-dependent chart view."""
from __future__ import annotations

import logging
from typing import Any, Iterable

from flask import abort, current_app, g, jsonify
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.utils import is_null_password
from flask_babel import gettext, lazy_gettext
from flask_jwt_extended import JWTManager
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash

from app import web_sessions
from app.fab import jwt_cache, passwords as password_screens
from app.fab.login import ClinicAuthDBView
from app.fab.security_api import SecurityApi
from app.fab.security_views import screens_without_download, without_download
from app.limits import is_limited, limited
from app.models.mfa import MfaEnrolment
from app.models.types import utcnow
from app.permission_cache import PermissionCache, Snapshot, bump_version
from app.permissions import ROLE_CONFIGS
from app.services.accounts import lockout, sessions as session_service

log = logging.getLogger(__name__)


class ClinicSecurityManager(SecurityManager):
    # FAB's "User's Statistics" chart loads Google Charts from the internet: offline it is empty.
    userstatschartview = None
    authdbview = ClinicAuthDBView  # the login's next= goes through app.redirects.safe_next; two-step login
    # The password screens with the clinic's password rule, the current password asked for a
    # change, and sessions ended (app.fab.passwords).
    resetmypasswordview = password_screens.ResetMyPasswordView
    resetpasswordview = password_screens.ResetPasswordView
    security_api = SecurityApi  # login with 2FA, rotating refresh cookie, logout (app.fab.security_api)

    def __init__(self, appbuilder) -> None:
        super().__init__(appbuilder)
        self.permission_cache = PermissionCache(self.builtin_roles, self.auth_role_public)

    def permissions(self) -> Snapshot:
        """The grants of every database role, valid for this request (see ``app.permission_cache``)."""
        return self.permission_cache.current(self.session)

    # Per request: one query for the user (roles included) together with their session row (is it
    # live?), one for the permission version, and none for the checks themselves. FAB reads the
    # Public role and its permissions from the database on every check and loads the user's roles
    # and groups lazily (9 statements for one REST GET as Admin; 3 now, the record's own SELECT
    # included). FAB's ``@protect`` asks ``has_access`` twice for a token call, as a visitor before
    # it reads the token and then as the user: the first is now a set lookup.

    def load_user(self, pk: Any) -> Any | None:
        """The browser session's user, if the session its cookie names is live (not ended, not
        idle, not expired: ``app.web_sessions``); roles, session row and whether they have turned
        two-step login on (``user.mfa_enrolled``) in one query."""
        session_id = web_sessions.cookie_session_id()
        return self._load_session_user(pk, session_id) if session_id is not None else None

    def load_user_jwt(self, _jwt_header: dict, jwt_data: dict) -> Any | None:
        """The access token's user, if the session its ``sid`` names is live: a logout, "sign
        out everywhere" or a password change refuses the token at once, in every process. A
        token without ``sid`` (made by another issuer) is refused."""
        session_id = jwt_data.get("sid")
        if not isinstance(session_id, str) or not session_id:
            return None
        user = self._load_session_user(jwt_data.get("sub"), session_id)
        if user is not None:
            g.user = user  # FAB's own loader does this: the audit trail's actor for token calls
            from app.views.two_factor import enrolment_refused, must_enrol

            if must_enrol(user):  # a token made before the role that needs two-step login was given
                abort(enrolment_refused())
        return user

    def _load_session_user(self, pk: Any, session_id: str) -> Any | None:
        """The user with their roles and their groups' roles, and the state of their session, in
        one query; None unless both are there, the user active and the session live."""
        try:
            user_id = int(pk)
        except (TypeError, ValueError):
            return None
        row = self.session.execute(self._session_user_query(), {"user_id": user_id, "session_id": session_id}
                                   ).unique().first()
        if row is None:
            return None
        user, state = row[0], session_service.SessionState(*row[2:])
        user.mfa_enrolled = bool(row[1])  # read by the enrolment gate of app.views.two_factor
        if not user.is_active or not session_service.is_live(state, utcnow()):
            return None
        web_sessions.mark_loaded(session_id, state)
        return user

    def _session_user_query(self) -> Any:
        """Built once per process with bound parameters: composing it cost more than running it."""
        query = getattr(self, "_session_user_select", None)
        if query is None:
            user_model, group_model = self.user_model, self.group_model
            sessions = session_service.SESSIONS
            enrolled = select(MfaEnrolment.id).where(
                MfaEnrolment.user_id == user_model.id, MfaEnrolment.confirmed_at.is_not(None)).exists()
            query = (
                select(user_model, enrolled, *session_service.STATE_COLUMNS)
                .join(sessions, and_(sessions.c.user_id == user_model.id,
                                     sessions.c.id == bindparam("session_id")))
                .where(user_model.id == bindparam("user_id")).options(
                    joinedload(user_model.roles), joinedload(user_model.groups).joinedload(group_model.roles),
                )
            )
            self._session_user_select = query
        return query

    def get_user_roles(self, user: Any) -> list[Any]:
        """The user's roles and their groups' roles; the Public role for a visitor."""
        if not user.is_authenticated:
            public = self.permissions().public_role
            return [public] if public is not None else []
        return super().get_user_roles(user)

    def is_item_public(self, permission_name: str, view_name: str) -> bool:
        return (permission_name, view_name) in self.permissions().public_grants

    def _has_view_access(self, user: Any, permission_name: str, view_name: str) -> bool:
        return self.permission_cache.allows(self.permissions(), self.get_user_roles(user), permission_name,
                                            view_name)

    def _get_user_permission_view_menus(self, user: Any, permission_name: str,
                                        view_menus_name: Iterable[str] | None) -> set[str]:
        """The menu entries (of ``view_menus_name``) the user, or a visitor when None, may open."""
        snapshot = self.permissions()
        roles: list[Any] = self.get_user_roles(user) if user is not None else [
            role for role in (snapshot.public_role,) if role is not None]
        if view_menus_name is None:  # every entry the database roles grant
            return {view for role in roles if role.name not in self.permission_cache.builtin
                    for permission, view in snapshot.role_grants(role.id) if permission == permission_name}
        return {name for name in view_menus_name
                if self.permission_cache.allows(snapshot, roles, permission_name, name)}

    @property
    def is_auth_limited(self) -> bool:
        """FAB's own login limit (per address, one count per blueprint) is off: ``app.limits``
        counts the form and the API login together, per address and per account."""
        return False

    def register_views(self) -> None:
        """FAB's security screens, plus Security → Locked accounts (page and REST API, Admin
        only). Both logins, the form and the API, count against the login limits of
        ``app.limits`` (one count for both): an endpoint that does not carry ``@limited`` itself
        gets it here, so that no rewrite of either login leaves a door for password guessing."""
        super().register_views()
        from app.api.lockout import LockedAccountApi
        from app.views.locked_accounts import LockedAccountsView

        self.appbuilder.add_view(LockedAccountsView, "Locked accounts", label=lazy_gettext("Locked accounts"),
                                 category="Security")
        self.appbuilder.add_api(LockedAccountApi)
        api = next(view for view in self.appbuilder.baseviews if isinstance(view, self.security_api))
        for blueprint in (self.auth_view.blueprint, api.blueprint):
            endpoint = f"{blueprint.name}.login"
            view = current_app.view_functions.get(endpoint)
            if view is not None and not is_limited(view):
                current_app.view_functions[endpoint] = limited("login")(view)

    # Lockout (app.services.accounts.lockout). FAB's form login and its API login both end here.

    def auth_user_db(self, username, password):
        """FAB's database login, with the lockout: more than LOCKOUT_THRESHOLD failures in a row
        lock the account for LOCKOUT_MINUTES, during which every attempt fails like a wrong
        password (the right one too). An unknown login, an inactive account and an empty password
        fail the same way, after checking a stand-in hash so that they take as long. Every attempt
        is audited; the owner of a newly locked account gets an e-mail."""
        if not isinstance(username, str) or username == "":
            return None
        now = utcnow()
        user = self.find_user(username=username)
        by_email = self.find_user(email=username)  # both lookups always: the same time either way
        user = user if user is not None else by_email
        if user is None or not user.is_active or is_null_password(password):
            check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")
            reason = "unknown" if user is None else ("inactive" if not user.is_active else "empty_password")
            lockout.record_refused_login(self.session, username=username, reason=reason,
                                         user_id=None if user is None else user.id)
            return None
        password_ok = check_password_hash(user.password, password)
        attempt = lockout.record_login_attempt(self.session, user_id=user.id, username=username,
                                               password_ok=password_ok, now=now,
                                               policy=lockout.LockoutPolicy.from_config(current_app.config))
        if attempt.outcome == lockout.LOCKED_NOW and attempt.locked_until is not None:
            self.send_lock_notice(user, attempt.locked_until)
        if not attempt.succeeded:
            return None
        self.on_user_login(user)
        return user

    def user_language(self, user: Any) -> str | None:
        """The language the user chose on their profile (None: not chosen)."""
        from app.services.accounts.profile import stored_language

        return stored_language(self.session, getattr(user, "id", None), current_app.config["LANGUAGES"])

    def send_lock_notice(self, user: Any, locked_until) -> None:
        """E-mail the owner that their account is locked (a message of the messaging core, kind
        "account_locked", app.services.account_mail); a failure to send is logged, never shown
        (the answer to the login must stay the same as for any wrong password)."""
        if not user.email:
            return
        from app.services import account_mail

        config = current_app.config
        language = self.user_language(user)
        try:
            account_mail.send_account_email(
                self.session, config, kind="account_locked", to=user.email,
                language=language or config.get("BABEL_DEFAULT_LOCALE", "en"), user_id=user.id, now=utcnow(),
                params={"name": f"{user.first_name or ''} {user.last_name or ''}".strip() or user.username,
                        "locked_until": locked_until.isoformat(), "language": language})
        except Exception:  # noqa: BLE001 - the lock holds whether or not the mail went out
            self.session.rollback()
            log.exception("could not send the lock notice to user %s", user.id)

    def create_jwt_manager(self, app) -> JWTManager:
        """A missing, malformed, expired or forged token is 401 (not flask-jwt-extended's 422)."""
        manager = super().create_jwt_manager(app)

        def unauthorized(reason: str):
            return jsonify(message=gettext("Log in again: your access token is missing or not valid.")), 401

        manager.unauthorized_loader(unauthorized)
        manager.invalid_token_loader(unauthorized)
        manager.expired_token_loader(lambda header, payload: unauthorized("expired"))
        jwt_cache.install(manager)  # a token's signature is checked once per process, not per request
        # load_user_jwt found no live session (logged out, ended, idle) or no active user.
        manager.user_lookup_error_loader(lambda header, payload: unauthorized("ended"))
        return manager

    def create_login_manager(self, app):
        """FAB's, plus a session row for every finished login (``app.web_sessions``)."""
        manager = super().create_login_manager(app)
        web_sessions.init_app(app)
        return manager

    def sync_roles(self) -> None:
        """Create every permission of every registered view and API, the built-in roles, and
        Public; remove permissions no view declares any more. Run at deploy (``flask
        sync-roles``), never by web workers at start. Every process's cached permissions are
        read again on its next request (also after changes made by hand in SQL).

        FAB's own ``add_permissions`` syncs one view at a time: several views share one
        permission name here (a resource's screen, its REST API, its calendar or status page),
        so each view took the others' permissions for stale ones and tried to delete them
        ("Refused to delete permission view, assoc with role exists Appointment.can_write
        Admin" on every new database). Here each name is synced once, with the permissions of
        all its views."""
        for role in (self.auth_role_admin, self.auth_role_public, *ROLE_CONFIGS):
            if self.find_role(role) is None:
                self.add_role(role)
        declared: dict[str, set[str]] = {}
        for view in self.appbuilder.baseviews:
            declared.setdefault(view.class_permission_name, set()).update(view.base_permissions or ())
        for view_name, permissions in declared.items():
            self._unlink_stale_permissions(view_name, permissions)
            self.add_permissions_view(sorted(permissions), view_name)
        for category in self.appbuilder.menu.get_list():
            self.add_permissions_menu(category.name)
            for item in category.childs:
                if item.name != "-":  # a separator
                    self.add_permissions_menu(item.name)
        bump_version(self.session.connection())
        self.session.commit()

    def _unlink_stale_permissions(self, view_name: str, permissions: set[str]) -> None:
        """Take a permission no view declares any more away from every role, so that FAB's
        ``add_permissions_view`` can delete it: FAB means to do that itself but passes the
        permission instead of the permission-on-view to ``del_permission_role``, which then
        removes nothing, and the deletion is refused."""
        view_menu = self.find_view_menu(view_name)
        if view_menu is None:
            return
        for permission_view in self.find_permissions_view_menu(view_menu):
            if permission_view.permission is not None and permission_view.permission.name not in permissions:
                for role in list(permission_view.role):
                    role.permissions.remove(permission_view)
        self.session.commit()


# FAB's security screens without their broken ``download`` route (see ``app.fab.security_views``).
for _name, _screen in screens_without_download().items():
    setattr(ClinicSecurityManager, _name, _screen)
# The users screen's "add" form checks the password rule (app.fab.passwords).
ClinicSecurityManager.userdbmodelview = without_download(password_screens.UserDBModelView)
