"""The portal's search (issue 16, item 4): a patient searches their own appointments, signed
visits, prescriptions and invoices (``app.services.search.search_own_records``): the header's box
asks ``GET /clinic/me/search.json?q=`` as they type, Enter opens ``GET /clinic/me/search?q=``."""
from __future__ import annotations

from flask import current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.models import Patient
from app.public.common import bp, patient_required
from app.search_rights import answer_json, patient_search
from app.services import search


def _search(patient: Patient, limit: int) -> search.SearchAnswer:
    return patient_search(current_user, patient.id, request.args.get("q", ""), limit)


@bp.get("/me/search.json")
@patient_required
def my_search_json(patient: Patient) -> ResponseReturnValue:
    answer = _search(patient, search.BOX_LIMIT)
    more = url_for("public.my_search", q=answer.text) if answer.text.strip() else None
    response = jsonify(answer_json(answer, False, more))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/me/search")
@patient_required
def my_search(patient: Patient) -> ResponseReturnValue:
    answer = _search(patient, search.PAGE_LIMIT)
    response = current_app.make_response(render_template("public/search.html", answer=answer,
                                                         unavailable=answer.state == search.UNAVAILABLE))
    response.headers["Cache-Control"] = "private, no-store"
    return response
