"""Screens for invoices and payments."""
from app.models import Invoice, InvoiceLine, Payment
from app.views.base import ClinicInterface, ClinicModelView


class InvoiceLineView(ClinicModelView):
    datamodel = ClinicInterface(InvoiceLine)
    class_permission_name = "InvoiceLine"
    list_columns = ["invoice", "kind", "description", "quantity", "unit_price", "amount"]
    search_columns = ["invoice", "kind", "description"]
    add_columns = edit_columns = ["invoice", "kind", "service", "medicine", "description", "quantity", "unit_price"]


class PaymentView(ClinicModelView):
    datamodel = ClinicInterface(Payment)
    class_permission_name = "Payment"
    list_columns = ["created_at", "invoice", "method", "amount", "status", "provider_reference", "received_by"]
    search_columns = ["invoice", "method", "status", "created_at", "paid_at"]
    add_columns = ["invoice", "method", "amount", "status", "provider", "provider_reference", "idempotency_key"]
    edit_columns = add_columns
    base_order = ("created_at", "desc")


class InvoiceView(ClinicModelView):
    datamodel = ClinicInterface(Invoice)
    class_permission_name = "Invoice"
    list_columns = ["number", "created_at", "patient", "status", "total", "amount_paid", "currency"]
    show_columns = ["number", "patient", "appointment", "status", "currency", "subtotal", "discount", "tax",
                    "total", "amount_paid", "issued_at", "notes", "created_by", "created_at"]
    search_columns = ["number", "patient", "status", "created_at", "issued_at"]
    add_columns = edit_columns = ["number", "patient", "appointment", "status", "currency", "discount", "tax", "notes"]
    base_order = ("created_at", "desc")
    related_views = [InvoiceLineView, PaymentView]
