"""导入满意度问卷: messy real sheets, dedupe, all-or-nothing, dry run, error report, hostile files, scope."""

from __future__ import annotations

import datetime as dt
import io
import time

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from actions.actor import Actor
from actions.errors import NotPermitted, Refused
from actions.kernel.periods import today_local
from actions.records import save_record
from actions.spreadsheets.header import HEADER_SCAN_ROWS
from actions.spreadsheets.pipeline import Outcome
from actions.spreadsheets.reader import Limits
from actions.spreadsheets.writer import error_report, template
from actions.survey_import import SurveyImporter, import_survey_responses
from actions.surveys import create_survey, find_or_create_survey
from models import (
    SCORE_COLUMNS,
    AuditKind,
    AuditLog,
    ImportBatch,
    OperationLog,
    Survey,
    SurveyAnswerTally,
    SurveyHousehold,
    SurveyResponse,
    SurveyScore,
    SurveyStatus,
    SurveyTopic,
    UnitStatus,
)
from tests import factories as f
from tests.data.workbooks import add_part, lying_sizes, replace_part, with_sheet, workbook, zip_bomb
from tests.models.test_totals import tallies

HEADER = ["序号", "楼栋", "房号", "业主姓名", "填表日期", "客服部", "工程部", "秩序维护", "环境卫生", "绿化", "总体满意度", "意见建议"]


@pytest.fixture
def estate(session):
    """项目 with 1栋 (1-101 … 1-104 occupied) and 2栋 (2-101 occupied, 2-102 vacant); 张伟 owns 1-101."""
    project = f.project(session, name="翠湖花园")
    b1 = f.building(session, project_=project, name="1栋")
    b2 = f.building(session, project_=project, name="2栋")
    units = {room: f.unit(session, project_=project, building_=b1, room_no=room) for room in
             ("1-101", "1-102", "1-103", "1-104")}
    units["2-101"] = f.unit(session, project_=project, building_=b2, room_no="2-101")
    units["2-102"] = f.unit(session, project_=project, building_=b2, room_no="2-102", status=UnitStatus.VACANT)
    f.customer(session, project_=project, name="张伟", unit_=units["1-101"])
    actor = Actor(user_id=None, name="主管", project_ids=frozenset({project.id}))
    survey = create_survey(session, project_id=project.id, title="2026年上半年业主满意度调查", actor=actor)
    return project, units, actor, survey.survey_id


@pytest.fixture(params=[None, 1, 2], ids=["whole", "pieces-of-1", "pieces-of-2"])
def pieces(request, monkeypatch):
    """A real run streamed a piece of this many rows at a time (None: the file in one piece, as any file under
    ``STREAM_ROWS`` rows): the outcome is the same however the file is cut."""
    from actions.spreadsheets import pipeline, reader

    if request.param is not None:
        monkeypatch.setattr(pipeline, "STREAM_ROWS", request.param)
        monkeypatch.setattr(reader, "STRINGS_SHARE", 0)  # the file parsed in pieces of about as many rows too
    return request.param


def counts(session) -> dict[str, int]:
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model))
        for model in (SurveyResponse, SurveyScore, SurveyHousehold, ImportBatch, OperationLog, AuditLog, Survey)
    }


def messy_file() -> bytes:
    """What staff really send: title rows, a header of variants, full-width characters, words and "N分",
    text-typed dates, blank rows, a 合计 row and a footer, a second sheet, a summary sheet."""
    return workbook(
        {
            "1栋": [
                ["翠湖花园2026年上半年业主满意度调查汇总表"],
                [],
                ["序号", "楼号", "房间号", "业主", "调查日期", "客服部满意度", "工程", "秩序维护", "保洁", "绿化", "总体评价", "意见和建议"],
                [1, "1栋", "１－１０１　", "张伟", "2026/3/5", "非常满意", "5分", 4, "满意", 5, "满意", "电梯维修要及时"],
                [],
                [2, " 1栋", "1-102\u200b", None, "2026.03.06", 3, "基本满意", "4分", 2, None, 3, ""],
                ["合计", None, None, None, None, "=AVERAGE(F4:F6)"],
                ["制表人：李娜"],
            ],
            "2栋": [
                ["楼栋", "房号", "填表日期", "客服部", "工程部"],
                ["2栋", "2-101", 46090, "很不满意", 1],
            ],
            "统计": [["部门", "客服部", "工程部"], ["平均", 4, 3]],
        },
        merged={"1栋": ["A1:L1"]},
    )


@pytest.mark.usefixtures("pieces")
def test_messy_file_is_read_as_meant(session, estate):
    project, units, actor, survey_id = estate
    result = import_survey_responses(session, survey_id=survey_id, data=messy_file(), file_name="回收表.xlsx",
                                     actor=actor)

    assert result.written and not result.problems
    assert result.counts["new"] == 3 and result.counts["totals"] == 1 and result.counts["blank"] == 1
    assert result.sheets == ("1栋", "2栋") and any(s.startswith("统计") for s in result.skipped_sheets)
    assert "序号" in result.ignored_columns
    rows = {r.unit_id: r for r in session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id))}
    first = rows[units["1-101"].id]
    assert (first.respondent, first.signed, first.answered_on) == ("张伟", True, dt.date(2026, 3, 5))
    assert first.overall_score == 4 and first.comments == "电梯维修要及时" and first.batch_id == result.batch_id
    scores = dict(session.execute(select(SurveyScore.topic, SurveyScore.score).where(SurveyScore.response_id == first.id)).all())
    assert scores == {SurveyTopic.SERVICE: 5, SurveyTopic.ENGINEERING: 5, SurveyTopic.SECURITY: 4,
                      SurveyTopic.ENVIRONMENT: 4, SurveyTopic.GREENING: 5}
    second = rows[units["1-102"].id]
    assert second.answered_on == dt.date(2026, 3, 6) and second.respondent == "" and second.signed is False
    third = rows[units["2-101"].id]
    assert third.answered_on == dt.date(2026, 3, 9)  # Excel serial 46090
    collected = set(session.scalars(select(SurveyHousehold.unit_id).where(
        SurveyHousehold.survey_id == survey_id, SurveyHousehold.collected.is_(True))))
    assert collected == {units["1-101"].id, units["1-102"].id, units["2-101"].id}
    batch = session.get(ImportBatch, result.batch_id)
    assert batch.status.value == "done" and batch.counts["responses"] == 3 and batch.counts["scores"] == 11
    log = session.scalar(select(OperationLog).where(OperationLog.operation == "import:surveys"))
    assert log.counts["new"] == 3 and log.params["file_name"] == "回收表.xlsx"
    # One audit row per table the batch wrote, naming the batch its rows carry, the file and who imported it.
    audited = session.scalars(select(AuditLog).where(AuditLog.record_id == f"batch:{result.batch_id}")
                              .order_by(AuditLog.id)).all()
    assert [(a.table_name, a.kind) for a in audited] == [("survey_response", AuditKind.INSERT),
                                                         ("survey_household", AuditKind.UPDATE)]
    responses, households = audited
    assert households.changes["count"] == 3 and households.actor_name == "主管"
    assert responses.changes == {"batch_id": result.batch_id, "count": 3, "file_name": "回收表.xlsx",
                                 "sheets": ["1栋", "2栋"], "survey_id": survey_id, "scores": 11}
    assert responses.actor_name == "主管" and responses.project_id == project.id


def test_two_row_header(session, estate):
    _, units, actor, survey_id = estate
    data = workbook({"Sheet1": [
        ["楼栋", "房号", "各部门满意度", None, "意见建议"],
        [None, None, "客服部", "工程部", None],
        ["1栋", "1-103", "满意", "非常满意", "无"],
    ]}, merged={"Sheet1": ["C1:D1"]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor)
    assert result.counts["new"] == 1 and not result.problems
    response = session.scalar(select(SurveyResponse).where(SurveyResponse.unit_id == units["1-103"].id))
    assert {s.topic: s.score for s in response.scores} == {SurveyTopic.SERVICE: 4, SurveyTopic.ENGINEERING: 5}


def test_dry_run_previews_and_writes_nothing(session, estate):
    _, _, actor, survey_id = estate
    before = counts(session)
    result = import_survey_responses(session, survey_id=survey_id, data=messy_file(), file_name="a.xlsx",
                                     actor=actor, dry_run=True)
    assert counts(session) == before
    assert session.get(Survey, survey_id).status is SurveyStatus.PLANNED  # a preview runs nothing
    assert result.dry_run and not result.written and result.counts["new"] == 3
    first = dict(result.preview[0].values)
    assert first["房号"] == "1-101" and first["客服部"] == "5" and first["填表日期"] == "2026-03-05"
    assert result.preview[0].outcome is Outcome.NEW


def test_a_closed_survey_takes_no_more_forms(session, estate):
    """已结束: its results were summarised and reported (by department, to the 总经理's meeting); a file brought in
    afterwards — or a form typed — changed them. Refused naming the survey and the way back (its status set to
    回收中 again, an edit the audit trail keeps); a form already in it may still be corrected."""
    project, units, actor, survey_id = estate
    assert import_survey_responses(session, survey_id=survey_id, data=messy_file(), file_name="a.xlsx", actor=actor).written
    survey = session.get(Survey, survey_id)
    survey.status = SurveyStatus.CLOSED
    session.flush()
    late = workbook({"S": [["楼栋", "房号", "填表日期", "客服部"], ["1栋", "1-103", "2026/3/9", 1]]})
    before = counts(session)
    for dry_run in (True, False):
        with pytest.raises(Refused, match="「2026年上半年业主满意度调查」已结束，不能再录入问卷"):
            import_survey_responses(session, survey_id=survey_id, data=late, file_name="补录.xlsx", actor=actor,
                                    dry_run=dry_run)
    with pytest.raises(Refused, match="已结束，不能再录入问卷"):
        save_record(session, SurveyResponse, None, {"project": str(project.id), "survey": str(survey_id),
                                                   "unit": str(units["1-104"].id), "service_score": "1"}, actor=actor)
    assert counts(session) == before
    form = session.scalar(select(SurveyResponse).where(SurveyResponse.unit_id == units["1-101"].id))
    save_record(session, SurveyResponse, form, {"comments": "电梯维修要及时（已核对原件）"}, actor=actor, version=form.version)
    assert form.comments == "电梯维修要及时（已核对原件）"


@pytest.mark.usefixtures("pieces")
def test_reimport_is_refused_and_answered_units_are_duplicates(session, estate):
    _, units, actor, survey_id = estate
    data = messy_file()
    import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor)
    before = counts(session)
    with pytest.raises(Refused, match="该批次已导入"):
        import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor)
    assert counts(session) == before
    preview = import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor,
                                      dry_run=True)
    assert preview.imported_before.startswith("同一文件已于") and preview.counts["duplicate"] == 3
    # Another file answering 1-101 again and 1-104 for the first time: 1-104 counts, 1-101 is reported.
    again = workbook({"S": [["楼栋", "房号", "客服部"], ["1栋", "1-101", 5], ["1栋", "1-104", 4]]})
    result = import_survey_responses(session, survey_id=survey_id, data=again, file_name="b.xlsx", actor=actor)
    assert result.written and result.counts["new"] == 1 and result.counts["duplicate"] == 1
    assert "不重复计入" in result.problems[0].message
    assert session.scalar(select(func.count()).where(SurveyResponse.survey_id == survey_id,
                                                     SurveyResponse.unit_id == units["1-101"].id)) == 1


@pytest.mark.usefixtures("pieces")
def test_a_unit_outside_the_campaign_is_added_as_collected(session, estate):
    _, units, actor, survey_id = estate
    # 2-102 is vacant, so not in the campaign; 1-103 had been marked collected by hand already.
    session.execute(update(SurveyHousehold).where(SurveyHousehold.survey_id == survey_id,
                                                  SurveyHousehold.unit_id == units["1-103"].id).values(collected=True))
    data = workbook({"S": [["楼栋", "房号", "客服部", "绿化"], ["2栋", "2-102", "满意", None], ["1栋", "1-103", 3, "5分"],
                           ["1栋", "1-104", "非常满意", 2]]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="c.xlsx", actor=actor)

    batch = session.get(ImportBatch, result.batch_id)
    assert batch.counts["responses"] == 3 and batch.counts["scores"] == 5 and batch.counts["households_added"] == 1
    households = dict(session.execute(select(SurveyHousehold.unit_id, SurveyHousehold.collected)
                                      .where(SurveyHousehold.survey_id == survey_id)).all())
    assert households[units["2-102"].id] is True and households[units["1-104"].id] is True
    assert households[units["1-103"].id] is True and households[units["1-101"].id] is False
    scores = session.execute(
        select(SurveyResponse.unit_id, SurveyScore.topic, SurveyScore.score)
        .join(SurveyScore, SurveyScore.response_id == SurveyResponse.id).where(SurveyResponse.batch_id == batch.id)
    ).all()
    assert sorted(scores) == sorted([
        (units["2-102"].id, SurveyTopic.SERVICE, 4), (units["1-103"].id, SurveyTopic.SERVICE, 3),
        (units["1-103"].id, SurveyTopic.GREENING, 5), (units["1-104"].id, SurveyTopic.SERVICE, 5),
        (units["1-104"].id, SurveyTopic.GREENING, 2),
    ])
    audited = {(a.table_name, a.kind): a.changes["count"] for a in session.scalars(
        select(AuditLog).where(AuditLog.record_id == f"batch:{batch.id}"))}
    # 1-103 was collected already: only 1-104 changed; 2-102 was added to the campaign.
    assert audited == {("survey_response", AuditKind.INSERT): 3, ("survey_household", AuditKind.UPDATE): 1,
                       ("survey_household", AuditKind.INSERT): 1}


def recounted_tallies(session) -> tuple[dict, dict]:
    """What 答卷汇总 and 调查户数汇总 should hold, counted from the forms and households themselves."""
    answers: dict = {}
    columns = {**{t.value: SCORE_COLUMNS[t] for t in SurveyTopic}, SurveyAnswerTally.OVERALL: "overall_score"}
    for form in session.scalars(select(SurveyResponse)):
        for question, column in columns.items():
            if (score := getattr(form, column)) is not None:
                key = (form.survey_id, question, score)
                answers[key] = answers.get(key, 0) + 1
    households = session.execute(
        select(SurveyHousehold.survey_id, SurveyHousehold.collected, func.count())
        .group_by(SurveyHousehold.survey_id, SurveyHousehold.collected))
    return answers, {(sid, bool(c)): n for sid, c, n in households}


@pytest.mark.usefixtures("pieces")
def test_an_import_keeps_the_survey_tallies(session, estate):
    """The bulk writes (on SQLite without the row triggers, added up once) leave the tallies as the rows
    themselves count them; the triggers are back for the next write, and a rolled-back import changes nothing."""
    _, units, actor, survey_id = estate
    session.add(SurveyResponse(project_id=units["1-101"].project_id, survey_id=survey_id, unit_id=units["1-101"].id,
                               service_score=4, overall_score=4))
    session.flush()
    before = tallies(session)
    assert before == recounted_tallies(session) and before[1] == {(survey_id, False): 5}
    data = workbook({"S": [["楼栋", "房号", "客服部", "绿化", "总体满意度"], ["2栋", "2-102", "满意", None, 5],
                           ["1栋", "1-103", 3, "5分", None], ["1栋", "1-104", "非常满意", 2, 4]]})
    undone = session.begin_nested()  # an import whose transaction is rolled back: triggers and tallies as before
    import_survey_responses(session, survey_id=survey_id, data=data, file_name="c.xlsx", actor=actor)
    undone.rollback()
    session.expire_all()
    assert tallies(session) == before
    import_survey_responses(session, survey_id=survey_id, data=data, file_name="c.xlsx", actor=actor)
    session.expire_all()
    after = tallies(session)
    assert after == recounted_tallies(session)
    assert after[1] == {(survey_id, False): 3, (survey_id, True): 3}
    assert after[0][(survey_id, SurveyTopic.SERVICE.value, 4)] == 2  # 1-101 by hand, 2-102 by the file
    household = session.scalar(select(SurveyHousehold).where(SurveyHousehold.unit_id == units["1-101"].id))
    household.collected = True  # a write after the import: counted by the triggers again
    session.add(SurveyResponse(project_id=household.project_id, survey_id=survey_id, unit_id=units["1-102"].id,
                               greening_score=1))
    session.flush()
    assert tallies(session) == recounted_tallies(session)
    assert tallies(session)[1] == {(survey_id, False): 2, (survey_id, True): 4}


@pytest.mark.usefixtures("pieces")
def test_one_bad_row_writes_nothing(session, estate):
    _, _, actor, survey_id = estate
    data = workbook({"问卷": [
        HEADER,
        [1, "1栋", "1-101", "张伟", "2026-03-05", 5, 5, 5, 5, 5, 5, ""],
        [2, "1栋", "1-102", "", "2026-02-30", 11, -1, 8.5, "优", 5, 5, ""],
        [3, "9栋", "9-999", "", "", 5, 5, 5, 5, 5, 5, ""],
        [4, "1栋", "1-101", "", "", 4, 4, 4, 4, 4, 4, ""],
        [5, "1栋", "1-103", "王芳", "", 4, 4, 4, 4, 4, 4, ""],
    ]})
    before = counts(session)
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="坏.xlsx", actor=actor)
    assert counts(session) == before
    # the household answering twice is no error: the later form is listed as 重复 and not counted
    assert not result.written and result.has_errors and (result.counts["error"], result.counts["duplicate"]) == (2, 1)
    messages = [p.message for p in result.problems]
    assert "「问卷」第3行 填表日期 2026-02-30 日期无效" in messages
    assert "「问卷」第3行 客服部 11 超出范围（1–5 分）" in messages
    assert "「问卷」第3行 工程部 -1 超出范围（1–5 分）" in messages
    assert "「问卷」第3行 秩序维护 8.5 不是整数分（1–5）" in messages
    assert any(m.startswith("「问卷」第3行 环境卫生 「优」不是评分") for m in messages)
    assert "「问卷」第4行 楼栋/房号 9栋 9-999 不存在于本项目" in messages
    assert "「问卷」第5行 楼栋 / 房号 1栋-1-101 与第2行重复：只计第2行，本行不计入" in messages
    # 1-103 has no registered customer: an owner name cannot be checked, so it is accepted.
    assert not any(m.startswith("「问卷」第6行") for m in messages)


def test_a_date_written_with_hao_or_a_time_after_ri_is_read(session, estate):
    """「2026年3月5号」 (号 for the day, as it is said) and 「2026年3月6日10:30」 (a time straight after 日) were refused
    「不是日期」; they are the 5th and the 6th of March."""
    _, units, actor, survey_id = estate
    data = workbook({"问卷": [
        HEADER,
        [1, "1栋", "1-101", "张伟", "2026年3月5号", 5, 5, 5, 5, 5, 5, ""],
        [2, "1栋", "1-102", "", "2026年3月6日10:30", 4, 4, 4, 4, 4, 4, ""],
    ]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="号.xlsx", actor=actor)
    assert result.written and not result.problems
    answered = dict(session.execute(select(SurveyResponse.unit_id, SurveyResponse.answered_on)).all())
    assert answered == {units["1-101"].id: dt.date(2026, 3, 5), units["1-102"].id: dt.date(2026, 3, 6)}


def test_a_score_in_exponent_notation_is_refused_on_its_row_at_once(session, estate):
    """「1e99999」 in a score cell was an exception that ended the import (past Python's int limit), and
    「1e999999999」 kept the process busy for minutes building a billion-digit number: both are refused on their row
    as out of range, at once; nothing is written."""
    _, _, actor, survey_id = estate
    data = workbook({"问卷": [
        HEADER,
        [1, "1栋", "1-101", "张伟", "2026-03-05", "1e99999", 5, 5, 5, 5, 5, ""],
        [2, "1栋", "1-102", "", "2026-03-05", 5, "1e999999999", 5, 5, 5, 5, ""],
    ]})
    before = counts(session)
    started = time.process_time()
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="指数.xlsx", actor=actor)
    assert time.process_time() - started < 5
    assert counts(session) == before
    assert not result.written and result.counts["error"] == 2
    messages = [p.message for p in result.problems]
    assert "「问卷」第2行 客服部 1E+99999 超出范围（1–5 分）" in messages
    assert "「问卷」第3行 工程部 1E+999999999 超出范围（1–5 分）" in messages


@pytest.mark.usefixtures("pieces")
def test_a_date_after_today_is_an_error_of_its_row(session, estate):
    """填表日期 after today (Beijing time) cannot be: reported with sheet, row, column, value and reason, in the
    preview as in the import, and nothing is written; today itself is fine."""
    _, units, actor, survey_id = estate
    today = today_local()
    tomorrow = today + dt.timedelta(days=1)
    data = workbook({"问卷": [
        ["楼栋", "房号", "填表日期", "客服部"],
        ["1栋", "1-101", today.isoformat(), 5],
        ["1栋", "1-102", "2099-01-01", 4],
        ["1栋", "1-103", tomorrow.strftime("%Y/%m/%d"), 4],
    ]})
    before = counts(session)
    for dry_run in (True, False):
        result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="未来.xlsx", actor=actor,
                                         dry_run=dry_run)
        assert counts(session) == before
        assert not result.written and result.counts["error"] == 2 and result.counts["new"] == 1
        assert [(p.sheet, p.row, p.column, p.value, p.reason) for p in result.problems] == [
            ("问卷", 3, "填表日期", "2099-01-01", f"不能晚于今天（{today}，北京时间）"),
            ("问卷", 4, "填表日期", tomorrow.isoformat(), f"不能晚于今天（{today}，北京时间）"),
        ]
    assert session.get(Survey, survey_id).status is SurveyStatus.PLANNED
    fine = workbook({"问卷": [["楼栋", "房号", "填表日期", "客服部"], ["1栋", "1-101", today.isoformat(), 5]]})
    assert import_survey_responses(session, survey_id=survey_id, data=fine, file_name="今天.xlsx", actor=actor).written
    assert session.scalar(select(SurveyResponse.answered_on).where(SurveyResponse.unit_id == units["1-101"].id)) == today


def test_a_form_dated_before_its_survey_began_is_an_error_of_its_row(session, estate):
    """Last half year's file imported into this half year's survey (forms dated 2026-03, the survey begun 2026-07-01)
    was taken whole, its answers counted in the wrong campaign. A 填表日期 before the survey's 开始日期 is an error of
    its row, in the preview as in the import, nothing written; the survey's first day is fine, and a survey without
    a 开始日期 takes any past date as before."""
    _, units, actor, survey_id = estate
    survey = session.get(Survey, survey_id)
    survey.start_date = dt.date(2026, 7, 1)
    session.flush()
    data = workbook({"问卷": [
        ["楼栋", "房号", "填表日期", "客服部"],
        ["1栋", "1-101", "2026-07-01", 5],
        ["1栋", "1-102", "2026/3/6", 4],
    ]})
    before = counts(session)
    for dry_run in (True, False):
        result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="上半年.xlsx", actor=actor,
                                         dry_run=dry_run)
        assert counts(session) == before
        assert not result.written and (result.counts["error"], result.counts["new"]) == (1, 1)
        assert [(p.sheet, p.row, p.column, p.value, p.reason) for p in result.problems] == [
            ("问卷", 3, "填表日期", "2026-03-06", "早于本次调查的开始日期（2026-07-01）：是否其他调查的问卷？请核对")]
    survey.start_date = None
    session.flush()
    assert import_survey_responses(session, survey_id=survey_id, data=data, file_name="上半年.xlsx", actor=actor).written
    assert session.scalar(select(SurveyResponse.answered_on).where(SurveyResponse.unit_id == units["1-102"].id)) == \
        dt.date(2026, 3, 6)


@pytest.mark.usefixtures("pieces")
def test_owner_name_must_match_the_unit(session, estate):
    _, _, actor, survey_id = estate
    data = workbook({"S": [["楼栋", "房号", "业主姓名", "客服部"], ["1栋", "1-101", "李四", 5]]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor)
    assert not result.written
    assert result.problems[0].message == "「S」第2行 业主姓名 李四 不是该房屋登记的客户（请核对楼栋、房号）"


@pytest.mark.usefixtures("pieces")
def test_merged_cells_and_formulas_are_reported(session, estate):
    _, _, actor, survey_id = estate
    data = workbook(
        {"S": [
            ["楼栋", "房号", "填表人", "客服部"],
            ["1栋", "1-101", "张伟", 5],
            ["1栋", None, "=HYPERLINK(\"http://x?\"&B2)", 4],
            ["1栋", None, "=1+1", 3],
        ]},
        merged={"S": ["B2:B4"]},
        text_cells={"S": ["C4"]},
    )
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor)
    messages = [p.message for p in result.problems]
    assert "「S」第3行 房号 为空（合并单元格？请取消合并并逐行填写）" in messages
    assert "「S」第4行 房号 为空（合并单元格？请取消合并并逐行填写）" in messages
    assert "「S」第3行 填表人 为公式且没有计算结果：请复制该列后“选择性粘贴”为数值" in messages
    # Text that merely starts with "=" is data, never evaluated.
    assert not any(m.startswith("「S」第4行 填表人") for m in messages)
    assert not result.written


def test_error_report_holds_the_original_rows_and_reasons(session, estate):
    _, _, actor, survey_id = estate
    data = workbook({"问卷": [
        ["XX小区调查表"],
        ["楼栋", "房号", "客服部", "意见建议"],
        ["1栋", "1-101", 5, "好"],
        ["1栋", "1-102", 11, "=cmd|'/c calc'!A1"],
    ]}, text_cells={"问卷": ["D4"]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor,
                                     dry_run=True)
    survey = session.get(Survey, survey_id)
    report = error_report(SurveyImporter(session, actor, survey), data, "a.xlsx", result.problems)
    assert b"<f>" not in _sheet_xml(report)
    ws = load_workbook(io.BytesIO(report)).worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == ["原行号", "楼栋", "房号", "客服部", "意见建议", "错误原因"]
    assert rows[1] == [4, "1栋", "1-102", 11, "=cmd|'/c calc'!A1", "客服部 11 超出范围（1–5 分）"]
    assert len(rows) == 2


def test_template_reads_back(session, estate):
    project, units, actor, survey_id = estate
    # the template's example row: 房号 101 of 1栋 (as units are stored), owned by 张伟
    example = f.unit(session, project_=project, building_=units["1-101"].building, room_no="101")
    f.customer(session, project_=project, name="张伟", unit_=example)
    survey = session.get(Survey, survey_id)
    data = template(SurveyImporter(session, actor, survey))
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames[:2] == ["调查问卷", "填写说明"]
    ws = wb["调查问卷"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["楼栋", "房号", "业主姓名"] and "客服部" in header and "意见建议" in header
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    service = header.index("客服部")
    assert "非常满意" in lists[f"{'ABCDEFGHIJKLMNOP'[service]}2:{'ABCDEFGHIJKLMNOP'[service]}1001"]
    assert [c.value for c in ws[2]][:3] == ["1栋", "101", "张伟"]
    notes = " ".join(str(c.value or "") for row in wb["填写说明"].iter_rows() for c in row)
    assert "1-101" not in notes and "如 101" in notes
    # Filled in as the template asks (the example row only), it imports: the unit columns find 1栋 / 101.
    before = counts(session)
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="模板.xlsx", actor=actor,
                                     dry_run=True)
    assert [p.message for p in result.problems if p.column in ("楼栋", "房号", "业主姓名")] == []
    assert result.counts["new"] == 1 and not result.problems
    assert counts(session) == before


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: "楼栋,房号,客服部\n1栋,1-101,5\n".encode(), "CSV 文本"),
        (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "97-2003"),
        (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 600, "加密"),
        (lambda: bytes(range(256)) * 8, "无法识别的文件格式"),
        (lambda: b"PK\x03\x04" + b"\x00" * 100, "已损坏"),
        (lambda: add_part(workbook({"S": [["楼栋", "房号", "客服部"]]}), "xl/vbaProject.bin", b"macro"), "宏"),
        (lambda: replace_part(workbook({"S": [["楼栋", "房号", "客服部"]]}), "xl/worksheets/sheet1.xml",
                              b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
                              b'<worksheet><sheetData><row><c t="inlineStr"><is><t>&lol2;</t></is></c></row>'
                              b'</sheetData></worksheet>'), "不安全"),
        (lambda: replace_part(workbook({"S": [["楼栋", "房号", "客服部"]]}), "[Content_Types].xml",
                              b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>'),
         "不安全"),
        (lambda: zip_bomb(workbook({"S": [["楼栋", "房号", "客服部"]]}), inflated=1 << 30), "解压后过大"),
        (lambda: zip_bomb(workbook({"S": [["楼栋", "房号", "客服部"]]}), inflated=1 << 30, declared=2000), "解压后过大"),
        (lambda: zip_bomb(workbook({"S": [["楼栋", "房号", "客服部"]]}), inflated=8 << 20), "压缩比"),
        (lambda: lying_sizes(workbook({"S": [["楼栋", "房号", "客服部"]]}), "xl/worksheets/sheet1.xml", 10), "已损坏"),
        (lambda: workbook({"S": [["名称", "数量"], ["苹果", 3]]}), "未找到表头"),
        (lambda: workbook({"S": [["楼栋", "户主", "客服部"], ["1栋", "张伟", 5]]}), "缺少列：房号"),
    ],
    ids=["csv", "xls", "encrypted", "random", "broken-zip", "macro", "billion-laughs", "xxe", "zip-bomb",
         "zip-bomb-lying-header", "ratio", "lying-size", "no-header", "missing-column"],
)
def test_hostile_and_unusable_files_are_refused(session, estate, make, message):
    _, _, actor, survey_id = estate
    before = counts(session)
    with pytest.raises(Refused, match=message):
        import_survey_responses(session, survey_id=survey_id, data=make(), file_name="回收表.xlsx", actor=actor)
    assert counts(session) == before


def test_size_and_row_limits(session, estate):
    _, _, actor, survey_id = estate
    rows = [["楼栋", "房号", "客服部"]] + [["1栋", f"1-{i}", 5] for i in range(300)]
    data = workbook({"S": rows})
    with pytest.raises(Refused, match="文件过大"):
        import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor,
                                limits=Limits(max_bytes=len(data) - 1))
    with pytest.raises(Refused, match="行数过多"):
        import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor,
                                limits=Limits(max_rows=100))


def test_survey_of_another_project_is_not_permitted(session, estate):
    _, _, _, survey_id = estate
    other = f.project(session)
    outsider = Actor(user_id=None, name="别的项目", project_ids=frozenset({other.id}))
    before = counts(session)
    with pytest.raises(NotPermitted):
        import_survey_responses(session, survey_id=survey_id, data=messy_file(), file_name="a.xlsx", actor=outsider)
    assert counts(session) == before


def test_units_of_another_project_are_unknown(session, estate):
    project, _, actor, survey_id = estate
    other = f.project(session)
    f.unit(session, project_=other, building_=f.building(session, project_=other, name="3栋"), room_no="3-101")
    data = workbook({"S": [["楼栋", "房号", "客服部"], ["3栋", "3-101", 5]]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor)
    assert not result.written and "不存在于本项目" in result.problems[0].message


def test_cli_style_survey_is_created_once(session, estate):
    project, units, actor, _ = estate
    campaign = find_or_create_survey(session, project_name="翠湖花园", title="2026年下半年满意度调查", actor=actor)
    assert campaign.created and campaign.households == 5  # occupied units only
    again = find_or_create_survey(session, project_name="翠湖花园", title="2026年下半年满意度调查", actor=actor)
    assert not again.created and again.survey_id == campaign.survey_id
    assert session.get(Survey, campaign.survey_id).period == "2026H2"


def _sheet_xml(data: bytes) -> bytes:
    import zipfile

    z = zipfile.ZipFile(io.BytesIO(data))
    return b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_a_sheet_as_staff_type_it_imports_every_row(session):
    """Every spelling of a building staff use (3号楼, 3栋, 3幢, 3座, 3#, 3, full-width, stray spaces), the
    department and comment headers in their own words, a household answering twice (the first counts, the
    second is listed as 重复) and a column the import does not read (named in the warning): no row rejected."""
    project = f.project(session, name="锦华苑")
    b3 = f.building(session, project_=project, name="3栋")
    b12 = f.building(session, project_=project, name="12号楼")
    rooms = ("101", "102", "201", "202", "301", "302", "401", "402")
    units = {r: f.unit(session, project_=project, building_=b3, room_no=r) for r in rooms}
    other = f.unit(session, project_=project, building_=b12, room_no="101")
    actor = Actor(user_id=None, name="主管", project_ids=frozenset({project.id}))
    survey_id = create_survey(session, project_id=project.id, title="2026年下半年满意度调查", actor=actor).survey_id
    data = workbook({"回收表": [
        ["锦华苑业主满意度调查（2026年下半年）"],
        ["楼栋", "房号", "客服服务", "工程服务", "秩序维护", "环境卫生", "绿化", "开发商", "意见或建议", "问卷编号"],
        ["3号楼", "101", 5, 4, 4, 5, 5, 3, "电梯维修要及时", "A-1"],
        ["3栋", "102室", "满意", 4, 4, 4, 4, 4, "", "A-2"],
        ["3幢", 201, 4, 4, 4, 4, 4, 4, "快递柜不够", "A-3"],
        ["3座", "202", 3, 3, 3, 3, 3, 3, None, "A-4"],
        ["3#", "301", 5, 5, 5, 5, 5, 5, "保安很负责", "A-5"],
        [3, "302", 4, 4, 4, 4, 4, 4, None, "A-6"],
        ["３栋", "４０１", 2, 2, 2, 2, 2, 2, "停车难", "A-7"],
        [" 3 号楼 ", " 402 ", 4, 4, 4, 4, 4, 4, None, "A-8"],
        ["12栋", "101", 5, 5, 5, 5, 5, 5, None, "A-9"],
        ["3 栋", "101", 1, 1, 1, 1, 1, 1, "同一户再交一份", "A-10"],
    ]})
    before = counts(session)
    preview = import_survey_responses(session, survey_id=survey_id, data=data, file_name="回收表.xlsx",
                                      actor=actor, dry_run=True)
    assert counts(session) == before
    assert (preview.counts["new"], preview.counts["duplicate"], preview.counts["error"]) == (9, 1, 0)
    assert preview.ignored_columns == ("问卷编号",) and "「问卷编号」" in preview.unused_warning
    assert [p.message for p in preview.problems] == [
        "「回收表」第12行 楼栋 / 房号 3栋-101 与第3行重复：只计第3行，本行不计入"]

    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="回收表.xlsx", actor=actor)
    assert result.written and (result.counts["new"], result.counts["duplicate"], result.counts["error"]) == (9, 1, 0)
    responses = {r.unit_id: r for r in session.scalars(
        select(SurveyResponse).where(SurveyResponse.survey_id == survey_id))}
    assert set(responses) == {u.id for u in units.values()} | {other.id}
    first = responses[units["101"].id]
    assert first.comments == "电梯维修要及时"  # the first form counts, not the repeat
    scores = dict(session.execute(select(SurveyScore.topic, SurveyScore.score)
                                  .where(SurveyScore.response_id == first.id)).all())
    assert scores == {SurveyTopic.SERVICE: 5, SurveyTopic.ENGINEERING: 4, SurveyTopic.SECURITY: 4,
                      SurveyTopic.ENVIRONMENT: 5, SurveyTopic.GREENING: 5, SurveyTopic.DEVELOPER: 3}
    assert session.scalar(select(func.count()).select_from(SurveyScore).join(SurveyScore.response).where(
        SurveyResponse.survey_id == survey_id, SurveyScore.topic == SurveyTopic.SERVICE)) == 9
    assert responses[units["202"].id].comments == "" and responses[units["301"].id].comments == "保安很负责"


@pytest.mark.parametrize("chunk", [1000, 1], ids=["units-listed", "project-wide"])
def test_owner_names_are_the_units_own_however_many_units(session, estate, monkeypatch, chunk):
    """More units than one IN list holds are checked against the project's customers in one query (CHUNK=1 makes
    three units "many"): each unit's own customers still decide, a customer of another unit makes no name right."""
    import actions.survey_import as survey_import

    project, units, actor, survey_id = estate
    monkeypatch.setattr(survey_import, "CHUNK", chunk)
    f.customer(session, project_=project, name="王五", unit_=units["1-102"])
    f.customer(session, project_=project, name="李四", unit_=units["1-104"])
    data = workbook({"S": [
        ["楼栋", "房号", "业主姓名", "客服部"],
        ["1栋", "1-101", "张伟", 5],
        ["1栋", "1-102", "李四", 4],  # 李四 is 1-104's customer, not 1-102's
        ["1栋", "1-103", "赵六", 3],  # no customer registered: nothing to compare with
    ]})
    before = counts(session)
    for dry_run in (True, False):
        result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="业主.xlsx", actor=actor,
                                         dry_run=dry_run)
        assert not result.written and counts(session) == before
        assert result.counts["new"] == 2 and result.counts["error"] == 1
        assert [p.message for p in result.problems] == [
            "「S」第3行 业主姓名 李四 不是该房屋登记的客户（请核对楼栋、房号）"]
    right = workbook({"S": [["楼栋", "房号", "业主姓名", "客服部"], ["1栋", "1-101", "张伟", 5],
                            ["1栋", "1-102", "王五", 4], ["1栋", "1-103", "赵六", 3]]})
    result = import_survey_responses(session, survey_id=survey_id, data=right, file_name="业主2.xlsx", actor=actor)
    assert result.written and result.counts["new"] == 3 and not result.problems
    assert set(session.scalars(select(SurveyResponse.unit_id).where(SurveyResponse.survey_id == survey_id))) == {
        units["1-101"].id, units["1-102"].id, units["1-103"].id}


def test_totals_in_any_of_the_first_three_columns(session, estate):
    """A 小计 in the 房号 column is skipped as a total, a number equal to nothing is data, and a 总计 in the 楼栋
    column ends the sheet: the footer rows after it are not read."""
    _, units, actor, survey_id = estate
    data = workbook({"S": [
        ["序号", "楼栋", "房号", "客服部"],
        [1, "1栋", "1-101", 5],
        [None, None, " 小 计", 5],
        [2, "1栋", "1-102", 4],
        [None, "总计", None, 9],
        [3, "1栋", "1-103", 3],
        ["制表人：李娜"],
    ]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="合计.xlsx", actor=actor)
    assert result.written and not result.problems
    assert result.counts["new"] == 2 and result.counts["totals"] == 2
    assert set(session.scalars(select(SurveyResponse.unit_id).where(SurveyResponse.survey_id == survey_id))) == {
        units["1-101"].id, units["1-102"].id}


def test_a_unit_typed_two_ways_is_one_household_and_an_empty_key_no_repeat(session, estate):
    """The repeat check folds 楼栋 and 房号 as staff type them (1号楼 1-101室 = 1栋 1-101); a row with an empty
    房号 is an error of its own, never a repeat of another."""
    _, units, actor, survey_id = estate
    data = workbook({"S": [
        ["楼栋", "房号", "客服部"],
        ["1栋", "1-101", 5],
        ["1号楼", "1-101室", 4],
        ["1栋", None, 3],
        ["1栋", None, 2],
    ]})
    before = counts(session)
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="重复.xlsx", actor=actor)
    assert not result.written and counts(session) == before
    assert [p.message for p in result.problems] == [
        "「S」第3行 楼栋 / 房号 1号楼-1-101室 与第2行重复：只计第2行，本行不计入",
        "「S」第4行 房号 为空",
        "「S」第5行 房号 为空",
    ]
    assert result.counts == {**result.counts, "new": 1, "duplicate": 1, "error": 2}


def test_comments_hold_what_the_console_form_holds(session, estate):
    """意见建议 is bounded as on the console's survey form (surveys.COMMENTS_MAX): 1,400 characters are kept; 2,001 are refused
    naming sheet, row and column, and nothing is written."""
    _, _, actor, survey_id = estate
    head = ["楼栋", "房号", "客服部", "意见建议"]
    before = counts(session)
    result = import_survey_responses(session, survey_id=survey_id, file_name="长.xlsx", actor=actor,
                                     data=workbook({"问卷": [head, ["1栋", "1-102", 5, "字" * 2_001]]}))
    assert not result.written and [(p.row, p.column) for p in result.problems] == [(2, "意见建议")]
    assert "「问卷」第2行 意见建议" in result.problems[0].message and "超过 2000 个字" in result.problems[0].message
    assert counts(session) == before
    kept = "电梯维修要及时" * 200  # 1,400 characters
    result = import_survey_responses(session, survey_id=survey_id, file_name="短.xlsx", actor=actor,
                                     data=workbook({"问卷": [head, ["1栋", "1-101", 5, kept]]}))
    assert result.written and not result.problems, [p.message for p in result.problems]
    assert session.scalar(select(SurveyResponse.comments)) == kept


def test_the_lookups_are_read_while_calamine_parses(session, estate, monkeypatch):
    """The units, the answered forms, the campaign's households and the owners' names are read while calamine
    parses the file (its read, patched below, waits for them), and the import then checks against them as before:
    a wrong owner is refused, an answered unit is 重复, an unlisted one joins the campaign."""
    import threading

    from actions.spreadsheets import reader

    _, units, actor, survey_id = estate
    first = workbook({"S": [["楼栋", "房号", "客服部"], ["1栋", "1-102", 5]]})
    import_survey_responses(session, survey_id=survey_id, data=first, file_name="a.xlsx", actor=actor)
    read = threading.Event()
    overlapped = []
    real_pieces, real_prefetch = reader.Pieces._read, SurveyImporter.prefetch

    def pieces(*args):  # a real run's file is parsed a piece at a time, in a thread of its own
        overlapped.append(read.wait(timeout=5))
        return real_pieces(*args)

    def prefetch(self, size):
        real_prefetch(self, size)
        read.set()

    monkeypatch.setattr(reader.Pieces, "_read", pieces)
    monkeypatch.setattr(SurveyImporter, "prefetch", prefetch)
    wrong = workbook({"S": [["楼栋", "房号", "业主姓名", "客服部"], ["1栋", "1-101", "李四", 5]]})
    result = import_survey_responses(session, survey_id=survey_id, data=wrong, file_name="b.xlsx", actor=actor)
    assert not result.written and "李四 不是该房屋登记的客户" in result.problems[0].message
    before = counts(session)
    data = workbook({"S": [["楼栋", "房号", "业主姓名", "客服部"], ["1栋", "1-101", "张伟", 5], ["1栋", "1-102", None, 4],
                           ["2栋", "2-102", None, 3]]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="c.xlsx", actor=actor)
    assert overlapped == [True, True]
    assert result.written and result.counts["new"] == 2 and result.counts["duplicate"] == 1
    assert counts(session)["SurveyResponse"] == before["SurveyResponse"] + 2
    assert session.get(ImportBatch, result.batch_id).counts["households_added"] == 1
    assert session.scalar(select(SurveyHousehold.collected).where(SurveyHousehold.survey_id == survey_id,
                                                                  SurveyHousehold.unit_id == units["2-102"].id))


def test_pieces_are_written_as_they_are_checked_and_rolled_back_at_an_error(session, estate, monkeypatch):
    """Streamed two rows a piece: the first pieces are written (by the writer thread) before the last is checked;
    its bad row then takes every piece back — nothing is left, every problem is listed, and a repeat across pieces
    names the first row."""
    import threading

    from actions import survey_import
    from actions.spreadsheets import pipeline

    _, _, actor, survey_id = estate
    monkeypatch.setattr(pipeline, "STREAM_ROWS", 2)
    real = survey_import.insert_rows
    written = []

    def insert_rows(session, table, columns, rows, **kw):
        if table.name == "survey_response":
            written.append((threading.current_thread().name, len(rows), session.scalar(
                select(func.count()).select_from(SurveyResponse))))
        return real(session, table, columns, rows, **kw)

    monkeypatch.setattr(survey_import, "insert_rows", insert_rows)
    before = counts(session)
    data = workbook({"问卷": [
        HEADER,
        [1, "1栋", "1-101", "张伟", "2026-03-05", 5, 5, 5, 5, 5, 5, ""],
        [2, "1栋", "1-102", "", "", 4, 4, 4, 4, 4, 4, ""],
        [3, "1栋", "1-103", "", "", 3, 3, 3, 3, 3, 3, ""],
        [4, "2栋", "2-101", "", "", 3, 3, 3, 3, 3, 3, ""],
        [5, "1栋", "1-102", "", "", 2, 2, 2, 2, 2, 2, ""],
        [6, "1栋", "1-104", "", "", "优", 2, 2, 2, 2, 2, ""],
    ]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="坏.xlsx", actor=actor)
    assert written == [("survey-forms", 2, before["SurveyResponse"]), ("survey-forms", 2, before["SurveyResponse"] + 2)]
    assert not result.written and counts(session) == before
    assert (result.counts["new"], result.counts["duplicate"], result.counts["error"]) == (4, 1, 1)
    messages = [p.message for p in result.problems]
    assert messages[0] == "「问卷」第6行 楼栋 / 房号 1栋-1-102 与第3行重复：只计第3行，本行不计入"
    assert messages[1].startswith("「问卷」第7行 客服部 「优」不是评分")
    # the same file with the bad score mended is written whole, the repeat not counted
    data = workbook({"问卷": [HEADER, *([i, b, r, "", "", 4, 4, 4, 4, 4, 4, ""] for i, b, r in (
        (1, "1栋", "1-101"), (2, "1栋", "1-102"), (3, "1栋", "1-103"), (4, "2栋", "2-101"), (5, "1栋", "1-102"),
        (6, "1栋", "1-104")))]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="好.xlsx", actor=actor)
    assert result.written and (result.counts["new"], result.counts["duplicate"]) == (5, 1)
    assert counts(session)["SurveyResponse"] == before["SurveyResponse"] + 5


def _survey_sheet(rows: list[tuple[str, str, str]], last: bytes = b"") -> bytes:
    """A sheet of 楼栋, 房号, 客服部 rows as inline strings, then ``last`` (raw row XML)."""
    body = b"".join(
        f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>{b}</t></is></c><c r="B{i}" t="inlineStr"><is><t>{r}</t>'
        f'</is></c><c r="C{i}"><v>{score}</v></c></row>'.encode() for i, (b, r, score) in enumerate(rows, start=2))
    return with_sheet(body + last)


def test_a_piece_calamine_refuses_mid_stream_takes_back_the_pieces_written(session, estate, monkeypatch):
    """Read and written a row a piece: the pieces before it are written (by the writer thread) while the file is
    still being parsed; the piece calamine cannot read refuses the whole file, as a whole read does — and nothing
    is left of the pieces written."""
    from actions import survey_import
    from actions.spreadsheets import pipeline, reader

    _, _, actor, survey_id = estate
    monkeypatch.setattr(pipeline, "STREAM_ROWS", 1)
    monkeypatch.setattr(reader, "STRINGS_SHARE", 0)
    real = survey_import.insert_rows
    written = []

    def insert_rows(session, table, columns, rows, **kw):
        if table.name == "survey_response":
            written.append(len(rows))
        return real(session, table, columns, rows, **kw)

    monkeypatch.setattr(survey_import, "insert_rows", insert_rows)
    before = counts(session)
    # more rows than the header is looked for among (the rows after them are read as the check goes), the later
    # ones repeats
    forms = [("1栋", f"1-10{1 + i % 3}", str(5 - i % 3)) for i in range(HEADER_SCAN_ROWS + 5)]
    data = _survey_sheet(forms, f'<row r="{len(forms) + 2}"><c r="A{len(forms) + 2}" t="inlineStr"><is><t>1栋</t>'
                         f'</is></c><c r="C{len(forms) + 2}" t="n"><v>abc</v></c></row>'.encode())
    with pytest.raises(Refused, match="文件已损坏或不是有效的 .xlsx 工作簿"):
        import_survey_responses(session, survey_id=survey_id, data=data, file_name="坏.xlsx", actor=actor)
    assert sum(written) == 3  # the pieces before the bad one went to the database
    assert counts(session) == before
    # mended, the same rows are read in pieces and written whole
    data = _survey_sheet([("1栋", "1-101", "5"), ("1栋", "1-102", "4"), ("1栋", "1-103", "3"), ("1栋", "1-104", "2")])
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="好.xlsx", actor=actor)
    assert result.written and result.counts["new"] == 4
    assert counts(session)["SurveyResponse"] == before["SurveyResponse"] + 4


def test_a_merge_below_the_header_is_reported_when_read_in_pieces(session, estate, monkeypatch):
    """A merged 房号 under the header needs its top cell before the rows below are checked: the sheet is read whole
    first, and each row under the merge is named as a whole read names it; nothing is written."""
    from actions.spreadsheets import pipeline, reader

    _, _, actor, survey_id = estate
    monkeypatch.setattr(pipeline, "STREAM_ROWS", 1)
    monkeypatch.setattr(reader, "STRINGS_SHARE", 0)
    before = counts(session)
    data = workbook({"S": [["楼栋", "房号", "客服部"], ["1栋", "1-101", 5], ["1栋", None, 4], ["1栋", None, 3]]},
                    merged={"S": ["B2:B4"]})
    result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="a.xlsx", actor=actor)
    assert [p.message for p in result.problems] == ["「S」第3行 房号 为空（合并单元格？请取消合并并逐行填写）",
                                                    "「S」第4行 房号 为空（合并单元格？请取消合并并逐行填写）"]
    assert not result.written and counts(session) == before


def test_a_department_ticked_in_columns_of_its_own_is_refused_saying_how_to_lay_it_out(session, estate):
    """Paper forms tallied 「客服部」 over 「满意 | 基本满意 | 不满意」 ticked √: the sub-headings row was read as a form
    (「第2行 楼栋 为空（合并单元格？）」), each tick in the first column 「「√」不是评分」 and ticks in the others
    not read at all. The sheet is refused at once, naming the columns and the layout to use; nothing written."""
    _, _, actor, survey_id = estate
    before = counts(session)
    data = workbook({"汇总": [
        ["楼栋", "房号", "客服部", None, None, "工程部", None, None],
        [None, None, "满意", "基本满意", "不满意", "满意", "基本满意", "不满意"],
        ["1栋", "1-101", "√", None, None, None, "√", None],
        ["1栋", "1-102", None, None, "√", "√", None, None],
    ]}, merged={"汇总": ["A1:A2", "B1:B2", "C1:E1", "F1:H1"]})
    with pytest.raises(Refused) as refused:
        import_survey_responses(session, survey_id=survey_id, data=data, file_name="汇总.xlsx", actor=actor)
    assert refused.value.message == (
        "工作表「汇总」第 1–2 行是两行表头：「客服部」下分为「满意、基本满意、不满意」3 列，而每项只能占一列："
        "请把「客服部」合并为一列填写（1–5 分，或填 非常满意/满意/基本满意/不满意/很不满意，也可写“5分”）后重新导入"
        "（可下载导入模板对照）")
    assert counts(session) == before


def test_an_error_value_read_with_pieces_asked_for_is_the_row_error_of_the_whole_read(session, estate, monkeypatch):
    """#N/A of a VLOOKUP kept by 「选择性粘贴 → 数值」 in 客服部: a real run (which asks for the sheet in pieces, a row
    at a time) names it on its row exactly as the whole read does — never a blank score; nothing is written."""
    import zipfile

    from actions.spreadsheets import pipeline, reader

    _, _, actor, survey_id = estate
    rows = [["楼栋", "房号", "客服部", "工程部"], *(["1栋", f"1-10{i}", 5, 4] for i in range(1, 5))]
    rows[3][2] = "#N/A"
    data = workbook({"S": rows})
    assert b't="e"' in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")  # a real error cell
    before = counts(session)
    outcomes = []
    for stream_rows in (pipeline.STREAM_ROWS, 1):  # whole, then asked for in pieces of a row
        monkeypatch.setattr(pipeline, "STREAM_ROWS", stream_rows)
        monkeypatch.setattr(reader, "STRINGS_SHARE", 0)
        result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="回收.xlsx", actor=actor)
        assert not result.written and counts(session) == before
        outcomes.append([(p.sheet, p.row, p.column, p.value, p.reason) for p in result.problems])
    assert outcomes[0] == outcomes[1] == [
        ("S", 4, "客服部", "#N/A", "为错误值 #N/A（公式出错）：请改正或删除该单元格后重新导入")]
