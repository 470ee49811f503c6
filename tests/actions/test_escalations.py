"""诉求升级 (issue 19): a request goes up one level at a time while open, with who, why and the answer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from actions.escalations import escalate_request, respond_escalation
from models import Escalation, EscalationLevel, RequestKind, RequestStatus, StaffPosition
from tests import factories as f


@pytest.fixture
def case(session):
    p, other = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    desk = f.user(session, username="desk", roles=["前台客服"], projects=[p])
    manager = f.user(session, username="jingli", roles=["客服经理"], projects=[p])
    manager.staff_id = f.staff(session, project_=p, name="何经理", position=StaffPosition.MANAGER).id
    request = f.service_request(session, project_=p, kind=RequestKind.COMPLAINT)
    theirs = f.service_request(session, project_=other)
    return {"request": request, "theirs": theirs, "desk": actor_for_user(session, desk), "desk_user": desk,
            "manager": actor_for_user(session, manager), "manager_user": manager}


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Escalation))


def test_a_request_goes_up_one_level_at_a_time_and_is_answered(session, case):
    rid = case["request"].id
    done = escalate_request(session, request_id=rid, level=EscalationLevel.SUPERVISOR, reason="业主情绪激动，需主管出面",
                            actor=case["desk"])
    assert done.message == f"已将诉求#{rid} 上报至客服主管"
    with pytest.raises(Refused, match="已上报至客服主管，只能向更高一级上报"):
        escalate_request(session, request_id=rid, level=EscalationLevel.SUPERVISOR, reason="再报", actor=case["desk"])
    escalate_request(session, request_id=rid, level=EscalationLevel.MANAGER, reason="主管无法解决", actor=case["desk"])
    with pytest.raises(Refused, match="已上报至客服经理"):
        escalate_request(session, request_id=rid, level=EscalationLevel.SUPERVISOR, reason="回退", actor=case["desk"])
    rows = session.scalars(select(Escalation).order_by(Escalation.level)).all()
    assert [(r.level, r.escalated_by_id) for r in rows] == [
        (EscalationLevel.SUPERVISOR, case["desk_user"].id), (EscalationLevel.MANAGER, case["desk_user"].id)]

    respond_escalation(session, escalation_id=rows[1].id, response="三日内上门处理", actor=case["manager"])
    session.refresh(rows[1])
    assert (rows[1].response, rows[1].responded_by_id) == ("三日内上门处理", case["manager_user"].id)
    assert rows[1].responded_at is not None
    with pytest.raises(Refused, match="已于 .* 批复"):
        respond_escalation(session, escalation_id=rows[1].id, response="再次批复", actor=case["manager"])


def test_refusals_write_nothing(session, case):
    rid = case["request"].id
    with pytest.raises(Refused, match="请填写上报原因"):
        escalate_request(session, request_id=rid, level=EscalationLevel.MANAGER, reason=" ", actor=case["desk"])
    with pytest.raises(NotPermitted):
        escalate_request(session, request_id=case["theirs"].id, level=EscalationLevel.MANAGER, reason="越权",
                         actor=case["desk"])
    case["request"].status = RequestStatus.CLOSED
    session.flush()
    with pytest.raises(Refused, match="已关闭，无需上报"):
        escalate_request(session, request_id=rid, level=EscalationLevel.MANAGER, reason="已关闭", actor=case["desk"])
    assert _count(session) == 0


def test_the_console_raises_and_answers_with_posts(session, console, case):
    rid = case["request"].id
    desk = console("desk")
    page = desk.get("/admin/escalation/list")
    assert page.status_code == 200 and 'name="reason"' in page.text
    assert 'name="response"' not in page.text  # the front desk raises; whom it goes to answers
    case["request"].complaint_major = True  # 重大投诉: to the manager at once
    session.flush()
    assert desk.post("/admin/escalation/raise", {"request_id": str(rid), "level": "2_manager",
                                                 "reason": "业主要求经理出面"}).status_code == 303
    row = session.scalars(select(Escalation)).one()
    assert desk.post("/admin/escalation/respond", {"escalation_id": str(row.id),
                                                   "response": "好"}).status_code == 403
    refused = desk.post("/admin/escalation/raise", {"request_id": str(rid), "level": "1_supervisor",
                                                    "reason": "x"})
    assert refused.status_code == 400 and "只能向更高一级上报" in refused.text and _count(session) == 1
    assert console("jingli").post("/admin/escalation/respond", {"escalation_id": str(row.id),
                                                                "response": "已约见业主"}).status_code == 303
    session.expire_all()
    assert session.get(Escalation, row.id).response == "已约见业主"


def test_who_raised_an_escalation_does_not_answer_it(session, console, case):
    """「主管无法解决的，报经理」: the supervisor who raised a matter to the manager answered it himself from the same
    list, and it showed as 已批复. The answer is now refused to who raised it, nothing written; the manager
    answers it."""
    rid = case["request"].id
    boss = f.user(session, username="zhuguan", roles=["客服主管"], projects=[case["request"].project])
    boss.staff_id = f.staff(session, project_=case["request"].project, position=StaffPosition.SUPERVISOR).id
    session.flush()
    boss = console("zhuguan")
    assert boss.post("/admin/escalation/raise", {"request_id": str(rid), "level": "2_manager",
                                                 "reason": "业主要求赔偿，超出主管权限"}).status_code == 303
    row = session.scalars(select(Escalation)).one()
    refused = boss.post("/admin/escalation/respond", {"escalation_id": str(row.id), "response": "已处理"})
    assert refused.status_code == 403 and "不能批复自己上报的诉求升级" in refused.text
    session.expire_all()
    row = session.get(Escalation, row.id)
    assert (row.response, row.responded_by_id, row.responded_at) == ("", None, None)
    with pytest.raises(NotPermitted, match="不能批复自己上报的诉求升级"):
        respond_escalation(session, escalation_id=row.id, response="已处理",
                           actor=actor_for_user(session, row.escalated_by))
    assert console("jingli").post("/admin/escalation/respond", {"escalation_id": str(row.id),
                                                                "response": "同意协商赔偿"}).status_code == 303
    session.expire_all()
    assert (session.get(Escalation, row.id).response, session.get(Escalation, row.id).responded_by_id) == (
        "同意协商赔偿", case["manager_user"].id)


def test_a_matter_raised_to_the_manager_is_not_answered_by_a_supervisor(session, console, case):
    """「主管无法解决的，报经理」: a matter the desk raised to the 客服经理 was answered by any 客服主管 of the project
    (the answer grant is theirs too), so it showed 已批复 without reaching the manager. A 主管 now answers only what
    was raised to 主管, nothing written; the 经理 (or the 分公司) answers the rest."""
    p = case["request"].project
    boss = f.user(session, username="zhuguan", roles=["客服主管"], projects=[p])
    boss.staff_id = f.staff(session, project_=p, name="顾主管", position=StaffPosition.SUPERVISOR).id
    manager = case["manager_user"]
    manager.staff_id = f.staff(session, project_=p, name="何经理", position=StaffPosition.MANAGER).id
    session.flush()
    rid = case["request"].id
    to_boss = escalate_request(session, request_id=rid, level=EscalationLevel.SUPERVISOR, reason="业主情绪激动",
                               actor=case["desk"]).escalation_id
    to_manager = escalate_request(session, request_id=rid, level=EscalationLevel.MANAGER, reason="要求赔偿",
                                  actor=case["desk"]).escalation_id
    to_branch = escalate_request(session, request_id=rid, level=EscalationLevel.GENERAL, reason="媒体介入",
                                 actor=case["desk"]).escalation_id
    c = console("zhuguan")
    for escalation_id, level in ((to_manager, "客服经理"), (to_branch, "总经理/分公司")):
        refused = c.post("/admin/escalation/respond", {"escalation_id": str(escalation_id), "response": "已处理"})
        assert refused.status_code == 403 and f"须由{level}批复（您的岗位是客服主管）" in refused.text
    with pytest.raises(NotPermitted, match="须由总经理/分公司批复"):
        respond_escalation(session, escalation_id=to_branch, response="同意", actor=actor_for_user(session, manager))
    session.expire_all()
    assert [session.get(Escalation, i).responded_at for i in (to_manager, to_branch)] == [None, None]
    assert c.post("/admin/escalation/respond", {"escalation_id": str(to_boss), "response": "已安抚"}).status_code == 303
    respond_escalation(session, escalation_id=to_manager, response="同意协商赔偿", actor=actor_for_user(session, manager))
    branch = f.user(session, username="fengongsi", roles=["分公司管理"], branch_=p.branch)
    respond_escalation(session, escalation_id=to_branch, response="统一口径", actor=actor_for_user(session, branch))
    session.expire_all()
    assert all(session.get(Escalation, i).responded_at for i in (to_boss, to_manager, to_branch))


def test_an_account_with_no_staff_record_does_not_answer_unless_company_wide(session, console, case):
    """The level raised to is checked against the post in the account's 员工 record; an account with none (a shared
    login given the 客服经理 role) was not checked at all and answered what went to the 经理 or the 分公司. It is
    refused now, nothing written; linked to its 员工 record it answers by its post, and a 分公司 or 系统管理员 account
    answers every level as before."""
    p = case["request"].project
    loose = f.user(session, username="jingli2", roles=["客服经理"], projects=[p])
    session.flush()
    rid = case["request"].id
    ids = [escalate_request(session, request_id=rid, level=level, reason="业主要求", actor=case["desk"]).escalation_id
           for level in (EscalationLevel.SUPERVISOR, EscalationLevel.MANAGER, EscalationLevel.GENERAL)]
    c = console("jingli2")
    for escalation_id in ids:
        refused = c.post("/admin/escalation/respond", {"escalation_id": str(escalation_id), "response": "已处理"})
        assert refused.status_code == 403 and "您的账号未关联员工档案" in refused.text
    session.expire_all()
    assert [(r.response, r.responded_by_id, r.responded_at) for r in
            session.scalars(select(Escalation).order_by(Escalation.level))] == [("", None, None)] * 3
    loose = session.get(type(loose), loose.id)
    loose.staff_id = f.staff(session, project_=p, name="钱经理", position=StaffPosition.MANAGER).id
    session.flush()
    respond_escalation(session, escalation_id=ids[1], response="同意", actor=actor_for_user(session, loose))
    admin = f.user(session, username="root", superuser=True)
    respond_escalation(session, escalation_id=ids[2], response="统一口径", actor=actor_for_user(session, admin))
    session.expire_all()
    assert [session.get(Escalation, i).responded_by_id for i in ids] == [None, loose.id, admin.id]


def test_a_level_is_skipped_only_by_a_major_complaint_or_by_the_level_below(session, console, case):
    """「员工无法解决的报主管，主管无法解决的报经理，经理无法解决的报总经理」(002): the front desk sent an ordinary
    complaint straight to the manager, or to the branch, past the supervisor. Now refused, saying whom to raise it to
    first, nothing written. A 重大投诉 goes to the manager or the branch at once (002 经理职责 七, 004 (三) 6); a
    supervisor raises to the manager what he cannot settle himself, a manager to the branch."""
    p, rid = case["request"].project, case["request"].id
    desk = console("desk")
    for level, first in (("2_manager", "客服主管"), ("3_general", "客服主管")):
        refused = desk.post("/admin/escalation/raise", {"request_id": str(rid), "level": level, "reason": "业主要求"})
        assert refused.status_code == 400 and "须逐级上报" in refused.text and f"请先上报{first}" in refused.text
    escalate_request(session, request_id=rid, level=EscalationLevel.SUPERVISOR, reason="业主情绪激动", actor=case["desk"])
    with pytest.raises(Refused, match="请先上报客服经理（重大投诉可直接上报客服经理或总经理/分公司）"):
        escalate_request(session, request_id=rid, level=EscalationLevel.GENERAL, reason="媒体介入", actor=case["desk"])
    assert [r.level for r in session.scalars(select(Escalation))] == [EscalationLevel.SUPERVISOR]

    major = f.service_request(session, project_=p, kind=RequestKind.COMPLAINT)
    major.complaint_major = True
    session.flush()
    escalate_request(session, request_id=major.id, level=EscalationLevel.GENERAL, reason="重大投诉，报分公司",
                     actor=case["desk"])
    lead = f.user(session, username="lead", roles=["客服主管"], projects=[p])
    lead.staff_id = f.staff(session, project_=p, position=StaffPosition.SUPERVISOR).id
    own = f.service_request(session, project_=p, kind=RequestKind.COMPLAINT)
    lead_actor = actor_for_user(session, lead)
    escalate_request(session, request_id=own.id, level=EscalationLevel.MANAGER, reason="超出主管权限", actor=lead_actor)
    with pytest.raises(Refused, match="请先上报客服经理"):  # a 主管 does not skip the 经理 either
        escalate_request(session, request_id=f.service_request(session, project_=p).id,
                         level=EscalationLevel.GENERAL, reason="报分公司", actor=lead_actor)
    rows = session.execute(select(Escalation.request_id, Escalation.level).order_by(Escalation.id)).all()
    assert rows == [(rid, EscalationLevel.SUPERVISOR), (major.id, EscalationLevel.GENERAL),
                    (own.id, EscalationLevel.MANAGER)]
