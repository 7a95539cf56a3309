"""One CSRF mechanism for the whole application: Flask-WTF's ``CSRFProtect``.

Every request that may change something (POST, PUT, PATCH, DELETE) must carry the session's token,
either as the ``csrf_token`` form field (page forms: every ``FlaskForm`` renders it) or in an
``X-CSRFToken`` header (the pages' own ``fetch`` calls to the JSON API). That covers FAB's pages,
our pages, the public site and the REST API called with the browser's session cookie.

These requests need no token, because a browser never sends them on its own behalf to
another site, or because they prove their sender otherwise:
- ``Authorization: Bearer <JWT>`` with a valid token: a cross-site page cannot add this header
  without a CORS preflight, which this application never grants; the token proves the caller.
  An invalid one is answered 401 here.
- The REST login (``/api/v1/security/login``): it carries the credentials in its JSON body and
  no session.
- The REST refresh (``/api/v1/security/refresh``): its refresh cookie is SameSite=Strict and it
  checks its own double-submit header (``X-CSRF-TOKEN``, ``app.fab.security_api``).
- Payment providers' signed server-to-server callbacks (``SIGNED_CALLBACK_ENDPOINTS``): VNPay's
  IPN (``/webhooks/vnpay/ipn``) comes from VNPay's server, which has no session and no token. It
  authenticates by its HMAC-SHA512 signature over the parameters (the clinic's hash secret), uses
  no cookie, and is idempotent (each transaction applied once), so a forged or replayed request
  changes nothing. It is also the one route that may change state on GET: VNPay's protocol calls
  it with GET.
- Stripe's webhook (``POST /webhooks/stripe``): Stripe's server calls it with no session; it
  proves itself by the ``Stripe-Signature`` HMAC over the body (``app.services.stripe_gateway``).
- The webhooks' built-in test receiver (``POST /webhooks/test-receiver/<token>``): called by our
  own delivery job, as an outside receiver would be; it keeps the payload and says whether its
  ``Clinic-Signature`` verifies (``app.services.webhooks``). Its token comes from the secret key.

FAB marks its REST blueprints as exempt from ``CSRFProtect``; ``WTF_CSRF_CHECK_DEFAULT`` is
therefore off and the check below runs ``csrf.protect()`` itself, without those exemptions, so
the REST API refuses cookie-authenticated writes that lack the token. Registering the extension
also makes FAB refuse its deletes and actions over GET (it looks for ``app.extensions["csrf"]``).

A refused request answers 400 with a readable page, or JSON ``{"message": ...}`` for API paths.
"""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_jwt_extended import decode_token, verify_jwt_in_request
from flask_wtf.csrf import CSRFError

from app.extensions import csrf

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Endpoints that authenticate by what the body carries, never by the session cookie.
TOKEN_FREE_ENDPOINTS = frozenset({"SecurityApi.login", "SecurityApi.refresh"})
# Providers' callbacks that prove themselves by a signature over what they carry (see above):
# VNPay's IPN (HMAC-SHA512) and Stripe's webhook (the Stripe-Signature header, HMAC-SHA256); the
# webhooks' built-in test receiver (called by our own delivery job, it checks Clinic-Signature).
SIGNED_CALLBACK_ENDPOINTS = frozenset({"vnpay.ipn", "stripe_webhook.receive", "webhook_receiver.receive"})


def carries_bearer_token() -> bool:
    return request.headers.get("Authorization", "").startswith("Bearer ")


def bearer_token_is_valid() -> bool:
    try:
        decode_token(request.headers["Authorization"][len("Bearer "):].strip())
    except Exception:  # expired, forged, malformed: flask-jwt-extended and PyJWT raise many kinds
        return False
    return True


def check_csrf() -> None:
    """Refuse (400) an unsafe request without a valid token, unless it is exempt (see above)."""
    if request.method not in UNSAFE_METHODS or request.endpoint in TOKEN_FREE_ENDPOINTS:
        return
    if request.endpoint in SIGNED_CALLBACK_ENDPOINTS:
        return
    if carries_bearer_token():
        # The JWT must be good: FAB's REST API (allow_browser_login) would otherwise fall back to
        # the session cookie for a request that only claims to carry a token. A bad one is 401.
        # A good one is only decoded here: loading its user is left to FAB's @protect, which
        # also sets g.user (the audit trail's actor) while doing so.
        if not bearer_token_is_valid():
            verify_jwt_in_request()  # raises: 401
        return
    csrf.protect()  # raises CSRFError (400); honours WTF_CSRF_ENABLED


def refused_message() -> str:
    return _("The security token is missing or has expired. Reload the page and try again.")


def init_app(app: Flask) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # check_csrf decides, FAB's blueprint exemptions do not
    csrf.init_app(app)
    app.before_request(check_csrf)

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError):
        from app.errors import _respond as respond

        if request.blueprint == "public":
            return render_template("public/message.html", title=_("Page expired"), message=refused_message()), 400
        return respond(400, _("Page expired"), refused_message())
