"""Security headers on every response.

Content-Security-Policy: scripts only from this site, plus inline scripts that carry this
response's nonce. Our own templates have no inline script (their code lives in app/static/js);
Flask-AppBuilder's templates do (list widgets, search filters, Swagger UI), and every one of them
is written ``<script nonce="{{ baselib.get_nonce() }}">``, which calls the ``csp_nonce()`` template
global when one exists. We provide it (a fresh random value per response, in ``g.csp_nonce``), so
FAB's pages run under the same strict policy without ``'unsafe-inline'`` for scripts and without
overriding FAB's templates. Styles allow ``'unsafe-inline'``: FAB, select2 and our calendar set
``style`` attributes, and styles cannot run code.

Frames: ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'`` (no clickjacking of the workflow
buttons). HSTS only when ``HSTS_SECONDS`` is above zero and the request came over HTTPS (behind a
proxy, ``TRUSTED_PROXIES`` makes its ``X-Forwarded-Proto`` count).
"""
from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, g, request

CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def csp_nonce() -> str:
    """This response's script nonce (one value per request, made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP.format(nonce=csp_nonce()))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")  # private feed URLs and record ids stay here
    headers.setdefault("X-Frame-Options", "DENY")
    seconds = int(current_app.config.get("HSTS_SECONDS") or 0)
    if seconds > 0 and request.is_secure:
        headers.setdefault("Strict-Transport-Security", f"max-age={seconds}; includeSubDomains")
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("HSTS_SECONDS", 0)
    app.jinja_env.globals["csp_nonce"] = csp_nonce  # FAB's baselib.get_nonce() calls it
    app.after_request(add_security_headers)
