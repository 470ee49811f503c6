"""The quarterly 服务之星 (issue 6): nominated from a project's top scores, chosen by the branch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from actions.errors import NotPermitted, Refused
from actions.scores import compute_scores, confirm_scores
from actions.service_star import choose_stars, nominate_star, star_candidates
from models import AuditKind, AuditLog, OperationLog, RequestKind, ServiceStar
from tests import factories
from tests.score_support import actor_for, at, build_org, count, record, request, scores, snapshot


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


def test_only_staff_scored_every_month_of_the_quarter_are_candidates(session, org):
    p, s = org["project"], org["staff"]
    # 赵离 has left: praised in September (for work before she left), she is scored in September only (102)
    request(session, p, RequestKind.PRAISE, at(2026, 9, 8), praised_staff=s["gone"])
    quarter_confirmed(session, org)
    assert scores(session, "2026-09")["赵离"].total == Decimal("102") and "赵离" not in scores(session, "2026-08")
    top = star_candidates(session, quarter="2026Q3", project_id=p.id, actor=org["actor"])
    assert s["gone"].id not in {c.staff_id for c in top}
    assert [(c.staff_name, c.months) for c in top][0] == ("李娜", 3)


def test_the_service_star_is_nominated_from_the_top_scores_and_chosen_by_the_branch(session, org):
    p, s = org["project"], org["staff"]
    with pytest.raises(Refused, match="尚有未确认的月度考核：2026-07、2026-08、2026-09"):
        star_candidates(session, quarter="2026Q3", project_id=p.id, actor=org["actor"])
    quarter_confirmed(session, org)
    top = star_candidates(session, quarter="2026Q3", project_id=p.id, actor=org["actor"])
    assert [(c.staff_name, c.average, c.rank) for c in top] == [
        ("李娜", Decimal("102.00"), 1), ("刘洋", Decimal("100.00"), 2), ("陈静", Decimal("100.00"), 2),
    ]
    before = snapshot(session)
    with pytest.raises(Refused, match="不在本项目 2026Q3 季度得分前 3 名内"):
        nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["c"].id, actor=org["actor"])
    assert snapshot(session) == before
    first = nominate_star(session, quarter="2026q3", project_id=p.id, staff_id=s["b"].id, reason="三个月均获表扬",
                          actor=org["actor"])
    second = nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["d"].id, actor=org["actor"])
    assert first.created and not nominate_star(session, quarter="2026Q3", project_id=p.id, staff_id=s["b"].id,
                                               actor=org["actor"]).created
    assert count(session, ServiceStar, ServiceStar.project_id == p.id) == 2

    # the supervisor of one project cannot choose for the branch
    with pytest.raises(NotPermitted, match="全部项目"):
        choose_stars(session, quarter="2026Q3", nomination_ids=[first.nomination_id], actor=org["actor"])
    choices = count(session, OperationLog, OperationLog.operation == "choose_service_star")
    branch_user = factories.user(session, username="fengongsi", roles=["分公司管理"], branch_=org["branch"])
    branch = actor_for(branch_user, p, org["other"])
    choose_stars(session, quarter="2026Q3", nomination_ids=[second.nomination_id], actor=branch)
    result = choose_stars(session, quarter="2026Q3", nomination_ids=[first.nomination_id], actor=branch)
    assert (result.chosen, result.unchosen) == ((first.nomination_id,), (second.nomination_id,))
    star = session.get(ServiceStar, first.nomination_id)
    assert (star.chosen, star.chosen_by_id, star.reason) == (True, branch_user.id, "三个月均获表扬")
    assert not session.get(ServiceStar, second.nomination_id).chosen
    assert count(session, AuditLog, AuditLog.table_name == "service_star", AuditLog.kind == AuditKind.UPDATE,
                 AuditLog.project_id == p.id) >= 3
    assert count(session, OperationLog, OperationLog.operation == "choose_service_star") == choices + 2
