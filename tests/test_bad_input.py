"""No input answers a server error: every malformed value reaches the client as a 4xx with a
message, on every REST resource and every generated screen. The checks live in one input layer
(``app.fab``: the data interface's list query, the URL converter, the request checks), so each
case here runs over every resource or screen."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.api import DERIVED, HIDDEN, MODELS, NO_GENERIC_WRITES
from app.api.base import writable_columns
from app.models.types import UTCDateTime
from app.permissions import RESOURCE_BY_NAME
from app.views import VIEWS
from tests.factories import Api, iso_date

RESOURCES = sorted(RESOURCE_BY_NAME[name].api for name in MODELS)
WRITABLE = sorted(RESOURCE_BY_NAME[name].api for name in MODELS if name not in NO_GENERIC_WRITES)
BIG = [2**31, 2**63, 2**70]


def _choice_columns(name: str, writable_only: bool) -> list[tuple[str, str, tuple[str, ...]]]:
    model = MODELS[name]
    writable = set(writable_columns(model, DERIVED.get(name, ()))) - set(HIDDEN.get(name, ()))
    return [(RESOURCE_BY_NAME[name].api, column.key, tuple(column.type.enums)) for column in model.__table__.columns
            if isinstance(column.type, sa.Enum) and (column.key in writable or not writable_only)]


WRITABLE_CHOICES = [case for name in MODELS if name not in NO_GENERIC_WRITES for case in _choice_columns(name, True)]
ALL_CHOICES = [case for name in MODELS for case in _choice_columns(name, False)]


def message_of(response) -> object:
    body = response.get_json()
    assert body is not None and body.get("message"), response.get_data(True)
    return body["message"]


def assert_names(response, field: str, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.get_data(True))
    message = message_of(response)
    assert isinstance(message, dict) and field in message, message
    assert all(isinstance(text, str) and text for text in message[field])


# --- bodies ------------------------------------------------------------------------------------


def test_every_writable_resource_has_choice_cases():
    assert {resource for resource, _column, _choices in WRITABLE_CHOICES} >= {"appointment", "prescription"}


@pytest.mark.parametrize("resource,column,choices", WRITABLE_CHOICES)
@pytest.mark.parametrize("value", [True, 5, ["x"], {"a": 1}, "no-such-choice"])
def test_wrong_type_for_a_choice_is_422_naming_it(api: Api, resource, column, choices, value):
    before = api.count(resource)
    assert_names(api.post(resource, {column: value}), column, 422)
    assert api.count(resource) == before


@pytest.mark.parametrize("resource", WRITABLE)
@pytest.mark.parametrize("body", [[{"full_name": "Nguyễn Văn An"}], "Nguyễn", 42, True])
def test_a_body_that_is_not_an_object_is_refused(api: Api, resource, body):
    before = api.count(resource)
    response = api.post(resource, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422 and message_of(response)
    assert api.count(resource) == before


@pytest.mark.parametrize("url", ["/api/v1/appointments/book", "/api/v1/series/preview", "/api/v1/series/book",
                                 "/api/v1/appointments/1/status", "/api/v1/appointments/1/cancel",
                                 "/api/v1/appointments/1/reschedule", "/api/v1/series/appointments/1/cancel-rest"])
@pytest.mark.parametrize("body", [[1, 2], "x", 7])
def test_custom_endpoints_refuse_a_list_or_scalar_body(api: Api, url, body):
    response = api.client.post(url, data=json.dumps(body), content_type="application/json", headers=api.headers)
    assert_names(response, "_schema", 422)


@pytest.mark.parametrize("resource", ["patient", "appointment"])
@pytest.mark.parametrize("raw", ['{"full_name": "\\ud800 An"}', '{"full_name": "An \\udfff"}'])
def test_lone_surrogates_are_refused(api: Api, resource, raw):
    response = api.post(resource, data=raw, content_type="application/json")
    assert response.status_code == 400 and "characters" in message_of(response)
    assert api.count(resource) == 0


@pytest.mark.parametrize("url", ["/api/v1/patient/", "/api/v1/appointments/book", "/api/v1/series/book"])
@pytest.mark.parametrize("shape", ["[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000,
                                   '{"full_name": ' + "[" * 100 + "]" * 100 + "}"])
def test_deeply_nested_json_is_400(api: Api, url, shape):
    response = api.client.post(url, data=shape, content_type="application/json", headers=api.headers)
    assert response.status_code == 400 and "nested" in message_of(response)


def test_rest_login_without_provider_logs_in_with_the_database(app, client):
    from tests.factories import login_body

    body = login_body(app, "admin")
    del body["provider"]
    response = client.post("/api/v1/security/login", json=body)
    assert response.status_code == 200 and response.get_json()["access_token"]
    wrong = client.post("/api/v1/security/login", json={"username": "admin", "password": "wrong"})
    assert wrong.status_code == 401 and message_of(wrong)


@pytest.mark.parametrize("body", [[{"username": "admin"}], "admin", {"username": "admin", "password": 5}])
def test_rest_login_with_a_malformed_body_is_400(client, body):
    response = client.post("/api/v1/security/login", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and message_of(response)


# --- ids, lists, filters -----------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("pk", BIG)
def test_ids_beyond_the_key_column_are_404(api: Api, resource, pk):
    assert api.get(resource, pk).status_code == 404
    if resource in WRITABLE:
        assert api.put(resource, pk, {}).status_code == 404
        assert api.delete(resource, pk).status_code == 404


@pytest.mark.parametrize("url", ["/api/v1/appointments/{pk}/status", "/api/v1/appointments/{pk}/cancel",
                                 "/api/v1/series/appointments/{pk}/cancel-rest", "/appointments/{pk}.ics",
                                 "/appointment-actions/{pk}", "/patientview/show/{pk}"])
@pytest.mark.parametrize("pk", BIG)
def test_ids_beyond_the_key_column_in_any_route_are_404(api: Api, login_as, url, pk):
    if url.startswith("/api/"):
        response = api.client.post(url.format(pk=pk), json={}, headers=api.headers)
    else:
        response = login_as("admin").get(url.format(pk=pk))
    assert response.status_code == 404


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("q", ["(((((", "(" * 60 + ")" * 60, "!(" * 300, "(a:" * 40 + "1" + ")" * 40, "5", "'x",
                               "(filters:!((col:id,opr:eq)))", "(page:!t)", "(page:(a:1))"])
def test_a_malformed_rison_query_is_400(api: Api, resource, q):
    response = api.client.get(f"/api/v1/{resource}/?q={q}", headers=api.headers)
    assert response.status_code == 400 and message_of(response)


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("args", [{"page": -1}, {"page": 2**40}, {"page_size": -5}, {"page_size": 0},
                                  {"page": 2**70, "page_size": 100}, {"order_column": "no_such_column"},
                                  {"order_column": "id", "order_direction": "sideways"}])
def test_bad_list_arguments_are_400(api: Api, resource, args):
    assert api.get(resource, query=args).status_code == 400


@pytest.mark.parametrize("resource,column,choices", ALL_CHOICES)
@pytest.mark.parametrize("value", ["no-such-choice", True, 7])
def test_a_filter_with_an_unknown_choice_is_400_naming_the_column(api: Api, resource, column, choices, value):
    response = api.get(resource, query={"filters": [{"col": column, "opr": "eq", "value": value}]})
    assert_names(response, column, 400)


def test_a_filter_with_a_known_choice_still_works(api: Api, clinic):
    clinic.appointment  # noqa: B018 - one row to find
    found = api.get("appointment", query={"filters": [{"col": "status", "opr": "eq", "value": "requested"}]})
    assert found.status_code == 200 and found.get_json()["count"] == 1


@pytest.mark.parametrize("resource,flt,column", [
    ("appointment", {"col": "patient", "opr": "rel_o_m", "value": 2**70}, "patient"),
    ("appointment", {"col": "patient", "opr": "rel_o_m", "value": -1}, "patient"),
    ("work_schedule", {"col": "weekday", "opr": "eq", "value": 2**63}, "weekday"),
    ("work_schedule", {"col": "weekday", "opr": "gt", "value": "abc"}, "weekday"),
    ("invoice", {"col": "total", "opr": "gt", "value": "1e999"}, "total"),
    ("appointment", {"col": "start_at", "opr": "gt", "value": "0001-01-01T00:00:00"}, "start_at"),
    ("appointment", {"col": "start_at", "opr": "gt", "value": "ngày mai"}, "start_at"),
    ("patient", {"col": "date_of_birth", "opr": "gt", "value": "abc"}, "date_of_birth"),
    ("patient", {"col": "full_name", "opr": "ct", "value": True}, "full_name"),
    ("work_schedule", {"col": "start_time", "opr": "eq", "value": "25:99"}, "start_time"),
])
def test_a_filter_value_the_column_cannot_hold_is_400_naming_it(api: Api, resource, flt, column):
    assert_names(api.get(resource, query={"filters": [flt]}), column, 400)


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59", "9999-12-31T23:59:59Z", "2026-12-01 09:00"])
def test_instants_at_the_calendar_edge_filter_without_error(api: Api, value):
    response = api.get("appointment", query={"filters": [{"col": "start_at", "opr": "lt", "value": value}]})
    assert response.status_code == 200


@pytest.mark.parametrize("endpoint", ["availability", "availability/first"])
@pytest.mark.parametrize("date_from,date_to", [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31"),
                                               ("0001-01-01", "9999-12-31"), ("2026-02-30", "2026-03-01")])
def test_availability_at_the_calendar_edges_is_422(api: Api, clinic, endpoint, date_from, date_to):
    response = api.client.get(f"/api/v1/{endpoint}?doctor_id={clinic.doctor}&service_id={clinic.service}"
                              f"&date_from={date_from}&date_to={date_to}", headers=api.headers)
    assert_names(response, "date_from", 422)


def test_availability_names_every_broken_argument_at_once(api: Api):
    response = api.client.get("/api/v1/availability?doctor_id=abc&service_id=0&date_from=x", headers=api.headers)
    assert response.status_code == 422
    assert set(message_of(response)) == {"doctor_id", "service_id", "date_from", "date_to"}


def test_availability_with_good_arguments_still_answers(api: Api, clinic):
    response = api.client.get(f"/api/v1/availability?doctor_id={clinic.doctor}&service_id={clinic.service}"
                              f"&date_from={iso_date(1)}&date_to={iso_date(7)}", headers=api.headers)
    assert response.status_code == 200 and response.get_json()["slots"]


@pytest.mark.parametrize("path", ["/api/v1/patient/%00", "/api/v1/patient/1%00", "/calendar/%00.ics",
                                  "/patientview/show/1%00", "/lookup/pat%00ient", "/clinic/language/v%00i",
                                  "/lang/%00"])
def test_nul_bytes_in_the_path_are_400(api: Api, path):
    response = api.client.get(path, headers=api.headers)
    assert response.status_code == 400


# --- the generated screens ---------------------------------------------------------------------

SCREENS = sorted(view.__name__ for view in VIEWS.values())
FIXED_ORDER = {"AuditEventView"}  # the audit search lists newest first and offers no column sort


@pytest.fixture(scope="module")
def admin_browser(app):
    """One logged-in browser for the screens' cases (a login costs a password hash)."""
    from tests.factories import form_login

    browser = app.test_client()
    assert form_login(app, browser, "admin").status_code in (302, 303)
    return browser


@pytest.mark.parametrize("view", SCREENS)
@pytest.mark.parametrize("arg", ["page_{view}=abc", "page_{view}=-5", "page_{view}=" + str(2**70),
                                 "psize_{view}=abc", "psize_{view}=-5", "psize_{view}=" + str(2**70),
                                 "psize_{view}=0", "_oc_{view}=no_such_column&_od_{view}=asc",
                                 "_oc_{view}=id&_od_{view}=sideways"])
def test_bad_list_arguments_on_screens_are_400(admin_browser, view, arg):
    response = admin_browser.get(f"/{view.lower()}/list/?" + arg.format(view=view))
    if view in FIXED_ORDER and "no_such_column" in arg:  # no column to sort by: the argument means nothing there
        assert response.status_code == 200, response.status_code
        return
    assert response.status_code == 400, response.status_code
    assert "<h1>" in response.get_data(as_text=True)


def _screen_filters() -> list[tuple[str, str, str]]:
    """(screen, column, bad value) for every search column of a screen that holds a choice, a
    number, a date or an instant."""
    cases = []
    for view in VIEWS.values():
        model = view.datamodel.obj
        for name in view.search_columns or []:
            column = model.__table__.columns.get(name)
            if column is None:
                continue
            if isinstance(column.type, sa.Enum):
                cases.append((view.__name__, name, "no-such-choice"))
            elif isinstance(column.type, (sa.Integer, sa.Numeric)):
                cases.append((view.__name__, name, str(2**70)))
            elif isinstance(column.type, (UTCDateTime, sa.DateTime)):
                cases.append((view.__name__, name, "0001-01-01 00:00:00"))
            elif isinstance(column.type, sa.Date):
                cases.append((view.__name__, name, "abc"))
    return cases


SCREEN_FILTERS = _screen_filters()


def test_screen_filter_cases_cover_choices_and_instants():
    assert any(value == "no-such-choice" for _v, _c, value in SCREEN_FILTERS)
    assert any(value.startswith("0001") for _v, _c, value in SCREEN_FILTERS)


@pytest.mark.parametrize("view,column,value", SCREEN_FILTERS)
def test_a_screen_filter_value_the_column_cannot_hold_is_400(admin_browser, view, column, value):
    response = admin_browser.get(f"/{view.lower()}/list/?_flt_0_{column}={value}")
    assert response.status_code == 400, response.status_code


def test_schema_messages_follow_the_language(api: Api):
    english = api.client.get("/api/v1/availability", headers=api.headers)
    vietnamese = api.client.get("/api/v1/availability?_l_=vi", headers=api.headers)
    assert message_of(english)["doctor_id"] == ["This field is required."]
    assert message_of(vietnamese)["doctor_id"][0] not in ("", "This field is required.")
    refused = api.client.post("/api/v1/appointments/book?_l_=vi", json={"pacient_id": 1}, headers=api.headers)
    assert message_of(refused)["pacient_id"][0] != "Unknown field."
