"""Exact money: amounts are ``Decimal`` in the currency's minor unit (VND has none: no fractional
đồng anywhere), rounded half up, and a sum split over parts by largest remainder so the parts
add up to the whole exactly."""
from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Sequence

from babel.numbers import get_currency_precision

ZERO = Decimal(0)


@lru_cache(maxsize=64)
def minor_digits(currency: str) -> int:
    """Digits after the point in ``currency`` (VND 0, USD 2), from CLDR through Babel."""
    return int(get_currency_precision((currency or "VND").upper()))


@lru_cache(maxsize=64)
def unit(currency: str) -> Decimal:
    """The smallest amount: 1 for VND, 0.01 for USD."""
    return Decimal(1).scaleb(-minor_digits(currency))


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """``amount`` rounded half up to the currency's minor unit."""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return value.quantize(unit(currency), rounding=ROUND_HALF_UP)


def is_exact(amount: Decimal, currency: str) -> bool:
    """Whether ``amount`` has no digits below the currency's minor unit (1.000,5 đ is not)."""
    return Decimal(str(amount)) == quantize(amount, currency)


def percent_of(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    return quantize(Decimal(amount) * Decimal(percent) / Decimal(100), currency)


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` over ``weights`` proportionally in minor units; the parts add up to
    ``total`` exactly (the largest remainders get the leftover units) and none exceeds its
    weight when ``total`` does not exceed the weights' sum."""
    step = unit(currency)
    whole = sum(weights, ZERO)
    if not weights:
        return []
    if whole <= 0 or total <= 0:
        return [ZERO for _ in weights]
    raw = [Decimal(total) * Decimal(w) / whole for w in weights]
    parts = [(r / step).to_integral_value(rounding=ROUND_DOWN) * step for r in raw]
    left = int(((Decimal(total) - sum(parts, ZERO)) / step).to_integral_value())
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += step
    return parts
