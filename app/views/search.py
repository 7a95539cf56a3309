"""The back office's search (issue 16, item 4): the box in the top bar of every staff page asks
``GET /search/json?q=`` as the person types (read-only), and Enter without a chosen result opens
``GET /search/?q=`` (every kind, more results). Every staff role may search; each kind is searched
only when the role reads its resource (``app.services.search.searchable_kinds``) and each hit only
shown when the user may read that record (the service's care-team filter). Patients use the
portal's own search (``app.public.search``)."""
from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.fab.actor import acting_user
from app.models.types import utcnow
from app.services import search
from app.services.roles import is_staff, role_names
from app.views.base import clinic_settings

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


class SearchView(BaseView):
    route_base = "/search"
    default_view = "page"

    def _searcher(self) -> tuple[Any, list[str], bool] | None:
        """The staff user, the kinds their role searches, whether they are an admin; None for a
        login that is not staff (patients search on the portal)."""
        user = acting_user()
        names = role_names(user)
        if user is None or not is_staff(names):
            return None
        admin = ADMIN_ROLE in names
        kinds = search.searchable_kinds(lambda resource: self.appbuilder.sm.has_access("can_read", resource), admin)
        return user, kinds, admin

    def _search(self, user: Any, kinds: list[str], limit: int) -> search.SearchAnswer:
        wanted = request.args.get("kind", "")
        if wanted:  # one kind only (the results page's choice); one the role does not search: none
            kinds = [kind for kind in kinds if kind == wanted]
        settings = clinic_settings()
        return search.search_records(
            db.session, user, request.args.get("q", ""), kinds=kinds, limit=limit, now=utcnow(),
            zone=settings.timezone, region=settings.phone_region,
            engine=search.make_engine(current_app.config, db.engine))

    @expose("/json")
    def box(self) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return jsonify(message=_("Log in first.")), 401
        found = self._searcher()
        if found is None:
            return jsonify(message=_("Forbidden")), 403
        user, kinds, admin = found
        answer = self._search(user, kinds, search.BOX_LIMIT)
        more = url_for("SearchView.page", q=answer.text) if answer.text.strip() else None
        response = jsonify(answer_json(answer, admin, more))
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @expose("/")
    def page(self) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path))
        found = self._searcher()
        if found is None:
            return self.render_template("clinic/message.html", title=_("Forbidden"),
                                        message=_("Patients search their own records on the portal.")), 403
        user, kinds, admin = found
        answer = self._search(user, kinds, search.PAGE_LIMIT)
        labels = {name: str(search.KINDS[name].label) for name in search.KINDS}
        response = current_app.make_response(self.render_template(
            "clinic/search.html", answer=answer, labels=labels, kinds=kinds, kind=request.args.get("kind", ""),
            unavailable=unavailable_message(admin) if answer.state == search.UNAVAILABLE else None))
        response.headers["Cache-Control"] = "private, no-store"
        return response
