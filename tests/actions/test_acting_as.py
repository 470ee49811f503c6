"""The command line's ``--as NAME`` at the actions: the account's actor carries its projects and its roles' grants,
a project named outside them is refused, and the rows an import writes name that actor, whatever actor the session
itself carries (the command line's own)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions.accounts import acting_as, require_grant
from actions.actor import Actor
from actions.bulk_import import import_records
from actions.errors import NotPermitted, Refused
from actions.kernel.scope import project_ids_named, project_named
from models import AuditLog, ImportBatch, OperationLog, Unit
from tests import factories as f
from tests.data.workbooks import workbook

INSTALLATION = Actor(user_id=None, name="命令行", project_ids=None, source="cli")


@pytest.fixture
def two(session):
    p1, p2 = f.project(session, name="甲项目"), f.project(session, name="乙项目")
    f.building(session, project_=p1, name="1栋")
    f.building(session, project_=p2, name="1栋")
    f.user(session, username="甲主管", roles=["客服主管"], projects=[p1])
    f.user(session, username="甲前台", roles=["前台客服"], projects=[p1])
    return p1, p2


def _counts(session):
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Unit, AuditLog, OperationLog, ImportBatch))


def test_the_account_is_held_to_its_projects_and_grants(session, two) -> None:
    p1, p2 = two
    actor = acting_as(session, "甲主管")
    assert actor.user_id is not None and actor.project_ids == frozenset({p1.id}) and actor.source == "cli"
    require_grant(actor, "unit", "import", "导入房屋")  # 主管 imports units
    assert project_ids_named(session, ["甲项目"], actor) == [p1.id]
    with pytest.raises(NotPermitted, match="无权操作项目：乙项目"):
        project_named(session, "乙项目", actor)
    assert project_named(session, "乙项目") == p2.id  # the installation itself: every project
    with pytest.raises(NotPermitted, match="账号 甲前台 没有“导入房屋”的权限"):
        require_grant(acting_as(session, "甲前台"), "unit", "import", "导入房屋")
    require_grant(INSTALLATION, "unit", "import", "导入房屋")
    with pytest.raises(Refused, match="--as：账号 谁 不存在或已停用"):
        acting_as(session, "谁")


def test_an_import_names_the_acting_account_not_the_sessions(session, two) -> None:
    p1, p2 = two
    actor = acting_as(session, "甲主管")
    session.info["actor"] = INSTALLATION  # what the command line's transaction stamps
    data = workbook({"房屋": [["楼栋", "房号"], ["1栋", "1-101"]]})
    before = _counts(session)
    with pytest.raises(NotPermitted):
        import_records(session, kind="units", data=data, file_name="房屋.xlsx", actor=actor, project_id=p2.id)
    assert _counts(session) == before
    result = import_records(session, kind="units", data=data, file_name="房屋.xlsx", actor=actor, project_id=p1.id)
    assert result.written and result.counts["new"] == 1
    session.flush()
    audit = session.scalars(select(AuditLog).where(AuditLog.table_name.in_(["unit", "import_batch"]),
                                                   AuditLog.source == "cli")).all()
    ops = session.scalars(select(OperationLog).where(OperationLog.operation == "import:units")).all()
    assert audit and {(a.actor_id, a.actor_name) for a in audit} == {(actor.user_id, "甲主管")}
    assert ops and {(o.actor_id, o.actor_name) for o in ops} == {(actor.user_id, "甲主管")}
    assert session.info["actor"] is INSTALLATION  # restored afterwards
