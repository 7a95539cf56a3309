"""The search over REST (issue 16, item 4): ``GET /api/v1/search/?q=`` answers what the search box
shows, for any signed-in login (a browser session or a JWT). Staff get the kinds their role
searches, each hit only when they may read the record (``app.search_rights.staff_search``); a
patient gets their own appointments, signed visits, prescriptions and invoices, as on the portal
(``app.services.search.search_own_records``)."""
from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_appbuilder.api import expose
from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from app.api.profile import signed_in
from app.api.schemas import StrictSchema
from app.extensions import db
from app.fab.api import ClinicBaseApi, openapi
from app.search_rights import answer_json, patient_search, staff_search, staff_searcher
from app.services import search
from app.services.appointments import patient_of_user

QUERY_MAX = 200


def _kinds() -> list[str]:
    return [*search.KINDS, search.LOGS]


class SearchQuery(StrictSchema):
    q = fields.String(required=True, validate=validate.Length(max=QUERY_MAX),
                      metadata={"description": "what was typed: names with or without accents, codes, phone "
                                               "numbers written any way, words of a visit or a medicine"})
    kind = fields.String(load_default=None, validate=validate.OneOf(_kinds()),
                         metadata={"description": "only this kind (staff); one your role does not search finds "
                                                  "nothing"})
    limit = fields.Integer(load_default=search.BOX_LIMIT, validate=validate.Range(1, search.PAGE_LIMIT),
                           metadata={"description": "results per kind"})


class SearchResultOut(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    detail = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "the record's page in this app"})


class SearchGroupOut(Schema):
    kind = fields.String(required=True)
    label = fields.String(required=True)
    results = fields.List(fields.Nested(SearchResultOut), required=True)


class SearchAnswerOut(Schema):
    q = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "ok, or unavailable (the index is missing or "
                                                                  "damaged: `message` says what to do)"})
    message = fields.String(required=True, allow_none=True)
    groups = fields.List(fields.Nested(SearchGroupOut), required=True)
    more_url = fields.String(required=True, allow_none=True, metadata={"description": "the full results page"})


COMPONENTS = (SearchQuery, SearchResultOut, SearchGroupOut, SearchAnswerOut)


class SearchApi(ClinicBaseApi):
    route_base = "/api/v1/search"
    resource_name = "search"
    openapi_spec_tag = "Search"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = "Search"
    # Documented as needing a login (ClinicBaseApi.operation_helper); checked by @signed_in. What
    # each login finds is decided per kind and per record by the search service.
    method_permission_name = {"find": "read"}
    base_permissions: list[str] = []

    @expose("/", methods=["GET"])
    @signed_in
    @openapi(query=SearchQuery, responses={200: ("the results, grouped by kind", SearchAnswerOut)},
             errors=(400, 403, 422))
    def find(self, user: Any):
        """Search patients, appointments, visits, prescriptions, medicines, invoices and (admins) logs"""
        args = SearchQuery().load(request.args.to_dict())
        staff = staff_searcher()
        if staff is not None:
            _user, kinds, admin = staff
            answer = staff_search(user, kinds, args["q"], args["kind"], args["limit"])
            return self._answer(answer, admin, "SearchView.page")
        patient = patient_of_user(db.session, user.id)
        if patient is None:
            return self.response(403, message=_("Your login may not search: it is neither staff nor a patient's."))
        return self._answer(patient_search(user, patient.id, args["q"], args["limit"]), False, "public.my_search")

    def _answer(self, answer: search.SearchAnswer, admin: bool, page: str):
        """The answer as the boxes get it, with the link to the full results ``page``."""
        more = url_for(page, q=answer.text) if answer.text.strip() else None
        response = self.response(200, **answer_json(answer, admin, more))
        response.headers["Cache-Control"] = "private, no-store"
        return response
