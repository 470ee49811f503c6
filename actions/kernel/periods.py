"""Calendar and periods in Asia/Shanghai: schedule dates, bill periods and score months are local calendar dates."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from models import SHANGHAI, utcnow

from ..errors import Refused

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# A month as people type it in a form: 2026年3月, 2026/3, 2026.03, 2026-3 (full-width or not).
_MONTH_TYPED = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
# The years a month may name — the span a spreadsheet's 账期 is read in (``spreadsheets.clean``); beyond it the
# calendar arithmetic fails (year 0, year 10000) and no bill, score month or survey lives there.
YEARS = (1900, 2100)


def local_day(moment: dt.datetime) -> dt.date:
    """The Beijing calendar day of an aware timestamp."""
    return moment.astimezone(SHANGHAI).date()


def today_local() -> dt.date:
    """Today in Asia/Shanghai."""
    return local_day(utcnow())


# What is recorded as done (受理, 走访, 巡查, the desk's ledgers) happened by now: a clock a few minutes fast, or a
# form opened a minute ago, is not refused for it.
CLOCK_SLACK = dt.timedelta(minutes=5)


def not_yet(moment: dt.datetime | None) -> bool:
    """Whether a moment typed as done is still ahead of now, beyond a clock's slack."""
    return moment is not None and moment > utcnow() + CLOCK_SLACK


def period_of(day: dt.date) -> str:
    """The month (YYYY-MM) a day falls in."""
    return f"{day.year:04d}-{day.month:02d}"


def current_period(now: dt.datetime | None = None) -> str:
    """This month (YYYY-MM) in Asia/Shanghai: the default period to bill."""
    return period_of(local_day(now or utcnow()))


def add_months(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_day(period: str, day: int) -> dt.date:
    """Day ``day`` of the period's month, clamped to the month's last day."""
    year, month = int(period[:4]), int(period[5:7])
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, max(1, min(day, last)))


def monday_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week: weekly plans and reports run Monday to Sunday."""
    return day - dt.timedelta(days=day.weekday())


@dataclass(frozen=True)
class Month:
    """A calendar month in Shanghai time: ``first`` ≤ day < ``next_first``."""

    text: str
    first: dt.date
    next_first: dt.date

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), SHANGHAI)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.next_first, dt.time(), SHANGHAI)


def parse_month(text: str, *, what: str = "月份") -> Month:
    """A month typed as YYYY-MM; anything else is refused naming what was typed."""
    text = str(text or "").strip()
    match = _MONTH.match(text)
    if not match:
        raise Refused(f"{what}格式应为 YYYY-MM（如 2026-05），收到：{text or '空'}")
    year, mon = int(match[1]), int(match[2])
    if not YEARS[0] <= year <= YEARS[1]:
        raise Refused(f"{what} {text} 超出范围：年份应在 {YEARS[0]}–{YEARS[1]} 之间")
    return Month(f"{year:04d}-{mon:02d}", dt.date(year, mon, 1), dt.date(year + mon // 12, mon % 12 + 1, 1))


def within_years(day: dt.date, *, what: str, text: str | None = None) -> dt.date:
    """A day typed in a form, refused (naming ``what`` and the text typed) when its year is outside :data:`YEARS`:
    「0001-01-01」 reached a 走访 cycle three months before year 1 (an HTTP 500) and a 周复盘 of year 1 was saved."""
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise Refused(f"{what} {text or day} 超出范围：年份应在 {YEARS[0]}–{YEARS[1]} 之间")
    return day


def read_month(text: str, *, what: str = "月份") -> Month:
    """A month typed in a form, as people write it (2026年3月, ２０２６／３, 2026-3); stored and compared as YYYY-MM —
    a plan saved as 「2026年3月」 was no month any page looked for. A spreadsheet's 账期 stays :func:`parse_period`'s."""
    plain = unicodedata.normalize("NFKC", str(text or "")).strip()
    if match := _MONTH_TYPED.match(plain):
        plain = f"{match[1]}-{int(match[2]):02d}"  # 2026-13 stays wrong, and is refused
    return parse_month(plain, what=what)


def parse_period(text: str) -> str:
    """A bill period (账期) typed as YYYY-MM."""
    return parse_month(text, what="账期").text


def local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a calendar day in Asia/Shanghai, as UTC instants."""
    start = dt.datetime.combine(day, dt.time(), SHANGHAI).astimezone(dt.UTC)
    return start, start + dt.timedelta(days=1)
