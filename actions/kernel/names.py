"""Names in their natural order: phases, buildings and rooms sort by the number in them (2栋 before 10栋)."""

from __future__ import annotations

import re

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMBER = re.compile(r"\d+|[零〇一二两三四五六七八九十百千]+")


def _chinese_number(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20, 一百零五 → 105."""
    total, digit = 0, 0
    for ch in text:
        if ch in _CN_UNITS:
            total += (digit or 1) * _CN_UNITS[ch]
            digit = 0
        else:
            digit = _CN_DIGITS[ch]
    return total + digit


def natural_key(name: str | None) -> tuple[int, int, str]:
    """Sort key of a phase or building name by the number in it, then the name: 一期, 二期, 三期 … 十期 and
    1栋, 2栋 … 10栋 rather than text order (一期, 三期, 二期; 10栋, 1栋, 2栋). Names without a number go last."""
    name = name or ""
    found = _NUMBER.search(name)
    if found is None:
        return (1, 0, name)
    number = found.group()
    return (0, int(number) if number.isdigit() else _chinese_number(number), name)
