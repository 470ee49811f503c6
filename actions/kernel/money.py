"""Money: exact amounts in yuan with at most two decimals (``Numeric(12, 2)`` columns, ``Decimal`` in Python)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import Refused

CENT = Decimal("0.01")


def money(value: Any, *, what: str = "金额") -> Decimal:
    """An amount typed or imported; floats are refused (they are not exact), and so are fractions of a cent."""
    if isinstance(value, float):
        raise Refused(f"{what}须为精确的小数（不能是浮点数）：{value}")
    try:
        amount = Decimal(str(value).strip().replace(",", "").replace("，", ""))
    except (InvalidOperation, ValueError):
        raise Refused(f"{what}不是有效的数字：{value}") from None
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise Refused(f"{what}最多两位小数：{value}")
    return amount.quantize(CENT)


def cents(value: Any) -> Decimal:
    """A stored or summed amount (None counts as 0) rounded to the cent."""
    return Decimal(value or 0).quantize(CENT)
