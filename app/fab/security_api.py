"""FAB's REST security API (``/api/v1/security/...``), replaced: a login that also asks for the
second factor, a short-lived access token in the body, the refresh token in a cookie that scripts
cannot read, rotated on every use, and a logout that ends the session on the server.

FAB's own ``SecurityApi`` hands the refresh token out in the body (any script of the page can
steal it), never rotates it (a stolen one works for its whole life: FAB's default 30 days) and has
no logout (a token keeps working until it expires). Same class name as FAB's on purpose: the
endpoints stay ``SecurityApi.login`` and ``SecurityApi.refresh`` (``app.csrf``, ``app.fab.input``).

- ``POST /login`` (username, password, optional ``code`` for two-factor users): the password is
  checked by the security manager's ``auth_user_db`` (lockout included), then the second factor.
  Answers ``access_token`` (``sid`` claim: the API session), ``csrf_token`` and ``expires_in``;
  sets the ``refresh_token`` cookie (HttpOnly, SameSite=Strict, Path=the refresh URL, Secure on
  HTTPS) and the ``refresh_csrf`` cookie (readable by the page's scripts).
- ``POST /refresh``: the cookie's token is used up and the next one set; the request must repeat
  the ``refresh_csrf`` value in an ``X-CSRF-TOKEN`` header (double submit: a page of another site
  can neither read the cookie nor set the header). A token used twice ends its session: the
  second use and every later refresh of the family are refused.
- ``POST /logout`` (Bearer access token): the session ends; its access tokens are refused at
  once and its refresh tokens revoked, in every process (the state is in the database)."""
from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from flask import Response, current_app, jsonify, request
from flask_appbuilder.api import expose
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from flask_babel import gettext as _
from flask_jwt_extended import create_access_token, get_jwt, jwt_required
from marshmallow import Schema, ValidationError, fields, validate

from app import web_sessions
from app.audit import record_event
from app.extensions import db
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.limits import limited
from app.models.types import utcnow
from app.services.accounts import second_factor, sessions as session_service

REFRESH_PATH = "/api/v1/security/refresh"
REFRESH_COOKIE = "refresh_token"
CSRF_COOKIE = "refresh_csrf"
CSRF_HEADER = "X-CSRF-TOKEN"


class LoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=256))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                         metadata={"description": "The authenticator app's code (or a recovery code), "
                                                  "for users with two-factor login."})
    provider = fields.String(load_default="db", validate=validate.OneOf(["db"]))
    refresh = fields.Boolean(load_default=True, metadata={"description": "Ignored: the refresh token is "
                                                                          "always set, as a cookie."})


class TokenOut(Schema):
    access_token = fields.String(required=True)
    csrf_token = fields.String(required=True, metadata={
        "description": f"Send it back in the {CSRF_HEADER} header to refresh (also in the {CSRF_COOKIE} cookie)."})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the access token is valid."})


class MessageOut(Schema):
    message = fields.String(required=True)


def csrf_for(refresh_token: str) -> str:
    """The double-submit value bound to one refresh token (rotates with it)."""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, b"refresh-csrf:" + refresh_token.encode("utf-8"), hashlib.sha256).hexdigest()


def _secure() -> bool:
    return request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE"))


def refresh_lifetime() -> timedelta:
    return timedelta(days=current_app.config["JWT_REFRESH_DAYS"])


def _tokens(user_id: int, session_id: str, refresh_token: str, fresh: bool) -> Response:
    expires: timedelta = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    csrf_token = csrf_for(refresh_token)
    access = create_access_token(identity=str(user_id), fresh=fresh, additional_claims={"sid": session_id})
    response = jsonify(access_token=access, csrf_token=csrf_token, expires_in=int(expires.total_seconds()))
    max_age = int(refresh_lifetime().total_seconds())
    response.set_cookie(REFRESH_COOKIE, refresh_token, max_age=max_age, path=REFRESH_PATH, httponly=True,
                        samesite="Strict", secure=_secure())
    response.set_cookie(CSRF_COOKIE, csrf_token, max_age=max_age, path="/", httponly=False, samesite="Strict",
                        secure=_secure())
    return response


def _forget_cookies(response: Response) -> Response:
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, samesite="Strict", secure=_secure())
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="Strict", secure=_secure())
    return response


def _refused(status: int, message: str) -> Response:
    response = jsonify(message=message)
    response.status_code = status
    return response


class SecurityApi(ClinicBaseApi, FabSecurityApi):
    @expose("/login", methods=["POST"])
    @openapi(body=LoginIn, responses={200: ("Logged in: the access token; the refresh token is set as a cookie",
                                            TokenOut)}, errors=(400,))
    @limited("login")
    def login(self) -> Response:
        """Log in: an access token, and the refresh token as a cookie"""
        try:
            data: dict[str, Any] = LoginIn().load(json_body())
        except ValidationError as error:  # FAB's answer to a malformed login was 400: kept
            return _refused(400, error.messages)  # type: ignore[arg-type]
        user = self.appbuilder.sm.auth_user_db(data["username"], data["password"])
        if not user:
            return _refused(401, _("Wrong username or password."))
        try:
            second_factor.check_api_login(db.session, user, data["code"], utcnow())
        except second_factor.SecondFactorRefused as refused:
            db.session.commit()  # what the check recorded (a used recovery code, a failure)
            response = jsonify(refused.as_dict())  # 401 naming ``code``, or 403: enrol in the web app first
            response.status_code = refused.status
            return response
        session_id = web_sessions.start_api_session(user)
        token = session_service.issue_refresh_token(db.session, session_id=session_id, user_id=user.id, now=utcnow(),
                                                    lifetime=refresh_lifetime())
        db.session.commit()
        return _tokens(user.id, session_id, token, fresh=True)

    @expose("/refresh", methods=["POST"])
    @openapi(responses={200: ("A new access token; the next refresh token is set as a cookie", TokenOut)},
             errors=())
    @limited("login")
    def refresh(self) -> Response:
        """Refresh: the refresh cookie and its X-CSRF-TOKEN header give a new access token"""
        token = request.cookies.get(REFRESH_COOKIE, "")
        if not token:
            return _refused(401, _("Log in again: there is no refresh token."))
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode("utf-8"), csrf_for(token).encode("utf-8")):
            return _refused(403, _("The refresh needs the %(header)s header.", header=CSRF_HEADER))
        now = utcnow()
        try:
            rotation = session_service.rotate_refresh_token(db.session, token, now, refresh_lifetime())
        except session_service.RefreshRefused as refused:
            if refused.reason == "reuse":
                # Theft detection: two holders of one token. Recorded for the user; the session
                # (id = a digest, no secret) is named by its first characters only.
                record_event(db.session, "refresh_reuse", "UserSession", (refused.session_id or "")[:12],
                             {"reason": "a refresh token was used twice: its session is ended"},
                             user_id=refused.user_id)
            db.session.commit()
            return _forget_cookies(_refused(401, _("Log in again: this refresh token is not valid any more.")))
        db.session.commit()
        return _tokens(rotation.user_id, rotation.session_id, rotation.token, fresh=False)

    @expose("/logout", methods=["POST"])
    @openapi(responses={200: ("Logged out: the session's access and refresh tokens are refused from now on",
                              MessageOut)}, errors=())
    @jwt_required()
    def logout(self) -> Response:
        """Log out: end the access token's session"""
        session_service.end_session(db.session, get_jwt()["sid"], utcnow(), reason="logout")
        db.session.commit()
        return _forget_cookies(jsonify(message=_("Logged out.")))
