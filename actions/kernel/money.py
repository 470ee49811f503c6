"""Money: exact amounts in yuan with at most two decimals (``Numeric(12, 2)`` columns, ``Decimal`` in Python)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import Refused
from .text import fold

CENT = Decimal("0.01")
# The most a Numeric(12, 2) column holds: beyond it PostgreSQL refuses the row (a bare "out of range", naming no
# field) and SQLite stores it anyway — refused here, by name, on both.
MONEY_MAX = Decimal("9999999999.99")


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
# What people write for a number: digits, one point, a sign. Python's Decimal reads more — 「1e3」 (1000),
# 「1_000」, 「１２」 — which nobody types for an amount and which a cashier reading 1e3 back would not recognise.
_PLAIN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)


def decimal_text(value: str) -> Decimal | None:
    """A number as typed or pasted: full-width, with spaces, ``¥`` ``元`` ``RMB``, commas only between thousands
    (``1,200.50``; ``12,00`` is no number); None when it is not one — nor Python's own number syntax
    (``1e3``, ``1_000``, ``NaN``)."""
    value = fold(value).replace(" ", "")
    for junk in ("¥", "￥", "元", "RMB"):
        value = value.replace(junk, "")
    if "," in value:
        if not _THOUSANDS.match(value):
            return None
        value = value.replace(",", "")
    if not _PLAIN.match(value):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def money(value: Any, *, what: str = "金额") -> Decimal:
    """An amount typed or imported; floats are refused (they are not exact), and so are fractions of a cent."""
    if isinstance(value, float):
        raise Refused(f"{what}须为精确的小数（不能是浮点数）：{value}")
    # 「NaN」「Infinity」, read as numbers by Decimal, are not an amount (decimal_text: None)
    amount = value if isinstance(value, Decimal) and value.is_finite() else decimal_text(str(value))
    if amount is None:
        raise Refused(f"{what}不是有效的数字：{value}")
    if abs(amount) > MONEY_MAX:  # before quantize(), which raises InvalidOperation past 28 digits (1e309)
        raise Refused(f"{what}超出范围（最多 {MONEY_MAX:,} 元）：{value}")
    if amount != amount.quantize(CENT):
        raise Refused(f"{what}最多两位小数：{value}")
    return amount.quantize(CENT)


def cents(value: Any) -> Decimal:
    """A stored or summed amount (None counts as 0) rounded to the cent."""
    return Decimal(value or 0).quantize(CENT)


def readable(value: Decimal) -> str:
    """An amount as people read it: two decimals, more only where the value has them — a rate stored at four
    places (``Numeric(12, 4)``, 元/㎡·月) reads 2.50, not 2.5000, and 0.8125 stays 0.8125. A value kept at fewer
    places (a score's 95.5) is shown as it is."""
    text = f"{value:f}"
    if not value.is_finite():  # stored before the console refused it (SQLite kept 1e309 as Infinity): shown, not a 500
        return text
    if value.as_tuple().exponent >= -2:
        return text
    return f"{value.quantize(CENT):f}" if value == value.quantize(CENT) else text.rstrip("0")


_AMOUNT = re.compile(r"[+-]?\d+\.\d{2}")


def grouped(text: str) -> str:
    """An amount printed as text (a report's cell, also as frozen at its month close: 133142.74) as money reads on
    every page, 133,142.74 (a difference keeps its sign: +250.00); any other text — a count, a rate, a score, a
    name — as it is."""
    if not _AMOUNT.fullmatch(text):
        return text
    return ("+" if text.startswith("+") else "") + f"{Decimal(text):,}"
