"""``POST /webhooks/stripe``: Stripe tells us a Checkout Session was paid, expired or failed.

Thin: ``app.services.stripe_gateway.handle_webhook`` verifies the ``Stripe-Signature`` header
over the raw body and applies each event once. No session, so no CSRF token: the request proves
itself with Stripe's signature instead (``app.csrf.TOKEN_FREE_ENDPOINTS``). Not rate-limited: only
the account routes are (``app.limits``), and Stripe retries anything but a 2xx.

Answers 200 ``{"received": true, "outcome": ...}`` for every verified event, applied or not (a
redelivery, a type we do not use), so Stripe stops retrying; 400 JSON for a bad or missing
signature or a signed body that is no event; a refusal's own status (JSON) when applying it failed,
so Stripe retries it later."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.extensions import db
from app.models.types import utcnow
from app.services import stripe_gateway
from app.services.billing_settings import BillingSettings
from app.services.errors import DomainError

bp = Blueprint("stripe_webhook", __name__)


@bp.post("/webhooks/stripe")
def receive() -> ResponseReturnValue:
    payload = request.get_data(cache=True)
    billing = BillingSettings.from_config(current_app.config)
    try:
        outcome = stripe_gateway.handle_webhook(db.session, payload, request.headers.get("Stripe-Signature"),
                                                utcnow(), billing)
    except DomainError as exc:
        db.session.rollback()
        return jsonify(received=False, **exc.as_dict()), exc.status
    return jsonify(received=True, outcome=outcome), 200


def register(app: Flask) -> None:
    app.register_blueprint(bp)
