"""``wuye close-month`` and ``wuye monthly-report`` against a temporary SQLite file: the same actions as the
console's 月结 and 月度报告, --dry-run and --json, exit code 1 with nothing written on a refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, func, select, update

from admin import cli
from models import Bill, BillStatus, MonthSnapshot
from tests import dashboard_support as ds
from tests.cli_support import copy_of, initialised, table_counts


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``wuye init`` and the hand-checked data set; made once."""
    return initialised(tmp_path_factory, "cli_dashboard", ds.build)


@pytest.fixture
def db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from copy_of(template, tmp_path, monkeypatch)



def test_close_month_dry_run_then_close_then_again(db, capsys):
    before = table_counts(db)
    assert cli.main(["close-month", "--month", ds.MONTH, "--branch", "甲分公司", "--dry-run"]) == 0
    assert "将月结 2 个项目" in capsys.readouterr().out
    assert table_counts(db) == before
    assert cli.main(["close-month", "--month", ds.MONTH, "--project", "甲项目", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["closed"], out["already"], out["dry_run"]) == (["甲项目"], [], False)
    assert cli.main(["close-month", "--month", ds.MONTH]) == 0
    assert "此前已月结 1 个（甲项目）" in capsys.readouterr().out
    with db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(MonthSnapshot)) == 3  # 甲、乙、丙


def test_close_month_refusals_write_nothing(db, capsys):
    before = table_counts(db)
    assert cli.main(["close-month", "--month", "2099-01"]) == 1
    assert "尚未结束" in capsys.readouterr().err
    assert cli.main(["close-month", "--month", ds.MONTH, "--branch", "没有这个分公司"]) == 1
    assert "分公司不存在" in capsys.readouterr().err
    assert table_counts(db) == before


def test_monthly_report_to_xlsx(db, tmp_path, capsys):
    target = tmp_path / "报告.xlsx"
    assert cli.main(["monthly-report", "--month", ds.MONTH, "--project", "甲项目", str(target)]) == 0
    assert "甲项目 2025年9月客服月度报告" in capsys.readouterr().out
    book = openpyxl.load_workbook(target)
    rows = list(book["主要指标"].iter_rows(min_row=2, values_only=True))
    assert rows[1][:7] == ("收费率", "≥ 93%", "已收款账单", 450, "应收账单", 850, 0.529)
    assert book["主要指标"]["G3"].number_format == "0.0%"  # a rate is a number shown as a percentage


def test_monthly_report_of_a_closed_month_is_the_one_reported(db, tmp_path, capsys):
    """The console and the command share the path: after 月结 the file holds the figures as reported and every
    correction since, as the report page shows them."""
    assert cli.main(["close-month", "--month", ds.MONTH, "--project", "甲项目"]) == 0
    with db.begin() as conn:  # a correction after the close: u3's September bill is paid
        conn.execute(update(Bill).where(Bill.period == ds.MONTH, Bill.amount_paid == 0,
                                        Bill.status == BillStatus.UNPAID, Bill.amount_due == Decimal("250.00"))
                     .values(amount_paid=Decimal("250.00"), status=BillStatus.PAID))
    target = tmp_path / "报告.xlsx"
    assert cli.main(["monthly-report", "--month", ds.MONTH, "--project", "甲项目", str(target)]) == 0
    book = openpyxl.load_workbook(target)
    assert list(book["主要指标"].iter_rows(min_row=2, values_only=True))[1][3:7] == (450, "应收账单", 850, 0.529)
    corrections = list(book["月结后更正"].iter_rows(min_row=2, values_only=True))
    assert ("甲项目", "主要指标", "收费率", "完成值", 0.529, 0.824, "+29.5个百分点") in corrections
    assert list(book["月结情况"].iter_rows(min_row=2, values_only=True))[1][-1] == "报送时的数据"
