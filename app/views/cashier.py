"""The cashier's counter (/cashier/): find the patient or scan the invoice number, see open
invoices, take payment, print or e-mail the receipt. Declares the billing powers (``can_discount``,
``can_change_price``, ``can_refund`` on ``Invoice``) that ``app.billing_rights`` reads.

Shell (issue 11): the counter part fills the pages."""
from __future__ import annotations

from flask.typing import ResponseReturnValue
from flask_appbuilder import BaseView, expose, has_access


class CashierView(BaseView):
    route_base = "/cashier"
    default_view = "index"
    class_permission_name = "Invoice"
    method_permission_name = {"index": "read"}
    # The powers are declared here once so that ``flask sync-roles`` creates them.
    base_permissions = ["can_read", "can_write", "can_change_price", "can_discount", "can_refund"]

    @expose("/")
    @has_access
    def index(self) -> ResponseReturnValue:
        return self.render_template("appbuilder/general/widgets/base_list.html")
