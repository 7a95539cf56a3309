"""Lab orders and results over REST (issue 9, items 7 and 10), with the rules of the pages
(``app.services.lab``): orders from a visit and their cancellation (permission ``LabOrder``), the
catalogue, results entered, samples collected and results released (permission ``LabResult``), the
laboratory's worklist and an analyte's trend. Session cookie with the ``X-CSRFToken`` header, or a
JWT. Thin: parse with a schema, call one service, answer JSON."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import expose, protect
from flask_babel import gettext as _
from marshmallow import RAISE, Schema, fields, validate

from app.api import schemas
from app.audit import record_event
from app.extensions import db
from app.fab.actor import acting_user
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.interface import MAX_ID
from app.models import LabOrder, LabResult
from app.models.types import utcnow
from app.services import access, lab


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class OrderRequest(_Strict):
    encounter_id = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_ID))
    test_codes = fields.List(fields.String(validate=validate.Length(1, 30)), required=True,
                             validate=validate.Length(1, 50))


class EmptyRequest(_Strict):
    pass


class ResultsRequest(_Strict):
    values = fields.Dict(keys=fields.String(validate=validate.Length(1, 120)),
                         values=fields.String(allow_none=True, validate=validate.Length(max=lab.VALUE_MAX_LENGTH)),
                         required=True, validate=validate.Length(1, 100))
    status = fields.String(required=True, validate=validate.OneOf(lab.RESULT_STATUSES))


class WorklistQuery(_Strict):
    status = fields.String(load_default="open", validate=validate.OneOf(lab.WORKLIST_FILTERS))
    q = fields.String(load_default=None, validate=validate.Length(max=100))


class CatalogueQuery(_Strict):
    q = fields.String(load_default=None, validate=validate.Length(max=100))


class TrendQuery(_Strict):
    analyte = fields.String(required=True, validate=validate.Length(1, 120))


class ResultOut(Schema):
    id = fields.Integer()
    analyte = fields.String()
    value = fields.String()
    numeric_value = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    reference_range = fields.String(allow_none=True)
    flag = fields.String(allow_none=True)
    status = fields.String()
    previous_value = fields.String(allow_none=True)
    released_to_patient = fields.Boolean()
    resulted_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class OrderOut(Schema):
    id = fields.Integer()
    encounter_id = fields.Integer(allow_none=True)
    patient_id = fields.Integer()
    test_code = fields.String()
    test_name = fields.String()
    status = fields.String()
    created_at = fields.String(metadata={"format": "date-time"})
    results = fields.List(fields.Nested(ResultOut))


class OrderResult(Schema):
    result = fields.Nested(OrderOut)


class OrdersResult(Schema):
    result = fields.List(fields.Nested(OrderOut))


class RangeOut(Schema):
    sex = fields.String()
    age_min_years = fields.Integer()
    age_max_years = fields.Integer(allow_none=True)
    low = fields.String(allow_none=True)
    high = fields.String(allow_none=True)
    critical_low = fields.String(allow_none=True)
    critical_high = fields.String(allow_none=True)


class AnalyteOut(Schema):
    name = fields.String()
    unit = fields.String(allow_none=True)
    decimals = fields.Integer()
    ranges = fields.List(fields.Nested(RangeOut))


class TestOut(Schema):
    code = fields.String()
    name = fields.String()
    specimen = fields.String(allow_none=True)
    analytes = fields.List(fields.Nested(AnalyteOut))


class CatalogueResult(Schema):
    result = fields.List(fields.Nested(TestOut))


class WorkItemOut(Schema):
    id = fields.Integer()
    ordered_at = fields.String(metadata={"format": "date-time"})
    patient_id = fields.Integer()
    patient = fields.String()
    test_code = fields.String()
    test_name = fields.String()
    status = fields.String()
    results = fields.Integer()
    flagged = fields.Integer()
    released = fields.Integer()


class WorklistResult(Schema):
    result = fields.List(fields.Nested(WorkItemOut))


class ReleasedResult(Schema):
    released = fields.List(fields.Integer())


class TrendPointOut(Schema):
    at = fields.String(metadata={"format": "date-time"})
    value = fields.String()
    unit = fields.String(allow_none=True)
    low = fields.String(allow_none=True)
    high = fields.String(allow_none=True)
    flag = fields.String(allow_none=True)


class DeniedOut(Schema):
    """403: a reason, and for those who may, the address of the break-the-glass form."""

    message = fields.String(required=True)
    break_glass = fields.String()


DENIED = ("refused: no permission, or a patient outside the reader's care", DeniedOut)


class TrendResult(Schema):
    result = fields.List(fields.Nested(TrendPointOut))


COMPONENTS = (*schemas.COMPONENTS, OrderRequest, EmptyRequest, ResultsRequest, WorklistQuery, CatalogueQuery,
              TrendQuery, ResultOut, OrderOut, OrderResult, OrdersResult, RangeOut, AnalyteOut, TestOut,
              CatalogueResult, WorkItemOut, WorklistResult, ReleasedResult, TrendPointOut, TrendResult, DeniedOut)


def _number(value: Any) -> str | None:
    return None if value is None else str(value)


def result_json(result: LabResult) -> dict:
    return {"id": result.id, "analyte": result.analyte, "value": result.value,
            "numeric_value": _number(result.numeric_value), "unit": result.unit,
            "reference_range": result.reference_range, "flag": result.flag, "status": result.status,
            "previous_value": result.previous_value, "released_to_patient": result.released_to_patient,
            "resulted_at": result.resulted_at.isoformat() if result.resulted_at else None}


def order_json(order: LabOrder) -> dict:
    return {"id": order.id, "encounter_id": order.encounter_id, "patient_id": order.patient_id,
            "test_code": order.test_code, "test_name": order.test_name, "status": order.status,
            "created_at": order.created_at.isoformat(), "results": [result_json(r) for r in order.results]}


class LabOrdersApi(ClinicBaseApi):
    """Orders from the visit and the catalogue: one permission with the lab order screens."""

    route_base = "/api/v1/lab"
    resource_name = "lab_orders"
    openapi_spec_tag = "Lab orders"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = "LabOrder"
    method_permission_name = {"create": "write", "cancel": "write", "catalogue": "read", "get_order": "read"}
    allow_browser_login = True

    @expose("/orders", methods=["POST"])
    @protect()
    @openapi(body=OrderRequest, responses={201: ("the orders made, one per test", OrdersResult), 403: DENIED})
    def create(self):
        """Order catalogue tests for a visit (the visit's author, while it is a draft)"""
        data = OrderRequest().load(json_body())
        orders = lab.order_tests(db.session, data["encounter_id"], data["test_codes"], acting_user(), utcnow())
        return self.response(201, result=[order_json(order) for order in orders])

    @expose("/orders/<int:order_id>/cancel", methods=["POST"])
    @protect()
    @openapi(body=EmptyRequest, responses={200: ("cancelled", OrderResult), 403: DENIED})
    def cancel(self, order_id: int):
        """Cancel an order without results (while its visit is a draft, or before the sample is collected)"""
        EmptyRequest().load(json_body())
        return self.response(200, result=order_json(lab.cancel_order(db.session, order_id, acting_user(), utcnow())))

    @expose("/orders/<int:order_id>", methods=["GET"])
    @protect()
    @openapi(responses={200: ("the order with its results", OrderResult), 403: DENIED}, errors=(403, 404))
    def get_order(self, order_id: int):
        """One lab order with its results (care-team access, audited)"""
        return self.response(200, result=order_json(lab.open_order(db.session, order_id, acting_user(), utcnow())))

    @expose("/catalogue", methods=["GET"])
    @protect()
    @openapi(query=CatalogueQuery, responses={200: ("active tests by code", CatalogueResult), 403: DENIED},
             errors=(400, 422))
    def catalogue(self):
        """The test catalogue: tests, analytes and reference ranges by sex and age band"""
        args = CatalogueQuery().load(request.args.to_dict())
        return self.response(200, result=[{
            "code": test.code, "name": test.name, "specimen": test.specimen,
            "analytes": [{"name": a.name, "unit": a.unit, "decimals": a.decimals, "ranges": [{
                "sex": r.sex, "age_min_years": r.age_min_years, "age_max_years": r.age_max_years,
                "low": _number(r.low), "high": _number(r.high), "critical_low": _number(r.critical_low),
                "critical_high": _number(r.critical_high)} for r in a.ranges]} for a in test.analytes],
        } for test in lab.catalogue(db.session, args["q"])])


class LabResultsApi(ClinicBaseApi):
    """The laboratory's side: worklist, collection, results, release, trend (permission ``LabResult``)."""

    route_base = "/api/v1/lab"
    resource_name = "lab_results"
    openapi_spec_tag = "Lab results"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = "LabResult"
    method_permission_name = {"worklist": "read", "collect": "write", "enter": "write", "release": "write",
                              "trend": "read"}
    allow_browser_login = True

    @expose("/worklist", methods=["GET"])
    @protect()
    @openapi(query=WorklistQuery, responses={200: ("orders for the laboratory", WorklistResult), 403: DENIED},
             errors=(400, 422))
    def worklist(self):
        """Lab orders to collect and to result (or by status), search by patient"""
        args = WorklistQuery().load(request.args.to_dict())
        items = lab.worklist(db.session, acting_user(), utcnow(), status=args["status"], search=args["q"])
        return self.response(200, result=[{
            "id": i.id, "ordered_at": i.ordered_at.isoformat(), "patient_id": i.patient_id, "patient": i.patient,
            "test_code": i.test_code, "test_name": i.test_name, "status": i.status, "results": i.results,
            "flagged": i.flagged, "released": i.released} for i in items])

    @expose("/orders/<int:order_id>/collect", methods=["POST"])
    @protect()
    @openapi(body=EmptyRequest, responses={200: ("collected", OrderResult), 403: DENIED})
    def collect(self, order_id: int):
        """The sample is collected: ordered -> collected"""
        EmptyRequest().load(json_body())
        return self.response(200, result=order_json(lab.mark_collected(db.session, order_id, acting_user(),
                                                                         utcnow())))

    @expose("/orders/<int:order_id>/results", methods=["POST"])
    @protect()
    @openapi(body=ResultsRequest, responses={200: ("the order with its results", OrderResult), 403: DENIED})
    def enter(self, order_id: int):
        """Enter results (preliminary or final) or correct final ones; values take 5,4 or 5.4"""
        data = ResultsRequest().load(json_body())
        order = lab.enter_results(db.session, order_id, data["values"], data["status"], acting_user(), utcnow())
        return self.response(200, result=order_json(order))

    @expose("/orders/<int:order_id>/release", methods=["POST"])
    @protect()
    @openapi(body=EmptyRequest, responses={200: ("the ids of the results released", ReleasedResult), 403: DENIED})
    def release(self, order_id: int):
        """Release the order's final results to the patient (audited)"""
        EmptyRequest().load(json_body())
        released = lab.release_results(db.session, order_id, acting_user(), utcnow())
        return self.response(200, released=[result.id for result in released])

    @expose("/patients/<int:patient_id>/trend", methods=["GET"])
    @protect()
    @openapi(query=TrendQuery, responses={200: ("the analyte's numeric results, oldest first", TrendResult),
                                          403: DENIED},
             errors=(400, 403, 404, 422))
    def trend(self, patient_id: int):
        """One analyte's results over time for one patient (care-team access)"""
        args = TrendQuery().load(request.args.to_dict())
        user, now = acting_user(), utcnow()
        access.patient_for_glass(db.session, patient_id)  # 404 when there is no such patient
        if not access.in_care(db.session, user, patient_id, now):
            access.record_denial(db.session, user, "LabResult", None, {"patient_id": patient_id, "trend": True})
            raise access.CareAccessDenied(_("This record belongs to a patient outside your care."), patient_id)
        record_event(db.session, "read", "LabResult", None, {"patient_id": patient_id, "trend": args["analyte"]},
                     getattr(user, "id", None))
        db.session.commit()
        points = lab.analyte_trend(db.session, patient_id, args["analyte"])
        return self.response(200, result=[{
            "at": p.at.isoformat(), "value": str(p.value), "unit": p.unit, "low": _number(p.low),
            "high": _number(p.high), "flag": p.flag} for p in points])
