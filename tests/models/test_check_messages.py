"""Every CHECK constraint declares, next to itself, the rule it states in Chinese (``info={"message": …}``); a
broken one is told with it, the columns by their labels (actions.errors.integrity_message)."""

from __future__ import annotations

import re
import string

from sqlalchemy import CheckConstraint

from actions.errors import integrity_message
from models import Base


def test_every_check_constraint_states_its_rule_with_its_own_columns():
    checks = [(table, con) for table in Base.metadata.tables.values() for con in table.constraints
              if isinstance(con, CheckConstraint)]
    assert len(checks) > 20
    for table, con in checks:
        message = con.info.get("message")
        assert message and re.search(r"[\u4e00-\u9fff]", message), con.name
        fields = {name for _, name, _, _ in string.Formatter().parse(message) if name}
        assert fields and fields <= set(table.columns.keys()), (con.name, fields)
        # the fields the rule names are the ones the constraint checks
        assert all(re.search(rf"\b{name}\b", str(con.sqltext)) for name in fields), con.name


class _Violation(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.orig = text


def test_a_broken_check_is_told_by_its_rule_on_each_database():
    for text in ("CHECK constraint failed: ck_meeting_booking_ends_after_starts",  # SQLite
                 'new row for relation "meeting_booking" violates check constraint '
                 '"ck_meeting_booking_ends_after_starts"',  # PostgreSQL
                 "CONSTRAINT `ck_meeting_booking_ends_after_starts` failed for `wuye`.`meeting_booking`"):  # MariaDB
        assert integrity_message(_Violation(text)) == "会议室预订：结束时间须晚于开始时间"
    text = "CHECK constraint failed: ck_renovation_application_deposit_range"
    assert integrity_message(_Violation(text)) == (
        "装修申请：装修押金(元)、退还押金(元)不能为负数，退还押金(元)不能超过装修押金(元)")
