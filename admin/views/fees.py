"""Views of 收费催缴: fee types, bills, payments, dunning runs and notices, and the pages around them —
生成账单, 发起催缴 (parameters → preview → issue), 审批停电/封铺, 通知函 (print / download), 送达登记, 房屋账户,
欠费账龄, 收费率.

Dunning runs and their notices are made by the dunning action (one run key per project, month and stage,
a second manager's approval for 停电/封铺): the console lists them and records a notice's delivery, it does
not create or approve them by hand. A GET only ever shows a form or a preview; every change is a POST with
the CSRF token, checked against the action's grant explicitly (``@expose`` checks nothing but access).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict
from functools import partial
from typing import Any

from sqladmin import Flash, action, expose
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actions import billing, dunning, slips
from actions.errors import Refused
from actions.form_tokens import new_form_token
from actions.job_runner import Handler, JobContext, Outcome
from actions.kernel.periods import add_months, current_period, today_local
from models import (
    SHANGHAI,
    Bill,
    DeliveryWay,
    DunningNotice,
    DunningRun,
    DunningRunStatus,
    FeeType,
    Payment,
    PayMethod,
    Staff,
    label_of,
    utcnow,
)

from ..forms import (
    ChoiceField,
    DateField,
    EnumField,
    IdField,
    IdsField,
    LocalDateTimeField,
    PageForm,
    PageNumberField,
    TextField,
    read_id,
)
from .base import (
    DETAIL_OBJ_STATE,
    PAGE_SIZE,
    BooleanFilter,
    EnumFilter,
    FilledFilter,
    OperationColumnFilter,
    ScopedForeignKeyFilter,
    ScopedModelView,
    ajax_refs,
    local_datetime,
)
from .drill import DrillFilter
from .jobs import JOB_WAIT, ReportForm, job_link, may_export, report_export, start_job, start_report
from .pages import (
    GrantedPage,
    TextStep,
    asks_export,
    confirm_export,
    granted,
    post_too,
    refusal_status,
    run_action,
    selected_pks,
)
from .slips import print_url, slip_page

FEES = "收费催缴"


class ReverseForm(PageForm):
    reason = TextField(label_of(Payment, "reversal_reason"))


REVERSE = TextStep(
    "reverse-payment", "冲正", "误录的收款（金额、账单或房屋录错）冲正后不再计入账单实收，账单状态随之重算；收款记录与收据号保留，"
    "不删除。正确的收款请另行登记。", "reason", label_of(Payment, "reversal_reason"), "确认冲正", "payment_id",
    billing.reverse_payment, ReverseForm, billing.reversal_refusal, placeholder="如：误录金额，应为 120 元",
    caption=lambda p: f"{p}（收据 {p.receipt_no}，{p.amount} 元，{local_datetime(p.paid_at)}）")
LETTER_LABELS = {
    "period": label_of(Bill, "period"),
    "fee_type": label_of(Bill, "fee_type_id"),
    "amount_due": label_of(Bill, "amount_due"),
    "amount_paid": label_of(Bill, "amount_paid"),
}


async def _page(view: Any, request: Request, template: str, *, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("local", local_datetime)
    return await view.templates.TemplateResponse(request, f"wuye/fees/{template}", context, status_code=status_code)


async def _letters(view: Any, request: Request, run_id: int, notice_ids: Iterable[int] | None) -> Response:
    """A run's letters, one per A4 page; ``?download=1`` makes the same document one file, in a 后台任务 (a
    run of thousands of accounts is a big file): its page, then the download in 「我的任务」. The download is a
    POST (the page's button, with the CSRF token); a GET of its address queues nothing and offers the POST."""
    if request.query_params.get("download") == "1":
        if not asks_export(request):
            return await confirm_export(view, request, f"下载催缴通知函 批次#{run_id}",
                                        request.url.remove_query_params("download"), button="下载为一个文件")
        ids = sorted(notice_ids) if notice_ids is not None else None
        return await start_job(view, request, "letters", f"催缴通知函 批次#{run_id}",
                               {"run_id": run_id, "notice_ids": ids}, wait=JOB_WAIT)
    letters = await run_action(view.session_maker, request, dunning.run_letters, run_id=run_id, notice_ids=notice_ids)
    return await view.templates.TemplateResponse(request, "wuye/letters/run.html", {
        "letters": letters, "labels": LETTER_LABELS, "standalone": False,
        "download_url": str(request.url.include_query_params(download="1")),
        "back_url": str(request.url_for("admin:details", identity="dunning-run", pk=run_id)),
    })


def letters_job(templates: Any) -> Handler:
    """The handler of a ``letters`` job: the run's letters as one HTML file, as the user who asked (their scope)."""

    def handle(session: Any, ctx: JobContext) -> Outcome:
        letters = dunning.run_letters(session, run_id=ctx.params["run_id"], notice_ids=ctx.params["notice_ids"],
                                      actor=ctx.actor)
        html = templates.get_template("wuye/letters/run.html").render(letters=letters, labels=LETTER_LABELS,
                                                                      standalone=True)
        ctx.output.write_text(html, encoding="utf-8")
        settled = f"；{letters.settled} 户已缴清，不再出函" if letters.settled else ""
        return Outcome({"message": f"通知函 {len(letters.letters)} 份{settled}"},
                       f"催缴通知函-{letters.project}-{letters.cycle}-{letters.stage.label}-批次{letters.run_id}.html")

    return handle


def dunning_job(session: Any, ctx: JobContext) -> Outcome:
    """The handler of a ``dunning`` job: the stage issued by the dunning action, as the user who asked."""
    p = ctx.params
    scope = dunning.DunningScope(**{k: tuple(v) if isinstance(v, list) else v for k, v in p["scope"].items()})
    result = dunning.issue_dunning(session, stage=p["stage"], scope=scope, actor=ctx.actor, wait_turn=True,
                                   as_of=dt.date.fromisoformat(p["as_of"]) if p["as_of"] else None)
    links = []
    if result.run_id:
        links.append(job_link(f"查看批次#{result.run_id}", "admin:details", identity="dunning-run", pk=result.run_id))
        if result.run_status in (DunningRunStatus.DONE, DunningRunStatus.APPROVED):
            links.append(job_link("打印通知函", "admin:action-dunning-run-letters", query=f"pks={result.run_id}"))
    return Outcome({"message": result.message, "links": links})


def bills_job(session: Any, ctx: JobContext) -> Outcome:
    """The handler of a ``bills`` job: the period's bills generated by the billing action, as the user who asked."""
    p = ctx.params
    result = billing.generate_bills(session, project_id=p["project_id"], period=p["period"],
                                    fee_type_ids=p["fee_type_ids"], actor=ctx.actor)
    return Outcome({"message": result.message, "table": {
        "head": ["收费项目", "已生成"], "rows": [[row.name, row.created] for row in result.by_fee_type]},
        "links": [job_link("查看账单", "admin:list", identity="bill", query=f"search={result.period}")]})


class FeeTypeAdmin(ScopedModelView, model=FeeType):
    category = "收费催缴"
    icon = "fa-solid fa-tags"
    column_list = ["id", "project", "name", "basis", "billing_cycle", "rate", "due_day", "active", "reviewed_on"]
    column_searchable_list = ["name"]
    column_sortable_list = ["id", "name", "basis", "billing_cycle", "rate", "due_day", "reviewed_on"]
    column_default_sort = [("project_id", False), ("name", False)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("basis"), EnumFilter("billing_cycle"),
                      BooleanFilter("active")]
    form_columns = ["project", "name", "basis", "billing_cycle", "rate", "due_day", "active", "reviewed_on"]


class BillAdmin(ScopedModelView, model=Bill):
    category = "收费催缴"
    icon = "fa-solid fa-file-invoice-dollar"
    column_list = ["id", "period", "unit", "fee_type", "amount_due", "amount_paid", "status", "due_date"]
    column_searchable_list = ["period", "unit.room_no", "customer.name"]
    column_sortable_list = ["id", "period", "amount_due", "amount_paid", "status", "due_date"]
    column_default_sort = [("period", True), ("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        EnumFilter("status"),
        ScopedForeignKeyFilter("fee_type"),
        ScopedForeignKeyFilter("collector"),
        OperationColumnFilter("period"),
        OperationColumnFilter("due_date"),
        DrillFilter(),
    ]
    # 实收与状态只随收款变化（收款记录），不在账单表单里手改.
    form_columns = ["project", "unit", "customer", "fee_type", "period", "amount_due", "due_date", "collector"]
    # 责任收费员: cashiers and the front desk only (the bill's save refuses another post: ``billing.check_collector``)
    form_ajax_refs = ajax_refs(Bill, "unit", "customer", "collector", collector={
        "where": [Staff.position.in_(billing.COLLECTING_POSITIONS), Staff.active.is_(True)]})

    @action("generate-bills", label="生成账单", add_in_detail=False)
    async def generate_bills_form(self, request: Request) -> Response:
        return await self._generate_page(request, {"period": current_period(), "fee_type_ids": []})

    @expose("/generate-bills", methods=["POST"])
    async def generate_bills_submit(self, request: Request) -> Response:
        self.require(request, "action:generate-bills")
        form = await request.form()
        values = {"project_id": form.get("project_id", ""), "period": form.get("period", ""),
                  "fee_type_ids": form.getlist("fee_type_id")}
        try:
            chosen = GenerateBillsForm.read(form)
            params = {"project_id": chosen.project_id.data, "period": str(values["period"]),
                      "fee_type_ids": list(chosen.fee_type_id.data) or None}
            if form.get("dry_run") != "1":  # the generation itself: a 后台任务, one per project and period at a time
                return await start_job(self, request, "bills", f"生成账单 {params['period']}",
                                       {**params, "operation": "generate_bills", "writes": True}, wait=JOB_WAIT,
                                       locks=partial(billing.generation_lock, **params))
            result = await run_action(self.session_maker, request, billing.generate_bills, **params, dry_run=True)
        except Refused as refused:
            return await self._generate_page(request, values, error=refused.message, status_code=refusal_status(refused))
        return await self._generate_page(request, values, result=result)

    async def _generate_page(self, request: Request, values: dict, *, status_code: int = 200, **context: Any) -> Response:
        choices = await run_action(self.session_maker, request, billing.fee_choices)
        return await _page(self, request, "generate_bills.html", status_code=status_code, title="生成账单",
                           choices=choices, values=values, **context)

    @action("dunning", label="催缴所选账单")
    async def dunning_for_bills(self, request: Request) -> Response:
        rows = await self.scoped_targets(request, selected_pks(request))
        url = request.url_for("admin:view-dunning").include_query_params(bill_ids=",".join(str(r.id) for r in rows))
        return RedirectResponse(url, status_code=302)

    @action("account", label="房屋账户", add_in_list=False)
    async def account_of_bill(self, request: Request) -> Response:
        rows = await self.scoped_targets(request, selected_pks(request)[:1])
        url = request.url_for("admin:view-bill-account_page").include_query_params(unit_id=rows[0].unit_id)
        return RedirectResponse(url, status_code=302)

    @expose("/account", methods=["GET"])
    async def account_page(self, request: Request) -> Response:
        """房屋账户: a unit's (or a customer's units') bills, payments and balance; 收款 when granted."""
        self.require(request, "action:account")
        query = request.query_params
        return await self._account_page(request, query.get("unit_id"), query.get("customer_id"))

    async def _account_page(self, request: Request, unit: Any, customer: Any, *, status_code: int = 200,
                            **context: Any) -> Response:
        def load(session: Any, *, actor: Any) -> tuple[Any, ...]:
            whose = AccountForm.read({"customer_id": customer or "", "unit_id": unit or ""})
            customer_id, unit_id = whose.customer_id.data, whose.unit_id.data
            if customer_id:
                statements = billing.customer_accounts(session, customer_id=customer_id, actor=actor)
            elif unit_id:
                statements = (billing.account_statement(session, unit_id=unit_id, actor=actor),)
            else:
                raise Refused("请指定房屋或客户")
            return statements, billing.fee_choices(session, actor=actor)

        try:
            statements, choices = await run_action(self.session_maker, request, load)
        except Refused as refused:
            return await _page(self, request, "account.html", status_code=refusal_status(refused), title="房屋账户",
                               statements=(), error=refused.message)
        return await _page(
            self, request, "account.html", status_code=status_code, title="房屋账户", statements=statements,
            collectors=choices.collectors, own_staff_id=choices.own_staff_id, methods=PayMethod.choices(),
            can_pay=granted(self, request, "payment", "create"), new_form_token=new_form_token, **context,
        )

    @expose("/account/pay", methods=["POST"])
    async def account_pay(self, request: Request) -> Response:
        """收款 for a whole account: spread over its open bills, oldest first; more than is owed is refused."""
        self.require(request, "action:account")
        if not granted(self, request, "payment", "create"):
            raise HTTPException(status_code=403, detail="没有收款的权限")
        form = await request.form()
        try:
            paid = PayAccountForm.read(form).data
            unit_id = paid["unit_id"]
            result = await run_action(self.session_maker, request, billing.pay_account, **paid,
                                      amount=str(form.get("amount", "")), form_token=str(form.get("form_token", "")))
        except Refused as refused:
            return await self._account_page(request, form.get("unit_id"), None, status_code=refusal_status(refused),
                                            error=refused.message)
        Flash.success(request, result.message)
        # 收据 printed right after 收款 (its page returns to the account)
        url = request.url_for("admin:view-payment-print_slip").include_query_params(
            id=result.payments[0].payment_id, unit_id=unit_id)
        return RedirectResponse(url, status_code=303)


class PaymentAdmin(ScopedModelView, model=Payment):
    category = "收费催缴"
    icon = "fa-solid fa-money-bill"
    # 冲正时间 on the list (and its export): a cashier finds the reversed payments by it and by 是否冲正.
    column_list = ["id", "bill", "amount", "method", "paid_at", "collector", "receipt_no", "reversed_at"]
    column_searchable_list = ["receipt_no", "bill.period"]
    column_sortable_list = ["id", "amount", "method", "paid_at", "receipt_no"]
    column_default_sort = [("paid_at", True), ("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("method"),  # 是否冲正 above the long 收款人 list
                      FilledFilter("reversed_at", "是否冲正", "未冲正", "已冲正"), ScopedForeignKeyFilter("collector")]
    # A payment is entered through 收款 (the bill's paid amount and status follow, overpayment is refused);
    # once booked it is not edited or deleted here — a correction is its 冲正 (below), which keeps the row.
    column_details_list = [*column_list, "project", "reversed_by", "reversal_reason"]
    can_edit = False
    can_delete = False
    form_columns = ["bill", "amount", "method", "paid_at", "collector"]  # the 收据号 is the system's
    # 收款人: cashiers and the front desk only; left blank, the action names the cashier's own staff record.
    form_ajax_refs = ajax_refs(Payment, "bill", "collector", collector={
        "where": [Staff.position.in_(billing.COLLECTING_POSITIONS), Staff.active.is_(True)]})

    def record_links(self, request: Request, obj: Any) -> list[tuple[str, str]]:
        return [("打印收据", print_url(request, self.identity, obj.id))]

    @action("reverse-payment", label="冲正")
    async def reverse_payment_form(self, request: Request) -> Response:
        # reversed already: said at once, not after the reason is typed
        return await REVERSE.opened(self, request)

    @expose("/reverse", methods=["POST"])
    async def reverse_payment_submit(self, request: Request) -> Response:
        """冲正: a payment recorded wrongly is reversed with the reason; the row stays, the bill's 实收 follows."""
        return await REVERSE.posted(self, request)

    def _visible_custom_actions(self, request: Request, in_detail: bool = False) -> dict[str, str]:
        """冲正 on a payment's page only while it stands (the page says why when opened from a list selection)."""
        actions = super()._visible_custom_actions(request, in_detail)
        row = getattr(request.state, DETAIL_OBJ_STATE, None) if in_detail else None
        if isinstance(row, Payment) and billing.reversal_refusal(row):
            actions.pop("reverse-payment", None)
        return actions

    @expose("/print", methods=["GET"])
    async def print_slip(self, request: Request) -> Response:
        """收据 of a 收款 — every bill an account payment paid, one number; ``?unit_id=`` returns to that account."""
        unit = AccountForm.read(request.query_params).unit_id.data
        back = str(request.url_for("admin:view-bill-account_page").include_query_params(unit_id=unit)) if unit else ""
        return await slip_page(self, request, slips.receipt_slip, "payment_id", pii=False, back_url=back)


class DunningRunAdmin(ScopedModelView, model=DunningRun):
    category = "收费催缴"
    icon = "fa-solid fa-bell"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = ["id", "project", "cycle", "stage", "status", "notice_count", "total_amount", "requested_by"]
    column_searchable_list = ["cycle", "run_key"]
    column_sortable_list = ["id", "cycle", "stage", "status", "notice_count", "total_amount", "approved_at"]
    column_details_exclude_list = ["run_key"]  # the idempotency key of the run: internal, searchable only
    column_default_sort = [("id", True)]
    column_filters = [ScopedForeignKeyFilter("project"), EnumFilter("stage"), EnumFilter("status"),
                      OperationColumnFilter("cycle"), DrillFilter()]

    @action("approve-dunning", label="审批停电/封铺", add_in_list=False)
    async def approve_form(self, request: Request) -> Response:
        rows = await self.scoped_targets(request, selected_pks(request)[:1])
        run = await run_action(self.session_maker, request, dunning.run_accounts, run_id=rows[0].id)
        return await _page(self, request, "approve.html", title="审批停电/封铺", run=run)

    @expose("/approve", methods=["POST"])
    async def approve_submit(self, request: Request) -> Response:
        self.require(request, "action:approve-dunning")
        form = await request.form()
        run_id = read_id(form, "run_id", "批次")
        context: dict[str, Any] = {}
        status_code = 200
        try:
            decision = ApprovalForm.read(form)
            context["result"] = await run_action(self.session_maker, request, dunning.approve_dunning, run_id=run_id,
                                                 **decision.data)
        except Refused as refused:
            context["error"], status_code = refused.message, refusal_status(refused)
            context["note"] = str(form.get("note", ""))[:200]  # kept, so a refused rejection is not typed again
            context["kept"] = {int(u) for u in form.getlist("keep_out") if str(u).isdigit()}  # the ticks too
        context["run"] = await run_action(self.session_maker, request, dunning.run_accounts, run_id=run_id)
        return await _page(self, request, "approve.html", status_code=status_code, title="审批停电/封铺", **context)

    @action("letters", label="打印通知函", add_in_list=False)
    @post_too
    async def letters(self, request: Request) -> Response:
        rows = await self.scoped_targets(request, selected_pks(request)[:1])
        return await _letters(self, request, rows[0].id, None)


class DunningNoticeAdmin(ScopedModelView, model=DunningNotice):
    category = "收费催缴"
    icon = "fa-solid fa-envelope-open-text"
    can_create = False
    can_delete = False
    # 限缴日期 beside what is owed: the day the household was given, which the collector chases by
    column_list = ["id", "cycle", "stage", "unit", "customer", "amount", "months_in_arrears", "pay_by", "delivered_at"]
    column_searchable_list = ["cycle", "unit.room_no", "customer.name", "signed_by"]
    column_sortable_list = ["id", "cycle", "stage", "amount", "months_in_arrears", "pay_by", "delivered_at"]
    column_default_sort = [("id", True)]
    column_filters = [
        ScopedForeignKeyFilter("project"),
        EnumFilter("stage"),
        EnumFilter("delivery_way"),
        OperationColumnFilter("cycle"),
        DrillFilter(),
    ]
    # Only the delivery is recorded by hand: 送达时间、送达人、方式、签收人.
    form_columns = ["delivered_at", "delivered_by", "delivery_way", "signed_by", "note"]
    form_ajax_refs = ajax_refs(DunningNotice, "delivered_by")

    @action("letters", label="打印通知函")
    @post_too
    async def letters(self, request: Request) -> Response:
        rows = await self.scoped_targets(request, selected_pks(request))
        runs = {row.run_id for row in rows}
        if len(runs) != 1:
            raise HTTPException(status_code=400, detail="请选择同一批次的通知")
        return await _letters(self, request, runs.pop(), [row.id for row in rows])

    @action("deliver", label="登记送达")
    async def deliver_form(self, request: Request) -> Response:
        rows = await self.scoped_targets(request, selected_pks(request))
        return await self._deliver_page(request, [row.id for row in rows], {row.project_id for row in rows})

    async def _deliver_page(self, request: Request, ids: list[int], projects: set[int] | None, *,
                            status_code: int = 200, **context: Any) -> Response:
        choices = await run_action(self.session_maker, request, billing.fee_choices)
        staff = [c for c in choices.staff if projects is None or c.project_id in projects]
        now = utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
        return await _page(self, request, "deliver.html", status_code=status_code, title="登记送达", notice_ids=ids,
                           staff=staff, own_staff_id=choices.own_staff_id, ways=DeliveryWay.choices(), now=now,
                           **context)

    @expose("/deliver", methods=["POST"])
    async def deliver_submit(self, request: Request) -> Response:
        self.require(request, "action:deliver")
        form = await request.form()
        ids: list[int] = []
        try:
            ids = list(NoticesForm.read(form).notice_ids.data)  # kept on the page when another field is refused
            result = await run_action(
                self.session_maker, request, dunning.record_delivery, **DeliverForm.read(form).data,
                way=str(form.get("way", "")), signed_by=str(form.get("signed_by", "")),
            )
        except Refused as refused:
            typed = {k: str(form.get(k, "")) for k in ("delivered_by_id", "way", "signed_by", "delivered_at")}
            return await self._deliver_page(request, ids, None, status_code=refusal_status(refused), error=refused.message,
                                            typed=typed)  # kept: retyped, 送达人 would fall back to the user
        Flash.success(request, result.message)
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), status_code=303)


# --- the fee pages' input -----------------------------------------------------------------------------------
class GenerateBillsForm(PageForm):
    project_id = IdField("项目")
    fee_type_id = IdsField(label_of(Bill, "fee_type_id"))


class AccountForm(PageForm):
    """房屋账户 (and the 收据's way back to it): whose account; the actions check it is the user's."""

    customer_id = IdField("客户")
    unit_id = IdField("房屋")


class PayAccountForm(PageForm):
    unit_id = IdField("房屋")
    method = EnumField(PayMethod, label_of(Payment, "method"))
    collector_id = IdField(label_of(Payment, "collector_id"))


class NoticesForm(PageForm):
    notice_ids = IdsField(DunningNotice.__label__)


class DeliverForm(NoticesForm):
    delivered_by_id = IdField(label_of(DunningNotice, "delivered_by_id"))
    delivered_at = LocalDateTimeField(label_of(DunningNotice, "delivered_at"))


class ApprovalForm(PageForm):
    """审批停电/封铺: the decision and its note (the action asks a rejection for its reason)."""

    approve = ChoiceField("批准或驳回", {"approve": True, "reject": False}, name="decision")
    note = TextField("审批意见")
    keep_out = IdsField("移出名单的住户")


class DunningForm(PageForm):
    """发起催缴's scope and date (the stage is read by the action, by its own rules)."""

    project_id = IdField("项目")
    building_id = IdField("楼栋")
    unit_ids = IdsField("房屋")
    bill_ids = IdsField(Bill.__label__)
    as_of = DateField(label_of(DunningRun, "as_of"))


# --- pages without a model of their own ---------------------------------------------------------------------
class FeePage(GrantedPage):
    category = FEES


class DunningPage(FeePage):
    """发起催缴: parameters (stage, as-of date, scope) → preview (GET, writes nothing) → issue (POST)."""

    name = "发起催缴"
    icon = "fa-solid fa-bell"
    grant = ("dunning-run", "action:dunning")

    @expose("/dunning", methods=["GET", "POST"], identity="dunning")
    async def dunning_page(self, request: Request) -> Response:
        if not self.has_permission(request, "list"):  # explicit: a POST here issues notices (A02)
            raise HTTPException(status_code=403, detail="没有发起催缴的权限")
        issuing = request.method == "POST"
        params = await request.form() if issuing else request.query_params
        values = {key: str(params.get(key, "")) for key in
                  ("stage", "as_of", "scope", "project_id", "building_id", "unit_ids", "bill_ids")}
        values["stage"] = values["stage"] or dunning.current_stage().value
        values["scope"] = values["scope"] or "project"
        context: dict[str, Any] = {}
        status_code = 200
        if issuing or params.get("preview"):
            try:
                read = DunningForm.read(params).data
                selected = read["unit_ids"] or read["bill_ids"]
                scope = dunning.DunningScope(
                    project_id=read["project_id"] if not selected and values["scope"] == "project" else None,
                    building_id=read["building_id"] if not selected and values["scope"] == "building" else None,
                    unit_ids=read["unit_ids"], bill_ids=read["bill_ids"],
                )
                as_of = read["as_of"]
                if issuing:  # the run: a 后台任务, one per project, month and stage at a time
                    return await start_job(
                        self, request, "dunning", f"发起催缴：{dunning.stage_of(values['stage']).label}",
                        {"stage": values["stage"], "as_of": as_of.isoformat() if as_of else "", "scope": asdict(scope),
                         "operation": "issue_dunning", "writes": True},
                        wait=JOB_WAIT, locks=partial(dunning.run_lock, stage=values["stage"], scope=scope, as_of=as_of))
                context["result"] = await run_action(
                    self.session_maker, request, dunning.issue_dunning, stage=values["stage"], scope=scope,
                    as_of=as_of, dry_run=True,
                )
            except Refused as refused:
                context["error"], status_code = refused.message, refusal_status(refused)
        choices = await run_action(self.session_maker, request, billing.fee_choices)
        stages = dunning.month_schedule()
        return await _page(self, request, "dunning.html", status_code=status_code, title="发起催缴", values=values,
                           choices=choices, stages=stages, issuing=issuing, **context)


ARREARS_PARAMS = ("as_of", "project_id", "building_id", "collector_id", "key_tenant", "min_months")


class ArrearsForm(PageForm):
    """欠费账龄's filters (the action keeps them to the user's projects)."""

    as_of = DateField("截至日期")
    project_id = IdField("项目")
    building_id = IdField("楼栋")
    collector_id = IdField(label_of(Bill, "collector"))
    min_months = IdField("欠费月数", between=(0, 2**31 - 1))
    page = PageNumberField()


def _arrears_params(query: Any) -> tuple[dt.date | None, billing.ArrearsFilter]:
    read = ArrearsForm.read(query).data
    return read["as_of"], billing.ArrearsFilter(
        project_id=read["project_id"], building_id=read["building_id"], collector_id=read["collector_id"],
        key_tenant={"yes": True, "no": False}.get(query.get("key_tenant", "")), min_months=read["min_months"],
    )


@report_export("arrears", "欠费账龄", grant=("bill", "export"))
def arrears_file(session: Any, actor: Any, query: Any) -> tuple[bytes, str]:
    as_of, filters = _arrears_params(query)
    data = billing.arrears_xlsx(session, actor=actor, as_of=as_of, filters=filters)
    return data, f"欠费账龄-{as_of or today_local()}.xlsx"


class ArrearsPage(FeePage):
    """欠费账龄: accounts in arrears with their aging, filtered, the totals of every filtered row, .xlsx export."""

    name = "欠费账龄"
    icon = "fa-solid fa-hourglass-half"

    @expose("/arrears", methods=["GET", "POST"], identity="arrears")
    async def arrears_page(self, request: Request) -> Response:
        query = request.query_params
        values = {key: query.get(key, "") for key in ARREARS_PARAMS}
        try:
            as_of, filters = _arrears_params(query)
            if query.get("export") == "xlsx":
                return await start_report(self, request, "arrears")
            page = await run_action(self.session_maker, request, billing.arrears, as_of=as_of, filters=filters,
                                    page=ArrearsForm.read(query).page.data, page_size=PAGE_SIZE)
            context, status_code = {"page": page}, 200
        except Refused as refused:
            context, status_code = {"error": refused.message}, refusal_status(refused)
        choices = await run_action(self.session_maker, request, billing.fee_choices)
        return await _page(
            self, request, "arrears.html", status_code=status_code, title="欠费账龄", values=values, choices=choices,
            aging=billing.AGING_LABELS, can_export=may_export(self, request, "arrears"),
            can_open_account=granted(self, request, "bill", "action:account"), **context,
        )


def _rate_values(query: Any) -> dict[str, str]:
    return {
        # the last complete month by default: the current one has little data yet
        "period_from": query.get("period_from") or add_months(current_period(), -1),
        "period_to": query.get("period_to", ""),
        "group_by": query.get("group_by") or "project",
        "project_id": query.get("project_id", ""),
    }


def _collection_rate(session: Any, *, actor: Any, query: Any) -> billing.CollectionRateReport:
    values = _rate_values(query)
    return billing.collection_rate(session, actor=actor, period_from=values["period_from"],
                                   period_to=values["period_to"] or None, group_by=values["group_by"],
                                   project_id=ReportForm.read(values).project_id.data)


@report_export("collection-rate", "收费率", grant=("bill", "export"))
def collection_rate_file(session: Any, actor: Any, query: Any) -> tuple[bytes, str]:
    report = _collection_rate(session, actor=actor, query=query)
    return billing.collection_rate_xlsx(session, report), f"收费率-{report.period_from}-{report.period_to}.xlsx"


class CollectionRatePage(FeePage):
    """收费率 by project / phase / building / collector and month, by amount and by household, with .xlsx."""

    name = "收费率"
    icon = "fa-solid fa-percent"

    @expose("/collection-rate", methods=["GET", "POST"], identity="collection-rate")
    async def collection_rate_page(self, request: Request) -> Response:
        query = request.query_params
        values = _rate_values(query)
        if query.get("export") == "xlsx":  # the job builds the report: not once here and again there
            return await start_report(self, request, "collection-rate")
        try:
            report = await run_action(self.session_maker, request, _collection_rate, query=query)
            context, status_code = {"report": report}, 200
        except Refused as refused:
            context, status_code = {"error": refused.message}, refusal_status(refused)
        choices = await run_action(self.session_maker, request, billing.fee_choices)
        return await _page(self, request, "collection_rate.html", status_code=status_code, title="收费率",
                           values=values, choices=choices, groups=billing.RATE_GROUPS,
                           can_export=may_export(self, request, "collection-rate"), **context)
