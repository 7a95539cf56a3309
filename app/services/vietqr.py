"""Bank transfer by VietQR (NAPAS 247): the EMVCo QR payload with the clinic's bank BIN and account
(settings), the exact amount and the invoice number as the transfer's reference, and the QR code
as SVG (the ``qrcode`` package, pure Python).

The payload is a chain of EMVCo fields, each ``ID`` (2 digits) + length (2 digits) + value:

====  ===================================================================================
00    payload format indicator ``01``
01    point of initiation: ``12`` (dynamic: this amount, this invoice)
38    merchant account: {00 NAPAS's GUID ``A000000727``, 01 {00 bank BIN, 01 account number},
      02 service ``QRIBFTTA`` (transfer to an account)}
53    currency ``704`` (VND), 54 amount (whole đồng), 58 country ``VN``
59    the account holder's name (ASCII, at most 25 characters), when set
62    additional data: {08 purpose: the invoice number, ASCII, at most 25 characters}
63    CRC16-CCITT-FALSE (poly 0x1021, init 0xFFFF) of everything before it, ``6304`` included,
      as 4 upper-case hex digits
====  ===================================================================================
"""
from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from decimal import Decimal

from app.services.billing_settings import BillingSettings

NAPAS_GUID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
CURRENCY_VND = "704"
TEXT_MAX = 25

# NAPAS BINs of the common Vietnamese banks -> the short name customers know.
BANK_NAMES = {
    "970436": "Vietcombank",
    "970415": "VietinBank",
    "970418": "BIDV",
    "970405": "Agribank",
    "970407": "Techcombank",
    "970422": "MB",
    "970416": "ACB",
    "970432": "VPBank",
    "970403": "Sacombank",
    "970423": "TPBank",
    "970441": "VIB",
    "970443": "SHB",
    "970437": "HDBank",
    "970448": "OCB",
    "970426": "MSB",
    "970440": "SeABank",
    "970431": "Eximbank",
    "970449": "LPBank",
    "970428": "Nam A Bank",
    "970409": "Bac A Bank",
}


def bank_name(billing: BillingSettings) -> str:
    """The bank as people name it: VIETQR_BANK_NAME when set, else the short name of its BIN
    (``BANK_NAMES``), else the BIN itself ("" without a bank)."""
    if (billing.bank_name or "").strip():
        return billing.bank_name.strip()
    bin_ = (billing.bank_bin or "").strip()
    return BANK_NAMES.get(bin_, bin_)


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def ascii_text(text: str, limit: int = TEXT_MAX) -> str:
    """``text`` as banks' apps accept it: no diacritics ("Hóa đơn" -> "Hoa don"), printable ASCII
    only, at most ``limit`` characters."""
    decomposed = unicodedata.normalize("NFD", (text or "").replace("đ", "d").replace("Đ", "D"))
    plain = re.sub(r"[^ -~]", "", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))
    return re.sub(r"\s+", " ", plain).strip()[:limit].strip()


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"EMVCo field {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def _amount(amount: Decimal) -> str:
    value = Decimal(amount)
    if value <= 0 or value != value.to_integral_value():
        raise ValueError("a VietQR amount is a positive whole number of đồng")
    return str(int(value))


def emv_payload(billing: BillingSettings, amount: Decimal, reference: str) -> str:
    """The EMVCo payload (ends with its CRC16) a banking app scans to pay ``amount`` đồng to the
    clinic's account with ``reference`` as the message."""
    if not billing.vietqr_enabled:
        raise ValueError("VietQR needs the bank's BIN and the account number (VIETQR_BANK_BIN, VIETQR_ACCOUNT_NO)")
    beneficiary = _field("00", billing.bank_bin.strip()) + _field("01", billing.bank_account.strip())
    merchant = _field("00", NAPAS_GUID) + _field("01", beneficiary) + _field("02", SERVICE_TO_ACCOUNT)
    parts = [
        _field("00", "01"),
        _field("01", "12"),
        _field("38", merchant),
        _field("53", CURRENCY_VND),
        _field("54", _amount(amount)),
        _field("58", "VN"),
    ]
    name = ascii_text(billing.bank_account_name)
    if name:
        parts.append(_field("59", name))
    message = ascii_text(reference)
    if message:
        parts.append(_field("62", _field("08", message)))
    body = "".join(parts) + "6304"
    return body + f"{crc16_ccitt_false(body.encode('ascii')):04X}"


def qr_svg(payload: str) -> str:
    """The QR code of ``payload`` as inline SVG markup (scales to its container)."""
    import qrcode
    from qrcode.image.svg import SvgPathFillImage  # SvgPathImage on a white square: readable on any page

    image = qrcode.make(payload, image_factory=SvgPathFillImage, error_correction=qrcode.constants.ERROR_CORRECT_M,
                        border=4)
    root = image.get_image()
    for attribute in ("width", "height"):  # the viewBox stays: the code fills whatever box it is put in
        root.attrib.pop(attribute, None)
    root.set("class", "vietqr")
    root.set("role", "img")
    root.set("aria-label", "VietQR")
    root.set("preserveAspectRatio", "xMidYMid meet")
    ET.register_namespace("", "http://www.w3.org/2000/svg")
    return ET.tostring(root, encoding="unicode")
