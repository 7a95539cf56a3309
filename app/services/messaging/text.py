"""Text for SMS: Vietnamese without diacritics when the provider needs GSM-7 (``SMS_ASCII_ONLY``).

A Vietnamese SMS with its accents is sent as UCS-2: 70 characters a part instead of 160, so a
reminder costs two or three parts, and some routes garble it. Vietnamese read without accents
("Nhac lich kham") is the usual SMS style, so the clinic may choose it."""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from app.services.messaging.render import Rendered

# Letters NFD does not take apart, and punctuation GSM-7 has no place for.
_REPLACE = str.maketrans({
    "đ": "d", "Đ": "D",
    "‘": "'", "’": "'", "“": '"', "”": '"',
    "–": "-", "—": "-", "…": "...", "·": "-", "\u00a0": " ",
})


def without_diacritics(text: str) -> str:
    """Vietnamese letters as plain Latin letters: "Nhắc lịch khám: Bác sĩ Trần Thị Bình, Thứ Năm"
    -> "Nhac lich kham: Bac si Tran Thi Binh, Thu Nam" (đ/Đ -> d/D); other text unchanged."""
    decomposed = unicodedata.normalize("NFD", text.translate(_REPLACE))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


def sms_text(config: Mapping, rendered: Rendered) -> str:
    """What an SMS says: the renderer's short text (else the subject), without diacritics when
    ``SMS_ASCII_ONLY`` is set. Every SMS adapter (the outbox one too) sends exactly this."""
    text = rendered.short_text or rendered.subject
    return without_diacritics(text) if config.get("SMS_ASCII_ONLY") else text
