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

from app.search_rights import answer_json, staff_search, staff_searcher, unavailable_message
from app.services import search


class SearchView(BaseView):
    route_base = "/search"
    default_view = "page"

    @staticmethod
    def _search(user: Any, kinds: list[str], limit: int) -> search.SearchAnswer:
        return staff_search(user, kinds, request.args.get("q", ""), request.args.get("kind", ""), limit)

    @expose("/json")
    def box(self) -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return jsonify(message=_("Log in first.")), 401
        found = staff_searcher()
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
        found = staff_searcher()
        if found is None:
            return self.render_template("clinic/message.html", title=_("Forbidden"),
                                        message=_("Patients search their own records on the portal.")), 403
        user, kinds, admin = found
        answer = self._search(user, kinds, search.PAGE_LIMIT)
        labels = {name: search.kind_label(name) for name in kinds}
        response = current_app.make_response(self.render_template(
            "clinic/search.html", answer=answer, labels=labels, kinds=kinds, kind=request.args.get("kind", ""),
            unavailable=unavailable_message(admin) if answer.state == search.UNAVAILABLE else None))
        response.headers["Cache-Control"] = "private, no-store"
        return response
