"""The account e-mails (sign-up confirmation, "someone tried to sign up with your address", a
password reset, an e-mail change and its notices, the lockout notice) as messages of the
messaging core: each one an ``OutboundMessage`` (so the delivery dashboard lists it), delivered by
``deliver_message`` (at once in-process without Redis, else by a worker; retried with backoff when
the mail server is down), its text made by a renderer here in the recipient's language.

A link's token is a secret: ``app.services.accounts.links`` keeps only its hash, so that a copy of
the database gives no working link. Here too: while the message waits to be sent, the token is kept
in ``params["sealed"]`` encrypted with a key derived from ``SECRET_KEY`` (Fernet), and the link in
``params["link"]`` carries a placeholder. Once the message is sent or skipped the sealed token is
removed and the kept ``body`` shows the link with the token masked. A failed message keeps it
(sealed) so that staff can send it again from the dashboard once the mail server is fixed; when it
is sent, a message whose token cannot be read any more, or whose link expired or was replaced in
the meantime, is skipped ("gone") instead of mailing a dead link.
"""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.models import OutboundMessage
from app.models.types import utcnow
from app.services.messaging.render import Rendered, Skip, after_attempt, renderer

# Kinds of account e-mail -> the link purpose whose token they carry (None: no secret).
KINDS: dict[str, str | None] = {
    "account_confirm": "confirm",
    "account_exists": None,
    "password_reset": "reset",
    "email_change": "email_change",
    "email_change_taken": None,
    "email_change_notice": None,
    "email_changed": None,
    "account_locked": None,
}
TOKEN_PLACEHOLDER = "__link_token__"  # in ``params["link"]``: where the token goes
MASK = "••••••"  # what the kept body shows instead of the token


def _fernet(config: Mapping) -> Any:
    from cryptography.fernet import Fernet

    secret = str(config.get("SECRET_KEY") or "")
    if not secret:
        raise RuntimeError("SECRET_KEY is needed to keep a link's token until its message is sent")
    digest = hashlib.sha256(b"outbound-message-token\0" + secret.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(config: Mapping, token: str) -> str:
    return str(_fernet(config).encrypt(token.encode("utf-8")).decode("ascii"))


def unseal(config: Mapping, sealed: str) -> str | None:
    """The token, or None when it cannot be read (no token, another SECRET_KEY)."""
    from cryptography.fernet import InvalidToken

    try:
        return str(_fernet(config).decrypt(sealed.encode("ascii")).decode("utf-8"))
    except (InvalidToken, ValueError, TypeError, RuntimeError):
        return None


def queue_account_email(session: Session, config: Mapping, *, kind: str, to: str, language: str,
                        params: Mapping[str, Any] | None = None, token: str | None = None,
                        user_id: int | None = None, now: datetime | None = None) -> OutboundMessage:
    """Write the message (no commit). ``token``: the link's secret, sealed in the row until sent;
    ``params["link"]`` then holds the link with :data:`TOKEN_PLACEHOLDER` in its place."""
    from app.services.messaging.delivery import queue_message

    if kind not in KINDS:
        raise ValueError(f"not an account e-mail: {kind!r}")
    values = dict(params or {})
    if token is not None:
        values["sealed"] = seal(config, token)
    message = queue_message(session, channel="email", kind=kind, recipient=(to or "").strip() or None,
                            language=language, params=values, user_id=user_id, now=now or utcnow())
    assert message is not None  # no dedupe key: always written
    return message


def send_account_email(session: Session, config: Mapping, **values: Any) -> int:
    """Queue one account e-mail, commit, and hand it to delivery (sent before this returns when
    there is no Redis). The message's id. A mail server that is down does not raise: the message
    waits for its retry."""
    from app.services.messaging.delivery import enqueue_deliveries

    message = queue_account_email(session, config, **values)
    session.commit()
    enqueue_deliveries(config, [message.id])
    return message.id


def link_with(url_pattern: str, token: str) -> str:
    return url_pattern.replace(TOKEN_PLACEHOLDER, token)


# --- what each says ------------------------------------------------------------------------------

def _clinic(config: Mapping) -> str:
    return str(config.get("APP_NAME") or "Clinic")


def _mail(config: Mapping, subject: str, *paragraphs: str) -> Rendered:
    clinic = _clinic(config)
    return Rendered(subject=f"{subject} · {clinic}", text="\n\n".join([*paragraphs, "— " + clinic]) + "\n")


def _token(session: Session, message: OutboundMessage, config: Mapping, purpose: str) -> str | Skip:
    """The link's token, if it can still be used; else why the message is not sent."""
    from app.services.accounts import links

    token = unseal(config, str((message.params or {}).get("sealed") or ""))
    if token is None:
        return Skip("gone", "the link's token is no longer kept (ask for a new link)")
    try:
        links.check_link(session, token, purpose, utcnow())
    except links.LinkRefused as exc:
        return Skip("gone", f"the link could no longer be used when the message was to go ({exc.reason})")
    return token


def _n(message: OutboundMessage, name: str, default: int) -> int:
    try:
        return int((message.params or {}).get(name, default))
    except (TypeError, ValueError):
        return default


@renderer("account_confirm")
def render_confirm(session: Session, message: OutboundMessage, config: Mapping) -> Rendered | Skip:
    token = _token(session, message, config, "confirm")
    if isinstance(token, Skip):
        return token
    hours = _n(message, "hours", int(config.get("CONFIRM_LINK_HOURS", 48)))
    return _mail(config, _("Confirm your e-mail address"),
                 _("Welcome! Open this link to confirm your e-mail address; then you can book appointments:"),
                 link_with(str(message.params["link"]), token),
                 _("Your login is this e-mail address. The link works once, for %(n)d hours.", n=hours),
                 _("If you did not sign up, ignore this message: nothing happens without the link."))


@renderer("account_exists")
def render_exists(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    params = message.params or {}
    return _mail(config, _("Someone tried to sign up with your address"),
                 _("Someone (maybe you) tried to create a new account with this e-mail address, but it already has "
                   "one."),
                 _("Log in with this address:"), str(params.get("login_url") or ""),
                 _("Forgot your password? Ask for a new one here:"), str(params.get("forgot_url") or ""),
                 _("If it was not you, ignore this message: nothing was changed."))


@renderer("password_reset")
def render_reset(session: Session, message: OutboundMessage, config: Mapping) -> Rendered | Skip:
    token = _token(session, message, config, "reset")
    if isinstance(token, Skip):
        return token
    minutes = _n(message, "minutes", int(config.get("RESET_LINK_MINUTES", 60)))
    return _mail(config, _("Choose a new password"),
                 _("Open this link to choose a new password:"),
                 link_with(str(message.params["link"]), token),
                 _("The link works once, for %(n)d minutes. Your other sessions will be signed out.", n=minutes),
                 _("If you did not ask for it, ignore this message: your password stays as it is."))


@renderer("email_change")
def render_email_change(session: Session, message: OutboundMessage, config: Mapping) -> Rendered | Skip:
    token = _token(session, message, config, "email_change")
    if isinstance(token, Skip):
        return token
    hours = _n(message, "hours", int(config.get("EMAIL_CHANGE_LINK_HOURS", 24)))
    return _mail(config, _("Confirm your new e-mail address"),
                 _("Open this link to make this address the e-mail of your clinic account:"),
                 link_with(str(message.params["link"]), token),
                 _("The link works once, for %(n)d hours. Until then your old address stays.", n=hours),
                 _("If you did not ask for it, ignore this message: nothing changes without the link."))


@renderer("email_change_taken")
def render_email_change_taken(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    return _mail(config, _("Someone tried to use your address"),
                 _("Someone asked to move another clinic account to this e-mail address, which already has an "
                   "account. Nothing was changed."))


@renderer("email_change_notice")
def render_email_change_notice(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    email = str((message.params or {}).get("email") or "")
    return _mail(config, _("Your e-mail address is being changed"),
                 _("Someone signed in to your clinic account asked to change its e-mail address to %(email)s. "
                   "It changes only when the link sent there is opened.", email=email),
                 _("If this was not you, change your password now and tell the clinic."))


@renderer("email_changed")
def render_email_changed(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    email = str((message.params or {}).get("email") or "")
    return _mail(config, _("Your e-mail address was changed"),
                 _("The e-mail address of your clinic account is now %(email)s.", email=email),
                 _("If this was not you, contact the clinic at once."))


@renderer("account_locked")
def render_locked(session: Session, message: OutboundMessage, config: Mapping) -> Rendered:
    """In the user's language when known; otherwise the default language followed by the other
    (``lockout.lock_notice``). No clinic footer: the text is the lockout module's, as before."""
    from app.services.accounts import lockout

    params = message.params or {}
    subject, body = lockout.lock_notice(
        name=str(params.get("name") or ""), locked_until=datetime.fromisoformat(str(params["locked_until"])),
        timezone_name=str(config.get("CLINIC_TIMEZONE", "Asia/Ho_Chi_Minh")),
        language=params.get("language") or None, default_language=str(config.get("BABEL_DEFAULT_LOCALE", "en")))
    return Rendered(subject=subject, text=body)


def _forget_token(session: Session, message: OutboundMessage, config: Mapping) -> None:
    """Once the message is sent or skipped, the token leaves the row: no sealed copy, and the kept
    text shows the link with the token masked. A message waiting for a retry, or failed (staff may
    send it again), keeps it sealed."""
    params = dict(message.params or {})
    if message.status not in ("sent", "skipped") or "sealed" not in params:
        return
    token = unseal(config, str(params.pop("sealed") or ""))
    message.params = params  # a new dict: the JSON column sees the change
    if token:
        for name in ("subject", "body"):
            value = getattr(message, name)
            if value:
                setattr(message, name, value.replace(token, MASK))


for _kind, _purpose in KINDS.items():
    if _purpose is not None:
        after_attempt(_kind)(_forget_token)
