"""The pharmacy over REST: the dispensing queue, dispensing (with its FEFO preview), returns, goods
receipts, stock adjustments and the stock views. Thin: parse with a schema, call one service of
``app.services`` (dispensing, receiving, stock, stock_views), answer JSON. One permission, the
stock's (``StockBatch``): writers (pharmacists) dispense, receive and adjust; readers (doctors,
managers) see the stock; receptionists nothing."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, request
from flask_appbuilder.api import expose, protect
from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from app.api.schemas import ErrorOut, StrictSchema
from app.extensions import db
from app.fab.actor import acting_user, acting_user_id
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.hooks import clinic_settings
from app.fab.interface import MAX_ID
from app.models.types import utcnow
from app.services import dispensing, receiving, stock, stock_views
from app.services.pharmacy_settings import PharmacyPolicy
from app.services.stock import StockRefused


def policy() -> PharmacyPolicy:
    return PharmacyPolicy.from_config(current_app.config)


def _count(**kwargs: Any) -> fields.Integer:
    """A number of units (its bounds are the services' rules, each with its own message)."""
    return fields.Integer(strict=True, **kwargs)


def _id(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kwargs)


# --- what clients send -------------------------------------------------------------------------


class DispenseItemIn(StrictSchema):
    item_id = _id(required=True)
    quantity = _count(allow_none=True, load_default=None,
                      metadata={"description": "units to dispense now; null: all that remains"})
    batch_id = _id(allow_none=True, load_default=None,
                   metadata={"description": "a batch picked out of FEFO order (needs reason)"})
    reason = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=300))


class DispenseRequest(StrictSchema):
    items = fields.List(fields.Nested(DispenseItemIn), load_default=None, allow_none=True,
                        validate=validate.Length(max=100),
                        metadata={"description": "the items to dispense; absent: every item, all that remains"})


class ReturnRequest(StrictSchema):
    quantity = _count(required=True)
    reason = fields.String(required=True, validate=validate.Length(max=300))


class AdjustRequest(StrictSchema):
    delta = _count(required=True, metadata={"description": "signed change (negative takes stock out)"})
    reason = fields.String(required=True, validate=validate.OneOf(stock.ADJUSTMENT_REASONS))
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=300))


class ReceiptLineIn(StrictSchema):
    medicine_id = _id(required=True)
    lot_number = fields.String(required=True, validate=validate.Length(max=40))
    expiry_date = fields.Date(required=True, validate=validate.Range(date(1900, 1, 1), date(9998, 12, 31)))
    quantity = _count(required=True)
    unit_cost = fields.Decimal(load_default=None, allow_none=True, as_string=False,
                               metadata={"description": "cost of one unit; absent: 0"})


class ReceiptRequest(StrictSchema):
    supplier_id = _id(required=True)
    delivery_note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=60))
    lines = fields.List(fields.Nested(ReceiptLineIn), required=True, validate=validate.Length(min=1, max=200))


class QueueQuery(StrictSchema):
    q = fields.String(load_default=None, validate=validate.Length(max=100))


class StockQuery(StrictSchema):
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    below_reorder = fields.Boolean(load_default=False)


# --- what the API answers ----------------------------------------------------------------------


class QueueItemOut(Schema):
    item_id = fields.Integer()
    medicine_id = fields.Integer()
    medicine = fields.String()
    unit = fields.String()
    prescribed = fields.Integer()
    dispensed = fields.Integer()
    remaining = fields.Integer()
    in_stock = fields.Integer()


class QueueRowOut(Schema):
    prescription_id = fields.Integer()
    code = fields.String()
    status = fields.String()
    issued_at = fields.String(allow_none=True)
    patient_id = fields.Integer()
    patient = fields.String()
    doctor = fields.String()
    items = fields.List(fields.Nested(QueueItemOut))


class QueueResult(Schema):
    result = fields.List(fields.Nested(QueueRowOut))


class TakeOut(Schema):
    batch_id = fields.Integer()
    lot_number = fields.String()
    expiry_date = fields.String()
    quantity = fields.Integer()
    manual = fields.Boolean()


class ItemPlanOut(Schema):
    item_id = fields.Integer()
    medicine_id = fields.Integer()
    medicine = fields.String()
    asked = fields.Integer()
    taken = fields.Integer()
    shortfall = fields.Integer()
    takes = fields.List(fields.Nested(TakeOut))


class DispenseResult(Schema):
    prescription_id = fields.Integer()
    status = fields.String(allow_none=True)
    dispensed = fields.Integer()
    shortfall = fields.Integer()
    items = fields.List(fields.Nested(ItemPlanOut))
    movement_ids = fields.List(fields.Integer())


class MovementsResult(Schema):
    movement_ids = fields.List(fields.Integer())


class ReceiptLineOut(Schema):
    medicine_id = fields.Integer()
    batch_id = fields.Integer()
    lot_number = fields.String()
    expiry_date = fields.String()
    quantity = fields.Integer()
    unit_cost = fields.String()


class ReceiptResult(Schema):
    id = fields.Integer()
    supplier_id = fields.Integer()
    supplier = fields.String()
    delivery_note = fields.String(allow_none=True)
    received_at = fields.String()
    lines = fields.List(fields.Nested(ReceiptLineOut))


class MedicineStockOut(Schema):
    medicine_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    unit = fields.String()
    reorder_level = fields.Integer()
    on_hand = fields.Integer()
    expired = fields.Integer()
    nearest_expiry = fields.String(allow_none=True)
    daily_use = fields.Float()
    days_of_cover = fields.Float(allow_none=True)
    lead_time_days = fields.Integer()
    supplier = fields.String(allow_none=True)
    below_reorder = fields.Boolean()
    order_now = fields.Boolean()


class StockResult(Schema):
    result = fields.List(fields.Nested(MedicineStockOut))


class BatchAlertOut(Schema):
    batch_id = fields.Integer()
    medicine_id = fields.Integer()
    medicine = fields.String()
    lot_number = fields.String()
    expiry_date = fields.String()
    quantity = fields.Integer()
    unit_cost = fields.String()
    value = fields.String()


class DashboardResult(Schema):
    today = fields.String()
    below_reorder = fields.List(fields.Nested(MedicineStockOut))
    order_now = fields.List(fields.Nested(MedicineStockOut))
    expiring = fields.List(fields.Nested(BatchAlertOut))
    expiring_value = fields.String()
    expired = fields.List(fields.Nested(BatchAlertOut))
    expired_value = fields.String()


COMPONENTS = (DispenseItemIn, DispenseRequest, ReturnRequest, AdjustRequest, ReceiptLineIn, ReceiptRequest,
              QueueQuery, StockQuery, QueueItemOut, QueueRowOut, QueueResult, TakeOut, ItemPlanOut, DispenseResult,
              MovementsResult, ReceiptLineOut, ReceiptResult, MedicineStockOut, StockResult, BatchAlertOut,
              DashboardResult, ErrorOut)


# --- JSON of the services' rows -------------------------------------------------------------------


def queue_json(row: stock_views.QueueRow) -> dict[str, Any]:
    zone = clinic_settings().timezone
    return {"prescription_id": row.prescription_id, "code": row.code, "status": row.status,
            "issued_at": row.issued_at.astimezone(zone).isoformat() if row.issued_at else None,
            "patient_id": row.patient_id, "patient": row.patient, "doctor": row.doctor,
            "items": [{"item_id": i.item_id, "medicine_id": i.medicine_id, "medicine": i.medicine, "unit": i.unit,
                       "prescribed": i.prescribed, "dispensed": i.dispensed, "remaining": i.remaining,
                       "in_stock": i.in_stock} for i in row.items]}


def plan_json(plan: dispensing.ItemPlan) -> dict[str, Any]:
    return {"item_id": plan.item_id, "medicine_id": plan.medicine_id, "medicine": plan.medicine,
            "asked": plan.asked, "taken": plan.taken, "shortfall": plan.shortfall,
            "takes": [{"batch_id": t.batch_id, "lot_number": t.lot_number, "expiry_date": t.expiry_date.isoformat(),
                       "quantity": t.quantity, "manual": t.manual} for t in plan.takes]}


def stock_json(row: stock_views.MedicineStock) -> dict[str, Any]:
    return {"medicine_id": row.medicine_id, "code": row.code, "name": row.name, "unit": row.unit,
            "reorder_level": row.reorder_level, "on_hand": row.on_hand, "expired": row.expired,
            "nearest_expiry": row.nearest_expiry.isoformat() if row.nearest_expiry else None,
            "daily_use": round(row.daily_use, 3),
            "days_of_cover": round(row.days_of_cover, 1) if row.days_of_cover is not None else None,
            "lead_time_days": row.lead_time_days, "supplier": row.supplier, "below_reorder": row.below_reorder,
            "order_now": row.order_now}


def batch_alert_json(row: stock_views.BatchAlert) -> dict[str, Any]:
    return {"batch_id": row.batch_id, "medicine_id": row.medicine_id, "medicine": row.medicine,
            "lot_number": row.lot_number, "expiry_date": row.expiry_date.isoformat(), "quantity": row.quantity,
            "unit_cost": str(row.unit_cost), "value": str(row.value)}


def receipt_json(receipt: Any) -> dict[str, Any]:
    zone = clinic_settings().timezone
    return {"id": receipt.id, "supplier_id": receipt.supplier_id, "supplier": str(receipt.supplier),
            "delivery_note": receipt.delivery_note, "received_at": receipt.received_at.astimezone(zone).isoformat(),
            "lines": [{"medicine_id": line.medicine_id, "batch_id": line.batch_id, "lot_number": line.lot_number,
                       "expiry_date": line.expiry_date.isoformat(), "quantity": line.quantity,
                       "unit_cost": str(line.unit_cost)} for line in receipt.lines]}


def dispense_args(data: dict[str, Any]) -> tuple[dict[int, int | None] | None, dict[int, dispensing.BatchChoice]]:
    items = data.get("items")
    if items is None:
        return None, {}
    quantities: dict[int, int | None] = {}
    choices: dict[int, dispensing.BatchChoice] = {}
    for index, item in enumerate(items):
        if item["item_id"] in quantities:
            raise StockRefused({f"items.{index}.item_id": _("This item is listed twice.")})
        quantities[item["item_id"]] = item["quantity"]
        if item["batch_id"] is not None:
            choices[item["item_id"]] = dispensing.BatchChoice(item["batch_id"], item["reason"] or "")
    return quantities, choices


def today() -> date:
    return dispensing.clinic_today(utcnow(), clinic_settings())


class PharmacyApi(ClinicBaseApi):
    route_base = "/api/v1/pharmacy"
    resource_name = "pharmacy"
    openapi_spec_tag = "Pharmacy"
    openapi_spec_component_schemas = COMPONENTS
    class_permission_name = "StockBatch"
    method_permission_name = {"queue": "write", "preview": "write", "dispense": "write", "return_item": "write",
                              "receive": "write", "receipt": "read", "adjust": "write", "stock": "read",
                              "dashboard": "read"}
    allow_browser_login = True

    @expose("/queue", methods=["GET"])
    @protect()
    @openapi(query=QueueQuery, responses={200: ("prescriptions waiting, newest first", QueueResult)}, errors=(400, 422))
    def queue(self):
        """The dispensing queue: issued and partly dispensed prescriptions with the stock of each item"""
        args = QueueQuery().load(request.args.to_dict())
        rows = stock_views.dispensing_queue(db.session, acting_user(), utcnow(), today(), search=args["q"],
                                            region=clinic_settings().phone_region)
        return self.response(200, result=[queue_json(r) for r in rows])

    @expose("/prescriptions/<int:pk>/preview", methods=["POST"])
    @protect()
    @openapi(body=DispenseRequest, responses={200: ("the FEFO plan; nothing is written", DispenseResult)})
    def preview(self, pk: int):
        """What dispensing would take from which batch (FEFO), and the shortfall; nothing is written"""
        quantities, choices = dispense_args(DispenseRequest().load(json_body()))
        plans = dispensing.preview_dispense(db.session, pk, quantities, utcnow(), policy=policy(),
                                            clinic=clinic_settings(), batch_choices=choices)
        return self.response(200, prescription_id=pk, status=None, dispensed=sum(p.taken for p in plans),
                             shortfall=sum(p.shortfall for p in plans), items=[plan_json(p) for p in plans],
                             movement_ids=[])

    @expose("/prescriptions/<int:pk>/dispense", methods=["POST"])
    @protect()
    @openapi(body=DispenseRequest, responses={201: ("what was dispensed, from which batches", DispenseResult)})
    def dispense(self, pk: int):
        """Dispense a prescription (all that remains, or chosen quantities) first-expiry-first"""
        quantities, choices = dispense_args(DispenseRequest().load(json_body()))
        result = dispensing.dispense_prescription(db.session, pk, quantities, acting_user_id(), utcnow(), choices,
                                                  policy=policy(), clinic=clinic_settings())
        return self.response(201, prescription_id=pk, status=result.status, dispensed=result.dispensed,
                             shortfall=result.shortfall, items=[plan_json(p) for p in result.items],
                             movement_ids=result.movement_ids)

    @expose("/items/<int:pk>/return", methods=["POST"])
    @protect()
    @openapi(body=ReturnRequest, responses={201: ("the return rows of the ledger", MovementsResult)})
    def return_item(self, pk: int):
        """Undo (part of) a dispense of a prescription item within the return window, with a reason"""
        data = ReturnRequest().load(json_body())
        ids = dispensing.return_dispense(db.session, pk, data["quantity"], data["reason"], acting_user_id(), utcnow(),
                                         policy=policy(), clinic=clinic_settings())
        return self.response(201, movement_ids=ids)

    @expose("/receipts", methods=["POST"])
    @protect()
    @openapi(body=ReceiptRequest, responses={201: ("the goods receipt", ReceiptResult)})
    def receive(self):
        """Receive a delivery: each line a batch (or more of the same lot) and a ledger receipt"""
        data = ReceiptRequest().load(json_body())
        lines = [receiving.ReceiptLine(**line) for line in data["lines"]]
        receipt_id = receiving.receive_delivery(db.session, data["supplier_id"], lines, acting_user_id(), utcnow(),
                                                today(), policy=policy(), delivery_note=data["delivery_note"])
        return self.response(201, **receipt_json(receiving.get_receipt(db.session, receipt_id)))

    @expose("/receipts/<int:pk>", methods=["GET"])
    @protect()
    @openapi(responses={200: ("the goods receipt", ReceiptResult)}, errors=(404,))
    def receipt(self, pk: int):
        """One goods receipt with its lines"""
        return self.response(200, **receipt_json(receiving.get_receipt(db.session, pk)))

    @expose("/batches/<int:pk>/adjust", methods=["POST"])
    @protect()
    @openapi(body=AdjustRequest, responses={201: ("the adjustment row of the ledger", MovementsResult)})
    def adjust(self, pk: int):
        """Adjust a batch's count with a reason (count correction, damage, loss, expiry write-off)"""
        data = AdjustRequest().load(json_body())
        movement = stock.adjust_stock(db.session, pk, data["delta"], data["reason"], data["note"], acting_user_id(),
                                      utcnow())
        return self.response(201, movement_ids=[movement])

    @expose("/stock", methods=["GET"])
    @protect()
    @openapi(query=StockQuery, responses={200: ("medicines with stock on hand and days of cover", StockResult)},
             errors=(400, 422))
    def stock(self):
        """Stock on hand per medicine: days of cover, nearest expiry, below-reorder flag (and filter)"""
        args = StockQuery().load(request.args.to_dict())
        rows = stock_views.medicine_stock(db.session, today(), policy(), below_reorder=args["below_reorder"],
                                          search=args["q"])
        return self.response(200, result=[stock_json(r) for r in rows])

    @expose("/dashboard", methods=["GET"])
    @protect()
    @openapi(responses={200: ("the pharmacy's alerts", DashboardResult)}, errors=())
    def dashboard(self):
        """Below reorder, order now (days of cover within the lead time), expiring and expired batches"""
        alerts = stock_views.pharmacy_alerts(db.session, today(), policy())
        return self.response(200, today=alerts.today.isoformat(),
                             below_reorder=[stock_json(r) for r in alerts.below_reorder],
                             order_now=[stock_json(r) for r in alerts.order_now],
                             expiring=[batch_alert_json(b) for b in alerts.expiring],
                             expiring_value=str(alerts.expiring_value),
                             expired=[batch_alert_json(b) for b in alerts.expired],
                             expired_value=str(alerts.expired_value))
