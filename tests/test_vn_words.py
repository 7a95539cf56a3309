"""Amounts in Vietnamese words ("Bằng chữ: ..." on invoices): a table of known readings, and every
amount up to 999 tỷ read back by a strict parser to the same number."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from app.services.vn_words import amount_in_words

KNOWN = [
    (0, "Không đồng"),
    (1, "Một đồng"),
    (10, "Mười đồng"),
    (11, "Mười một đồng"),
    (14, "Mười bốn đồng"),
    (15, "Mười lăm đồng"),
    (20, "Hai mươi đồng"),
    (21, "Hai mươi mốt đồng"),
    (24, "Hai mươi tư đồng"),
    (25, "Hai mươi lăm đồng"),
    (31, "Ba mươi mốt đồng"),
    (45, "Bốn mươi lăm đồng"),
    (100, "Một trăm đồng"),
    (101, "Một trăm linh một đồng"),
    (104, "Một trăm linh bốn đồng"),
    (105, "Một trăm linh năm đồng"),
    (110, "Một trăm mười đồng"),
    (115, "Một trăm mười lăm đồng"),
    (1000, "Một nghìn đồng chẵn"),
    (15000, "Mười lăm nghìn đồng chẵn"),
    (21000, "Hai mươi mốt nghìn đồng chẵn"),
    (150000, "Một trăm năm mươi nghìn đồng chẵn"),
    (200005, "Hai trăm nghìn không trăm linh năm đồng"),
    (1230000, "Một triệu hai trăm ba mươi nghìn đồng chẵn"),
    (1005000, "Một triệu không trăm linh năm nghìn đồng chẵn"),
    (1000005, "Một triệu không trăm linh năm đồng"),
    (1050000, "Một triệu không trăm năm mươi nghìn đồng chẵn"),
    (1000000000, "Một tỷ đồng chẵn"),
    (1000000005, "Một tỷ không trăm linh năm đồng"),
    (2024000000, "Hai tỷ không trăm hai mươi tư triệu đồng chẵn"),
    (999999999999, "Chín trăm chín mươi chín tỷ chín trăm chín mươi chín triệu chín trăm chín mươi chín nghìn "
                   "chín trăm chín mươi chín đồng"),
    (1000000000000, "Một nghìn tỷ đồng chẵn"),
]


@pytest.mark.parametrize("amount, words", KNOWN)
def test_known_readings(amount, words):
    assert amount_in_words(amount) == words


def test_negative_amounts_are_refused():
    with pytest.raises(ValueError):
        amount_in_words(-1)


DIGITS = {"không": 0, "một": 1, "hai": 2, "ba": 3, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7, "tám": 8, "chín": 9}
UNIT_AFTER_TENS = {"mốt": 1, "tư": 4, "lăm": 5}
WORDS = set(DIGITS) | set(UNIT_AFTER_TENS) | {"trăm", "mươi", "mười", "linh", "nghìn", "triệu", "tỷ", "đồng",
                                              "chẵn"}
SCALE = {"nghìn": 1000, "triệu": 10 ** 6}


def _group(tokens: list[str]) -> int:
    """A group of three digits, checking the reading rules as it goes."""
    value, i = 0, 0

    def digit() -> int:
        nonlocal i
        assert i < len(tokens) and tokens[i] in DIGITS, tokens
        i += 1
        return DIGITS[tokens[i - 1]]

    if len(tokens) > 1 and tokens[1] == "trăm":
        value = digit() * 100
        i += 1
    if i < len(tokens) and tokens[i] == "linh":
        assert value or tokens[0] == "không", tokens  # only after hundreds
        i += 1
        unit = digit()
        assert unit != 0
        value += unit
    elif i < len(tokens) and tokens[i] == "mười":
        value += 10
        i += 1
        if i < len(tokens):
            assert tokens[i] not in ("mốt", "tư", "không", "năm"), tokens  # mười một, mười bốn, mười lăm
            if tokens[i] == "lăm":
                value += 5
                i += 1
            else:
                value += digit()
    elif i + 1 < len(tokens) and tokens[i + 1] == "mươi":
        tens = digit()
        assert tens >= 2
        value += tens * 10
        i += 1
        if i < len(tokens):
            assert tokens[i] not in ("một", "bốn", "năm", "không"), tokens  # mốt, tư, lăm after mươi
            if tokens[i] in UNIT_AFTER_TENS:
                value += UNIT_AFTER_TENS[tokens[i]]
                i += 1
            else:
                value += digit()
    elif i < len(tokens):
        assert value == 0, tokens  # hundreds then a unit needs "linh"
        value += digit()
    assert i == len(tokens), tokens
    return value


def _below_billion(tokens: list[str]) -> int:
    total, group = 0, []
    for token in tokens:
        if token in SCALE:
            total += _group(group) * SCALE[token]
            group = []
        else:
            group.append(token)
    return total + (_group(group) if group else 0)


def parse(text: str) -> int:
    """The number an invoice's words say."""
    tokens = text.split(" ")
    tokens[0] = tokens[0].lower()
    if tokens == ["không", "đồng"]:
        return 0
    assert tokens[-1] in ("đồng", "chẵn")
    if tokens[-1] == "chẵn":
        tokens.pop()
        assert tokens[-1] == "đồng"
    tokens.pop()
    if "tỷ" in tokens:
        cut = len(tokens) - 1 - tokens[::-1].index("tỷ")
        return parse(" ".join(tokens[:cut]) + " đồng") * 10 ** 9 + (_below_billion(tokens[cut + 1:]) if tokens[cut + 1:]
                                                                   else 0)
    return _below_billion(tokens)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.integers(0, 999_999_999_999), st.integers(0, 1000).map(lambda n: n * 1000),
                 st.integers(0, 999).map(lambda n: n * 1_000_000 + 5)))
def test_every_amount_reads_back_to_itself(amount):
    text = amount_in_words(amount)
    assert "  " not in text and text == text.strip()
    assert text[0].isupper() and text[1:] == text[1:].lower()
    assert set(text.lower().split(" ")) <= WORDS
    assert text.endswith("đồng chẵn") == (amount > 0 and amount % 1000 == 0)
    assert parse(text) == amount


def test_the_parser_is_not_fooled():
    assert parse("Một trăm linh năm đồng") == 105
    for wrong in ("Hai mươi một đồng", "Mười lăm mươi đồng", "Một trăm năm đồng", "Hai mươi bốn đồng"):
        with pytest.raises(AssertionError):
            parse(wrong)
