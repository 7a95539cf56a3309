"""Rate limits on the account routes: ``@limited(kind)`` for kinds "login", "signup", "reset" and
"resend".

Each kind has two limits, both counted over every route of that kind (the login form and the API
login share one count): one per client address (``<KIND>_RATE_LIMIT``, e.g. ``LOGIN_RATE_LIMIT``)
and one per account (``<KIND>_ACCOUNT_RATE_LIMIT``), the account being the request's ``username``
or ``email`` field (form or JSON), trimmed and case-folded, so that guesses at one account from
many addresses are limited too. Values are Flask-Limiter strings ("10 per minute; 50 per hour").

The counts live in the storage of the limiter FAB creates (``security_manager.limiter``,
``RATELIMIT_STORAGE_URI``: Redis when ``REDIS_URL`` is set, else this process's memory), under
``RATELIMIT_KEY_PREFIX``; ``RATELIMIT_ENABLED = False`` turns them off. The client address is
``request.remote_addr``: the proxy's, unless ``TRUSTED_PROXIES`` says how many proxies' headers to
believe (ProxyFix, app/__init__.py). Only POST and other writing methods count: showing a form
does not. A request over a limit is answered 429 with ``Retry-After``, JSON on the API. When the
storage cannot be reached the request goes through (logged): the lockout still holds."""
from __future__ import annotations

import hashlib
import logging
import math
import time
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import current_app, request
from flask_babel import gettext as _
from limits import parse_many

F = TypeVar("F", bound=Callable)
log = logging.getLogger(__name__)

KINDS = ("login", "signup", "reset", "resend", "queue")  # "queue": the waiting-room pages' polls (GET)
ACCOUNT_FIELDS = ("username", "email")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def account_key(value: Any) -> str | None:
    """The account a request names, as a key that does not store the name itself."""
    if not isinstance(value, str) or not value.strip():
        return None
    return hashlib.sha256(value.strip().casefold().encode("utf-8")).hexdigest()[:32]


def requested_account() -> str | None:
    """The ``username`` (else ``email``) field of the form or JSON body, as an account key."""
    body = request.get_json(silent=True) if request.is_json else None
    for field in ACCOUNT_FIELDS:
        value = body.get(field) if isinstance(body, dict) else request.form.get(field)
        key = account_key(value)
        if key is not None:
            return key
    return None


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


def check(kind: str) -> None:
    """Count this request against the limits of ``kind``; raise RateLimited when one is spent."""
    limiter = current_app.appbuilder.sm.limiter  # type: ignore[attr-defined]
    if not limiter.enabled:
        return
    config = current_app.config
    prefix = config.get("RATELIMIT_KEY_PREFIX") or "clinic"
    keys = [("address", request.remote_addr or "unknown", config[f"{kind.upper()}_RATE_LIMIT"])]
    account = requested_account()
    if account is not None:
        keys.append(("account", account, config[f"{kind.upper()}_ACCOUNT_RATE_LIMIT"]))
    strategy = limiter.limiter
    for scope, key, limits_text in keys:
        for item in parse_many(limits_text):
            try:
                allowed = strategy.hit(item, prefix, kind, scope, key)
                reset = 0.0 if allowed else strategy.get_window_stats(item, prefix, kind, scope, key).reset_time
            except Exception:  # noqa: BLE001 - the storage (Redis) is down
                # Open rather than shut: nobody could log in while Redis is down. The lockout (in the
                # database) still caps the guesses at any one account.
                log.exception("rate limit storage unavailable; %s not limited", kind)
                return
            if not allowed:
                raise RateLimited(max(1, math.ceil(reset - time.time())))


def limited(kind: str) -> Callable[[F], F]:
    """Decorator for a route of kind "login", "signup", "reset" or "resend"."""
    if kind not in KINDS:
        raise ValueError(f"unknown rate limit kind {kind!r}; one of {KINDS}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.method not in SAFE_METHODS:
                try:
                    check(kind)
                except RateLimited as exc:
                    return too_many(exc.retry_after)
            return view(*args, **kwargs)

        wrapper.rate_limit_kind = kind  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def is_limited(view: Any) -> bool:
    return getattr(view, "rate_limit_kind", None) is not None


def too_many(retry_after: int):
    from app.errors import refusal_in_layout

    response = refusal_in_layout(429, _("Too many attempts"),
                                 _("Too many attempts. Please wait a minute and try again."), _("Back to the form"))
    response.headers["Retry-After"] = str(retry_after)
    return response
