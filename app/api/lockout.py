"""Locked accounts over REST (Admin only, the permission of the Security → Locked accounts page):
``GET /api/v1/locked_account/`` lists the accounts locked now, ``POST
/api/v1/locked_account/<user_id>/unlock`` ends a lock (404 when the account is not locked)."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect

from app.api import lockout_schemas as schemas
from app.extensions import db
from app.fab.actor import acting_user_id
from app.fab.api import ClinicBaseApi, openapi
from app.models.types import utcnow
from app.services.accounts import lockout


class LockedAccountApi(ClinicBaseApi):
    route_base = "/api/v1/locked_account"
    resource_name = "locked_account"
    openapi_spec_tag = "Locked accounts"
    openapi_spec_component_schemas = schemas.COMPONENTS
    class_permission_name = "LockedAccount"
    method_permission_name = {"listing": "read", "unlock": "write"}
    base_permissions = ["can_read", "can_write"]

    @expose("/", methods=["GET"])
    @protect()
    @openapi(responses={200: ("the accounts locked now, the latest first", schemas.LockedAccountsResult)},
             errors=())
    def listing(self):
        """Accounts locked after too many failed logins"""
        return self.response(200, result=[
            {"user_id": a.user_id, "username": a.username, "name": a.name, "email": a.email, "failures": a.failures,
             "locked_at": a.locked_at.isoformat(), "locked_until": a.locked_until.isoformat()}
            for a in lockout.locked_accounts(db.session, utcnow())])

    @expose("/<int:user_id>/unlock", methods=["POST"])
    @protect()
    @openapi(responses={200: ("unlocked: the owner can log in again", schemas.UnlockedResult)}, errors=(404,))
    def unlock(self, user_id: int):
        """Unlock an account now"""
        lockout.unlock_account(db.session, user_id=user_id, now=utcnow(), actor_id=acting_user_id())
        return self.response(200, user_id=user_id, unlocked=True)
