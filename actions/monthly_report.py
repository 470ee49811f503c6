"""客服月度报告 of a project (or of a branch: every project, then the total): the month's KPIs, the intake by
kind, the complaints by category, the major complaints and their handling, collection by phase, callbacks,
survey results (「—」 for a project without a survey run), and the staff scores. The same tables make the print view, the
.xlsx and the month-close snapshot (``month_close``).

Every figure is counted over a ``kpis`` record set, so the list behind a cell is the one its drill-down opens.

Once a month is closed the report is shown as reported: ``shown_report`` — what the page, the print view, the
.xlsx and ``wuye monthly-report`` all show — gives a closed project's frozen tables (the live ones only when
asked for) and, for every closed project, the corrections since (reported → current).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from models import (
    SHANGHAI,
    AuditKind,
    Bill,
    BillStatus,
    Building,
    GradeBand,
    LabeledEnum,
    MonthSnapshot,
    Payment,
    Phase,
    RequestCategory,
    RequestKind,
    Satisfaction,
    ServiceRequest,
    SurveyHousehold,
    SurveyResponse,
    SurveyTopic,
    Unit,
    Visit,
    VisitKind,
    WorkOrder,
    label_of,
)

from . import billing, kpis, score_results
from .actor import Actor
from .audit import as_actor, log_event, log_operation
from .kernel.names import natural_key
from .kpis import CATALOGUE, Drill, Figure, Scope
from .parallel_reads import Runner, in_turn
from .rates import meets_text
from .xlsx_out import XlsxFile, new_workbook, sheet_title, to_bytes, write_sheet

TOTAL = "合计"
PROJECT = label_of(ServiceRequest, "project")
KPI_TITLE = "主要指标"
COLLECTION_TITLE = "收费情况（按分期）"
PAID = label_of(Bill, "amount_paid")


@dataclass(frozen=True)
class Cell:
    value: Any = None  # a count, an amount, a text, a timestamp; None when empty
    shown: str | None = None  # the text shown (and frozen) instead of the value: rates, "—", 达标
    drill: Drill | None = None  # the records behind the figure
    record: tuple[str, int] | None = None  # (model name, id) of the one record the row is about

    @property
    def text(self) -> str:
        if self.shown is not None:
            return self.shown
        return plain(self.value)


def plain(value: Any) -> str:
    """A value as the report prints it, and as a snapshot freezes it."""
    if value is None:
        return ""
    if isinstance(value, LabeledEnum):
        return value.label
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    keys: int = 1  # the leading columns that name a row (the snapshot comparison matches rows by them)

    def row_key(self, row: Sequence[Cell]) -> str:
        return " / ".join(c.text for c in row[: self.keys])


@dataclass(frozen=True)
class MonthlyReport:
    month: str
    title: str
    scope: Scope
    tables: tuple[Table, ...]
    project_tables: dict[int, tuple[Table, ...]]  # each project's own report: what a month close freezes


def _rate_cell(figure: Figure) -> Cell:
    return Cell(figure.rate, figure.shown)


def _meets_cell(figure: Figure) -> Cell:
    return Cell(shown=meets_text(figure.meets))


@dataclass(frozen=True)
class _Data:
    """Everything the tables need, for every project at once: a fixed number of grouped queries."""

    month: str
    scope: Scope
    kpis: kpis.KpiFigures
    requests: dict[tuple[int, RequestKind], int]
    complaints: dict[tuple[int, RequestCategory], int]
    majors: list[Any]
    phases: list[billing.RateRow]
    visits: dict[tuple[int, VisitKind, Satisfaction | None], int]
    surveys: kpis.SurveyCounts
    scores: dict[int, score_results.MonthTable]
    grades: tuple[str, ...]


def _grouped(*columns: Any, where: Any) -> Callable[[Session], dict]:
    def read(session: Session) -> dict:
        rows = session.execute(select(*columns, func.count()).where(where).group_by(*columns)).all()
        return {tuple(r[:-1]): r[-1] for r in rows}

    return read


def _gather(session: Session, scope: Scope, month: str, run: Runner | None) -> _Data:
    ids = scope.project_ids
    if not ids:
        return _Data(month, scope, kpis.kpi_figures(session, scope=scope, months=[month]), {}, {}, [], [], {},
                     kpis.SurveyCounts({}, {}), {}, ())
    SR = ServiceRequest
    majors = (
        select(SR.id, SR.project_id, SR.received_at, Building.name, Unit.room_no, SR.category, SR.content, SR.status,
               SR.closed_at, SR.reply, WorkOrder.status, WorkOrder.result)
        .outerjoin(Unit, Unit.id == SR.unit_id)
        .outerjoin(Building, Building.id == Unit.building_id)
        .outerjoin(WorkOrder, WorkOrder.request_id == SR.id)
        .where(Drill("complaints_major", month, ids).where())
        .order_by(SR.project_id, SR.received_at, SR.id)
    )
    read = (run or in_turn(session))({
        **kpis.kpi_reads(scope, [month]),
        **kpis.overall_read(scope, kpis.covering([month])),
        "requests": _grouped(SR.project_id, SR.kind, where=Drill("requests_received", month, ids).where()),
        "categories": _grouped(SR.project_id, SR.category, where=Drill("complaints_received", month, ids).where()),
        "visits": _grouped(Visit.project_id, Visit.kind, Visit.result, where=Drill("visits", month, ids).where()),
        "majors": lambda s: s.execute(majors).all(),
        "phases": lambda s: billing.collection_rate(s, actor=scope.actor, period_from=month, group_by="phase").rows,
        "scores": lambda s: score_results.month_tables(s, month=month, project_ids=ids, actor=scope.actor),
        "grades": lambda s: tuple(s.scalars(select(GradeBand.name).order_by(GradeBand.min_total.desc()))),
    })
    return _Data(
        month, scope, kpis.kpi_figures(session, scope=scope, months=[month], read=read), read["requests"],
        read["categories"], list(read["majors"]), list(read["phases"]), read["visits"], kpis.survey_counts_of(read),
        {t.project_id: t for t in read["scores"]}, read["grades"],
    )


def _tables(data: _Data, project_ids: Sequence[int]) -> tuple[Table, ...]:
    """The report of ``project_ids``: one project's, or several with a project column and a total."""
    names = {p.id: p.name for p in data.scope.projects}
    several = len(project_ids) > 1
    lead = (PROJECT,) if several else ()
    month, ids = data.month, tuple(project_ids)

    def who(project_id: int | None) -> tuple[Cell, ...]:
        return (Cell(names[project_id] if project_id else TOTAL),) if several else ()

    def drill(key: str, project_id: int | None, arg: str = "") -> Drill:
        return Drill(key, month, (project_id,) if project_id else ids, arg)

    lines = [*ids, None] if several else list(ids)
    tables = []

    # 指标
    rows = []
    for project_id in lines:
        for kpi in CATALOGUE:
            f = _figure(data, kpi.key, project_id, ids)
            rows.append((*who(project_id), Cell(kpi.name), Cell(shown=kpi.target_text),
                         Cell(shown=kpi.numerator_label), Cell(f.numerator, drill=drill(kpi.numerator, project_id)),
                         Cell(shown=kpi.denominator_label), Cell(f.denominator, drill=drill(kpi.denominator, project_id)),
                         _rate_cell(f), _meets_cell(f)))
    tables.append(Table("kpis", KPI_TITLE, (*lead, "指标", "目标", "分子", "分子数", "分母", "分母数", "完成值", "是否达标"),
                        tuple(rows), keys=len(lead) + 1))

    # 诉求受理 by kind
    def matrix(key: str, title: str, members: Sequence[LabeledEnum], counts: dict, set_key: str) -> Table:
        rows = []
        for project_id in lines:
            values = [sum(counts.get((p, m), 0) for p in ((project_id,) if project_id else ids)) for m in members]
            rows.append((Cell(names[project_id] if project_id else TOTAL),
                         *(Cell(v, drill=drill(set_key, project_id, m.value)) for v, m in zip(values, members, strict=True)),
                         Cell(sum(values), drill=drill(set_key, project_id))))
        return Table(key, title, (PROJECT, *(m.label for m in members), TOTAL), tuple(rows))

    tables.append(matrix("requests", f"{label_of(ServiceRequest, 'kind')}统计（当月受理）", list(RequestKind),
                         data.requests, "requests_received"))
    categories = [c for c in RequestCategory if any(data.complaints.get((p, c)) for p in ids)]
    tables.append(matrix("complaints", f"投诉{label_of(ServiceRequest, 'category')}统计（当月受理）", categories,
                         data.complaints, "complaints_received"))

    # 重大投诉及处理情况
    rows = []
    for (request_id, project_id, received_at, building, room, category, content, status, closed_at, reply,
         order_status, result) in data.majors:
        if project_id not in ids:
            continue
        rows.append((*who(project_id), Cell(request_id, record=("ServiceRequest", request_id)), Cell(received_at),
                     Cell(f"{building}-{room}" if room else ""), Cell(category), Cell(content), Cell(status),
                     Cell(closed_at), Cell(reply), Cell(order_status), Cell(result)))
    SR, WO = ServiceRequest, WorkOrder
    tables.append(Table(
        "majors", "重大投诉及处理情况",
        (*lead, label_of(SR, "id"), label_of(SR, "received_at"), label_of(SR, "unit"), label_of(SR, "category"),
         label_of(SR, "content"), label_of(SR, "status"), label_of(SR, "closed_at"), label_of(SR, "reply"),
         f"{WO.__label__}{label_of(WO, 'status')}", label_of(WO, "result")),
        tuple(rows), keys=len(lead) + 1,
    ))

    # 收费 by phase
    rows = []
    # project by project, each project's phases in their natural order (一期, 二期, 三期 …), 未分期 last
    phases = sorted((r for r in data.phases if r.project_id in ids),
                    key=lambda r: (ids.index(r.project_id), r.key is None, natural_key(r.label.rpartition(" · ")[2])))
    for r in phases:
        arg = "none" if r.key is None else str(r.key)
        phase = r.label.rpartition(" · ")[2]  # billing labels a phase "项目 · 分期"
        rows.append((*who(r.project_id), Cell(phase), Cell(r.amount_due, drill=drill("bills_due", r.project_id, arg)),
                     Cell(r.amount_paid, drill=drill("bills_paid", r.project_id, arg)),
                     _rate_cell(_money_figure(r.amount_paid, r.amount_due)), Cell(r.households),
                     Cell(r.households_paid)))
    if phases:
        due, paid = sum(r.amount_due for r in phases), sum(r.amount_paid for r in phases)
        rows.append((*((Cell(TOTAL),) if several else ()), Cell(TOTAL if not several else ""),
                     Cell(due, drill=drill("bills_due", None)), Cell(paid, drill=drill("bills_paid", None)),
                     _rate_cell(_money_figure(paid, due)), Cell(sum(r.households for r in phases)),
                     Cell(sum(r.households_paid for r in phases))))
    tables.append(Table("collection", COLLECTION_TITLE,
                        (*lead, billing.RATE_GROUPS["phase"], label_of(billing.Bill, "amount_due"),
                         label_of(billing.Bill, "amount_paid"), "收费率", "户数", "已缴清户数"),
                        tuple(rows), keys=len(lead) + 1))

    # 回访
    rows = []
    results: list[Satisfaction | None] = [*Satisfaction, None]
    for project_id in lines:
        scope_ids = (project_id,) if project_id else ids
        for kind in VisitKind:
            values = [sum(data.visits.get((p, kind, r), 0) for p in scope_ids) for r in results]
            if not any(values):
                continue
            rows.append((*who(project_id), Cell(kind),
                         *(Cell(v, drill=drill("visits", project_id, f"{kind.value}/{r.value if r else 'none'}"))
                           for v, r in zip(values, results, strict=True)),
                         Cell(sum(values), drill=drill("visits", project_id, kind.value))))
    tables.append(Table("visits", "回访走访情况",
                        (*lead, label_of(Visit, "kind"), *(r.label for r in Satisfaction), kpis.NO_RESULT, TOTAL),
                        tuple(rows), keys=len(lead) + 1))

    # 满意度调查: every project, its surveys run by the month's end; 「—」 for a project without one
    rows = []
    households = data.surveys.households_by(month)  # the campaigns started by the month's end
    sums = [0, 0, {t: kpis.Share(0, 0) for t in SurveyTopic}, kpis.Share(0, 0)]  # the 合计: sums, rates of sums
    for project_id in ids:
        periods = sorted(period for p, period in households if p == project_id)
        if not periods:
            rows.append((*who(project_id), *(Cell(shown="—") for _ in range(len(SurveyTopic) + 6))))
        for period in periods:
            collected, n = households[(project_id, period)]
            topics = {t.topic: kpis.Share(t.satisfied, t.answers)
                      for t in data.surveys.topics(project_id, period, month)}
            overall = data.surveys.overall_score(project_id, period, month)
            sums = [sums[0] + n, sums[1] + collected,
                    {t: _added(share, topics.get(t, kpis.Share(0, 0))) for t, share in sums[2].items()},
                    _added(sums[3], overall)]
            survey_drill = functools.partial(Drill, period=period, project_ids=(project_id,))
            rows.append(_survey_row(who(project_id), period, n, collected, topics, overall, survey_drill))
    if several:
        rows.append(_survey_row(who(None), "", sums[0], sums[1], sums[2], sums[3], None))
    # 各部门合计 is the 满意度 KPI; 总体满意度 is the forms' own column, as 调查结果 shows it
    tables.append(Table("surveys", "满意度调查",
                        (*lead, "调查期间", SurveyHousehold.__label__, label_of(SurveyHousehold, "collected"),
                         "调查率", *(f"{t.label}满意度" for t in SurveyTopic), "满意度（各部门合计）",
                         label_of(SurveyResponse, "overall_score")),
                        tuple(rows), keys=len(lead) + 1))

    # 员工考核
    rows = []
    for project_id in ids:
        table = data.scores.get(project_id)
        totals = [line.total for line in table.lines] if table else []
        grades = [sum(1 for line in table.lines if line.grade == g) if table else 0 for g in data.grades]
        rows.append((Cell(names[project_id]), Cell(shown=table.status.label if table and table.status else "未计算"),
                     Cell(len(totals)),
                     Cell((sum(totals) / len(totals)).quantize(Decimal("0.1"), ROUND_HALF_UP) if totals else None),
                     Cell(max(totals) if totals else None), Cell(min(totals) if totals else None),
                     *(Cell(g) for g in grades)))
    tables.append(Table("scores", "员工考核",
                        (PROJECT, "考核状态", "考核人数", "平均分", "最高分", "最低分", *data.grades), tuple(rows)))
    return tuple(tables)


def _figure(data: _Data, kpi: str, project_id: int | None, ids: Sequence[int]) -> Figure:
    if project_id is not None or len(ids) == len(data.scope.projects):
        return data.kpis.get(kpi, project_id, data.month)
    parts = [data.kpis.get(kpi, p, data.month) for p in ids]
    return Figure(kpis.KPIS[kpi], data.month, None, sum(f.numerator for f in parts), sum(f.denominator for f in parts))


def _share_cell(share: kpis.Share, drill: Drill | None) -> Cell:
    return Cell(share.rate, share.shown, drill=drill)


def _added(a: kpis.Share, b: kpis.Share) -> kpis.Share:
    return kpis.Share(a.satisfied + b.satisfied, a.answers + b.answers)


def _survey_row(lead: tuple[Cell, ...], period: str, n: int, collected: int, topics: dict[SurveyTopic, kpis.Share],
                overall: kpis.Share, survey_drill: Callable[..., Drill] | None) -> tuple[Cell, ...]:
    """One line of 满意度调查: a project's survey, with the records behind each figure, or the 合计 (no drill:
    its surveys are of several 调查期间)."""
    def drill(key: str, arg: str = "") -> Drill | None:
        return survey_drill(key, arg=arg) if survey_drill else None

    coverage = kpis.Share(collected, n)
    pooled = functools.reduce(_added, topics.values(), kpis.Share(0, 0))
    return (*lead, Cell(period), Cell(n, drill=drill("households_surveyed")),
            Cell(collected, drill=drill("households_collected")), Cell(coverage.rate, coverage.shown),
            *(_share_cell(topics.get(t, kpis.Share(0, 0)), drill("scores_answered", t.value)) for t in SurveyTopic),
            _share_cell(pooled, drill("scores_answered")), _share_cell(overall, drill("forms_rated")))


def _money_figure(paid: Decimal, due: Decimal) -> Figure:
    return Figure(kpis.KPIS["collection_rate"], "", None, paid, due)


def monthly_report(session: Session, *, actor: Actor, month: str, project_ids: Iterable[int] | None = None,
                   branch_id: int | None = None, run: Runner | None = None) -> MonthlyReport:
    """The report of one project (``project_ids=[id]``), of a branch, or of every project the actor sees;
    ``run`` may run the KPI reads at once."""
    month = kpis.parse_month(month).text
    scope = kpis.resolve_scope(session, actor=actor, project_ids=project_ids, branch_id=branch_id)
    data = _gather(session, scope, month, run)
    if len(scope.projects) == 1:
        subject = scope.projects[0].name
    elif branch_id is not None and scope.projects:
        subject = scope.projects[0].branch
    else:
        subject = "、".join(sorted({p.branch for p in scope.projects})) or "无项目"
    year, mon = month.split("-")
    return MonthlyReport(
        month, f"{subject} {year}年{int(mon)}月客服月度报告", scope, _tables(data, scope.project_ids),
        {p: _tables(data, [p]) for p in scope.project_ids},
    )


# --- as reported: the month-close snapshots ---------------------------------------------------------------------
FORMAT = 1


def freeze(tables: Sequence[Table]) -> dict[str, Any]:
    """The tables as printed: every cell's text, with the structure needed to compare them later."""
    return {
        "format": FORMAT,
        "tables": [
            {"key": t.key, "title": t.title, "header": list(t.header), "keys": t.keys,
             "rows": [[c.text for c in row] for row in t.rows]}
            for t in tables
        ],
    }


def thaw(figures: dict[str, Any]) -> tuple[Table, ...]:
    """Frozen tables back as tables (text only) for the report pages."""
    return tuple(
        Table(t["key"], t["title"], tuple(t["header"]), tuple(tuple(Cell(shown=v) for v in row) for row in t["rows"]),
              t["keys"])
        for t in figures.get("tables", [])
    )


@dataclass(frozen=True)
class Difference:
    table: str
    row: str
    column: str
    reported: str
    current: str

    @property
    def delta(self) -> str:
        """current − reported, for figures (a rate's in percentage points); empty for texts."""
        try:
            a, b = (Decimal(v.rstrip("%") or "0") for v in (self.reported, self.current))
        except InvalidOperation:
            return ""
        diff = b - a
        return f"{'+' if diff > 0 else ''}{diff:f}" + ("个百分点" if self.current.endswith("%") else "")


_EMPTY = ("", "0", "0.00", "—")


def differences(reported: Sequence[Table], current: Sequence[Table]) -> tuple[Difference, ...]:
    """Every cell whose text changed, matched by table, row (its key columns) and column header; rows and columns
    that appeared or disappeared since count as changed from or to empty."""
    out: list[Difference] = []
    now = {t.key: t for t in current}
    for old in reported:
        new = now.get(old.key) or Table(old.key, old.title, (), (), old.keys)
        old_rows = {old.row_key(r): r for r in old.rows}
        new_rows = {new.row_key(r): r for r in new.rows}
        columns = list(dict.fromkeys((*old.header, *new.header)))[old.keys:]
        for key in dict.fromkeys((*old_rows, *new_rows)):
            if old.key == "kpis" and key not in old_rows:
                continue  # one row per KPI, whatever the records: a KPI added since the close is no correction
            for column in columns:
                a = _text(old, old_rows.get(key), column)
                b = _text(new, new_rows.get(key), column)
                if a != b and not (a in _EMPTY and b in _EMPTY):
                    out.append(Difference(old.title, key, column, a, b))
    return tuple(out)


def _text(table: Table, row: Sequence[Cell] | None, column: str) -> str:
    if row is None or column not in table.header:
        return ""
    return row[table.header.index(column)].text


@dataclass(frozen=True)
class LateReceipts:
    """月结后补收 of one project's closed month: money received for the month's bills after the close — paid and
    recorded after it —, in all and by phase (as the collection table names its rows)."""

    amount: Decimal = Decimal("0.00")
    payments: int = 0
    by_phase: tuple[tuple[str, Decimal], ...] = ()
    year_amount: Decimal = Decimal("0.00")  # on the bills of the year to date (全年收费率), the month's included

    @property
    def text(self) -> str:
        """「月结后补收 223.90 元（1 笔）」, and what came in for the year's earlier months."""
        parts = [f" {self.amount:,} 元（{self.payments} 笔）"] if self.payments else []
        if self.year_amount > self.amount:
            parts.append(f"本年此前账期 {self.year_amount - self.amount:,} 元")
        return "月结后补收" + ("；".join(parts) if self.payments else "：" + "".join(parts))


# The figures that ordinary collection after the close moves, per row: the amount received, and what follows
# from it alone (the rate, 达标, the households now paid in full).
_COLLECTED = {
    KPI_TITLE: ("分子数", "完成值", "是否达标"),
    COLLECTION_TITLE: (PAID, "收费率", "已缴清户数"),
}


def _late_receipts(session: Session, month: str, project_ids: Sequence[int]) -> dict[int, LateReceipts]:
    """Per closed project: the payments on the bills of the month (and of the year to date) received and
    recorded after its close."""
    P, S = Payment, MonthSnapshot
    of_month = Bill.period == month
    rows = session.execute(
        select(Bill.project_id, Phase.name, func.sum(case((of_month, P.amount), else_=0)),
               func.count(case((of_month, P.id))), func.sum(P.amount))
        .join(Bill, Bill.id == P.bill_id)
        .join(S, and_(S.project_id == Bill.project_id, S.month == month))
        .join(Unit, Unit.id == Bill.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .outerjoin(Phase, Phase.id == Building.phase_id)
        .where(Bill.project_id.in_(project_ids), Bill.period.in_(kpis.year_to_date(month)),
               Bill.status != BillStatus.WAIVED, P.paid_at >= S.closed_at, P.created_at >= S.closed_at)
        .group_by(Bill.project_id, Phase.name)
    ).all()
    out: dict[int, LateReceipts] = {}
    for project_id, phase, amount, n, year in rows:
        late = out.get(project_id, LateReceipts())
        out[project_id] = LateReceipts(late.amount + amount, late.payments + n,
                                       (*late.by_phase, *(((phase or "未分期", amount),) if n else ())),
                                       late.year_amount + year)
    return out


def _collected_later(found: Sequence[Difference], late: LateReceipts) -> set[Difference]:
    """The differences that the money received after the close explains: in a row whose amount received grew by
    exactly what was received later, the amount and what follows from it."""
    grown = {(KPI_TITLE, kpis.KPIS["collection_rate"].name): late.amount, (COLLECTION_TITLE, TOTAL): late.amount,
             (KPI_TITLE, kpis.KPIS["yearly_collection_rate"].name): late.year_amount,
             **{(COLLECTION_TITLE, phase): amount for phase, amount in late.by_phase}}
    out: set[Difference] = set()
    for (table, row), amount in grown.items():
        columns = _COLLECTED[table]
        cells = [d for d in found if (d.table, d.row) == (table, row) and d.column in columns]
        paid = next((d for d in cells if d.column == columns[0]), None)
        try:
            explained = paid is not None and Decimal(paid.reported or "0") + amount == Decimal(paid.current)
        except InvalidOperation:
            explained = False
        if explained:
            out.update(cells)
    return out


@dataclass(frozen=True)
class Closure:
    """A closed month of one project: who closed it, the report as reported, the corrections since (records of
    the month edited or deleted), and apart from them the ordinary collection after the close (补收)."""

    project_id: int
    project: str
    closed_at: dt.datetime
    closed_by: str
    reported: tuple[Table, ...]
    differences: tuple[Difference, ...]  # corrections
    late: LateReceipts = LateReceipts()
    collected_later: tuple[Difference, ...] = ()  # the figures the 补收 moved, reported → current


def closures(session: Session, *, report: MonthlyReport) -> dict[int, Closure]:
    """The snapshots of the report's projects for its month, each compared with the report's current figures:
    what money received after the close explains is 补收, the rest corrections."""
    names = {p.id: p.name for p in report.scope.projects}
    rows = session.scalars(
        select(MonthSnapshot).where(MonthSnapshot.month == report.month,
                                    MonthSnapshot.project_id.in_(report.scope.project_ids))
    ).all()
    late = _late_receipts(session, report.month, [snap.project_id for snap in rows]) if rows else {}
    out = {}
    for snap in rows:
        reported = thaw(snap.figures)
        found = differences(reported, report.project_tables[snap.project_id])
        received = late.get(snap.project_id, LateReceipts())
        later = _collected_later(found, received) if received.year_amount else set()
        out[snap.project_id] = Closure(
            snap.project_id, names[snap.project_id], snap.closed_at, snap.closed_by_name, reported,
            tuple(d for d in found if d not in later), received, tuple(d for d in found if d in later),
        )
    return out


@dataclass(frozen=True)
class ShownReport:
    """The report as the console shows and exports it. A report of one project whose month is closed shows the
    tables as reported (the live ones only when ``live`` is asked for); a report of several shows the live
    tables. Either way every closed project's corrections since its close are listed beside them."""

    report: MonthlyReport
    closures: dict[int, Closure]
    live: bool

    @property
    def closure(self) -> Closure | None:
        """The closure of the one project the report is of, if its month is closed."""
        ids = self.report.scope.project_ids
        return self.closures.get(ids[0]) if len(ids) == 1 else None

    @property
    def as_reported(self) -> bool:
        return self.closure is not None and not self.live

    @property
    def tables(self) -> tuple[Table, ...]:
        return self.closure.reported if self.closure and not self.live else self.report.tables

    @property
    def state(self) -> str:
        """What the tables hold, in words (the page's notice, the .xlsx's 月结情况)."""
        if self.as_reported:
            return "报送时的数据"
        return "当前数据（含月结后的更正）" if self.closures else "当前数据"


def shown_report(session: Session, *, actor: Actor, month: str, project_ids: Iterable[int] | None = None,
                 branch_id: int | None = None, live: bool = False, run: Runner | None = None) -> ShownReport:
    report = monthly_report(session, actor=actor, month=month, project_ids=project_ids, branch_id=branch_id, run=run)
    return ShownReport(report, closures(session, report=report), live)


# A figure frozen as text goes back into a sheet as the number it was: a count ("3") or an amount ("450.00").
_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")


def _sheet_value(cell: Cell) -> Any:
    if cell.shown is None:
        return cell.value
    if not _NUMBER.fullmatch(cell.shown):
        return cell.shown
    return Decimal(cell.shown) if "." in cell.shown else int(cell.shown)


@as_actor
def export_monthly_report(session: Session, *, actor: Actor, month: str, project_ids: Iterable[int] | None = None,
                          branch_id: int | None = None, live: bool = False) -> XlsxFile:
    """The report as .xlsx exactly as the page shows it (``shown_report``): one sheet per table (rates as
    printed) — a closed month as reported unless ``live`` — then, if any project's month is closed, 月结情况 and
    every correction since (月结后更正). The export is logged."""
    shown = shown_report(session, actor=actor, month=month, project_ids=project_ids, branch_id=branch_id, live=live)
    report = shown.report
    wb = new_workbook()
    taken: set[str] = set()
    count = 0
    for table in shown.tables:
        count += write_sheet(wb, sheet_title(table.title, taken), table.header,
                             ([_sheet_value(c) for c in row] for row in table.rows))
    if shown.closures:
        closed = sorted(shown.closures.values(), key=lambda c: c.project)
        write_sheet(wb, sheet_title("月结情况", taken),
                    (PROJECT, "月结时间", "月结人", "月结后补收(元)", "补收笔数", "月结后更正", "本报告数据"),
                    ((c.project, c.closed_at, c.closed_by, c.late.amount, c.late.payments, len(c.differences), shown.state)
                     for c in closed))
        write_sheet(wb, sheet_title("月结后更正", taken), (PROJECT, "报表", "行", "栏目", "报送值", "当前值", "差异"),
                    ((c.project, d.table, d.row, d.column, d.reported, d.current, d.delta)
                     for c in closed for d in c.differences))
        if any(c.collected_later for c in closed):
            write_sheet(wb, sheet_title("月结后补收", taken), (PROJECT, "报表", "行", "栏目", "报送值", "当前值", "差异"),
                        ((c.project, d.table, d.row, d.column, d.reported, d.current, d.delta)
                         for c in closed for d in c.collected_later))
    params = {"month": report.month, "project_ids": list(report.scope.project_ids), "branch_id": branch_id,
              "as_reported": shown.as_reported}
    log_event(session, AuditKind.EXPORT, summary=f"导出{report.title}（{shown.state}），{count} 行", changes=params)
    log_operation(session, "export_monthly_report", params=params, counts={"rows": count})
    return XlsxFile(f"{report.title}.xlsx", to_bytes(wb), count)
