"""The generated screens of money: lists and records to look things up, never to edit (money
moves only through the cashier's counter and the billing services)."""
from app.models import CashClose, Invoice, InvoiceLine, Payment, Refund
from app.views.base import ClinicInterface, ReadOnlyModelView


class InvoiceLineView(ReadOnlyModelView):
    datamodel = ClinicInterface(InvoiceLine)
    class_permission_name = "InvoiceLine"
    list_columns = ["invoice", "kind", "description", "quantity", "unit_price", "amount", "tax_rate", "tax"]
    search_columns = ["invoice", "kind", "description"]


class PaymentView(ReadOnlyModelView):
    datamodel = ClinicInterface(Payment)
    class_permission_name = "Payment"
    list_columns = ["created_at", "invoice", "method", "amount", "status", "provider_reference", "received_by"]
    search_columns = ["invoice", "method", "status", "created_at", "paid_at"]
    base_order = ("created_at", "desc")


class RefundView(ReadOnlyModelView):
    datamodel = ClinicInterface(Refund)
    class_permission_name = "Refund"
    list_columns = ["refunded_at", "invoice", "method", "amount", "reason", "refunded_by"]
    search_columns = ["invoice", "method", "refunded_at"]
    base_order = ("refunded_at", "desc")


class CashCloseView(ReadOnlyModelView):
    datamodel = ClinicInterface(CashClose)
    class_permission_name = "CashClose"
    list_columns = ["business_date", "cashier", "expected_cash", "counted_cash", "difference", "closed_at"]
    search_columns = ["business_date", "cashier"]
    base_order = ("business_date", "desc")


class InvoiceView(ReadOnlyModelView):
    datamodel = ClinicInterface(Invoice)
    class_permission_name = "Invoice"
    list_columns = ["number", "created_at", "patient", "status", "total", "amount_paid", "currency"]
    show_columns = ["number", "patient", "appointment", "status", "currency", "subtotal", "discount", "tax",
                    "total", "amount_paid", "amount_refunded", "discount_reason", "issued_at", "void_reason",
                    "email_status", "notes", "created_by", "created_at"]
    search_columns = ["number", "patient", "status", "created_at", "issued_at"]
    base_order = ("created_at", "desc")
    related_views = [InvoiceLineView, PaymentView, RefundView]
