"""Billing over REST: invoices, their lines and discount, issuing and voiding, payments at the
counter (cash, bank transfer), online payments (card through Stripe Checkout, VNPay) and refunds,
with the cashier's counter's rules (``app.services.billing``, ``app.services.payments``). Thin:
parse with a schema, call one service, answer JSON. The generic ``/api/v1/invoice``, ``payment``...
resources are read-only; money moves only here and at the counter.

Routes (under ``/api/v1/billing``)::

    GET    /invoices                    search (number, patient_id, status, date_from, date_to; paged)
    POST   /invoices                    a new draft for a patient
    GET    /invoices/<id>               one invoice: lines, totals, payments, refunds
    POST   /invoices/<id>/lines         add a line to a draft
    PATCH  /lines/<id>  (or PUT)        change a draft line's quantity or price
    DELETE /lines/<id>                  take a line off a draft
    PUT    /invoices/<id>/discount      grant or take back the discount (power: discount)
    POST   /invoices/<id>/issue         number it; it can take payments
    POST   /invoices/<id>/void          cancel it (nothing paid), with a reason
    POST   /invoices/<id>/payments      cash or bank transfer (``Idempotency-Key`` header)
    POST   /invoices/<id>/checkout      card (Stripe Checkout) or VNPay: the URL to send the payer to
    POST   /payments/<id>/refunds       give money back (power: refund; ``Idempotency-Key`` header)

Permissions: one resource, ``Invoice``: reads need ``can_read``, writes ``can_write``; the powers
``can_change_price``, ``can_discount`` and ``can_refund`` (``app.billing_rights``) are checked by
the services or here. A patient (role Patient) reads their own invoices through the same GET
routes (issued and later; drafts are hidden) and gets 404 for anyone else's; they write nothing.
Every read of an invoice goes through ``app.services.access`` (``app.services.billing_queries``)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import wraps
from typing import Any, Callable

from flask import current_app, request
from flask_appbuilder.api import expose, protect
from flask_babel import get_locale, gettext as _
from flask_jwt_extended import verify_jwt_in_request
from flask_login import current_user
from marshmallow import ValidationError

from app.api import billing_schemas as schemas
from app.billing_rights import current_rights
from app.extensions import db
from app.fab.actor import acting_user, acting_user_id, client_address
from app.fab.api import ClinicBaseApi, json_body, openapi
from app.fab.hooks import clinic_settings
from app.models import Invoice, InvoiceLine, Payment, Refund
from app.models.types import utcnow
from app.services import billing, billing_queries, payments
from app.services.billing_settings import BillingSettings
from app.services.errors import Conflict, Forbidden, committing
from app.services.money import minor_digits
from app.services.roles import is_staff, role_names

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Operations that ask a payment provider (Stripe, VNPay): 502 when it refused or could not be reached.
ASKS_A_PROVIDER = ("checkout", "refund")


def billing_settings() -> BillingSettings:
    return BillingSettings.from_config(current_app.config)


def staff_or_own(func: Callable) -> Callable:
    """A read: staff need the resource's ``can_read`` (FAB's ``@protect``); a patient's login (no
    staff role) passes to the endpoint, which shows them their own invoices only (through
    ``app.services.access``). Nobody signed in: 401."""
    protected = protect()(func)

    @wraps(protected)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            verify_jwt_in_request()  # a missing or bad token: 401 (app.security's JWT handlers)
        user = acting_user()
        if user is not None and getattr(user, "is_active", False) and not is_staff(role_names(user)):
            return func(self, *args, **kwargs)
        return protected(self, *args, **kwargs)

    return wrapper


# --- JSON -------------------------------------------------------------------------------------


def money(value: Any, currency: str) -> str:
    """An amount as a decimal string with the currency's digits ("150000" đồng, "12.50" dollars)."""
    return f"{Decimal(value or 0):.{minor_digits(currency)}f}"


def number(value: Any) -> str:
    """A quantity or a rate without trailing zeros ("2", "1.5", "10")."""
    text = f"{Decimal(value or 0).normalize():f}"
    return text


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(clinic_settings().timezone).isoformat()


def line_json(line: InvoiceLine, currency: str) -> dict[str, Any]:
    return {"id": line.id, "kind": line.kind, "service_id": line.service_id, "medicine_id": line.medicine_id,
            "lab_test_id": line.lab_test_id, "description": line.description, "quantity": number(line.quantity),
            "unit_price": money(line.unit_price, currency), "amount": money(line.amount, currency),
            "discount_share": money(line.discount_share, currency), "tax_rate": number(line.tax_rate),
            "tax": money(line.tax, currency), "reason": line.reason, "price_overridden": bool(line.price_overridden),
            "source": line.source}


def payment_json(payment: Payment, currency: str) -> dict[str, Any]:
    return {"id": payment.id, "invoice_id": payment.invoice_id, "method": payment.method, "status": payment.status,
            "amount": money(payment.amount, currency),
            "tendered": money(payment.tendered, currency) if payment.tendered is not None else None,
            "change_given": money(payment.change_given, currency) if payment.change_given is not None else None,
            "amount_refunded": money(payment.amount_refunded, currency),
            "refundable": money(payments.refundable(payment), currency), "provider": payment.provider,
            "provider_reference": payment.provider_reference, "note": payment.note,
            "paid_at": instant(payment.paid_at)}


def refund_json(refund: Refund, currency: str) -> dict[str, Any]:
    return {"id": refund.id, "payment_id": refund.payment_id, "invoice_id": refund.invoice_id,
            "amount": money(refund.amount, currency), "method": refund.method, "status": refund.status,
            "reason": refund.reason, "provider_reference": refund.provider_reference,
            "refunded_at": instant(refund.refunded_at)}


def summary_json(invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency or "VND"
    return {"id": invoice.id, "number": invoice.number, "status": invoice.status, "patient_id": invoice.patient_id,
            "patient": invoice.patient.full_name if invoice.patient is not None else "", "currency": currency,
            "subtotal": money(invoice.subtotal, currency), "discount": money(invoice.discount, currency),
            "tax": money(invoice.tax, currency), "total": money(invoice.total, currency),
            "amount_paid": money(invoice.amount_paid, currency),
            "amount_refunded": money(invoice.amount_refunded, currency),
            "balance": money(invoice.balance, currency), "created_at": instant(invoice.created_at),
            "issued_at": instant(invoice.issued_at)}


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency or "VND"
    return {**summary_json(invoice), "appointment_id": invoice.appointment_id,
            "discount_kind": invoice.discount_kind,
            "discount_value": number(invoice.discount_value) if invoice.discount_value is not None else None,
            "discount_reason": invoice.discount_reason, "voided_at": instant(invoice.voided_at),
            "void_reason": invoice.void_reason, "email_status": invoice.email_status,
            "lines": [line_json(line, currency) for line in invoice.lines],
            "payments": [payment_json(p, currency) for p in payments.invoice_payments(db.session, invoice.id)],
            "refunds": [refund_json(r, currency) for r in payments.invoice_refunds(db.session, invoice.id)]}


def written(invoice_id: int) -> dict[str, Any]:
    """The invoice as it is after a write, read fresh (the writer's own work: no second audit row)."""
    db.session.expire_all()
    return invoice_json(billing.get_invoice(db.session, invoice_id))


def idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > schemas.KEY_MAX:
        raise ValidationError(_("Give a key of 1 to %(max)s characters.", max=schemas.KEY_MAX), IDEMPOTENCY_HEADER)
    return key


def clinic_day_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Clinic days (from ``start`` to ``end``, both included) as UTC instants, end exclusive."""
    zone = clinic_settings().timezone

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time.min, zone).astimezone(timezone.utc)

    return (midnight(start) if start else None,
            midnight(end + timedelta(days=1)) if end else None)


def clinic_year(now: datetime) -> int:
    return now.astimezone(clinic_settings().timezone).year


class BillingApi(ClinicBaseApi):
    route_base = "/api/v1/billing"
    resource_name = "billing"
    openapi_spec_tag = "Billing"
    openapi_spec_component_schemas = schemas.COMPONENTS
    class_permission_name = "Invoice"
    method_permission_name = {
        "search": "read", "get_invoice": "read",
        "create_invoice": "write", "add_line": "write", "update_line": "write", "remove_line": "write",
        "set_discount": "write", "issue": "write", "void": "write", "pay": "write", "checkout": "write",
        "refund": "write",
    }
    # The powers beyond writing, declared with the cashier's counter (app/views/cashier.py) and read
    # per request by app.billing_rights.current_rights().
    base_permissions = ["can_read", "can_write", "can_change_price", "can_discount", "can_refund"]
    allow_browser_login = True

    def operation_helper(self, path: str | None = None, operations: dict | None = None,
                         methods: list[str] | None = None, func: Callable | None = None, **kwargs: Any) -> None:
        """The ``Idempotency-Key`` header of the money-moving operations and the providers' 502, in
        the document too."""
        super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        for operation in (operations or {}).values():
            if not isinstance(operation, dict) or func is None:
                continue
            if func.__name__ in ASKS_A_PROVIDER:
                operation["responses"]["502"] = {
                    "description": "the payment provider refused or could not be reached; nothing was recorded",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
            if func.__name__ in ("pay", "refund"):
                operation.setdefault("parameters", []).append({
                    "in": "header", "name": IDEMPOTENCY_HEADER, "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": schemas.KEY_MAX,
                               "pattern": r"^[\x21-\x7e]+$"},
                    "description": "the same key again answers the first one and records nothing"})

    # --- reading ---------------------------------------------------------------------------

    @expose("/invoices", methods=["GET"])
    @staff_or_own
    @openapi(query=schemas.InvoiceQuery, responses={200: ("invoices, newest first", schemas.InvoiceListResult)},
             errors=(400, 422))
    def search(self):
        """Find invoices by number, patient, status and date (a patient: their own, issued ones)"""
        args = schemas.InvoiceQuery().load(request.args.to_dict())
        start, end = clinic_day_bounds(args["date_from"], args["date_to"])
        found = billing_queries.search_invoices(
            db.session, acting_user(), utcnow(),
            billing_queries.InvoiceSearch(number=args["number"], patient_id=args["patient_id"],
                                          status=args["status"], start=start, end=end),
            page=args["page"], page_size=args["page_size"])
        return self.response(200, count=found.count, page=args["page"], page_size=args["page_size"],
                             result=[summary_json(invoice) for invoice in found.invoices])

    @expose("/invoices/<int:pk>", methods=["GET"])
    @staff_or_own
    @openapi(responses={200: ("the invoice with its lines, payments and refunds", schemas.InvoiceResult)},
             errors=(404,))
    def get_invoice(self, pk: int):
        """One invoice: lines, totals, payments, refunds"""
        invoice = billing_queries.open_invoice(db.session, acting_user(), pk, utcnow())
        return self.response(200, id=invoice.id, result=invoice_json(invoice))

    # --- drafts -----------------------------------------------------------------------------

    @expose("/invoices", methods=["POST"])
    @protect()
    @openapi(body=schemas.NewInvoiceRequest, responses={201: ("the new draft", schemas.InvoiceResult)})
    def create_invoice(self):
        """A new draft invoice for a patient (numbered only when issued)"""
        data = schemas.NewInvoiceRequest().load(json_body())
        with committing(db.session):
            invoice = billing.new_draft(db.session, data["patient_id"], acting_user_id(), utcnow(),
                                        billing_settings())
        return self.response(201, id=invoice.id, result=written(invoice.id))

    @expose("/invoices/<int:pk>/lines", methods=["POST"])
    @protect()
    @openapi(body=schemas.LineRequest, responses={201: ("the line and the invoice's new totals", schemas.LineResult)})
    def add_line(self, pk: int):
        """Add a line to a draft: a catalogue item at its price (another: power change_price, reason) or a free line"""
        data = schemas.LineRequest().load(json_body())
        line = billing.add_line(db.session, pk, billing.LineInput(**data), acting_user_id(), utcnow(),
                                billing_settings(), may_change_price=current_rights().change_price)
        invoice = written(pk)
        currency = invoice["currency"]
        return self.response(201, id=line.id, line=line_json(line, currency), result=invoice)

    @expose("/lines/<int:pk>", methods=["PATCH", "PUT"])
    @protect()
    @openapi(body=schemas.LinePatch, responses={200: ("the line and the invoice's new totals", schemas.LineResult)})
    def update_line(self, pk: int):
        """Change a draft line's quantity or price (a new price needs a reason; a catalogue line, power change_price)"""
        data = schemas.LinePatch().load(json_body())
        line = billing.update_line(db.session, pk, data["quantity"], data["unit_price"], data["reason"],
                                   acting_user_id(), utcnow(), may_change_price=current_rights().change_price)
        invoice = written(line.invoice_id)
        return self.response(200, id=line.id, line=line_json(line, invoice["currency"]), result=invoice)

    @expose("/lines/<int:pk>", methods=["DELETE"])
    @protect()
    @openapi(responses={200: ("the invoice without the line", schemas.InvoiceResult)})
    def remove_line(self, pk: int):
        """Take a line off a draft (a line from the visit or the pharmacy: power change_price and a
        ``reason``, in the query string or a JSON body)"""
        body = request.get_json(silent=True) if request.content_length else None
        reason = request.args.get("reason")
        if isinstance(body, dict) and isinstance(body.get("reason"), str):
            reason = body["reason"]
        invoice = billing.remove_line(db.session, pk, acting_user_id(), utcnow(),
                                      may_change_price=current_rights().change_price, reason=reason)
        return self.response(200, id=invoice.id, result=written(invoice.id))

    @expose("/invoices/<int:pk>/discount", methods=["PUT"])
    @protect()
    @openapi(body=schemas.DiscountRequest, responses={200: ("the invoice's new totals", schemas.InvoiceResult)})
    def set_discount(self, pk: int):
        """Grant a discount on a draft (amount or percent, a reason; power discount), or take it back (kind null)"""
        data = schemas.DiscountRequest().load(json_body())
        invoice = billing.set_discount(db.session, pk, data["kind"], data["value"], data["reason"], acting_user_id(),
                                       utcnow(), may_discount=current_rights().discount)
        return self.response(200, id=invoice.id, result=written(invoice.id))

    @expose("/invoices/<int:pk>/issue", methods=["POST"])
    @protect()
    @openapi(body=schemas.IssueRequest, responses={200: ("the issued invoice with its number", schemas.InvoiceResult)})
    def issue(self, pk: int):
        """Issue a draft: it gets the year's next number and can take payments; its lines are fixed"""
        schemas.IssueRequest().load(json_body())
        now = utcnow()
        invoice = billing.issue_invoice(db.session, pk, acting_user_id(), now, billing_settings(), clinic_year(now))
        return self.response(200, id=invoice.id, result=written(invoice.id))

    @expose("/invoices/<int:pk>/void", methods=["POST"])
    @protect()
    @openapi(body=schemas.VoidRequest, responses={200: ("the void invoice", schemas.InvoiceResult)})
    def void(self, pk: int):
        """Void a draft or an issued invoice with nothing paid on it, with a reason"""
        data = schemas.VoidRequest().load(json_body())
        invoice = billing.void_invoice(db.session, pk, data["reason"], acting_user_id(), utcnow())
        return self.response(200, id=invoice.id, result=written(invoice.id))

    # --- money ------------------------------------------------------------------------------

    @expose("/invoices/<int:pk>/payments", methods=["POST"])
    @protect()
    @openapi(body=schemas.PaymentRequest, responses={201: ("the payment and the invoice", schemas.PaymentResult)})
    def pay(self, pk: int):
        """Record cash or a bank transfer seen on the account (never above what is owed)"""
        data = schemas.PaymentRequest().load(json_body())
        key = idempotency_key()
        try:
            payment = payments.record_payment(db.session, pk, data["method"], data["amount"], acting_user_id(),
                                              utcnow(), tendered=data["tendered"], reference=data["reference"],
                                              idempotency_key=key, note=data["note"], billing=billing_settings())
        except Conflict as refused:
            if refused.field == "idempotency_key":  # the header, as the client sent it
                raise Conflict(refused.message, IDEMPOTENCY_HEADER) from refused
            raise
        if key is not None and (payment.invoice_id != pk or payment.method != data["method"]
                                or Decimal(payment.amount) != data["amount"]):
            raise Conflict(_("This Idempotency-Key was already used for another payment."), IDEMPOTENCY_HEADER)
        invoice = written(payment.invoice_id)
        return self.response(201, id=payment.id, payment=payment_json(payment, invoice["currency"]), result=invoice)

    @expose("/invoices/<int:pk>/checkout", methods=["POST"])
    @protect()
    @openapi(body=schemas.CheckoutRequest, responses={201: ("where to send the payer", schemas.CheckoutResult)},
             errors=(400, 404, 409, 422))
    def checkout(self, pk: int):
        """Start a card (Stripe Checkout) or VNPay payment; 502 when the provider cannot be reached"""
        data = schemas.CheckoutRequest().load(json_body())
        invoice = billing.get_invoice(db.session, pk)
        amount = data["amount"] if data["amount"] is not None else invoice.balance
        back = request.host_url.rstrip("/") + (data["return_path"] or "/")
        now, settings, actor = utcnow(), billing_settings(), acting_user_id()
        language = str(get_locale() or "en")
        if data["method"] == "card":
            from app.services import stripe_gateway

            url = stripe_gateway.start_checkout(db.session, pk, amount, actor, now, settings, success_url=back,
                                                cancel_url=back, locale="vi" if language.startswith("vi") else "en")
        else:
            from app.services import vnpay

            url = vnpay.start_payment(db.session, pk, amount, actor, now, settings, return_url=back,
                                      client_ip=client_address() or "127.0.0.1",
                                      locale="vn" if language.startswith("vi") else "en")
        return self.response(201, payment_url=url)

    @expose("/payments/<int:pk>/refunds", methods=["POST"])
    @protect()
    @openapi(body=schemas.RefundRequest, responses={201: ("the refund and the invoice", schemas.RefundResult)},
             errors=(400, 404, 409, 422))
    def refund(self, pk: int):
        """Give back (part of) a payment by its own method, with a reason (power refund; never above what it took)"""
        if not current_rights().refund:
            raise Forbidden(_("You may not give money back; ask a manager."))
        data = schemas.RefundRequest().load(json_body())
        key = idempotency_key()
        refund = payments.refund_payment(db.session, pk, data["amount"], data["reason"], acting_user_id(), utcnow(),
                                         billing_settings(), idempotency_key=key)
        if key is not None and (refund.payment_id != pk or Decimal(refund.amount) != data["amount"]):
            raise Conflict(_("This Idempotency-Key was already used for another refund."), IDEMPOTENCY_HEADER)
        invoice = written(refund.invoice_id)
        return self.response(201, id=refund.id, refund=refund_json(refund, invoice["currency"]), result=invoice)
