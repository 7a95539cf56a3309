"""The one check of every ``next=`` redirect target (public pages, the login, the language switch)."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a path on this site, else ``default``: the one check for every
    ``next=`` (public pages, the login, the language switch).

    Accepted: a relative path starting with one ``/`` and made of printable characters. Refused:
    anything with a scheme or a host (``https://x``, ``//evil``), backslashes (``\\\\evil``,
    ``/\\evil``: browsers read ``\\`` as ``/``), control characters and whitespace (``/\\t/evil``
    becomes ``//evil`` once a browser drops the tab; CR/LF split headers), and the same once
    percent-decoded again (``/%09/evil``), in case something downstream decodes twice."""
    return target if target is not None and is_safe_path(target) else default


def is_safe_path(target: str | None) -> bool:
    if not target:
        return False
    return all(_plain_local_path(form) for form in (target, unquote(target)))


def _plain_local_path(target: str) -> bool:
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ch.isspace() or not ch.isprintable() for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
