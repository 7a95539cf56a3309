"""The lean single-record GET (``ClinicModelApi.get_headless``): the same answer as FAB's own
path, key for key, for several resources, languages and ``keys`` choices; FAB's path still serves
a ``columns`` selection and resources with base filters; access rules still apply."""
from __future__ import annotations

import json
from typing import Any

import pytest
from flask_appbuilder import ModelRestApi

from app.api import MODELS
from app.permissions import CLINICAL, RESOURCE_BY_NAME

# Resource name -> the Clinic fixture's property that makes one record of it.
RECORDS = {"Patient": "patient", "Doctor": "doctor", "Service": "service", "Appointment": "appointment",
           "Invoice": "invoice", "Medicine": "medicine"}
QUERIES = [None, {"keys": ["show_title"]}, {"keys": ["label_columns", "show_columns"]}, {"keys": ["none"]}]


def rest_api(app, resource: str) -> ModelRestApi:
    return next(view for view in app.appbuilder.baseviews
                if isinstance(view, ModelRestApi) and view.datamodel.obj is MODELS[resource])


def fab_answer(app, headers: dict, resource: str, pk: int, query: dict | None, language: str) -> dict:
    """What FAB's own ``ModelRestApi.get_headless`` answers, in a request like the client's."""
    view = rest_api(app, resource)
    with app.test_request_context(f"/api/v1/{RESOURCE_BY_NAME[resource].api}/{pk}?_l_={language}",
                                  headers=headers):
        response = ModelRestApi.get_headless(view, pk, rison=query or {})
        assert response.status_code == 200
        return json.loads(response.get_data(as_text=True))


@pytest.mark.parametrize("resource", list(RECORDS))
def test_a_record_answers_as_fab_does(app, api, clinic, resource):
    pk = getattr(clinic, RECORDS[resource])
    if resource in CLINICAL:
        clinic.break_glass("admin")  # the admin is outside the patient's care team (issue 8)
    for language in ("en", "vi"):
        for query in QUERIES:
            url = api.url(RESOURCE_BY_NAME[resource].api, pk, query)
            response = api.client.get(f"{url}{'&' if '?' in url else '?'}_l_={language}", headers=api.headers)
            assert response.status_code == 200
            answer = response.get_json()
            assert answer == fab_answer(app, api.headers, resource, pk, query, language), (language, query)
            assert answer["id"] == pk and answer["result"]
    labels = api.get(RESOURCE_BY_NAME[resource].api, pk).get_json()["label_columns"]
    vietnamese = api.client.get(api.url(RESOURCE_BY_NAME[resource].api, pk) + "?_l_=vi",
                                headers=api.headers).get_json()["label_columns"]
    assert labels.keys() == vietnamese.keys() and labels != vietnamese  # labels follow the language


def test_a_columns_selection_is_still_served(api, clinic):
    answer = api.get("patient", clinic.patient, {"columns": ["full_name", "code"]}).get_json()
    assert set(answer["result"]) == {"full_name", "code"}
    assert answer["show_columns"] == ["full_name", "code"]


def test_missing_and_impossible_ids_are_404(api, clinic):
    assert api.get("patient", clinic.patient + 1000).status_code == 404
    assert api.get("patient", 2**31 - 1).status_code == 404


def test_base_filters_still_decide_which_records_are_found(app, api, clinic, monkeypatch):
    """A resource that limits its rows with base filters keeps them on a single GET."""
    from flask_appbuilder.models.sqla.filters import FilterEqual

    view = rest_api(app, "Patient")
    mine = api.get("patient", clinic.patient).get_json()["result"]
    other = api.post("patient", {"full_name": "Trần Văn Bình", "phone": "+84911111111"}).get_json()["id"]
    base_filters: list[list[Any]] = [["full_name", FilterEqual, mine["full_name"]]]
    monkeypatch.setattr(view, "base_filters", base_filters)
    monkeypatch.setattr(view, "_base_filters", view.datamodel.get_filters().add_filter_list(base_filters))
    assert api.get("patient", clinic.patient).status_code == 200
    assert api.get("patient", other).status_code == 404


def test_a_patient_cannot_read_another_patients_record(app, api, clinic, api_token):
    response = app.test_client().get(f"/api/v1/patient/{clinic.patient}", headers=api_token("patient"))
    assert response.status_code == 403
    assert "result" not in (response.get_json() or {})
    assert app.test_client().get(f"/api/v1/patient/{clinic.patient}").status_code == 401
