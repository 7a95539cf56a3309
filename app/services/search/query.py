"""From what a person typed to a ``Query``: never an error, never the engines' own syntax.

The text is cut to ``MAX_INPUT`` characters, control characters (NUL included) and anything that
is not a letter or digit are dropped, accents are folded (``app.services.text.fold``), and only
words of ``[0-9a-z]`` remain, at most ``MAX_TERMS`` of at most ``MAX_TERM`` characters. Operators
(AND, OR, NOT, ``*``, ``~``, ``:``, quotes, parentheses) are therefore plain words or nothing: the
engines build their queries from these terms themselves (whoosh query objects, PostgreSQL
parameters), never by parsing the person's text."""
from __future__ import annotations

import re
import unicodedata

from app.services.errors import ValidationFailed
from app.services.text import fold
from app.services.validation import normalize_phone

MAX_INPUT = 200  # characters looked at (a longer text is cut, not refused)
MAX_TERMS = 8
MAX_TERM = 40
WORD = re.compile(r"[0-9a-z]+")


def clean(text: str | None) -> str:
    """The text without control characters, cut to ``MAX_INPUT``, folded."""
    text = (text or "")[: MAX_INPUT * 4]
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return fold(text[:MAX_INPUT])


def terms(text: str | None) -> tuple[str, ...]:
    found: list[str] = []
    for word in WORD.findall(clean(text)):
        word = word[:MAX_TERM]
        if word not in found:
            found.append(word)
        if len(found) == MAX_TERMS:
            break
    return tuple(found)


def compact(text: str | None) -> str:
    """A code or number written without separators: "HD2026-000001" -> "hd2026000001"."""
    return "".join(WORD.findall(fold(text or "")))[:MAX_TERM * 2]


def phone_keys(phone: str | None, region: str = "VN") -> tuple[str, ...]:
    """The digit strings a phone number is found by: E.164 digits ("84903123456") and the
    national form ("0903123456"). Stored phones are E.164 already; typed ones are normalised."""
    if not phone or sum(ch.isdigit() for ch in phone) < 7:
        return ()
    try:
        e164 = normalize_phone("q", phone[:40], region)
    except ValidationFailed:
        return ()
    if not e164:
        return ()
    import phonenumbers

    number = phonenumbers.parse(e164)
    national = "".join(ch for ch in phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
                       if ch.isdigit())
    return tuple(dict.fromkeys((e164.lstrip("+"), national)))


def query_keys(text: str | None, region: str = "VN") -> tuple[str, ...]:
    """Whole-query forms matched against documents' keys: the compact text (a code, an invoice
    number, a national ID typed with separators) and, when it reads as a phone number, its digits."""
    cleaned = clean(text)
    keys = [compact(cleaned)] if compact(cleaned) else []
    keys.extend(phone_keys(cleaned, region))
    return tuple(dict.fromkeys(key for key in keys if len(key) >= 2))
