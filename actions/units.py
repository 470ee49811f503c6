"""房屋: what a unit's state and dates must agree with, typed in the console or read from a spreadsheet."""

from __future__ import annotations

import datetime as dt

from models import SHANGHAI, Unit, label_of


def unit_dates_problem(handover: dt.date | None, move_in: dt.date | None) -> str | None:
    """Why these 交房日期 / 入住日期 cannot stand (in Chinese), or None: no date after today (Beijing time), and
    no one moves in before the handover or into a unit not handed over."""
    today = dt.datetime.now(SHANGHAI).date()
    handover_label, move_in_label = label_of(Unit, "handover_date"), label_of(Unit, "move_in_date")
    for label, day in ((handover_label, handover), (move_in_label, move_in)):
        if day is not None and day > today:
            return f"{label} {day} 晚于今天（{today}）"
    if move_in is not None and handover is None:
        return f"有{move_in_label}须先填写{handover_label}：房屋交付后才能入住"
    if move_in is not None and handover is not None and move_in < handover:
        return f"{move_in_label} {move_in} 早于{handover_label} {handover}"
    return None
