"""Links sent by e-mail: expiring, single-use, one per purpose.

- ``confirm``: a sign-up's e-mail address (app.services.signup);
- ``reset``: a forgotten password (app.services.accounts.passwords);
- ``email_change``: a new e-mail address, carried by the link (``AccountLink.email``), for the
  profile page.

The token is 32 random bytes (``secrets.token_urlsafe``), sent in the link and never stored: the
table keeps its SHA-256. It cannot be forged or altered: a changed character gives a hash no row
has (the server's own record is the signature, so no key is needed and a stolen copy of the
database gives no working link). Each link expires (lifetime per purpose, from the settings)
and is used once: ``use_link`` sets ``used_at`` with ``UPDATE ... WHERE used_at IS NULL``, so two
simultaneous uses cannot both succeed. A new link of a purpose retires the user's older ones.

Reading a link (``check_link``) changes nothing: the page a link opens asks for a button press
(a POST) before it is used, so a mail scanner that fetches links does not spend them."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import AccountLink
from app.models.account_links import LINK_PURPOSES
from app.services.errors import DomainError

MAX_TOKEN_LENGTH = 100


class LinkRefused(DomainError):
    """A link that is unknown or altered (``reason`` "invalid"), out of date ("expired") or
    already used or replaced ("used")."""

    status = 400

    def __init__(self, reason: str):
        messages = {
            "invalid": _("This link is not valid. Check that the whole link was copied, or ask for a new one."),
            "expired": _("This link has expired. Ask for a new one."),
            "used": _("This link was already used, or a newer one was sent. Ask for a new one if you need it."),
        }
        super().__init__(messages[reason])
        self.reason = reason


def lifetime(config: Mapping, purpose: str) -> timedelta:
    """How long a link of ``purpose`` stays valid (settings CONFIRM_LINK_HOURS, RESET_LINK_MINUTES,
    EMAIL_CHANGE_LINK_HOURS)."""
    if purpose == "confirm":
        return timedelta(hours=int(config.get("CONFIRM_LINK_HOURS", 48)))
    if purpose == "reset":
        return timedelta(minutes=int(config.get("RESET_LINK_MINUTES", 60)))
    if purpose == "email_change":
        return timedelta(hours=int(config.get("EMAIL_CHANGE_LINK_HOURS", 24)))
    raise ValueError(f"unknown link purpose {purpose!r}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_link(session: Session, *, user_id: int, purpose: str, now: datetime, valid_for: timedelta,
               email: str | None = None) -> str:
    """A new link for ``user_id``; returns its token (to put in the URL; it is not kept). Earlier
    unused links of the same purpose stop working. The caller commits."""
    if purpose not in LINK_PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    session.execute(update(AccountLink).where(
        AccountLink.user_id == user_id, AccountLink.purpose == purpose, AccountLink.used_at.is_(None),
    ).values(used_at=now))
    token = secrets.token_urlsafe(32)
    session.add(AccountLink(user_id=user_id, purpose=purpose, token_hash=token_hash(token), email=email,
                            created_at=now, expires_at=now + valid_for))
    session.flush()
    return token


def check_link(session: Session, token: str | None, purpose: str, now: datetime) -> AccountLink:
    """The link ``token`` opens, if it may still be used; raises ``LinkRefused`` otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkRefused("invalid")
    link = session.execute(select(AccountLink).where(
        AccountLink.token_hash == token_hash(token), AccountLink.purpose == purpose)).scalar_one_or_none()
    if link is None:
        raise LinkRefused("invalid")
    if link.used_at is not None:
        raise LinkRefused("used")
    if now >= link.expires_at:
        raise LinkRefused("expired")
    return link


def use_link(session: Session, token: str | None, purpose: str, now: datetime) -> AccountLink:
    """Check the link and mark it used, once: a second use (even a simultaneous one) is refused.
    The caller commits, with whatever the link was for."""
    link = check_link(session, token, purpose, now)
    spent = session.execute(update(AccountLink).where(
        AccountLink.id == link.id, AccountLink.used_at.is_(None)).values(used_at=now))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkRefused("used")
    session.refresh(link)
    return link
