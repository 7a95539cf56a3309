"""VietQR: the EMVCo payload a banking app scans, parsed back field by field with its CRC16
recomputed, and the QR code as SVG."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from app.services.billing_settings import BillingSettings
from app.services.vietqr import crc16_ccitt_false, emv_payload, qr_svg

BANK = BillingSettings(bank_bin="970436", bank_account="0011001234567", bank_account_name="Phòng khám Đa khoa An Bình")


def tlv(text: str) -> dict[str, str]:
    """EMVCo fields: 2-digit id, 2-digit length, value; the whole text must be consumed."""
    fields: dict[str, str] = {}
    at = 0
    while at < len(text):
        tag, length = text[at:at + 2], int(text[at + 2:at + 4])
        value = text[at + 4:at + 4 + length]
        assert len(value) == length, f"field {tag} cut short"
        assert tag not in fields, f"field {tag} twice"
        fields[tag] = value
        at += 4 + length
    return fields


def crc(text: str) -> str:
    """CRC-16/CCITT-FALSE written out again here, bit by bit, as the EMVCo book gives it."""
    value = 0xFFFF
    for byte in text.encode("ascii"):
        for bit in range(7, -1, -1):
            top = bool(value & 0x8000) ^ bool((byte >> bit) & 1)
            value = ((value << 1) & 0xFFFF) ^ (0x1021 if top else 0)
    return f"{value:04X}"


def test_crc16_ccitt_false_known_vector():
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc("123456789") == "29B1"


def test_payload_fields_parse_back():
    payload = emv_payload(BANK, Decimal(300000), "HD2026-000001")
    fields = tlv(payload)
    assert list(fields) == ["00", "01", "38", "53", "54", "58", "59", "62", "63"]
    assert fields["00"] == "01"
    assert fields["01"] == "12"  # dynamic: this amount, this invoice
    merchant = tlv(fields["38"])
    assert merchant == {"00": "A000000727", "01": merchant["01"], "02": "QRIBFTTA"}
    assert tlv(merchant["01"]) == {"00": "970436", "01": "0011001234567"}
    assert fields["53"] == "704"
    assert fields["54"] == "300000"
    assert fields["58"] == "VN"
    assert fields["59"] == "Phong kham Da khoa An Bin"  # no diacritics, 25 characters at most
    assert tlv(fields["62"]) == {"08": "HD2026-000001"}
    assert payload.endswith("6304" + fields["63"])
    assert fields["63"] == crc(payload[:-4])
    assert payload.isascii()


def test_a_changed_character_breaks_the_crc():
    payload = emv_payload(BANK, Decimal(300000), "HD2026-000001")
    tampered = payload.replace("300000", "900000")
    assert tlv(tampered)["63"] != crc(tampered[:-4])


def test_amount_is_whole_dong_without_decimals():
    fields = tlv(emv_payload(BANK, Decimal("1250000.00"), "HD2026-000002"))
    assert fields["54"] == "1250000"
    with pytest.raises(ValueError):
        emv_payload(BANK, Decimal("1000.5"), "HD2026-000002")
    with pytest.raises(ValueError):
        emv_payload(BANK, Decimal(0), "HD2026-000002")


def test_reference_with_diacritics_is_ascii():
    fields = tlv(emv_payload(BANK, Decimal(50000), "Thanh toán hóa đơn HD2026-000003 Nguyễn"))
    message = tlv(fields["62"])["08"]
    assert message == "Thanh toan hoa don HD2026"
    assert message.isascii() and len(message) <= 25


def test_no_holder_name_leaves_field_59_out():
    fields = tlv(emv_payload(BillingSettings(bank_bin="970422", bank_account="123"), Decimal(1000), "HD1"))
    assert "59" not in fields and tlv(tlv(fields["38"])["01"]) == {"00": "970422", "01": "123"}


def test_without_a_bank_account_there_is_no_payload():
    with pytest.raises(ValueError):
        emv_payload(BillingSettings(), Decimal(1000), "HD1")


def test_svg_is_well_formed_and_scales():
    svg = qr_svg(emv_payload(BANK, Decimal(300000), "HD2026-000001"))
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox", "").startswith("0 0 ")
    assert root.get("width") is None and root.get("height") is None  # fills its container
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_the_bank_is_named_by_the_setting_then_by_its_bin_then_shown_as_the_bin():
    from app.services.billing_settings import BillingSettings
    from app.services.vietqr import bank_name

    assert bank_name(BillingSettings(bank_bin="970436", bank_account="1", bank_name="VCB Chi nhánh Sài Gòn")) \
        == "VCB Chi nhánh Sài Gòn"
    assert bank_name(BillingSettings(bank_bin="970436", bank_account="1")) == "Vietcombank"
    assert bank_name(BillingSettings(bank_bin="970418", bank_account="1")) == "BIDV"
    assert bank_name(BillingSettings(bank_bin=" 970407 ", bank_account="1")) == "Techcombank"
    assert bank_name(BillingSettings(bank_bin="970999", bank_account="1")) == "970999"
    assert bank_name(BillingSettings()) == ""
