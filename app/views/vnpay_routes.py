"""VNPay's two entry points (``app.services.vnpay`` holds the protocol and the rules):

* ``GET /pay/vnpay/return``: the page the payer's browser comes back to. It checks VNPay's
  signature and *shows* the outcome (received, being confirmed, not completed) in the user's
  language, with a link back to the invoice (patients) or the cashier's counter (staff). It never
  changes anything: a browser can be stopped, replayed or forged, so only the IPN settles.
* ``GET|POST /webhooks/vnpay/ipn``: VNPay's server-to-server call (the protocol uses GET; POST is
  taken too). Exempt from the session's CSRF token (``app.csrf.SIGNED_CALLBACK_ENDPOINTS``): it
  carries no cookie and proves itself by its HMAC-SHA512 signature, and applying it is idempotent.
  The answer is the JSON VNPay reads, ``{"RspCode": "00", "Message": "Confirm Success"}``; a bad
  signature is answered 400 (with RspCode 97), every other answer 200 so VNPay stops or retries by
  the code alone.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError

from app.extensions import db
from app.models.types import utcnow
from app.services import vnpay
from app.services.billing_settings import BillingSettings

bp = Blueprint("vnpay", __name__)
# The patient portal's page of one invoice (the portal part of issue 11), and the counter.
PORTAL_INVOICE_ENDPOINT = "public.my_invoice"
COUNTER_ENDPOINT = "CashierView.index"


def billing() -> BillingSettings:
    return BillingSettings.from_config(current_app.config)


def _params() -> dict[str, Any]:
    params: dict[str, Any] = request.args.to_dict()
    if request.method == "POST":
        params.update(request.form.to_dict())
    return params


def _url(endpoint: str, **values: Any) -> str | None:
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _back(invoice_id: int | None) -> tuple[str | None, str]:
    """Where the payer goes next: staff who read invoices to the counter, a patient (or a guest:
    asked to log in) to the invoice in the portal."""
    staff = current_user.is_authenticated and current_app.appbuilder.sm.has_access(  # type: ignore[attr-defined]
        "can_read", "Invoice")
    if staff:
        return _url(COUNTER_ENDPOINT), _("Back to the cashier's counter")
    if invoice_id is not None:
        link = _url(PORTAL_INVOICE_ENDPOINT, invoice_id=invoice_id)
        if link:
            return link, _("Back to the invoice")
    return _url("public.my_appointments"), _("Go to my page")


def payment_link(invoice_id: int, amount: Decimal, actor_id: int | None) -> str:
    """For the counter's and the portal's "pay with VNPay" (a POST with its CSRF token): record the
    pending payment and return VNPay's signed URL to redirect to, coming back to this blueprint's
    return page in the user's language. Raises the service's DomainErrors (409, 422, 502)."""
    locale = "vn" if str(get_locale() or "en").startswith("vi") else "en"
    return vnpay.start_payment(db.session, invoice_id, amount, actor_id, utcnow(), billing(),
                               return_url=url_for("vnpay.payment_return", _external=True),
                               client_ip=request.remote_addr or "127.0.0.1", locale=locale)


@bp.get("/pay/vnpay/return")
def payment_return() -> ResponseReturnValue:
    found = vnpay.return_status(db.session, request.args, billing())
    db.session.rollback()  # read only
    status = {"invalid": 400, "unknown": 404}.get(found.state, 200)
    back_url, back_label = _back(found.invoice_id)
    return render_template("vnpay/return.html", found=found, back_url=back_url, back_label=back_label), status


@bp.route("/webhooks/vnpay/ipn", methods=["GET", "POST"])
def ipn() -> ResponseReturnValue:
    code, message = vnpay.handle_ipn(db.session, _params(), utcnow(), billing())
    answer = jsonify({"RspCode": code, "Message": message})
    answer.headers["Cache-Control"] = "no-store"
    return answer, 400 if code == vnpay.BAD_SIGNATURE[0] else 200


@bp.context_processor
def _public_layout() -> dict[str, Any]:
    """The public site's layout helpers (language switch, money) for the return page."""
    from app.public.common import helpers

    return helpers()


def register(app: Flask) -> None:
    app.register_blueprint(bp)
