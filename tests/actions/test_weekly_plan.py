"""周计划 per 003 (issue 19): sections, a time to a deadline, and earlier weeks' open items carried over once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from actions.actor import actor_for_user
from actions.errors import NotPermitted
from actions.weekly_plan import carry_over_tasks
from models import AuditKind, AuditLog, OperationLog, PlanSection, TaskStatus, WeeklyTask
from tests import factories as f

LAST, THIS = dt.date(2026, 11, 23), dt.date(2026, 11, 30)


@pytest.fixture
def plan(session):
    p, other = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    wang = f.staff(session, project_=p, name="王芳")
    rows = {
        "done": WeeklyTask(project=p, week_start=LAST, section=PlanSection.ROUTINE, task="更新公告栏",
                           owner_id=wang.id, deadline=LAST, status=TaskStatus.DONE),
        "late": WeeklyTask(project=p, week_start=LAST, section=PlanSection.FOCUS, task="欠费户第二次催缴",
                           owner_id=wang.id, deadline=LAST + dt.timedelta(days=4), deadline_time=dt.time(17),
                           status=TaskStatus.DELAYED),
        "going": WeeklyTask(project=p, week_start=LAST, section=PlanSection.TRAINING, task="礼仪培训",
                            owner_id=wang.id, deadline=LAST + dt.timedelta(days=2), status=TaskStatus.IN_PROGRESS),
        "older": WeeklyTask(project=p, week_start=LAST - dt.timedelta(days=7), task="两周前的任务", owner_id=wang.id,
                            deadline=LAST - dt.timedelta(days=7), status=TaskStatus.DELAYED),
        "theirs": WeeklyTask(project=other, week_start=LAST, task="翠湖的任务",
                             owner_id=f.staff(session, project_=other).id, deadline=LAST, status=TaskStatus.DELAYED),
    }
    session.add_all(rows.values())
    user = f.user(session, username="zhuguan", roles=["客服主管"], projects=[p])
    session.flush()
    return {"p": p, "other": other, "rows": rows, "actor": actor_for_user(session, user), "user": user}


def _week(session, project, week):
    return session.scalars(select(WeeklyTask).where(WeeklyTask.project_id == project.id,
                                                    WeeklyTask.week_start == week).order_by(WeeklyTask.id)).all()


def test_earlier_weeks_open_tasks_are_carried_over_once_keeping_section_weekday_and_time(session, plan):
    """Last week's open tasks are carried, and an older week's nobody carried (两周前的任务, left 已延期: it was lost —
    only the week just before was looked at); each names the task it continues, and none is carried twice."""
    result = carry_over_tasks(session, week_start=THIS + dt.timedelta(days=2), actor=plan["actor"])  # any day
    assert (result.week_start, result.carried, result.already) == (THIS, 3, 0)
    carried = _week(session, plan["p"], THIS)
    rows = plan["rows"]
    assert [(t.task, t.section, t.deadline, t.deadline_time, t.status, t.carried_from_id, t.note) for t in carried] == [
        ("两周前的任务", PlanSection.ROUTINE, THIS, None, TaskStatus.NOT_STARTED, rows["older"].id,
         f"{LAST - dt.timedelta(days=7)} 这一周未完成，结转"),
        ("欠费户第二次催缴", PlanSection.FOCUS, THIS + dt.timedelta(days=4), dt.time(17), TaskStatus.NOT_STARTED,
         rows["late"].id, "上周未完成，结转"),
        ("礼仪培训", PlanSection.TRAINING, THIS + dt.timedelta(days=2), None, TaskStatus.NOT_STARTED,
         rows["going"].id, "上周未完成，结转"),
    ]
    assert _week(session, plan["other"], THIS) == []  # another project's plan is not touched
    audited = session.scalars(select(AuditLog.actor_id).where(
        AuditLog.table_name == "weekly_task", AuditLog.kind == AuditKind.INSERT,
        AuditLog.record_id.in_([str(t.id) for t in carried]))).all()
    assert audited == [plan["user"].id] * 3

    again = carry_over_tasks(session, week_start=THIS, actor=plan["actor"])  # a double click
    assert (again.carried, again.already) == (0, 3) and len(_week(session, plan["p"], THIS)) == 3
    assert session.scalar(select(OperationLog.counts).where(OperationLog.operation == "carry_over_tasks")
                          .order_by(OperationLog.id.desc()).limit(1)) == {"carried": 0, "already": 3}

    # a week later nobody carried: the copies still open are carried on — the originals, carried already, are not
    carried[1].status = TaskStatus.DONE
    session.flush()
    later = THIS + dt.timedelta(days=14)
    assert carry_over_tasks(session, week_start=later, actor=plan["actor"]).carried == 2
    assert [(t.task, t.carried_from_id) for t in _week(session, plan["p"], later)] == [
        ("两周前的任务", carried[0].id), ("礼仪培训", carried[2].id)]
    assert session.scalar(select(func.count()).select_from(WeeklyTask)) == 5 + 3 + 2


def test_another_projects_plan_is_refused(session, plan):
    with pytest.raises(NotPermitted):
        carry_over_tasks(session, week_start=THIS, project_ids=[plan["other"].id], actor=plan["actor"])
    assert _week(session, plan["other"], THIS) == []


def test_the_console_carries_over_with_a_post_and_the_review_is_kept(session, console, plan):
    c = console("zhuguan")
    listed = c.get("/admin/weekly-task/list")
    assert listed.status_code == 200 and "结转上周未完成到" in listed.text
    assert c.client.get("/admin/weekly-task/carry-over").status_code in (404, 405)  # never on GET
    done = c.post("/admin/weekly-task/carry-over", {"week_start": str(THIS)})
    assert done.status_code == 303
    assert len(_week(session, plan["p"], THIS)) == 3
    review = {"project": str(plan["p"].id), "week_start": str(LAST), "reviewed_on": str(LAST + dt.timedelta(days=4)),
              "chaired_by": str(plan["user"].id), "summary": "基本完成", "problems": "催缴滞后",
              "improvements": "周三前完成第二次催缴"}
    assert c.post("/admin/weekly-review/create", review).status_code == 302
    twice = c.post("/admin/weekly-review/create", review)
    assert twice.status_code == 400 and "已存在相同" in twice.text


def test_a_task_typed_on_the_console_belongs_to_its_week_and_is_due_within_it(session, console, plan):
    """周起始日 typed as a Wednesday made a week of its own: 结转 (which looks for last week's tasks by their Monday)
    never carried the open task. It is now its Monday; a 完成时限 outside that week, or a 负责人 of another project,
    is refused in Chinese and nothing is written."""
    from tests.admin.test_forms import _count

    c = console("zhuguan")
    wang = plan["rows"]["done"].owner_id
    form = {"project": str(plan["p"].id), "week_start": "2026-12-09", "section": "routine", "task": "检查消防通道",
            "owner": str(wang), "deadline": "2026-12-11", "deadline_time": "", "status": "not_started", "note": ""}
    before = _count(session, WeeklyTask)
    for values, message in (({"deadline": "2026-12-20"}, "完成时限 2026-12-20 不在该周内（2026-12-07 至 2026-12-13）"),
                            ({"deadline": "2026-12-06"}, "不在该周内")):
        refused = c.post("/admin/weekly-task/create", {**form, **values})
        assert refused.status_code == 400 and message in refused.text
        assert _count(session, WeeklyTask) == before
    f.user(session, username="root", superuser=True)
    stranger = plan["rows"]["theirs"].owner_id  # 翠湖天地's: the whole company's account may pick them
    refused = console("root").post("/admin/weekly-task/create", {**form, "owner": str(stranger)})
    assert refused.status_code == 400 and "不是该项目的在职员工" in refused.text
    assert _count(session, WeeklyTask) == before
    assert c.post("/admin/weekly-task/create", form).status_code == 302
    made = session.scalars(select(WeeklyTask).order_by(WeeklyTask.id.desc())).first()
    assert (made.week_start, made.deadline) == (dt.date(2026, 12, 7), dt.date(2026, 12, 11))
    carry_over_tasks(session, week_start=dt.date(2026, 12, 14), actor=plan["actor"])
    assert made.id in {t.carried_from_id for t in _week(session, plan["p"], dt.date(2026, 12, 14))}


def test_two_carries_at_once_carry_each_task_once(engine):
    """Two supervisors click 结转 together (PostgreSQL: the open tasks are locked): the second waits for the first and
    carries nothing more — not two copies of one task."""
    from sqlalchemy.orm import Session

    from tests.race_support import committed_project, second_while_first_open

    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    with committed_project(engine, ["客服主管"], made=(WeeklyTask,)) as ids:
        with Session(engine) as s, s.begin():
            s.add_all([WeeklyTask(project_id=ids["project"], week_start=week, task=text, owner_id=ids["staff"],
                                  deadline=week, status=TaskStatus.DELAYED)
                       for week, text in ((LAST - dt.timedelta(days=7), "两周前的任务"), (LAST, "欠费户第二次催缴"))])
        waited, box = second_while_first_open(
            engine, lambda s: carry_over_tasks(s, week_start=THIS, actor=ids["actor"]),
            lambda s: carry_over_tasks(s, week_start=THIS, actor=ids["actor"]))
        assert waited and "error" not in box, box
        assert (box["result"].carried, box["result"].already) == (0, 2)
        with Session(engine) as s:
            assert sorted(s.scalars(select(WeeklyTask.task).where(WeeklyTask.project_id == ids["project"],
                                                                  WeeklyTask.week_start == THIS))) == [
                "两周前的任务", "欠费户第二次催缴"]
