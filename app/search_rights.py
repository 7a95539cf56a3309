"""What the signed-in user's search covers and how an answer is sent, shared by the search's entry
points: the back office's box and page (``app.views.search``), the portal's box
(``app.public.search``) and the REST API (``app.api.search``): which kinds, how a search is asked
of the service, how its answer is written as JSON. The kinds a staff role searches are
its FAB ``can_read`` permissions (``app.services.search.searchable_kinds``); which hits it may see
is the service's care-team filter."""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _

from app.extensions import db
from app.fab.actor import acting_user
from app.fab.hooks import clinic_settings
from app.models.types import utcnow
from app.services import search
from app.services.roles import is_staff, role_names

ADMIN_ROLE = "Admin"
REINDEX_COMMAND = "flask search reindex"


def unavailable_message(admin: bool) -> str:
    if admin:
        return _("The search index is missing or damaged. Rebuild it on the server with: %(command)s",
                 command=REINDEX_COMMAND)
    return _("Search is unavailable for now. Please tell an administrator.")


def answer_json(answer: search.SearchAnswer, admin: bool, more_url: str | None) -> dict[str, Any]:
    return {
        "q": answer.text,
        "state": answer.state,
        "message": unavailable_message(admin) if answer.state == search.UNAVAILABLE else None,
        "groups": [{"kind": group.kind, "label": group.label,
                    "results": [{"id": r.id, "title": r.title, "detail": r.detail, "url": r.url}
                                for r in group.results]} for group in answer.groups],
        "more_url": more_url,
    }


def staff_searcher() -> tuple[Any, list[str], bool] | None:
    """The signed-in staff user (a session or a JWT), the kinds their role searches, whether they
    are an admin; None for a login that is not staff (patients search their own records)."""
    user = acting_user()
    names = role_names(user)
    if user is None or not is_staff(names):
        return None
    admin = ADMIN_ROLE in names
    security = current_app.appbuilder.sm  # type: ignore[attr-defined]
    kinds = search.searchable_kinds(lambda resource: security.has_access("can_read", resource), admin)
    return user, kinds, admin


def staff_search(user: Any, kinds: list[str], text: str, wanted: str | None, limit: int) -> search.SearchAnswer:
    """``text`` in ``kinds`` (only ``wanted`` when given: one the role does not search finds nothing)."""
    if wanted:
        kinds = [kind for kind in kinds if kind == wanted]
    settings = clinic_settings()
    return search.search_records(
        db.session, user, text, kinds=kinds, limit=limit, now=utcnow(), zone=settings.timezone,
        region=settings.phone_region, engine=search.make_engine(current_app.config, db.engine),
        log_store=current_app.extensions["documents"])


def patient_search(user: Any, patient_id: int, text: str, limit: int) -> search.SearchAnswer:
    """A patient's search of their own records (the portal's box and the REST API)."""
    settings = clinic_settings()
    return search.search_own_records(
        db.session, user, patient_id, text, engine=search.make_engine(current_app.config, db.engine),
        now=utcnow(), zone=settings.timezone, region=settings.phone_region, limit=limit)
