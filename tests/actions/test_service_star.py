"""The quarterly 服务之星 (004 (四) 1): a project's 推荐表 by the last Wednesday of the quarter's last month, the
branch's decision with its 通报表扬 and reward; rank is information, not a limit."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from actions.records import TEXT_MAX
from actions.scores import compute_scores, confirm_scores
from actions.service_star import (
    choose_stars,
    default_deadline,
    nominate_star,
    nomination_deadline,
    set_star_deadline,
    star_candidates,
)
from models import AuditKind, AuditLog, OperationLog, RequestKind, ServiceStar
from tests import factories
from tests.score_support import actor_for, at, build_org, count, record, request, snapshot


@pytest.fixture
def org(session):
    return build_org(session)


def quarter_confirmed(session, org, extra_month_points: dict | None = None):
    """2026Q3 computed and confirmed: 李娜 praised each month (102), 王芳 late once a month (99),
    张伟 complained about (−10) once (96.67 average), the others 100."""
    p, s = org["project"], org["staff"]
    for mon in (7, 8, 9):
        request(session, p, RequestKind.PRAISE, at(2026, mon, 5), praised_staff=s["b"])
        record(session, org, [s["a"]], "1.1", day=dt.date(2026, mon, 3))
    record(session, org, [s["c"]], "1.3", points=Decimal("-10"), day=dt.date(2026, 8, 3))
    for mon in ("2026-07", "2026-08", "2026-09"):
        compute_scores(session, month=mon, project_ids=[p.id], actor=org["actor"])
        confirm_scores(session, month=mon, project_ids=[p.id], actor=org["actor"])


IN_TIME = dt.date(2026, 9, 20)  # before 2026Q3's deadline


def test_the_deadline_is_the_last_wednesday_of_the_quarters_last_month():
    assert default_deadline("2026Q3") == dt.date(2026, 9, 30)  # a Wednesday, the month's last day
    assert default_deadline("2026Q4") == dt.date(2026, 12, 30)
    assert default_deadline("2027q1") == dt.date(2027, 3, 31)
    assert default_deadline("2026Q2") == dt.date(2026, 6, 24)  # June 30 is a Tuesday
    with pytest.raises(Refused, match="季度格式应为 YYYYQn"):
        default_deadline("2026-09")


def test_the_recommendation_form_shows_each_months_score_rank_and_praise(session, org):
    """Rank is information: every customer-service staff member is listed; the average ranks those scored in every
    confirmed month; one scored in fewer months (赵离, September only) is listed after them without a rank."""
    p, s = org["project"], org["staff"]
    request(session, p, RequestKind.PRAISE, at(2026, 9, 8), praised_staff=s["gone"])
    quarter_confirmed(session, org)
    lines = star_candidates(session, quarter="2026Q3", project_id=p.id, actor=org["actor"])
    by_name = {c.staff_name: c for c in lines}
    assert [(c.staff_name, c.average, c.rank) for c in lines[:3]] == [
        ("李娜", Decimal("102.00"), 1), ("刘洋", Decimal("100.00"), 2), ("陈静", Decimal("100.00"), 2),
    ]
    li = by_name["李娜"]
    assert [(m.month, m.total, m.rank) for m in li.months] == [
        ("2026-07", Decimal("102.0"), 1), ("2026-08", Decimal("102.0"), 1), ("2026-09", Decimal("102.0"), 1)]
    assert li.praises == 3 and by_name["王芳"].praises == 0
    assert (by_name["张伟"].average, by_name["张伟"].rank) == (Decimal("96.67"), 5)  # below the old top three
    gone = by_name["赵离"]
    assert (gone.rank, gone.months_scored, gone.average, gone.praises) == (None, 1, Decimal("102.00"), 1)
    assert lines[-1].staff_name == "赵离"
    assert "孙师傅" not in by_name  # an engineer is not a customer-service staff member


def test_a_quarter_in_progress_lists_its_confirmed_months_only(session, org):
    p, s = org["project"], org["staff"]
    record(session, org, [s["a"]], "1.1", day=dt.date(2026, 7, 3))
    compute_scores(session, month="2026-07", project_ids=[p.id], actor=org["actor"])
    confirm_scores(session, month="2026-07", project_ids=[p.id], actor=org["actor"])
    compute_scores(session, month="2026-08", project_ids=[p.id], actor=org["actor"])  # a draft: not shown yet
    wang = {c.staff_name: c for c in star_candidates(session, quarter="2026Q3", project_id=p.id,
                                                       actor=org["actor"])}["王芳"]
    assert [m.total for m in wang.months] == [Decimal("99.0"), None, None] and wang.rank == 5


def test_any_customer_service_member_is_nominated_by_the_deadline_and_chosen_by_the_branch(session, org):
    p, s = org["project"], org["staff"]
    quarter_confirmed(session, org)
    before = snapshot(session)
    with pytest.raises(Refused, match="2026Q3 服务之星推荐已于 2026-09-30（季度末月最后一个星期三）截止"):
        nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["b"].id, reason="三次表扬",
                      actor=org["actor"], on=dt.date(2026, 10, 1))
    with pytest.raises(Refused, match="尚未开始"):
        nominate_star(session, quarter="2026Q4", project_id=p.id, staff_id=s["b"].id, reason="三次表扬",
                      actor=org["actor"], on=IN_TIME)
    with pytest.raises(Refused, match="请填写推荐理由"):
        nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["b"].id, reason=" ",
                      actor=org["actor"], on=IN_TIME)
    with pytest.raises(Refused, match="只能推荐本项目在职的客服人员"):
        nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["fixer"].id, reason="维修及时",
                      actor=org["actor"], on=IN_TIME)
    with pytest.raises(NotPermitted):
        nominate_star(session, quarter="2026Q3", project_id=org["other"].id, staff_id=s["x"].id, reason="好",
                      actor=org["actor"], on=IN_TIME)
    assert snapshot(session) == before

    # 张伟 ranks fifth: no longer a reason to refuse him
    first = nominate_star(session, quarter="2026q3", project_id=p.id, staff_id=s["b"].id, reason="三个月均获表扬",
                          actor=org["actor"], on=IN_TIME)
    second = nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["c"].id, reason="主动协助同事",
                           actor=org["actor"], on=dt.date(2026, 9, 30))
    assert first.created and second.created
    assert not nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["b"].id, reason="再次",
                             actor=org["actor"], on=IN_TIME).created
    assert count(session, ServiceStar, ServiceStar.project_id == p.id) == 2

    # the supervisor of one project cannot choose for the branch
    with pytest.raises(NotPermitted, match="全部项目"):
        choose_stars(session, quarter="2026Q3", nomination_ids=[first.nomination_id], actor=org["actor"])
    choices = count(session, OperationLog, OperationLog.operation == "choose_service_star")
    branch_user = factories.user(session, username="fengongsi", roles=["分公司管理"], branch_=org["branch"])
    branch = actor_for(branch_user, p, org["other"])
    for typed in ("五百", "NaN", "Infinity"):
        with pytest.raises(Refused, match=f"奖励金额不是有效的数字：{typed}"):
            choose_stars(session, quarter="2026Q3", nomination_ids=[first.nomination_id], actor=branch, reward=typed)
    assert session.get(ServiceStar, first.nomination_id).chosen is False
    choose_stars(session, quarter="2026Q3", nomination_ids=[second.nomination_id], actor=branch)
    result = choose_stars(session, quarter="2026Q3", nomination_ids=[first.nomination_id], actor=branch,
                          commendation="2026年第三季度服务之星，分公司通报表扬", reward="500")
    assert (result.chosen, result.unchosen) == ((first.nomination_id,), (second.nomination_id,))
    star = session.get(ServiceStar, first.nomination_id)
    assert (star.chosen, star.chosen_by_id, star.reason, star.commendation, star.reward) == (
        True, branch_user.id, "三个月均获表扬", "2026年第三季度服务之星，分公司通报表扬", Decimal("500.00"))
    other = session.get(ServiceStar, second.nomination_id)
    assert (other.chosen, other.commendation, other.reward) == (False, "", None)
    assert count(session, AuditLog, AuditLog.table_name == "service_star", AuditLog.kind == AuditKind.UPDATE,
                 AuditLog.project_id == p.id) >= 3
    assert count(session, OperationLog, OperationLog.operation == "choose_service_star") == choices + 2


def test_a_reason_beyond_the_text_bound_is_refused(session, org):
    """推荐理由 holds at most TEXT_MAX characters, as the console's forms do: one more is refused naming the field,
    nothing written; the bound itself is saved."""
    p, s = org["project"], org["staff"]
    quarter_confirmed(session, org)
    before = snapshot(session)
    with pytest.raises(Refused, match=f"推荐理由过长：最多 {TEXT_MAX:,} 字，现为 {TEXT_MAX + 1:,} 字"):
        nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["b"].id, reason="好" * (TEXT_MAX + 1),
                      actor=org["actor"], on=IN_TIME)
    assert snapshot(session) == before and count(session, ServiceStar) == 0
    made = nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["b"].id, reason="好" * TEXT_MAX,
                         actor=org["actor"], on=IN_TIME)
    assert made.created and len(session.get(ServiceStar, made.nomination_id).reason) == TEXT_MAX


def test_a_commendation_or_deadline_note_beyond_its_column_is_refused_not_cut(session, org):
    """通报表扬 holds TEXT_MAX characters and the deadline's 说明 255 (it was cut to 255 without a word): one more
    is refused naming the field; nothing is chosen or set."""
    p, s = org["project"], org["staff"]
    quarter_confirmed(session, org)
    made = nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["b"].id, reason="三次表扬",
                         actor=org["actor"], on=IN_TIME)
    branch = actor_for(factories.user(session, username="fengongsi", roles=["分公司管理"], branch_=org["branch"]),
                       p, org["other"])
    hq = actor_for_user(session, factories.user(session, username="zongbu", superuser=True))
    before = snapshot(session)
    with pytest.raises(Refused, match=f"通报表扬过长：最多 {TEXT_MAX:,} 字"):
        choose_stars(session, quarter="2026Q3", nomination_ids=[made.nomination_id], actor=branch,
                     commendation="表" * (TEXT_MAX + 1))
    with pytest.raises(Refused, match="说明过长：最多 255 字，现为 256 字"):
        set_star_deadline(session, quarter="2026Q4", deadline=dt.date(2026, 12, 1), note="说" * 256, actor=hq)
    assert snapshot(session) == before
    session.expire_all()
    assert session.get(ServiceStar, made.nomination_id).chosen is False
    assert nomination_deadline(session, "2026Q4").set_by_company is False


def test_the_company_sets_the_deadline_within_the_quarter(session, org):
    """A company deadline replaces the default for nominating: 2026Q3 set to 09-15, a nomination on 09-20 (in
    time by the default 09-30) is refused and one on 09-15 accepted; set again, the new day counts."""
    p, s = org["project"], org["staff"]
    quarter_confirmed(session, org)
    hq_user = factories.user(session, username="zongbu", superuser=True)
    hq = actor_for_user(session, hq_user)
    assert nomination_deadline(session, "2026q3").set_by_company is False
    set_star_deadline(session, quarter="2026q3", deadline=dt.date(2026, 9, 15), note="国庆前汇总", actor=hq)
    deadline = nomination_deadline(session, "2026Q3")
    assert (deadline.day, deadline.text) == (dt.date(2026, 9, 15), "2026-09-15（公司设定：国庆前汇总）")
    with pytest.raises(Refused, match=r"2026Q3 服务之星推荐已于 2026-09-15（公司设定：国庆前汇总）截止"):
        nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["b"].id, reason="三次表扬",
                      actor=org["actor"], on=IN_TIME)
    assert count(session, ServiceStar) == 0
    assert nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["b"].id, reason="三次表扬",
                         actor=org["actor"], on=dt.date(2026, 9, 15)).created

    set_star_deadline(session, quarter="2026Q3", deadline=dt.date(2026, 9, 25), actor=hq)
    from models import StarDeadline

    rows = session.scalars(select(StarDeadline)).all()
    assert [(r.quarter, r.deadline, r.note, r.set_by_id) for r in rows] == [
        ("2026Q3", dt.date(2026, 9, 25), "", hq_user.id)]
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "star_deadline")) == 2
    assert session.scalar(select(func.count()).select_from(OperationLog)
                          .where(OperationLog.operation == "set_star_deadline")) == 2


def test_a_deadline_outside_the_quarter_or_set_by_a_project_is_refused(session, org):
    from models import StarDeadline

    hq = actor_for_user(session, factories.user(session, username="zongbu", superuser=True))
    with pytest.raises(Refused, match="2026Q4 的推荐截止日须在 2026-10-01 至 2026-12-31 之间：2027-01-06"):
        set_star_deadline(session, quarter="2026Q4", deadline=dt.date(2027, 1, 6), actor=hq)
    with pytest.raises(Refused, match="季度格式应为 YYYYQn"):
        set_star_deadline(session, quarter="2026-12", deadline=dt.date(2026, 12, 1), actor=hq)
    with pytest.raises(NotPermitted, match="推荐截止日由公司（职能中心）设定"):
        set_star_deadline(session, quarter="2026Q4", deadline=dt.date(2026, 12, 1), actor=org["actor"])
    assert count(session, StarDeadline) == 0


def test_the_console_sets_the_deadline_for_the_company_only(session, console, org):
    from models import StarDeadline

    factories.user(session, username="zongbu", superuser=True)
    hq = console("zongbu")
    page = hq.get("/admin/scores/stars?quarter=2026Q4")
    assert page.status_code == 200 and "2026-12-30（季度末月最后一个星期三）" in page.text and "保存截止日" in page.text
    refused = hq.post("/admin/scores/stars/deadline", {"quarter": "2026Q4", "deadline": "2027-01-06", "version": "0"})
    assert refused.status_code == 400 and "须在 2026-10-01 至 2026-12-31 之间" in refused.text
    saved = hq.post("/admin/scores/stars/deadline", {"quarter": "2026Q4", "deadline": "2026-12-23", "note": "元旦前",
                                                     "version": "0"})
    assert saved.status_code == 303
    assert "2026-12-23（公司设定：元旦前）" in hq.get(saved.headers["location"]).text
    boss = console("zhuguan")
    assert "保存截止日" not in boss.get("/admin/scores/stars?quarter=2026Q4").text
    assert boss.post("/admin/scores/stars/deadline", {"quarter": "2026Q4", "deadline": "2026-12-01"}).status_code == 403
    assert [(r.quarter, r.deadline) for r in session.scalars(select(StarDeadline))] == [("2026Q4", dt.date(2026, 12, 23))]


def test_a_deadline_form_opened_before_another_setting_is_refused(session, console, org):
    """推荐截止日 carried no version: a form opened on the default (or an older day) replaced a day another company
    user set meanwhile, silently. The form carries the deadline's version: the stale one is refused in Chinese
    naming the day set, nothing written; a form without it is refused too (B13)."""
    from models import StarDeadline

    factories.user(session, username="zongbu", superuser=True)
    factories.user(session, username="zongbu2", superuser=True)
    first, second = console("zongbu"), console("zongbu2")

    def opened(client) -> dict:
        page = client.get("/admin/scores/stars?quarter=2026Q4")
        version = re.search(r'name="version" value="(\d+)"', page.text)
        assert page.status_code == 200 and version, "the 推荐截止日 form carries no version"
        return {"quarter": "2026Q4", "version": version.group(1)}

    def state():
        session.expire_all()
        logs = session.scalar(select(func.count()).select_from(OperationLog)
                              .where(OperationLog.operation == "set_star_deadline"))
        return [(r.deadline, r.note, r.version) for r in session.scalars(select(StarDeadline))], logs

    a, b = opened(first), opened(second)
    assert a["version"] == b["version"] == "0"
    assert first.post("/admin/scores/stars/deadline", {**a, "deadline": "2026-12-23", "note": "元旦前"}).status_code == 303
    set_first = state()
    assert set_first == ([(dt.date(2026, 12, 23), "元旦前", 1)], 1)

    stale = second.post("/admin/scores/stars/deadline", {**b, "deadline": "2026-12-30", "note": ""})
    assert stale.status_code == 400
    assert "2026Q4 的推荐截止日已被他人修改（现为 2026-12-23），请刷新后重试" in html.unescape(stale.text)
    assert state() == set_first
    bare = second.post("/admin/scores/stars/deadline", {"quarter": "2026Q4", "deadline": "2026-12-30"})
    assert bare.status_code == 400 and "表单缺少版本号" in bare.text and state() == set_first

    again = second.post("/admin/scores/stars/deadline", {**opened(second), "deadline": "2026-12-30", "note": ""})
    assert again.status_code == 303 and state() == ([(dt.date(2026, 12, 30), "", 2)], 2)
