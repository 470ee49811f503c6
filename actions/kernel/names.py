"""Names in their natural order: phases, buildings and rooms sort by the number in them (2栋 before 10栋)."""

from __future__ import annotations

from models.base import NUMBER, number_value


def natural_key(name: str | None) -> tuple[int, int, str]:
    """Sort key of a phase or building name by the number in it, then the name: 一期, 二期, 三期 … 十期 and
    1栋, 2栋 … 10栋 rather than text order (一期, 三期, 二期; 10栋, 1栋, 2栋). Names without a number go last."""
    name = name or ""
    found = NUMBER.search(name)
    if found is None:
        return (1, 0, name)
    return (0, number_value(found.group()), name)
