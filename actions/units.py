"""房屋: what a unit's state and dates must agree with, typed in the console or read from a spreadsheet."""

from __future__ import annotations

import datetime as dt

from models import SHANGHAI, StaffPosition, Unit, label_of

# 责任管家 is a 楼宇管家 (责任收费员: billing.COLLECTING_POSITIONS)
BUTLER_POSITIONS = (StaffPosition.BUTLER,)


def unit_dates_problem(handover: dt.date | None, move_in: dt.date | None) -> tuple[str, str] | None:
    """Why these 交房日期 / 入住日期 cannot stand — (the field at fault, the reason in Chinese) — or None: no date
    after today (Beijing time), and no one moves in before the handover or into a unit not handed over."""
    today = dt.datetime.now(SHANGHAI).date()
    handover_label, move_in_label = label_of(Unit, "handover_date"), label_of(Unit, "move_in_date")
    for key, label, day in (("handover_date", handover_label, handover), ("move_in_date", move_in_label, move_in)):
        if day is not None and day > today:
            return key, f"{label} {day} 晚于今天（{today}）"
    if move_in is not None and handover is None:
        return "move_in_date", f"有{move_in_label}须先填写{handover_label}：房屋交付后才能入住"
    if move_in is not None and handover is not None and move_in < handover:
        return "move_in_date", f"{move_in_label} {move_in} 早于{handover_label} {handover}"
    return None
