"""导入满意度问卷: the responses staff type from the paper forms, read from their own spreadsheets.

Columns are found by their Chinese names and the usual variants (房号 / 房间号 / 户号 …); each department's
score may be a number (1 … the survey's full mark), ``5分`` or a word (非常满意 … 很不满意). Each row's unit is
resolved by 楼栋 + 房号 within the survey's project — and, when an 业主姓名 is given, it must be one of the
unit's registered customers, so a mistyped room number is caught rather than scored to the neighbour.
楼栋 and 房号 are read as staff type them (3号楼 / 3栋 / 3幢 / 3座 / 3# / 3 / full-width: one building). A unit
that has already answered this survey — or earlier in the same file — is reported as 重复 and not counted
twice (the first form counts); the households that
answered are marked 已回收 (and added to the campaign if they were not in it). A 填表日期 after today (Beijing
time) is an error: a form cannot have been filled in yet. Forms coming back mean the survey has been run: one
still 筹备中 becomes 发放中, and counts in the figures from then on.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from itertools import repeat

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import (
    SCORE_COLUMNS,
    AuditKind,
    Building,
    Customer,
    ImportBatch,
    Survey,
    SurveyAnswerTally,
    SurveyHousehold,
    SurveyResponse,
    SurveyTopic,
    Unit,
    UnitCustomer,
    UnitRelation,
    label_of,
)
from models.totals import SURVEY_ANSWER_TALLY, SURVEY_HOUSEHOLD_TALLY

from .actor import Actor
from .audit import IMPORT_TITLES, as_actor, record_batch
from .errors import Refused
from .kernel.periods import today_local
from .kernel.sql import among_ids
from .spreadsheets import clean
from .spreadsheets.bulk import insert_rows
from .spreadsheets.header import Field, Header
from .spreadsheets.pipeline import (
    LIMITS,
    Importer,
    ImportResult,
    Limits,
    Outcome,
    Progress,
    Row,
    Stream,
    run_import,
)
from .spreadsheets.records import UnitRefs
from .surveys import COMMENTS_MAX, before_the_survey, check_open, mark_run, survey_in_scope

# The words staff use for each department's column, besides its label; each also with 服务 and a score word
# after it (客服 → 客服服务, 客服满意度, 客服服务满意度).
TOPIC_VARIANTS: dict[SurveyTopic, tuple[str, ...]] = {
    SurveyTopic.SERVICE: ("客服", "客服部", "客户服务", "客户服务部", "客服中心", "前台", "前台服务", "前台接待"),
    SurveyTopic.ENGINEERING: ("工程", "工程维修", "维修", "维修服务", "设备维修", "工程维护"),
    SurveyTopic.SECURITY: ("安保部", "安保", "秩序", "秩序维护", "保安", "秩序维护部", "安全管理", "治安", "门岗"),
    SurveyTopic.ENVIRONMENT: ("环境管理部", "环境", "环境卫生", "保洁", "卫生", "清洁", "清洁卫生", "环卫"),
    SurveyTopic.GREENING: ("绿化", "园林绿化", "绿化养护", "园林"),
    SurveyTopic.DEVELOPER: ("开发商", "开发公司", "开发公司工程部", "开发商工程部", "房屋质量", "建筑质量"),
}
SCORE_SUFFIXES = ("满意度", "评分", "得分", "评价", "打分", "满意程度")
COMMENT_VARIANTS = ("意见", "建议", "意见和建议", "意见及建议", "意见或建议", "意见与建议", "意见建议", "其他意见",
                    "其它意见", "其他建议", "您的意见和建议", "您的意见或建议", "业主意见", "备注", "留言", "说明")
OWNER_LABEL = UnitRelation.OWNER.label + label_of(Customer, "name")  # 业主姓名
CHUNK = 1000
# Fewer compressed bytes than any row of a survey sheet takes (its row tag, its cells' references and values):
# a file's size over this bounds its rows.
BYTES_PER_ROW = 16


def score_key(topic: SurveyTopic) -> str:
    return f"score:{topic.value}"


def _topic_suffixes() -> tuple[str, ...]:
    return ("", "服务", *SCORE_SUFFIXES, *("服务" + s for s in SCORE_SUFFIXES))


def survey_fields(scale_max: int = 5) -> tuple[Field, ...]:
    score = clean.satisfaction(scale_max)
    scale_note = f"1–{scale_max} 分，或填 非常满意/满意/基本满意/不满意/很不满意，也可写“5分”"
    topics = tuple(
        Field(
            score_key(t), t.label, score,
            variants=tuple(n + s for n in (t.label, *TOPIC_VARIANTS[t]) for s in _topic_suffixes()),
            note=scale_note, choices=("非常满意", "满意", "基本满意", "不满意", "很不满意"), example="满意",
        )
        for t in SurveyTopic
    )
    return (
        Field("building", label_of(Building, "name"), clean.code(32), required=True,
              variants=("楼号", "栋号", "楼栋号", "幢号", "楼宇", "栋", "幢"), example="1栋"),
        Field("room_no", label_of(Unit, "room_no"), clean.code(32), required=True,
              variants=("房间号", "户号", "室号", "房屋编号", "门牌号"), note="与系统中的房号一致，不含楼栋，如 101", example="101"),
        Field("owner", OWNER_LABEL, clean.text(64), variants=("业主", "户主", "业主名称"),
              note="填写时须与该房屋登记的客户姓名一致", example="张伟"),
        Field("respondent", label_of(SurveyResponse, "respondent"), clean.text(64),
              variants=("填写人", "住户姓名", "客户姓名", "姓名"), note="不填时按业主姓名", example="张伟"),
        Field("answered_on", label_of(SurveyResponse, "answered_on"), clean.date(),
              variants=("日期", "调查日期", "回收日期", "填写日期"), note="如 2026-03-05", example="2026-03-05"),
        Field("signed", label_of(SurveyResponse, "signed"), clean.boolean(), variants=("是否署名", "署名"),
              note="是/否；不填时有填表人即视为已署名", choices=("是", "否"), example="是"),
        *topics,
        Field("overall_score", label_of(SurveyResponse, "overall_score"), score,
              variants=("总体评价", "综合满意度", "整体满意度", "总评", "总体", "综合评价"), note=scale_note,
              choices=("非常满意", "满意", "基本满意", "不满意", "很不满意"), example="满意"),
        Field("comments", label_of(SurveyResponse, "comments"), clean.text(COMMENTS_MAX),
              variants=COMMENT_VARIANTS, example="电梯维修要及时"),
    )


TOPIC_KEYS = tuple(score_key(t) for t in SurveyTopic)
SCORE_KEYS = (*TOPIC_KEYS, "overall_score")
# What a form writes, in order: one row per form, its department scores in their own columns.
FORM_COLUMNS = ("project_id", "survey_id", "batch_id", "unit_id", "respondent", "signed", "answered_on",
                "overall_score", "comments", *SCORE_COLUMNS.values())


class SurveyImporter(Importer):
    kind = "surveys"
    title = SurveyResponse.__label__
    allow_csv = False
    key = ("building", "room_no")
    repeats_skipped = True
    notes = (
        "每行一户：楼栋、房号必填，各部门评分至少填写一项。",
        "同一房屋在本次调查中只计一份问卷：已导入过的房屋、文件中再次出现的房屋显示为“重复”，只计第一份。",
        "楼栋可写 3号楼、3栋、3幢、3座、3#、3 等，均视为同一栋。",
        "合计、平均等汇总行和空行会自动跳过。",
    )

    def __init__(self, session: Session, actor: Actor, survey: Survey) -> None:
        super().__init__(session, actor)
        self.survey = survey
        self._fields = survey_fields(survey.scale_max or 5)
        self._units = UnitRefs(session, {survey.project_id})
        # Read ahead while calamine parses the file (prefetch); None: read when needed.
        self._answered: set[int] | None = None
        self._listed: set[int] | None = None
        self._names: dict[int, set[str]] | None = None
        self._scored: bool | None = None  # streamed: whether any sheet's header has a score column

    def prefetch(self, size: int) -> None:
        """What the check and the write read, read while calamine parses the file (on another core): the project's
        units by 楼栋 + 房号, the units that answered already, the campaign's households, and — for a file that may
        name about as many units as the project holds — the units' customers' names."""
        survey = self.survey
        rows = size // BYTES_PER_ROW  # at least the file's rows
        whole = self._units.prefetch(survey.project_id, rows)
        self._answered = self._answered_units()
        self._listed = self._listed_units()
        if whole:
            self._names = self._project_customers()

    def fields(self) -> tuple[Field, ...]:
        return self._fields

    def target(self) -> str:
        return f"survey:{self.survey.id}"

    def project_id(self) -> int:
        return self.survey.project_id

    def check(self, rows: list[Row]) -> None:
        scored = self._scored if self._scored is not None else any(k in row.values for row in rows for k in SCORE_KEYS)
        if rows and not scored:
            labels = "、".join(f.label for f in self._fields if f.key in SCORE_KEYS)
            raise Refused(f"文件中没有评分列：应至少有 {labels} 中的一列")
        rows = [r for r in rows if r.outcome is Outcome.NEW]  # neither failed nor a repeat within the file
        # Column by column (one map per column, C loops), each row looked at only where it fails: a file's
        # 100,000 forms pass here, and few of them fail.
        values = [r.values for r in rows]

        def column(key: str) -> list:
            return list(map(dict.get, values, repeat(key)))

        for i, scores in enumerate(zip(*map(column, SCORE_KEYS), strict=True)):
            if scores.count(None) == len(SCORE_KEYS):
                rows[i].fail("", "", "没有任何评分：至少填写一个部门的满意度")
        today = today_local()
        date_label = self.label("answered_on")
        start = self.survey.start_date
        for i, answered_on in enumerate(column("answered_on")):
            if answered_on is not None and answered_on > today:
                rows[i].fail(date_label, answered_on, f"不能晚于今天（{today}，北京时间）")
            elif answered_on is not None and start is not None and answered_on < start:
                rows[i].fail(date_label, answered_on, before_the_survey(start))
        rows = [r for r in rows if r.outcome is Outcome.NEW]  # still standing after the checks of the row alone
        values = [r.values for r in rows]
        buildings, rooms = column("building"), column("room_no")
        units = self._units.ids(self.survey.project_id, buildings, rooms)
        building_label, room_label = self.label("building"), self.label("room_no")
        resolved = []
        for row, v, unit_id in zip(rows, values, units, strict=True):
            if unit_id is None:
                building, room = v["building"], v["room_no"]
                row.fail(f"{building_label}/{room_label}", f"{building}-{room}",
                         self._units.missing(self.survey.project_id, building, room))
            else:
                v["unit_id"] = unit_id
                resolved.append(row)
        owners = [(r, r.values["owner"]) for r in resolved if r.values.get("owner")]
        customers = self._customers([r.values["unit_id"] for r, _ in owners])
        for row, owner in owners:
            if (names := customers.get(row.values["unit_id"])) and owner not in names:
                row.fail(OWNER_LABEL, owner, f"{owner} 不是该房屋登记的客户（请核对楼栋、房号）")
        answered = self._answered if self._answered is not None else self._answered_units()
        if answered:
            for row in resolved:
                if row.outcome is Outcome.NEW and row.values["unit_id"] in answered:
                    row.duplicate(room_label, row.values["room_no"], "该房屋已提交过本次调查问卷，不重复计入")

    def _answered_units(self) -> set[int]:
        return set(self.session.connection().execute(  # Core rows: a survey's 100,000 forms may pass here
            select(SurveyResponse.unit_id).where(SurveyResponse.survey_id == self.survey.id)
        ).scalars())

    def _listed_units(self) -> set[int]:
        return set(self.session.connection().execute(  # Core rows: the campaign's 100,000 households pass here
            select(SurveyHousehold.unit_id).where(SurveyHousehold.survey_id == self.survey.id)).scalars())

    def _customers(self, unit_ids: list[int]) -> dict[int, set[str]]:
        """The registered customers' names of each unit of ``unit_ids`` (all of the survey's project). More units
        than one ``IN`` list holds are read in one query over the project's units, kept where wanted: a hundred
        queries of a thousand parameters each cost PostgreSQL 0.4 s of a 100,000-form import."""
        if self._names is not None:
            return self._names
        wanted = set(unit_ids)
        if len(wanted) > CHUNK:
            return self._project_customers()
        names: dict[int, set[str]] = defaultdict(set)
        stmt = (select(UnitCustomer.unit_id, Customer.name).join(Customer, UnitCustomer.customer_id == Customer.id)
                .where(UnitCustomer.unit_id.in_(sorted(wanted))))
        for unit_id, name in self.session.connection().execute(stmt):
            names[unit_id].add(name)
        return names

    def _project_customers(self) -> dict[int, set[str]]:
        """The registered customers' names of every unit of the survey's project that has any."""
        names: dict[int, set[str]] = defaultdict(set)
        stmt = (select(UnitCustomer.unit_id, Customer.name).join(Customer, UnitCustomer.customer_id == Customer.id)
                .join(Unit, UnitCustomer.unit_id == Unit.id).where(Unit.project_id == self.survey.project_id))
        for unit_id, name in self.session.connection().execute(stmt):
            names[unit_id].add(name)
        return names

    def write(self, rows: list[Row], batch: ImportBatch) -> dict[str, int]:
        """One row per form, the department scores in its columns: ``COPY`` on PostgreSQL, the driver's
        executemany on SQLite — nothing per score."""
        forms = _Forms(self, batch)
        forms.add(rows)
        with self._gone(forms.values), self._tallied(batch, forms):
            self._add_households(forms.units)  # first: a form's key is its household
            insert_rows(self.session, SurveyResponse.__table__, FORM_COLUMNS, forms.rows)
        return self._finish(rows, batch, forms)

    def streams(self) -> bool:
        """Streamed when everything the check needs was read ahead (:meth:`prefetch`): the check of a piece then
        reads nothing, and the connection is the writer's."""
        return None not in (self._answered, self._listed, self._names)  # the names only with the units read whole

    @contextlib.contextmanager
    def stream(self, batch: ImportBatch, headers: list[Header]) -> Iterator[Stream]:
        """Each piece's households and forms written by a thread of its own, as :meth:`write` writes them all, while
        the next piece is read and checked; the tallies counted from the pieces; then the rest as :meth:`write`."""
        self._scored = any(k in h.columns for h in headers for k in SCORE_KEYS)
        forms = _Forms(self, batch)
        writer = _Writer(self)
        with self._gone(forms.values), self._tallied(batch, forms):
            writer.start()
            try:
                yield _FormStream(self, batch, forms, writer)
            finally:
                writer.close()
            if writer.error is not None:
                raise writer.error

    @contextlib.contextmanager
    def _gone(self, values: list[dict]) -> Iterator[None]:
        """A household deleted meanwhile by another transaction (its key refused a form), in Chinese."""
        try:
            yield
        except Exception as exc:
            if (gone := _household_gone(exc, values)) is None:
                raise
            raise Refused(f"导入{self.title}未完成：{gone}的{SurveyHousehold.__label__}刚刚已被他人删除（或其房屋、调查被删除），"
                          "本次没有写入任何内容。请重新上传预览，核对后再导入") from exc

    def _tallied(self, batch: ImportBatch, forms: _Forms):
        """Around the forms' writes: the answers' tallies counted from the forms written, not read back."""
        survey = self.survey

        def counted() -> dict[tuple, tuple]:  # the batch's forms are these
            questions = (*(t.value for t in SurveyTopic), SurveyAnswerTally.OVERALL)
            return {(survey.id, question, score): (n,)
                    for question, values in zip(questions, forms.answers, strict=True)
                    for score, n in values.items() if score is not None}

        return SURVEY_ANSWER_TALLY.in_bulk(self.session.connection(), f"batch_id = {int(batch.id)}", counted)

    def _finish(self, rows: list[Row], batch: ImportBatch, forms: _Forms) -> dict[str, int]:
        """After the forms: their audit row, the households' (joined, 已回收), the survey marked run."""
        survey = self.survey
        if forms.added:
            record_batch(self.session, kind=AuditKind.INSERT, table=SurveyHousehold.__tablename__, batch_id=batch.id,
                         count=forms.added, project_id=survey.project_id, actor=self.actor,
                         details={"survey_id": survey.id},
                         summary=f"列入{SurveyHousehold.__label__}并已回收 {forms.added} 户（不在原调查范围内）"
                                 f"（批次 #{batch.id}）")
        count = len(forms.values)
        if count:  # a file of nothing but answered units writes nothing to record
            record_batch(
                self.session, kind=AuditKind.INSERT, table=SurveyResponse.__tablename__, batch_id=batch.id,
                count=count, project_id=survey.project_id, actor=self.actor,
                details={"file_name": batch.file_name, "sheets": sorted({r.sheet for r in rows}),
                         "survey_id": survey.id, "scores": forms.scores},
                summary=f"导入{SurveyResponse.__label__} {count} 份（批次 #{batch.id}）",
            )
        self._mark_collected(batch, forms.all_units)
        if count:  # forms came back: it has been run
            mark_run(survey)
            self.session.flush()
        return {"responses": count, "scores": forms.scores, "households_added": forms.added}

    def _add_households(self, units: list[int]) -> int:
        """A unit that answered but was not in the campaign joins it, already 已回收 (it was surveyed): its form
        needs its household. Returns how many joined (their audit row: :meth:`_finish`)."""
        survey = self.survey
        if self._listed is None:
            self._listed = self._listed_units()
        listed = self._listed
        missing = [(survey.project_id, survey.id, unit, True) for unit in units if unit not in listed]
        insert_rows(self.session, SurveyHousehold.__table__, ("project_id", "survey_id", "unit_id", "collected"), missing)
        listed.update(unit for _, _, unit, _ in missing)
        return len(missing)

    def _mark_collected(self, batch: ImportBatch, units: list[int]) -> None:
        """The answering households (``units``: those of the batch's forms) are 已回收. The tally moves the
        households this marks from not collected to collected: counted from the UPDATE's own row count, not read
        from the table."""
        survey = self.survey
        answered = among_ids(self.session, SurveyHousehold.unit_id, units,
                             select(SurveyResponse.unit_id).where(SurveyResponse.batch_id == batch.id))
        marked = 0

        def moved() -> dict[tuple, tuple]:
            return {(survey.id, False): (-marked,), (survey.id, True): (marked,)}

        with SURVEY_HOUSEHOLD_TALLY.changed_by(self.session.connection(), moved):
            marked = self.session.execute(
                update(SurveyHousehold)
                .where(SurveyHousehold.survey_id == survey.id, answered,
                       SurveyHousehold.collected.is_(False))
                .values(collected=True),
                execution_options={"synchronize_session": False},
            ).rowcount
        if marked:
            record_batch(self.session, kind=AuditKind.UPDATE, table=SurveyHousehold.__tablename__, batch_id=batch.id,
                         count=marked, project_id=survey.project_id, actor=self.actor, details={"survey_id": survey.id},
                         summary=f"{SurveyHousehold.__label__}已回收 {marked} 户（批次 #{batch.id}）")


class _Forms:
    """The batch's forms, a piece at a time: each piece's rows to write and units, and what the audit and the
    tallies need of them all."""

    def __init__(self, importer: SurveyImporter, batch: ImportBatch) -> None:
        self.importer, self.batch = importer, batch
        self.values: list[dict] = []  # every form's values, in order (a refusal names one of them)
        self.rows: list[tuple] = []  # the last piece's, as written
        self.units: list[int] = []  # the last piece's
        self.all_units: list[int] = []
        self.answers = [Counter() for _ in SCORE_KEYS]  # per question, score → forms
        self.scores = 0
        self.added = 0  # households that joined the campaign

    def add(self, rows: list[Row]) -> None:
        new = [r.values for r in rows if r.outcome is Outcome.NEW]
        survey, batch = self.importer.survey, self.batch

        def column(key: str) -> list:  # column by column: one map per column, not a tuple and lookups per form
            return list(map(dict.get, new, repeat(key)))

        who = [r or o or "" for r, o in zip(column("respondent"), column("owner"), strict=True)]
        signed = [bool(w) if s is None else s for w, s in zip(who, column("signed"), strict=True)]
        topics = [column(k) for k in TOPIC_KEYS]
        overall = column("overall_score")
        self.units = column("unit_id")
        self.scores += sum(len(c) - c.count(None) for c in topics)
        for tally, values in zip(self.answers, (*topics, overall), strict=True):
            tally.update(values)
        self.rows = list(zip(repeat(survey.project_id), repeat(survey.id), repeat(batch.id), self.units, who, signed,
                             column("answered_on"), overall, [c or "" for c in column("comments")], *topics))
        self.values += new
        self.all_units += self.units


class _Writer(threading.Thread):
    """Writes the pieces handed to it — each piece's new households, then its forms — in the import's transaction,
    while the caller's thread reads and checks the next: the driver waits for the database (and SQLite steps)
    without the GIL. The first error stops it; the caller raises it once the writer has ended."""

    def __init__(self, importer: SurveyImporter) -> None:
        super().__init__(name="survey-forms", daemon=True)
        self.importer = importer
        self.pieces: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None

    def run(self) -> None:
        importer = self.importer
        while (piece := self.pieces.get()) is not None:
            if self.error is not None:
                continue
            units, rows, done = piece
            try:
                done.append(importer._add_households(units))
                insert_rows(importer.session, SurveyResponse.__table__, FORM_COLUMNS, rows)
            except BaseException as exc:  # raised again in the caller's thread
                self.error = exc

    def put(self, units: list[int], rows: list[tuple], done: list[int]) -> None:
        self.pieces.put((units, rows, done))

    def close(self) -> None:
        self.pieces.put(None)
        self.join()


class _FormStream(Stream):
    def __init__(self, importer: SurveyImporter, batch: ImportBatch, forms: _Forms, writer: _Writer) -> None:
        self.importer, self.batch, self.forms, self.writer = importer, batch, forms, writer
        self.added: list[int] = []  # households joined, a count per piece (by the writer)

    def write(self, rows: list[Row]) -> None:
        if self.writer.error is None:
            self.forms.add(rows)
            self.writer.put(self.forms.units, self.forms.rows, self.added)

    def finish(self, rows: list[Row]) -> dict[str, int]:
        self.writer.close()
        if self.writer.error is not None:
            raise self.writer.error
        self.forms.added = sum(self.added)
        return self.importer._finish(rows, self.batch, self.forms)


def _household_gone(exc: BaseException, forms: list[dict]) -> str | None:
    """A form's household deleted by another transaction while the import wrote (its key refused the form,
    SQLSTATE 23503: the foreign key's or, on PostgreSQL, its trigger's — ``models.survey_keys``): the form's
    楼栋 房号 where the database names it, else "部分房屋". None for any other error."""
    error = getattr(exc, "orig", exc)
    if str(getattr(error, "sqlstate", "") or "") != "23503" and "FOREIGN KEY constraint failed" not in str(error):
        return None
    m = re.search(r"\(project_id, survey_id, unit_id\)=\(\d+, \d+, (\d+)\)", str(error) + str(getattr(
        getattr(error, "diag", None), "message_detail", "") or ""))
    form = next((v for v in forms if m and v["unit_id"] == int(m.group(1))), None)
    return f"{form['building']} {form['room_no']} " if form else "部分房屋"


IMPORT_TITLES[SurveyImporter.kind] = SurveyImporter.title


@as_actor
def import_survey_responses(
    session: Session,
    *,
    survey_id: int,
    data: bytes,
    file_name: str,
    actor: Actor,
    dry_run: bool = False,
    limits: Limits = LIMITS,
    progress: Progress | None = None,
) -> ImportResult:
    """Preview (``dry_run``) or import a workbook of survey responses into the survey ``survey_id``."""
    survey = survey_in_scope(session, survey_id, actor)
    check_open(survey)
    importer = SurveyImporter(session, actor, survey)
    return run_import(session, importer, data=data, file_name=file_name, dry_run=dry_run, limits=limits,
                      progress=progress)
