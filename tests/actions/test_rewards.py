"""有奖有罚 (issue 19): a confirmed month brings each employee the reward or penalty of their grade; a reopened
month takes them back; the amounts are data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from actions.errors import Refused
from actions.scores import compute_scores, confirm_scores, reopen_scores
from models import AuditKind, AuditLog, GradeBand, OperationLog, RewardEntry, RewardKind
from tests import factories
from tests.score_support import DAY, MONTH, actor_for, build_org, count, record


@pytest.fixture
def org(session):
    return build_org(session)


def _rewards(session, org) -> dict[str, tuple[str, str, RewardKind, Decimal]]:
    rows = session.scalars(select(RewardEntry).where(RewardEntry.project_id == org["project"].id)).all()
    return {r.staff.name: (r.month, r.grade, r.kind, r.amount) for r in rows}


def _three_bands(session, org) -> None:
    """王芳 −1 → 99 优秀 (+200); 张伟 −6 −10 → 84 合格 (0); 刘洋 4 × −10 → 60 不合格 (−100);
    李娜 and 陈静 nothing → 100 优秀."""
    s = org["staff"]
    record(session, org, [s["a"]], "1.1")
    record(session, org, [s["c"]], "4.1", points=Decimal("-6"))
    record(session, org, [s["c"]], "4.1", points=Decimal("-10"), day=DAY + dt.timedelta(days=1))
    for n in range(4):
        record(session, org, [s["d"]], "4.1", points=Decimal("-10"), day=DAY + dt.timedelta(days=n))


def test_confirming_a_month_records_each_employees_reward_or_penalty(session, org):
    assert session.scalar(select(GradeBand.reward).where(GradeBand.name == "优秀")) == Decimal("200")
    assert "默认值" in session.scalar(select(GradeBand.reward_note).where(GradeBand.name == "不合格"))
    _three_bands(session, org)
    p = org["project"]
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert _rewards(session, org) == {}  # a draft month earns nothing yet

    done = confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert "生成奖惩记录 5 条" in done.message
    assert _rewards(session, org) == {
        "王芳": (MONTH, "优秀", RewardKind.REWARD, Decimal("200.00")),
        "李娜": (MONTH, "优秀", RewardKind.REWARD, Decimal("200.00")),
        "陈静": (MONTH, "优秀", RewardKind.REWARD, Decimal("200.00")),
        "张伟": (MONTH, "合格", RewardKind.NONE, Decimal("0.00")),
        "刘洋": (MONTH, "不合格", RewardKind.PENALTY, Decimal("-100.00")),
    }
    audited = session.scalars(select(AuditLog.actor_id).where(AuditLog.table_name == "reward_entry",
                                                              AuditLog.kind == AuditKind.INSERT)).all()
    assert audited == [org["boss"].id] * 5
    log = session.scalar(select(OperationLog).where(OperationLog.operation == "confirm_scores"))
    assert log.counts["rewards"] == 5

    # A double click confirms nothing twice and writes no second reward.
    again = confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert again.unchanged == (p.id,) and count(session, RewardEntry, RewardEntry.project_id == p.id) == 5


def test_reopening_withdraws_the_rewards_and_a_new_confirm_uses_the_bands_then_in_force(session, org):
    _three_bands(session, org)
    p = org["project"]
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    manager = factories.user(session, username="jingli", roles=["客服经理"], projects=[p])
    reopen_scores(session, month=MONTH, project_id=p.id, note="刘洋的值班记录扣分有误", actor=actor_for(manager, p))
    assert _rewards(session, org) == {}
    withdrawn = session.scalars(select(AuditLog.actor_id).where(AuditLog.table_name == "reward_entry",
                                                                AuditLog.kind == AuditKind.DELETE)).all()
    assert withdrawn == [manager.id] * 5

    session.scalar(select(GradeBand).where(GradeBand.name == "不合格")).reward = Decimal("-300")
    session.flush()
    compute_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert _rewards(session, org)["刘洋"] == (MONTH, "不合格", RewardKind.PENALTY, Decimal("-300.00"))


def test_a_refused_confirm_writes_no_reward(session, org):
    p = org["project"]
    with pytest.raises(Refused, match="尚未计算"):
        confirm_scores(session, month=MONTH, project_ids=[p.id], actor=org["actor"])
    assert count(session, RewardEntry) == 0
