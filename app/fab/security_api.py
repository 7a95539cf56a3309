"""FAB's REST login (``POST /api/v1/security/login``) with the second step of a two-step login.

FAB's ``SecurityApi.login`` loads the body with its ``LoginPost`` schema, which refuses any other
field (marshmallow's default): a ``code`` could not even be sent. This login takes the same body
plus ``code`` (a TOTP or recovery code), checks the password with the security manager's
``auth_user_db`` as FAB does (lockout counts there), and then
``second_factor.check_api_login``: an enrolled user needs a valid code (401 naming ``code``
otherwise), a user whose role needs two-step login and who has not enrolled is refused (403:
enrol in the web app first)."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder import expose
from flask_appbuilder.api import safe
from flask_appbuilder.const import API_SECURITY_ACCESS_TOKEN_KEY, API_SECURITY_REFRESH_TOKEN_KEY
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.schemas import LoginPost
from flask_jwt_extended import create_access_token, create_refresh_token
from marshmallow import ValidationError, fields
from marshmallow.validate import Length

from app.extensions import db
from app.models.types import utcnow
from app.services.accounts import second_factor


class LoginWithCode(LoginPost):
    code = fields.String(required=False, allow_none=True, validate=Length(max=32),
                         metadata={"description": "The code of a two-step login: 6 digits from the authenticator "
                                                  "app, or a recovery code"})


login_with_code = LoginWithCode()


class ClinicSecurityApi(SecurityApi):
    def create_blueprint(self, appbuilder: Any, endpoint: str | None = None, static_folder: str | None = None) -> Any:
        """Keep FAB's endpoint names (``SecurityApi.login``, ``SecurityApi.refresh``): the CSRF
        exemptions, the login's input check and the rate limit name them."""
        return super().create_blueprint(appbuilder, endpoint or "SecurityApi", static_folder)

    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        """Log in: an access token (and a refresh token when asked for)
        ---
        post:
          description: >-
            Authenticate and get a JWT access and refresh token. A user with two-step login on
            sends the code from their authenticator app (or a recovery code) in `code`; a user
            whose role needs two-step login must enrol in the web app first.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    username:
                      type: string
                      example: admin
                    password:
                      type: string
                      example: complex-password
                    provider:
                      type: string
                      enum:
                      - db
                    refresh:
                      type: boolean
                    code:
                      description: Two-step login code (6 digits) or a recovery code
                      type: string
                      example: "123456"
          responses:
            200:
              description: Authentication Successful
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token:
                        type: string
                      refresh_token:
                        type: string
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            500:
              $ref: '#/components/responses/500'
        """
        if not request.is_json:
            return self.response_400(message="Request payload is not JSON")
        try:
            payload = login_with_code.load(request.json)
        except ValidationError as error:
            return self.response_400(message=error.messages)
        user = self.appbuilder.sm.auth_user_db(payload["username"], payload["password"])
        if not user:
            return self.response_401()
        try:
            second_factor.check_api_login(db.session, user, payload.get("code"), utcnow())
        except second_factor.SecondFactorRefused as refused:
            return self.response(refused.status, **refused.as_dict())
        tokens = {API_SECURITY_ACCESS_TOKEN_KEY: create_access_token(identity=str(user.id), fresh=True)}
        if payload.get("refresh"):
            tokens[API_SECURITY_REFRESH_TOKEN_KEY] = create_refresh_token(identity=str(user.id))
        return self.response(200, **tokens)
