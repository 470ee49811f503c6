"""Views of 员工考核: the rules, score events, months, monthly scores, grade bands and 服务之星 — and the
pages of issue 6: 录入考核 (several employees at once), 计算月度考核, 考核结果 (ranked table, breakdown,
history, confirm / spot-check / reopen, .xlsx) and 服务之星评选.

Monthly scores are computed by the scoring action (one row per employee and month, B08) and shown read-only;
confirming a month and choosing the 服务之星 are actions that record who did it, not form fields. A GET only
shows a form or a result; every change is a POST with the CSRF token, checked against its grant explicitly.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from sqladmin import Flash, action, expose
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import score_results, scores, service_star
from actions.errors import Refused
from actions.form_tokens import new_form_token
from actions.job_runner import JobContext, Outcome
from actions.kernel.periods import period_of, today_local
from actions.kernel.scope import require_company_wide
from models import (
    EventSource,
    GradeBand,
    MonthlyScore,
    MonthStatus,
    RewardEntry,
    RuleCategory,
    ScoreEvent,
    ScoreMonth,
    ScoringRule,
    ServiceStar,
    Staff,
    StarDeadline,
    label_of,
)

from ..forms import (
    DateField,
    DecimalField,
    FlagField,
    IdField,
    IdsField,
    PageForm,
    ProjectField,
    TextField,
    VersionField,
    VersionsField,
)
from .base import (
    BooleanFilter,
    EnumFilter,
    OperationColumnFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    local_datetime,
)
from .jobs import JOB_WAIT, ReportForm, job_link, may_export, report_export, start_job, start_report
from .pages import (
    GrantedPage,
    granted,
    refusal_status,
    request_actor,
    run_action,
    selected_pks,
)

SCORING = "员工考核"
# Links from a breakdown line to the record it came from.
SOURCE_VIEWS = {
    EventSource.COMPLAINT: "service-request",
    EventSource.PRAISE: "service-request",
    EventSource.OVERDUE_ORDER: "work-order",
    EventSource.UNSATISFIED_CALLBACK: "visit",
}


class ReviseForm(PageForm):
    rule_id = IdField(label_of(ScoringRule, "code"))
    valid_from = DateField(label_of(ScoringRule, "valid_from"))
    points_min = DecimalField(label_of(ScoringRule, "points_min"))
    points_max = DecimalField(label_of(ScoringRule, "points_max"))
    description = TextField(label_of(ScoringRule, "description"))


class MonthStepForm(PageForm):
    """确认 / 重新打开 / 抽查 of one project's month."""

    project_id = ProjectField(label_of(ScoreMonth, "project"))
    note = TextField(label_of(ScoreMonth, "spot_check_note"))


class StaffMonthForm(PageForm):
    staff_id = IdField(label_of(MonthlyScore, "staff"))
    project_id = IdField(label_of(MonthlyScore, "project"))


class ComputeForm(PageForm):
    """计算月度考核's projects (ticked boxes); none = every project the user sees."""

    project_id = IdsField(label_of(ScoreMonth, "project"))


class NominateForm(PageForm):
    project_id = ProjectField(label_of(ServiceStar, "project"))
    staff_id = IdField(label_of(ServiceStar, "staff"))
    reason = TextField(label_of(ServiceStar, "reason"))


class ChooseForm(PageForm):
    nomination_ids = IdsField(ServiceStar.__label__, name="nomination_id")  # the ticked boxes
    commendation = TextField(label_of(ServiceStar, "commendation"))
    reward = TextField(label_of(ServiceStar, "reward"))
    versions = VersionsField()


class DeadlineForm(PageForm):
    deadline = DateField(label_of(StarDeadline, "deadline"))
    note = TextField(label_of(StarDeadline, "note"))
    version = VersionField(between=(0, 2**31 - 1))  # 0: the form was opened on the default (none set)


class RecordEventsForm(PageForm):
    """录入考核: one event for several employees at once."""

    project_id = ProjectField(label_of(ScoreEvent, "project"))
    staff_ids = IdsField(label_of(ScoreEvent, "staff"), name="staff_id")
    event_date = DateField(label_of(ScoreEvent, "event_date"), default=today_local)
    rule_id = IdField(label_of(ScoreEvent, "rule"))
    points = DecimalField(label_of(ScoreEvent, "points"))
    note = TextField(label_of(ScoreEvent, "note"))
    form_token = TextField("表单")
    dry_run = FlagField("预览")


def _fail(refused: Refused) -> HTTPException:
    return HTTPException(status_code=refusal_status(refused), detail=refused.message)


async def _page(view: Any, request: Request, template: str, *, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("local", local_datetime)
    context.setdefault("labels", LABELS)
    return await view.templates.TemplateResponse(request, f"wuye/scores/{template}", context, status_code=status_code)


LABELS = {
    **{f"score.{a}": label_of(MonthlyScore, a) for a in
       ("rank", "base_score", "deductions", "additions", "total", "grade", "event_count", "by_category")},
    **{f"event.{a}": label_of(ScoreEvent, a) for a in
       ("project", "staff", "event_date", "rule", "points", "note", "source", "source_id", "recorded_by")},
    **{f"staff.{a}": label_of(Staff, a) for a in ("employee_no", "name", "position")},
    **{f"month.{a}": label_of(ScoreMonth, a) for a in
       ("month", "status", "computed_at", "confirmed_by", "confirmed_at", "spot_check_note")},
    **{f"rule.{a}": label_of(ScoringRule, a) for a in
       ("code", "category", "description", "points_min", "points_max", "valid_from", "company_own")},
    **{f"star.{a}": label_of(ServiceStar, a) for a in ("quarter", "staff", "reason", "chosen", "chosen_at",
                                                                   "commendation", "reward")},
}


def _this_quarter() -> str:
    """Nominations are made during the quarter (by its last month's last Wednesday): the page opens on this one."""
    day = today_local()
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


class ScoringRuleAdmin(ScopedModelView, model=ScoringRule):
    category = "员工考核"
    icon = "fa-solid fa-scale-balanced"
    column_list = ["id", "code", "category", "description", "points_min", "points_max", "source", "company_own",
                   "valid_from"]
    column_searchable_list = ["code", "description"]
    column_sortable_list = ["id", "code", "category", "points_min", "points_max", "valid_from", "valid_to"]
    column_default_sort = [("code", False)]
    column_filters = [EnumFilter("category"), EnumFilter("source"), BooleanFilter("choose_in_range"),
                      BooleanFilter("company_own")]
    form_columns = ["code", "category", "description", "points_min", "points_max", "choose_in_range", "source",
                    "company_own", "valid_from", "valid_to"]

    @action("revise-rule", label="修订（自某日起的新版本）", add_in_list=False)
    async def revise_form(self, request: Request) -> Response:
        (rule,) = await self.scoped_targets(request, selected_pks(request)[:1])
        try:  # the form is not even offered to whom its save would refuse
            require_company_wide(request_actor(request), ScoringRule, rule)
        except Refused as refused:
            raise _fail(refused) from None
        values = {"valid_from": today_local().replace(day=1).isoformat(), "points_min": rule.points_min,
                  "points_max": rule.points_max, "description": rule.description}
        return await _page(self, request, "revise.html", title="修订考核细则", rule=rule, values=values)

    @expose("/revise", methods=["POST"])
    async def revise_submit(self, request: Request) -> Response:
        """A new version from a future date: months already past keep the rule they were scored with."""
        self.require(request, "action:revise-rule")
        form = await request.form()
        values = {k: str(form.get(k, "")) for k in ("rule_id", "valid_from", "points_min", "points_max", "description")}
        try:
            fields = ReviseForm.read(form).data
            result = await run_action(self.session_maker, request, scores.revise_rule,
                                      **fields | {"description": fields["description"] or None})
        except Refused as refused:
            (rule,) = await self.scoped_targets(request, [values["rule_id"]])
            return await _page(self, request, "revise.html", status_code=refusal_status(refused), title="修订考核细则",
                               rule=rule, values=values, error=refused.message)
        Flash.success(request, result.message)
        return RedirectResponse(request.url_for("admin:details", identity=self.identity, pk=result.new_rule_id),
                                status_code=303)


class ScoreEventAdmin(ScopedModelView, model=ScoreEvent):
    category = "员工考核"
    icon = "fa-solid fa-clipboard-check"
    column_list = ["id", "event_date", "staff", "rule", "points", "source", "recorded_by"]
    column_searchable_list = ["staff.name", "note"]
    column_sortable_list = ["id", "event_date", "points", "source"]
    column_default_sort = [("event_date", True), ("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        ScopedForeignKeyFilter("staff"),
        EnumFilter("source"),
        OperationColumnFilter("event_date"),
    ]
    # 来源 and 来源记录 are the system's (derived events); 登记人 is who saves (actions/scores.py)
    form_columns = ["project", "staff", "event_date", "rule", "points", "note"]
    form_ajax_refs = ajax_refs(ScoreEvent, "staff", "rule")


class ScoreMonthAdmin(ScopedModelView, model=ScoreMonth):
    category = "员工考核"
    icon = "fa-solid fa-calendar-check"
    column_list = ["id", "project", "month", "status", "base_score", "computed_at", "confirmed_by", "confirmed_at"]
    column_searchable_list = ["month"]
    column_sortable_list = ["id", "month", "status", "computed_at", "confirmed_at"]
    column_default_sort = [("month", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("status"), OperationColumnFilter("month")]
    form_columns = ["project", "month", "base_score"]  # 抽查意见: on 考核结果, with who and when

    async def _month_step(self, request: Request, grant: str, fn: Any, **fields: str) -> Response:
        self.require(request, grant)
        form = await request.form()
        month, project = str(form.get("month", "")), str(form.get("project_id", ""))
        try:
            read = MonthStepForm.read(form, actor=request_actor(request))
            project_id = read.project_id.data
            if project_id is None:
                raise Refused("请选择项目")
            kwargs = {k: read[v].data for k, v in fields.items()}
            if fn is scores.confirm_scores:
                kwargs["project_ids"] = [project_id]
            else:
                kwargs["project_id"] = project_id
            result = await run_action(self.session_maker, request, fn, month=month, **kwargs)
        except Refused as refused:
            return await _results(self, request, month, project, status_code=refusal_status(refused), error=refused.message)
        Flash.success(request, result.message)
        url = request.url_for("admin:view-score-results").include_query_params(month=month, project_id=project)
        return RedirectResponse(url, status_code=303)

    @expose("/confirm", methods=["POST"])
    async def confirm_submit(self, request: Request) -> Response:
        return await self._month_step(request, "action:confirm-scores", scores.confirm_scores)

    @expose("/reopen", methods=["POST"])
    async def reopen_submit(self, request: Request) -> Response:
        return await self._month_step(request, "action:reopen-scores", scores.reopen_scores, note="note")

    @expose("/spot-check", methods=["POST"])
    async def spot_check_submit(self, request: Request) -> Response:
        # 客服经理抽查：记在月度考核上（经理有该记录的修改权）
        return await self._month_step(request, "edit", scores.record_spot_check, note="note")


class MonthlyScoreAdmin(ScopedModelView, model=MonthlyScore):
    category = "员工考核"
    icon = "fa-solid fa-ranking-star"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["id", "month", "staff", "total", "deductions", "additions", "rank", "grade"]
    column_searchable_list = ["staff.name", "month"]
    column_sortable_list = ["id", "month", "total", "deductions", "additions", "rank", "grade"]
    column_default_sort = [("month", True), ("rank", False)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("staff"), OperationColumnFilter("month")]

    @expose("/breakdown", methods=["GET"])
    async def breakdown_page(self, request: Request) -> Response:
        """考核明细: every event behind a total, each with its rule and the record it came from."""
        query = request.query_params
        try:
            bd = await run_action(self.session_maker, request, score_results.score_breakdown,
                                  staff_id=StaffMonthForm.read(query).staff_id.data, month=query.get("month", ""))
        except Refused as refused:
            raise _fail(refused) from None
        return await _page(self, request, "breakdown.html", title=f"考核明细：{bd.staff_name} {bd.month}", bd=bd,
                           source_views=SOURCE_VIEWS, manual=EventSource.MANUAL)

    @expose("/history", methods=["GET"])
    async def history_page(self, request: Request) -> Response:
        """An employee's months: total, rank, grade."""
        try:
            history = await run_action(self.session_maker, request, score_results.staff_history,
                                       staff_id=StaffMonthForm.read(request.query_params).staff_id.data)
        except Refused as refused:
            raise _fail(refused) from None
        return await _page(self, request, "history.html", title=f"考核历史：{history.staff_name}", history=history)

    @expose("/xlsx", methods=["GET", "POST"])
    async def xlsx_export(self, request: Request) -> Response:
        """.xlsx of a month: one sheet per project, and 明细."""
        return await start_report(self, request, "monthly-scores",
                                  request.url_for("admin:view-score-results").replace(query=request.url.query))


class StarDeadlineAdmin(ScopedModelView, model=StarDeadline):
    """Set on 服务之星评选 (the company's, within the quarter); deleting one brings back the default."""

    category = "员工考核"
    icon = "fa-solid fa-calendar-xmark"
    can_create = False
    can_edit = False
    column_list = ["id", "quarter", "deadline", "note", "set_by", "updated_at"]
    column_sortable_list = ["quarter", "deadline"]
    column_default_sort = [("quarter", True)]


class ServiceStarAdmin(ScopedModelView, model=ServiceStar):
    category = "员工考核"
    icon = "fa-solid fa-award"
    # Nominated and chosen on 服务之星评选 (its deadline and the branch's decision); here only the reason is corrected.
    can_create = False
    column_list = ["id", "quarter", "project", "staff", "reason", "chosen", "chosen_at", "commendation", "reward"]
    column_searchable_list = ["quarter", "staff.name"]
    column_sortable_list = ["id", "quarter", "chosen", "chosen_at", "reward"]
    column_default_sort = [("quarter", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), BooleanFilter("chosen"), OperationColumnFilter("quarter")]
    form_columns = ["reason"]

    async def _star_step(self, request: Request, grant: str, fn: Any, fields: type[PageForm]) -> Response:
        self.require(request, grant)
        form = await request.form()
        quarter, project = str(form.get("quarter", "")), str(form.get("project_id", ""))
        try:
            args = fields.read(form, actor=request_actor(request)).data
            result = await run_action(self.session_maker, request, fn, quarter=quarter, **args)
        except Refused as refused:
            return await _stars(self, request, quarter, project, status_code=refusal_status(refused), error=refused.message)
        Flash.success(request, result.message)
        url = request.url_for("admin:view-score-stars").include_query_params(quarter=quarter, project_id=project)
        return RedirectResponse(url, status_code=303)

    @expose("/nominate", methods=["POST"])
    async def nominate_submit(self, request: Request) -> Response:
        """各项目推荐: one of the project's customer-service staff, with the 推荐表's reason, by the deadline."""
        return await self._star_step(request, "create", service_star.nominate_star, NominateForm)

    @expose("/choose", methods=["POST"])
    async def choose_submit(self, request: Request) -> Response:
        """分公司评定: the ticked nominations are the quarter's stars; the others are not."""
        return await self._star_step(request, "edit", service_star.choose_stars, ChooseForm)


class GradeBandAdmin(ScopedModelView, model=GradeBand):
    category = "员工考核"
    icon = "fa-solid fa-medal"
    column_list = ["id", "name", "min_total", "reward", "reward_note"]
    column_sortable_list = ["id", "name", "min_total", "reward"]
    column_default_sort = [("min_total", True)]
    form_columns = ["name", "min_total", "reward", "reward_note"]


class RewardEntryAdmin(ScopedModelView, model=RewardEntry):
    """奖惩记录: written when a month is confirmed (actions/rewards.py), never typed; exported for the payroll."""

    category = "员工考核"
    icon = "fa-solid fa-sack-dollar"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["id", "month", "project", "staff", "total", "grade", "kind", "amount", "note"]
    column_searchable_list = ["staff.name", "month"]
    column_sortable_list = ["id", "month", "total", "grade", "kind", "amount"]
    column_default_sort = [("month", True), ("amount", True)]
    column_filters = [ScopedForeignKeyFilter("project"), ScopedForeignKeyFilter("staff"), EnumFilter("kind"),
                      OperationColumnFilter("month")]


# --- pages without a model of their own ---------------------------------------------------------------------
class ScorePage(GrantedPage):
    """A page of 员工考核 whose access is a grant on a model view (``grant``)."""

    category = SCORING


class RecordEventsPage(ScorePage):
    """录入考核: one occurrence of a rule, for one or several employees of a project at once."""

    name = "录入考核"
    icon = "fa-solid fa-pen-to-square"
    grant = ("score-event", "create")
    FIELDS = ("project_id", "event_date", "rule_id", "points", "note", "form_token")

    @expose("/scores/record", methods=["GET", "POST"], identity="score-record")
    async def record_page(self, request: Request) -> Response:
        if not self.has_permission(request, "list"):  # explicit: a POST here writes events
            raise HTTPException(status_code=403, detail="没有录入考核的权限")
        params = await request.form() if request.method == "POST" else request.query_params
        values = {k: str(params.get(k, "")) for k in self.FIELDS}
        values["event_date"] = values["event_date"] or today_local().isoformat()
        # One token per form shown; a refused or previewed form keeps its own, so its corrected submission counts.
        values["form_token"] = values["form_token"] or new_form_token()
        staff_ids = [str(v) for v in params.getlist("staff_id")]
        if request.method == "GET" and not values["project_id"]:
            projects = await run_action(self.session_maker, request, scores.project_choices)
            if len(projects) == 1:  # a user of one project has nothing to choose
                values["project_id"] = str(projects[0].id)
        context: dict[str, Any] = {}
        status_code = 200
        if request.method == "POST":
            try:
                fields = RecordEventsForm.read(params, actor=request_actor(request)).data
                result = await run_action(self.session_maker, request, scores.record_events,
                                          **fields | {"form_token": values["form_token"]})
            except Refused as refused:
                context["error"], status_code = refused.message, refusal_status(refused)
            else:
                if not result.dry_run:
                    (Flash.success if result.event_ids else Flash.warning)(request, result.message)
                    url = request.url_for("admin:view-score-record").include_query_params(
                        project_id=values["project_id"], event_date=values["event_date"])
                    return RedirectResponse(url, status_code=303)
                context["result"] = result
        try:
            # a refused form is shown again as typed, with this month's choices when its date was what was wrong
            shown = RecordEventsForm.read({"project_id": values["project_id"],
                                           "event_date": "" if "error" in context else values["event_date"]})
            choices = await run_action(self.session_maker, request, scores.event_choices,
                                       project_id=shown.project_id.data, month=period_of(shown.event_date.data))
        except Refused as refused:
            raise _fail(refused) from None
        return await _page(self, request, "record.html", status_code=status_code, title=self.name, values=values,
                           staff_ids=staff_ids, choices=choices, **context)


@report_export("monthly-scores", "月度考核", grant=("monthly-score", "export"))
def scores_file(session: Any, actor: Any, query: Any) -> tuple[bytes, str]:
    project_id = ReportForm.read(query).project_id.data
    export = score_results.export_scores(session, actor=actor, month=query.get("month", ""),
                                         project_ids=None if project_id is None else [project_id])
    return export.content, export.filename


def compute_job(session: Any, ctx: JobContext) -> Outcome:
    """The handler of a ``scores`` job: the month computed by the scoring action, as the user who asked."""
    result = scores.compute_scores(session, month=ctx.params["month"], project_ids=ctx.params["project_ids"],
                                   actor=ctx.actor)
    return Outcome({"message": result.message, "table": {
        "head": ["项目", "员工", "考核记录"], "rows": [[o.project_name, o.scored, o.events] for o in result.projects]},
        "links": [job_link(f"查看结果：{o.project_name}", "admin:view-score-results",
                           query=urlencode({"month": result.month, "project_id": o.project_id}))
                  for o in result.projects]})


class ComputePage(ScorePage):
    """计算月度考核: the month and the projects; a preview (dry run) or the compute itself."""

    name = "计算月度考核"
    icon = "fa-solid fa-calculator"
    grant = ("score-month", "action:compute-scores")

    @expose("/scores/compute", methods=["GET", "POST"], identity="score-compute")
    async def compute_page(self, request: Request) -> Response:
        if not self.has_permission(request, "list"):  # explicit: a POST here computes
            raise HTTPException(status_code=403, detail="没有计算月度考核的权限")
        params = await request.form() if request.method == "POST" else request.query_params
        month = str(params.get("month", "")) or scores.last_month()
        chosen = [str(v) for v in params.getlist("project_id")]
        context: dict[str, Any] = {}
        status_code = 200
        if request.method == "POST":
            try:
                project_ids = list(ComputeForm.read(params).project_id.data) or None
                if params.get("dry_run") != "1":  # the compute: a 后台任务, one per project and month at a time
                    return await start_job(
                        self, request, "scores", f"计算月度考核 {month}",
                        {"month": month, "project_ids": project_ids, "operation": "compute_scores", "writes": True},
                        wait=JOB_WAIT, locks=partial(scores.compute_locks, month=month, project_ids=project_ids))
                context["result"] = await run_action(
                    self.session_maker, request, scores.compute_scores, month=month, project_ids=project_ids,
                    dry_run=True,
                )
            except Refused as refused:
                context["error"], status_code = refused.message, refusal_status(refused)
        projects = await run_action(self.session_maker, request, scores.project_choices)
        return await _page(self, request, "compute.html", status_code=status_code, title=self.name, month=month,
                           chosen=chosen, projects=projects, **context)


async def _results(view: Any, request: Request, month: str, project: str, *, status_code: int = 200,
                   **context: Any) -> Response:
    """The ranked table of one project's month, with what the user may do with it."""
    month = month or scores.last_month()
    try:
        projects = await run_action(view.session_maker, request, scores.project_choices)
        project_id = StaffMonthForm.read({"project_id": project}).project_id.data or (
            projects[0].id if projects else None)
        tables = [] if project_id is None else await run_action(
            view.session_maker, request, score_results.month_tables, month=month, project_ids=[project_id])
    except Refused as refused:
        raise _fail(refused) from None

    return await _page(
        view, request, "results.html", status_code=status_code, title="考核结果", month=month, projects=projects,
        project_id=project_id, table=tables[0] if tables else None, draft=MonthStatus.DRAFT,
        confirmed=MonthStatus.CONFIRMED, categories=list(RuleCategory),
        can={"compute": granted(view, request, "score-month", "action:compute-scores"),
             "confirm": granted(view, request, "score-month", "action:confirm-scores"),
             "reopen": granted(view, request, "score-month", "action:reopen-scores"),
             "spot_check": granted(view, request, "score-month", "edit"),
             "export": may_export(view, request, "monthly-scores")},
        **context,
    )


class ResultsPage(ScorePage):
    """考核结果: per project and month, the ranked table; breakdown and history one click away."""

    name = "考核结果"
    icon = "fa-solid fa-list-ol"
    grant = ("monthly-score", "list")

    @expose("/scores/results", methods=["GET"], identity="score-results")
    async def results_page(self, request: Request) -> Response:
        query = request.query_params
        return await _results(self, request, query.get("month", ""), query.get("project_id", ""))


def _deadline(session: Any, *, quarter: str, actor: Any) -> service_star.Deadline:
    return service_star.nomination_deadline(session, quarter)


async def _stars(view: Any, request: Request, quarter: str, project: str, *, status_code: int = 200,
                 **context: Any) -> Response:
    """A quarter's nominations, and the chosen project's staff with the figures of their 推荐表."""
    quarter = (quarter or _this_quarter()).strip().upper()

    try:
        projects = await run_action(view.session_maker, request, scores.project_choices)
        project_id = NominateForm.read({"project_id": project}).project_id.data or (
            projects[0].id if projects else None)
        nominations = await run_action(view.session_maker, request, service_star.star_nominations, quarter=quarter)
        deadline = await run_action(view.session_maker, request, _deadline, quarter=quarter)
        candidates = () if project_id is None else await run_action(
            view.session_maker, request, service_star.star_candidates, quarter=quarter, project_id=project_id)
    except Refused as refused:
        raise _fail(refused) from None
    return await _page(
        view, request, "stars.html", status_code=status_code, title="服务之星评选", quarter=quarter,
        projects=projects, project_id=project_id, candidates=candidates, nominations=nominations,
        deadline=deadline, closed=today_local() > deadline.day,
        can={"nominate": granted(view, request, "service-star", "create"),
             "choose": granted(view, request, "service-star", "edit"),
             "deadline": granted(view, request, "star-deadline", "create")},
        **context,
    )


class StarsPage(ScorePage):
    """服务之星评选: each project nominates from its top scores of the quarter; the branch chooses."""

    name = "服务之星评选"
    icon = "fa-solid fa-star"
    grant = ("service-star", "list")

    @expose("/scores/stars", methods=["GET"], identity="score-stars")
    async def stars_page(self, request: Request) -> Response:
        query = request.query_params
        return await _stars(self, request, query.get("quarter", ""), query.get("project_id", ""))

    @expose("/scores/stars/deadline", methods=["POST"], identity="score-stars-deadline")
    async def deadline_submit(self, request: Request) -> Response:
        """公司设定推荐截止日 of the quarter shown."""
        if not granted(self, request, "star-deadline", "create"):
            raise HTTPException(status_code=403, detail="没有设定推荐截止日的权限")
        form = await request.form()
        quarter, project = str(form.get("quarter", "")), str(form.get("project_id", ""))
        try:
            result = await run_action(self.session_maker, request, service_star.set_star_deadline, quarter=quarter,
                                      **DeadlineForm.read(form).data)
        except Refused as refused:
            return await _stars(self, request, quarter, project, status_code=refusal_status(refused),
                                error=refused.message)
        Flash.success(request, f"已设定 {result.quarter} 服务之星推荐截止日：{result.text}")
        url = request.url_for("admin:view-score-stars").include_query_params(quarter=result.quarter,
                                                                              project_id=project)
        return RedirectResponse(url, status_code=303)
