"""``wuye bills`` and ``wuye dunning --stage N --as-of DATE [--project P]`` against a temporary SQLite file: the
same actions as the console, --dry-run and --json, exit code 1 with nothing written on a refusal."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from admin import cli
from models import (
    Bill,
    DunningNotice,
    DunningRun,
    DunningRunStatus,
    DunningStage,
    OperationLog,
    Payment,
    User,
)
from models.fees import FeeType
from tests.actions.test_billing import make_estate, one_off, with_bills
from tests.cli_support import copy_of, initialised, table_counts

D = Decimal

PROJECT = "翠湖收费测试苑"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``wuye init`` plus the hand-checked estate with January–April bills and a 按次 装修管理费; made once."""
    def build(session: Session) -> None:
        estate = make_estate(session)
        with_bills(session, estate)
        one_off(session, estate, "装修管理费")

    return initialised(tmp_path_factory, "cli_fees", build)


@pytest.fixture
def db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from copy_of(template, tmp_path, monkeypatch)



def count(engine: Engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_bills_dry_run_then_generate_once(db: Engine, capsys) -> None:
    before = table_counts(db)
    assert cli.main(["bills", "--project", PROJECT, "--period", "2026-05", "--dry-run", "--json"]) == 0
    (preview,) = json.loads(capsys.readouterr().out)
    assert (preview["created"], preview["dry_run"]) == (3, True)
    assert [x["name"] for x in preview["by_fee_type"]] == ["物业管理费"]  # 装修管理费 is charged per renovation
    assert table_counts(db) == before

    assert cli.main(["bills", "--project", PROJECT, "--period", "2026-05"]) == 0
    assert f"{PROJECT}：2026-05 账单已生成 3 张" in capsys.readouterr().out
    assert count(db, Bill) == before["bill"] + 3
    assert cli.main(["bills", "--project", PROJECT, "--period", "2026-05"]) == 0
    assert "已生成 0 张；已存在 3 张" in capsys.readouterr().out
    assert count(db, Bill) == before["bill"] + 3
    with Session(db) as session:
        renovation = session.scalars(select(FeeType.id).where(FeeType.name == "装修管理费")).one()
        assert not session.scalar(select(func.count()).where(Bill.fee_type_id == renovation))


def test_dunning_preview_issue_and_rerun(db: Engine, capsys) -> None:
    before = table_counts(db)
    assert cli.main(["dunning", "--stage", "1", "--as-of", "2026-04-05", "--project", PROJECT, "--dry-run"]) == 0
    assert "预览：第一次催缴(5日)将发出 3 份通知，欠费合计 2055.00 元" in capsys.readouterr().out
    assert table_counts(db) == before

    assert cli.main(["dunning", "--stage", "1", "--as-of", "2026-04-05", "--project", PROJECT, "--json"]) == 0
    (issued,) = json.loads(capsys.readouterr().out)
    assert (issued["issued"], issued["total_amount"], issued["run_status"]) == (3, "2055.00", "done")
    assert count(db, DunningNotice) == 3

    after = table_counts(db)
    assert cli.main(["dunning", "--stage", "1", "--as-of", "2026-04-05", "--project", PROJECT]) == 0
    assert "已执行过" in capsys.readouterr().out
    assert table_counts(db) == after


def test_cutoff_from_the_command_line_is_only_proposed(db: Engine, capsys, issue_day) -> None:
    before = table_counts(db)
    assert cli.main(["dunning", "--stage", "4", "--as-of", "2026-04-20"]) == 0
    assert "本月未发第三次催缴及停电函 3 户" in capsys.readouterr().out  # no 停电函 yet: nobody to cut off
    assert table_counts(db) == before
    issue_day(dt.date(2026, 4, 15))
    assert cli.main(["dunning", "--stage", "3"]) == 0  # dated on this month's 15th
    capsys.readouterr()
    issue_day(dt.date(2026, 4, 20))
    assert cli.main(["dunning", "--stage", "4", "--as-of", "2026-04-20"]) == 0
    assert "待客服经理审批" in capsys.readouterr().out
    with Session(db) as session:
        run = session.scalars(select(DunningRun).where(DunningRun.stage == DunningStage.CUTOFF)).one()
        assert (run.status, run.notice_count, run.requested_by_id) == (DunningRunStatus.PROPOSED, 2, None)


@pytest.mark.parametrize(("argv", "message"), [
    (["dunning", "--stage", "1", "--as-of", "2099-01-05", "--project", PROJECT], "晚于今天"),
    (["dunning", "--stage", "3", "--as-of", "2026-04-12", "--project", PROJECT], "须在每月15日及以后发出"),
    (["dunning", "--stage", "1", "--as-of", "2026-04-5x", "--project", PROJECT], "YYYY-MM-DD"),
    (["dunning", "--stage", "1", "--project", "没有这个项目"], "项目不存在"),
    (["bills", "--project", PROJECT, "--period", "2026/05"], "账期格式"),
])
def test_refusals_exit_1_and_write_nothing(db: Engine, capsys, argv, message) -> None:
    before = table_counts(db)
    assert cli.main(argv) == 1
    assert message in capsys.readouterr().err
    assert table_counts(db) == before


@pytest.fixture
def booked(db: Engine) -> int:
    """B-201's April bill paid in full at the desk (a payment to reverse), a cashier and a front-desk account."""
    from actions.billing import record_payment
    from models import Project, Unit
    from tests import factories as f

    with Session(db) as session, session.begin():
        project = session.scalars(select(Project).where(Project.name == PROJECT)).one()
        f.user(session, username="cashier", roles=["收费员"], projects=[project])
        f.user(session, username="desk", roles=["前台客服"], projects=[project])
        bill = session.scalars(select(Bill).join(Unit, Unit.id == Bill.unit_id)
                               .where(Unit.room_no == "201", Bill.period == "2026-04")).one()
        return record_payment(session, bill_id=bill.id, amount="301.25", actor=cli.CLI_ACTOR).payment_id


def test_a_payment_is_reversed_from_the_command_line_once(db: Engine, capsys, booked: int) -> None:
    """``wuye reverse-payment ID --reason 原因 --as 收费员``: the console's 冲正 — the row and its receipt stay, marked
    with who and why; the bill owes again; run twice, nothing more is written."""
    argv = ["reverse-payment", str(booked), "--reason", "收错房屋", "--as", "cashier"]
    assert cli.main([*argv, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["payment_id"], done["amount"], done["bill_status"], done["outstanding"], done["already"]) == (
        booked, "301.25", "unpaid", "301.25", False)
    assert done["message"].endswith(f"账单#{done['bill_id']} 现为未缴，尚欠 301.25 元")
    with Session(db) as session:
        payment = session.get(Payment, booked)
        cashier = session.scalars(select(User.id).where(User.username == "cashier")).one()
        assert (payment.reversal_reason, payment.reversed_by_id) == ("收错房屋", cashier)
        assert payment.reversed_at is not None and session.get(Bill, payment.bill_id).amount_paid == 0
    after = table_counts(db)
    assert cli.main(argv) == 0
    assert "已冲正，未重复登记" in capsys.readouterr().out
    assert table_counts(db) == after


@pytest.mark.parametrize(("argv", "message"), [
    (["--reason", " ", "--as", "cashier"], "请填写冲正原因"),
    (["--reason", "误录", "--as", "desk"], "没有“冲正”的权限"),
    (["--reason", "误录", "--as", "nobody"], "nobody"),
])
def test_a_reversal_refused_exits_1_and_changes_nothing(db: Engine, capsys, booked: int, argv, message) -> None:
    before = table_counts(db)
    assert cli.main(["reverse-payment", str(booked), *argv]) == 1
    assert message in capsys.readouterr().err
    assert table_counts(db) == before
    with Session(db) as session:
        assert session.get(Payment, booked).reversed_at is None


@pytest.mark.parametrize("number", ["99999999999999999999", "2147483648", "0", "-5", "12a"])
def test_a_payment_number_out_of_range_is_a_usage_error_in_chinese(db: Engine, capsys, booked: int, number) -> None:
    """A number past the database's integer crashed the command with the driver's OverflowError (SQLite) or said
    「数据不符合数据库约束」 (PostgreSQL): it is refused as typed, exit 2, nothing written."""
    before = table_counts(db)
    assert cli.main(["reverse-payment", "--reason", "误录", "--", number]) == 2
    err = capsys.readouterr().err
    assert f"编号无效：{number}（须为 1 至 2147483647 之间的整数）" in err and "Traceback" not in err
    assert table_counts(db) == before


def test_reversing_a_payment_that_does_not_exist_is_refused(db: Engine, capsys) -> None:
    assert cli.main(["reverse-payment", "987654", "--reason", "误录"]) == 1
    assert "收款记录#987654 不存在" in capsys.readouterr().err


@pytest.fixture
def receipt(db: Engine, booked: int) -> str:
    """A-101's account paid 400 at the desk (February's 250 and 150 of March: one receipt, two payments); another
    project's first receipt bears the same number pattern but is its own."""
    from actions.billing import pay_account
    from models import Project, Unit

    with Session(db) as session, session.begin():
        project = session.scalars(select(Project).where(Project.name == PROJECT)).one()
        unit = session.scalars(select(Unit).where(Unit.project_id == project.id, Unit.room_no == "101")).one()
        return pay_account(session, unit_id=unit.id, amount="400", actor=cli.CLI_ACTOR).receipt_no


def _paid(engine: Engine, receipt_no: str) -> list[tuple]:
    with Session(engine) as session:
        return [(p.reversed_at is not None, p.reversal_reason, session.get(Bill, p.bill_id).amount_paid)
                for p in session.scalars(select(Payment).where(Payment.receipt_no == receipt_no).order_by(Payment.id))]


def test_a_receipt_is_reversed_by_its_number(db: Engine, capsys, receipt: str) -> None:
    """``wuye reverse-payment --receipt 收据号``: the number on the receipt in hand (typed in lower case here) reverses
    every payment it lists; a second run is refused, saying when, and writes nothing."""
    assert _paid(db, receipt) == [(False, "", D("250.00")), (False, "", D("250.00"))]  # Feb 250; Mar 100 + 150
    argv = ["reverse-payment", "--receipt", receipt.lower(), "--reason", "收错房屋", "--as", "cashier"]
    assert cli.main([*argv, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["receipt_no"] == receipt and [r["amount"] for r in done["reversals"]] == ["250.00", "150.00"]
    assert done["message"].startswith(f"收据 {receipt}：已冲正收款记录#")
    assert _paid(db, receipt) == [(True, "收错房屋", D("0.00")), (True, "收错房屋", D("100.00"))]
    with Session(db) as session:
        assert session.scalar(select(func.count()).select_from(OperationLog)
                              .where(OperationLog.operation == "reverse_payment")) == 2
    after = table_counts(db)
    assert cli.main(argv) == 1
    assert f"收据 {receipt} 已于" in capsys.readouterr().err
    assert table_counts(db) == after


def test_a_receipt_of_two_projects_needs_the_project(db: Engine, capsys, receipt: str) -> None:
    """Receipt numbers are unique in a project: the command line (all projects) is asked which one; a cashier of
    the first project does not see the second's receipt of that number."""
    from actions.billing import record_payment
    from tests import factories as f

    with Session(db) as session, session.begin():
        other = make_estate(session, name="云栖收费测试苑")
        bill = f.bill(session, unit_=other.a101, fee_type_=other.mgmt, period="2026-04", amount_due=D("250.00"))
        # the other project's second receipt of the year: the same number as the first project's second
        numbers = [record_payment(session, bill_id=bill.id, amount="100", actor=cli.CLI_ACTOR).receipt_no
                   for _ in range(2)]
        other_id = other.project.id
    assert numbers[1] == receipt
    before = table_counts(db)
    assert cli.main(["reverse-payment", "--receipt", receipt, "--reason", "误录"]) == 1
    assert "在多个项目中都有：云栖收费测试苑、翠湖收费测试苑，请指定项目" in capsys.readouterr().err
    assert table_counts(db) == before
    assert cli.main(["reverse-payment", "--receipt", receipt, "--reason", "误录", "--project", "云栖收费测试苑"]) == 0
    capsys.readouterr()
    with Session(db) as session:
        reversed_ = dict(session.execute(select(Payment.project_id, func.count()).where(
            Payment.receipt_no == receipt, Payment.reversed_at.is_not(None)).group_by(Payment.project_id)).all())
        assert reversed_ == {other_id: 1}


@pytest.mark.parametrize(("argv", "message"), [
    (["--receipt", "SJ2099-999999", "--reason", "误录", "--as", "cashier"], "收据号 SJ2099-999999 不存在"),
    (["--receipt", "{receipt}", "--reason", " ", "--as", "cashier"], "请填写冲正原因"),
    (["--receipt", "{receipt}", "--reason", "误录", "--as", "desk"], "没有“冲正”的权限"),
    (["--receipt", "{receipt}", "--reason", "误录", "--project", "没有这个项目"], "项目不存在"),
    (["2", "--reason", "误录", "--project", PROJECT], "--project 只与 --receipt 一起使用"),
])
def test_a_receipt_reversal_refused_exits_non_zero_and_changes_nothing(db: Engine, capsys, receipt: str, argv,
                                                                       message) -> None:
    before, paid = table_counts(db), _paid(db, receipt)
    assert cli.main(["reverse-payment", *(a.format(receipt=receipt) for a in argv)]) == 1
    assert message in capsys.readouterr().err
    assert (table_counts(db), _paid(db, receipt)) == (before, paid)
