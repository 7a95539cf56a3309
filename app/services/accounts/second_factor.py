"""Two-factor login (TOTP). Placeholder interface: the real checks land with the 2FA work."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.services.errors import DomainError


class SecondFactorRefused(DomainError):
    """The API login needs a (valid) code, or the user must enrol in the web app first."""


def check_api_login(session: Session, user: Any, code: str | None, now: datetime) -> None:
    """Raise ``SecondFactorRefused`` unless ``user`` may finish an API login with ``code``."""
    return None
