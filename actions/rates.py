"""完成值的显示: every rate the console shows — the KPIs, survey results, complaint statistics — is a percent
rounded half-up to one decimal (2/3 → 66.7 %, 88.99 % → 89.0 %), made by these two functions only, so that one
figure reads the same on every page, chart and export. A mark against a target (达标) compares the exact ratio,
never the rounded one: 92.96 % reads 93.0 % and is still 未达标.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

STEP = Decimal("0.1")


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part`` ÷ ``whole`` in percent, one decimal, half-up; None without a ``whole`` (never 0 %)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(STEP, ROUND_HALF_UP)


def percent_text(part: Decimal | int, whole: Decimal | int) -> str:
    """``66.7%``; ``—`` without a ``whole``."""
    return rate_text(percent(part, whole))


def rate_text(rate: Decimal | int | None) -> str:
    """A rate in percent as shown: ``66.7%``, ``—`` for none. An export's sheet (xlsx_out) writes this text as the
    number 0.667 formatted 66.7%."""
    return "—" if rate is None else f"{rate}%"


def meets_text(meets: bool | None) -> str:
    """A mark against a target as every page and export writes it: ``达标`` / ``未达标``, ``—`` without a rate
    (no denominator: neither met nor missed)."""
    return "—" if meets is None else ("达标" if meets else "未达标")
