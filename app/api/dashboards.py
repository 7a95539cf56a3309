"""The managers' dashboard figures as JSON (issue 14, item 6), ``GET /api/v1/dashboards/figure``:
the same reads as the page (``app.services.dashboards.figures``) and its permission
(``Dashboard``, can_read: managers and admins), a JWT or the browser session. A reversed range,
one over three years, an unknown grain, doctor or department: 422 naming every broken field."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import request
from flask_appbuilder.api import expose, protect
from marshmallow import fields, validate

from app.api.schemas import StrictSchema
from app.extensions import db
from app.fab.api import ClinicBaseApi, openapi
from app.fab.hooks import clinic_settings
from app.fab.interface import MAX_ID
from app.permissions import DASHBOARD_PERMISSION
from app.services import dashboards
from app.services.dashboards.buckets import GRAINS
from app.services.dashboards.figures import FIGURES, FigureData

_ID = validate.Range(1, MAX_ID)


class DashboardQuery(StrictSchema):
    figure = fields.String(required=True, validate=validate.OneOf(list(FIGURES)))
    start = fields.Date(required=True, metadata={"description": "first day (the clinic's), YYYY-MM-DD"})
    end = fields.Date(required=True, metadata={"description": "last day, included; at most three years after start"})
    grain = fields.String(load_default="month", validate=validate.OneOf(GRAINS))
    department_id = fields.Integer(validate=_ID, load_default=None)
    doctor_id = fields.Integer(validate=_ID, load_default=None)


class FigureColumnOut(StrictSchema):
    key = fields.String(required=True)
    kind = fields.String(required=True, metadata={
        "description": "period (the bucket's first day), text, choice, count, money, percent (0..1), minutes, "
                       "hours, rating, quantity, hidden"})


class FigureOut(StrictSchema):
    figure = fields.String(required=True)
    grain = fields.String(required=True)
    start = fields.String(required=True, metadata={"format": "date"})
    end = fields.String(required=True, metadata={"format": "date"})
    columns = fields.List(fields.Nested(FigureColumnOut), required=True)
    rows = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True)), required=True,
                       metadata={"description": "one object per row; money as a decimal string, dates YYYY-MM-DD"})
    totals = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


COMPONENTS = (DashboardQuery, FigureColumnOut, FigureOut)


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def figure_json(data: FigureData, start: date, end: date) -> dict[str, Any]:
    return {"figure": data.key, "grain": data.grain, "start": start.isoformat(), "end": end.isoformat(),
            "columns": [{"key": key, "kind": kind} for key, kind in data.columns],
            "rows": [{key: plain(value) for key, value in row.items()} for row in data.as_dicts()],
            "totals": {key: plain(value) for key, value in data.totals.items()}}


class DashboardApi(ClinicBaseApi):
    route_base = "/api/v1/dashboards"
    resource_name = "dashboards"
    openapi_spec_tag = "Dashboards"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = DASHBOARD_PERMISSION
    method_permission_name = {"figure": "read"}
    allow_browser_login = True

    @expose("/figure", methods=["GET"])
    @protect()
    @openapi(query=DashboardQuery, responses={200: ("the figure's rows", FigureOut)}, errors=(400, 422))
    def figure(self):
        """One dashboard figure for a range of days, by day, week, month or quarter (the clinic's time)"""
        args = DashboardQuery().load(request.args.to_dict())
        dashboards.check_query(db.session, args["start"], args["end"], args["grain"], args["department_id"],
                               args["doctor_id"])
        data = dashboards.figure(db.session, args["figure"], args["start"], args["end"], args["grain"],
                                 args["department_id"], args["doctor_id"], clinic_settings().timezone)
        return self.response(200, **figure_json(data, args["start"], args["end"]))
