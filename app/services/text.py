"""Text helpers for Vietnamese data."""
from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str:
    """Lower-case and strip diacritics: "Nguyễn Đức Thắng" -> "nguyen duc thang"."""
    if not text:
        return ""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower().strip()
