"""The security manager: FAB's, with roles synced from ``app.permissions`` and no
internet-dependent chart view."""
from __future__ import annotations

from flask import jsonify
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_babel import gettext
from flask_jwt_extended import JWTManager

from app.permissions import ROLE_CONFIGS


class ClinicSecurityManager(SecurityManager):
    # FAB's "User's Statistics" chart loads Google Charts from the internet (STACK.md trap 16).
    userstatschartview = None

    def register_views(self) -> None:
        """FAB limits the login form; the API login gets the same limit (no password guessing
        through the back door)."""
        super().register_views()
        if self.is_auth_limited:
            api = next(view for view in self.appbuilder.baseviews if isinstance(view, self.security_api))
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(api.blueprint)

    def create_jwt_manager(self, app) -> JWTManager:
        """A missing, malformed, expired or forged token is 401 (not flask-jwt-extended's 422)."""
        manager = super().create_jwt_manager(app)

        def unauthorized(reason: str):
            return jsonify(message=gettext("Log in again: your access token is missing or not valid.")), 401

        manager.unauthorized_loader(unauthorized)
        manager.invalid_token_loader(unauthorized)
        manager.expired_token_loader(lambda header, payload: unauthorized("expired"))
        return manager

    def sync_roles(self) -> None:
        """Create every permission of every registered view and API, the built-in roles, and
        Public. Run at deploy (``flask sync-roles``), never by web workers at start."""
        for role in (self.auth_role_admin, self.auth_role_public, *ROLE_CONFIGS):
            if self.find_role(role) is None:
                self.add_role(role)
        self.appbuilder.add_permissions(update_perms=True)
