"""Rate limits on the account routes. Placeholder interface: the real limits land with the lockout work."""
from __future__ import annotations

from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def limited(kind: str) -> Callable[[F], F]:
    """Decorator for a route of kind "login", "signup", "reset" or "resend"."""

    def decorate(view: F) -> F:
        return view

    return decorate
