"""Screens for the pharmacy (the generated ones; the dispensing queue, dashboard, receipts and
adjustments are in ``app.views.pharmacy_pages``)."""
from app.models import Medicine, Prescription, PrescriptionItem, StockBatch, StockMovement, Supplier
from app.views.base import ClinicInterface, ClinicModelView, ReadOnlyModelView, prefill_own_doctor


class PrescriptionItemView(ClinicModelView):
    datamodel = ClinicInterface(PrescriptionItem)
    class_permission_name = "PrescriptionItem"
    list_columns = ["prescription", "medicine", "dose", "frequency", "duration_days", "route", "quantity",
                    "dispensed_quantity"]
    search_columns = ["prescription", "medicine", "route"]
    add_columns = edit_columns = ["prescription", "medicine", "dose", "frequency", "dose_amount", "times_per_day",
                                  "duration_days", "route", "quantity", "instructions", "override_reason"]
    show_columns = [*add_columns, "dispensed_quantity", "warnings"]


class PrescriptionView(ClinicModelView):
    datamodel = ClinicInterface(Prescription)
    class_permission_name = "Prescription"
    list_columns = ["created_at", "patient", "doctor", "status", "issued_at", "dispensed_at"]
    search_columns = ["patient", "doctor", "status", "created_at"]
    add_columns = edit_columns = ["patient", "doctor", "encounter", "status", "notes"]
    base_order = ("created_at", "desc")
    related_views = [PrescriptionItemView]

    def prefill_add(self, form) -> None:
        prefill_own_doctor(self.datamodel.session, form)


class StockMovementView(ReadOnlyModelView):
    datamodel = ClinicInterface(StockMovement)
    class_permission_name = "StockMovement"
    list_columns = ["created_at", "medicine", "batch", "kind", "quantity", "reference_type", "reference_id", "actor"]
    search_columns = ["medicine", "batch", "kind", "created_at"]
    base_order = ("created_at", "desc")


class StockBatchView(ClinicModelView):
    datamodel = ClinicInterface(StockBatch)
    class_permission_name = "StockBatch"
    list_columns = ["medicine", "lot_number", "expiry_date", "quantity", "unit_cost"]
    search_columns = ["medicine", "lot_number", "expiry_date", "quantity"]
    # A new batch's quantity is its receipt (a ledger row); afterwards the quantity is read-only here
    # and changes through dispensing, goods receipts and "Adjust stock" (/pharmacy/adjust/<id>, linked
    # from the medicine's pharmacy page and the dashboard; app.services.stock).
    add_columns = ["medicine", "lot_number", "expiry_date", "quantity", "unit_cost"]
    edit_columns = ["medicine", "lot_number", "expiry_date", "unit_cost"]
    base_order = ("expiry_date", "asc")
    related_views = [StockMovementView]


class MedicineView(ClinicModelView):
    datamodel = ClinicInterface(Medicine)
    class_permission_name = "Medicine"
    list_columns = ["code", "name", "active_ingredient", "strength", "dosage_form", "unit", "price",
                    "reorder_level", "active"]
    search_columns = ["code", "name", "active_ingredient", "dosage_form", "active"]
    add_columns = edit_columns = ["code", "name", "active_ingredient", "strength", "dosage_form", "unit", "price",
                                  "reorder_level", "supplier", "active"]
    base_order = ("name", "asc")
    related_views = [StockBatchView, StockMovementView]


class SupplierView(ClinicModelView):
    datamodel = ClinicInterface(Supplier)
    class_permission_name = "Supplier"
    list_columns = ["name", "contact", "phone", "lead_time_days", "active"]
    search_columns = ["name", "contact", "phone", "active"]
    add_columns = edit_columns = ["name", "contact", "phone", "lead_time_days", "active"]
    base_order = ("name", "asc")
