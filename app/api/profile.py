"""The signed-in user's own profile over REST: ``GET /api/v1/me``, ``PATCH /api/v1/me`` and, for a
patient, ``GET /api/v1/me/export`` (all their data as JSON). Every signed-in user, whatever their
roles, may use it (a browser session or a JWT): it only ever reaches the caller's own login, so it
needs no permission of its own."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import current_app
from flask_appbuilder.api import expose
from flask_jwt_extended import verify_jwt_in_request
from flask_login import current_user
from marshmallow import ValidationError

from app.api import profile_schemas as schemas
from app.extensions import db
from app.fab.actor import acting_user
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.hooks import clinic_settings
from app.models.types import utcnow
from app.services.accounts import profile as profile_service


def signed_in(func: Callable) -> Callable:
    """The caller must be signed in (a session, else a valid ``Authorization: Bearer`` JWT):
    otherwise 401, as FAB's ``@protect`` answers."""

    @wraps(func)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            verify_jwt_in_request()  # a missing or bad token: 401 (app.security's JWT handlers)
        user = acting_user()
        if user is None:
            return self.response_401()
        return func(self, user, *args, **kwargs)

    return wrapper


def two_factor_status(user: Any) -> dict | None:
    """The 2FA status when the two-factor work is installed (None before it is)."""
    from app.services.accounts import second_factor

    status = getattr(second_factor, "status", None)
    if status is None:
        return None
    found = status(db.session, user)
    return {"enrolled": bool(found.enrolled), "required": bool(found.required)}


def profile_json(found: profile_service.Profile, user: Any) -> dict:
    return {"user_id": found.user_id, "username": found.username, "full_name": found.full_name,
            "email": found.email, "pending_email": found.pending_email, "phone": found.phone,
            "language": found.language, "channels": found.channels, "roles": found.roles,
            "quiet_from": profile_service.format_quiet_time(found.quiet_from) or None,
            "quiet_until": profile_service.format_quiet_time(found.quiet_until) or None,
            "is_patient": found.is_patient, "two_factor": two_factor_status(user)}


class ProfileApi(ClinicBaseApi):
    route_base = "/api/v1"
    resource_name = "me"
    openapi_spec_tag = "Profile"
    openapi_spec_component_schemas = schemas.COMPONENTS
    class_permission_name = "Profile"
    # Documented as needing a login (ClinicBaseApi.operation_helper); checked by @signed_in.
    method_permission_name = {"me": "read", "patch": "write", "export": "read"}
    base_permissions: list[str] = []

    @expose("/me", methods=["GET"])
    @signed_in
    @openapi(responses={200: ("the caller's profile", schemas.ProfileResult)}, errors=())
    def me(self, user: Any):
        """Your profile"""
        found = profile_service.read_profile(db.session, user.id, utcnow())
        return self.response(200, result=profile_json(found, user))

    @expose("/me", methods=["PATCH"])
    @signed_in
    @openapi(body=schemas.ProfilePatch, errors=(400, 422),
             responses={200: ("saved; a new e-mail address waits for its link", schemas.ProfilePatchResult)})
    def patch(self, user: Any):
        """Change your profile"""
        languages = list(current_app.config["LANGUAGES"])
        body = json_body()
        try:
            changes = schemas.ProfilePatch().load(body)
        except ValidationError as exc:  # every broken field at once: the schema's and the rules'
            valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
            problems = profile_service.profile_problems(db.session, user_id=user.id, changes=valid,
                                                        settings=clinic_settings(), languages=languages)
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            raise ValidationError({**{k: [m] for k, m in problems.items()}, **messages}) from None
        outcome = profile_service.update_profile(db.session, user_id=user.id, changes=changes,
                                                 settings=clinic_settings(), languages=languages, now=utcnow(),
                                                 config=current_app.config)
        email_change = None
        if outcome.email_change is not None:
            from app.public.profile import mail_email_change

            mail_email_change(user, outcome)
            email_change = {"sent_to": outcome.email_change[0]}
        return self.response(200, result=profile_json(outcome.profile, user), email_change=email_change)

    @expose("/me/export", methods=["GET"])
    @signed_in
    @openapi(responses={200: ("all your data (patients only)", schemas.ExportResult)}, errors=(404,))
    def export(self, user: Any):
        """Download all your data"""
        return self.response(200, **profile_service.export_my_data(db.session, user_id=user.id, now=utcnow()))
