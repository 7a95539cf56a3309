"""An amount of đồng in Vietnamese words, as invoices write it under "Bằng chữ:".

The reading, group of three digits by group of three digits (nghìn, triệu, tỷ; beyond a thousand
tỷ the scales repeat: "một nghìn tỷ", "một triệu tỷ"):

* 10-19 are read with "mười" (10 "mười", 15 "mười lăm"); 20 and above with "mươi" ("hai mươi");
* a unit 1 after "mươi" is "mốt" (21 "hai mươi mốt"), a unit 4 after "mươi" is "tư"
  (24 "hai mươi tư"), a unit 5 after "mười"/"mươi" is "lăm" (15 "mười lăm", 25 "hai mươi lăm");
* no tens but a unit after hundreds: "linh" (105 "một trăm linh năm"; the Northern "linh" is used
  throughout, never the Southern "lẻ");
* a group after a larger one is read in full, hundreds included: 1.005.000 is "một triệu không
  trăm linh năm nghìn"; a group that is all zeros is left out (1.000.005 "một triệu không trăm linh
  năm");
* the first letter is a capital, and the words end with "đồng".

"chẵn" (exactly, nothing odd) is added when the amount is a whole number of thousands
("Một triệu hai trăm ba mươi nghìn đồng chẵn"), never otherwise ("Một triệu không trăm linh năm
đồng"); zero is "Không đồng". VND has no smaller unit: amounts are whole đồng.
"""
from __future__ import annotations

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
SCALES = ("", "nghìn", "triệu")  # then "tỷ", repeating
BILLION = 10 ** 9


def _group(number: int, full: bool) -> list[str]:
    """The words of 0 < ``number`` < 1000; ``full``: a larger group came before (read the hundreds)."""
    hundreds, tens, units = number // 100, number // 10 % 10, number % 10
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("linh")
    elif tens == 1:
        words.append("mười")
    else:
        words += [DIGITS[tens], "mươi"]
    if units == 1 and tens >= 2:
        words.append("mốt")
    elif units == 4 and tens >= 2:
        words.append("tư")
    elif units == 5 and tens >= 1:
        words.append("lăm")
    elif units:
        words.append(DIGITS[units])
    return words


def _below_billion(number: int, full: bool) -> list[str]:
    """The words of 0 < ``number`` < 10^9."""
    groups = [number // 10 ** 6, number // 1000 % 1000, number % 1000]
    words: list[str] = []
    for index, group in enumerate(groups):
        if group == 0:
            continue
        words += _group(group, full or bool(words))
        scale = SCALES[len(groups) - 1 - index]
        if scale:
            words.append(scale)
    return words


def number_words(number: int, full: bool = False) -> list[str]:
    """The words of ``number`` > 0, lower case."""
    if number >= BILLION:
        words = number_words(number // BILLION, full) + ["tỷ"]
        rest = number % BILLION
        return words + _below_billion(rest, True) if rest else words
    return _below_billion(number, full)


def amount_in_words(amount: int) -> str:
    """``amount`` whole đồng in words: "Một triệu hai trăm ba mươi nghìn đồng chẵn"."""
    amount = int(amount)
    if amount < 0:
        raise ValueError("a negative amount has no reading on an invoice")
    if amount == 0:
        return "Không đồng"
    text = " ".join(number_words(amount)) + " đồng"
    if amount % 1000 == 0:
        text += " chẵn"
    return text[0].upper() + text[1:]
