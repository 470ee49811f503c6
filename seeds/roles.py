"""The default roles and their grants, as data.

A grant is ``(identity, action)``: ``identity`` is the console view's identity — sqladmin's
``slugify_class_name`` of the model class (``ServiceRequest`` → ``service-request``) — and ``action`` one of
list / details / create / edit / delete / export / import, or ``action:<slug>`` for a custom action.

Rank, lowest first: 前台客服 / 楼宇管家 / 收费员 → 客服主管 → 客服经理. "主管+" in the comments below
means 客服主管 and 客服经理. 分公司管理 oversees the projects of its branch: it reads and exports, and holds
the approvals the documents give to the company (停电/封铺 审批, 重新开放考核, 服务之星评定), not the
front-line operations. 系统管理员 holds everything.

These are the grants a role gets when ``load_reference`` creates it; a role that already exists is left as
the console's permission matrix last saved it (``load_reference(restore_grants=True)`` adds back missing
defaults).
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.attachments import OWNERS

# --- building blocks -------------------------------------------------------------------------------
READ = "list details"
READ_EXPORT = "list details export"
WRITE = "list details create edit"
WRITE_EXPORT = "list details create edit export"
FULL = "list details create edit delete export"

# The business actions of later work, by the view that carries them.
DISPATCH = "action:dispatch"  # 派工：前台、主管+
REASSIGN = "action:reassign"  # 转派：主管+
ANSWER = "action:answer"  # 咨询、求助、建议、表扬当场答复办结：前台、管家、主管+
WITHDRAW = "action:withdraw"  # 业主撤销尚未办完的诉求及其未完工的派工单（须填原因）：前台、管家、主管+
JUDGE_COMPLAINT = "action:judge-complaint"  # 判定投诉是否有效并评定扣分：主管+
HANDLE = "action:accept action:complete action:callback"  # 接单、完工、回访：前台+
CLOSE = "action:close"  # 满意回访后关闭派工单：前台+（首问负责人跟进至办结）
GENERATE_BILLS = "action:generate-bills"  # 生成账单：收费员、主管+
DUNNING = "action:dunning"  # 催缴第一至三阶段：收费员、主管+
APPROVE_DUNNING = "action:approve-dunning"  # 停电/封铺须经公司批准：客服经理、分公司管理
APPROVE_VISIT_PLANS = "action:approve-visit-plans"  # 批准登门拜访计划：经理、分公司
RESPOND_ESCALATION = "action:respond"  # 批复诉求升级：主管+、分公司
SIGN_VISITS = "action:sign-visits"  # 签阅走访记录：主管、经理
REPORT_FINDING = "action:report-finding"  # 巡查发现转为报事：前台、管家、主管+
CONFIRM_HANDOVER = "action:confirm-handover"  # 收银员确认前台代收款交接：收费员、主管+
NOTIFY_MAIL = "action:notify-mail"  # 每日通知管家领取邮件：前台、主管+
SCHEDULE_REVIEWS = "action:schedule-reviews"  # 生成收费标准年审任务：主管+
COMPLETE_REVIEW = "action:complete-review"  # 登记年审结论：经理
REVERSE_PAYMENT = "action:reverse-payment"  # 冲正误录的收款（须填原因）：收费员、主管+
END_LEASE = "action:end-lease"  # 车位退租：前台、收费员、主管+
# 上传/删除照片与附件（报事、派工单、房屋整改、装修、外包方检查）：能新增或修改该记录、或完工的岗位
ATTACH = "action:attach"
ATTACHING = ("create", "edit", "action:complete")
# 前台与收费的小台帐：代收款交接、邮件领取通知、特约服务、一次性外包、收费标准年审、车位租赁
DESK_EXTRAS = ("cash-handover", "mail-notice", "special-service", "outsourced-job", "fee-review", "parking-lease")
IMPORT_RESPONSES = "action:import-responses"  # 导入问卷：主管+
COMPUTE_SCORES = "action:compute-scores"  # 计算月度得分：主管+
CONFIRM_SCORES = "action:confirm-scores"  # 确认月度考核：客服主管
REOPEN_SCORES = "action:reopen-scores"  # 重新开放已确认的考核：经理+
REVISE_RULE = "action:revise-rule"  # 修订考核细则（自某日起的新版本）：经理+
VIEW_PII = "action:view-pii"  # 查看完整身份证号/手机号（个人信息保护法）：经理、分公司、系统管理员
ACCOUNT = "action:account"  # 房屋账户（账单、收款、欠费）：能看账单的岗位
LETTERS = "action:letters"  # 打印催缴通知函：管家、收费员及以上、分公司
DELIVER = "action:deliver"  # 登记催缴通知送达：管家、收费员及以上
# 收费催缴页面的查看与打印、送达登记
DUNNING_PAPERS = {"bill": ACCOUNT, "dunning-run": LETTERS, "dunning-notice": f"{LETTERS} {DELIVER}"}
IMPORT = "import"  # 批量导入（上传、预览、确认）：房屋、客户、车位 主管+；账单、收款 收费员+；员工 经理+
SURVEY_RESULTS = "action:survey-results"  # 调查结果（调查率、满意度）：能看调查的岗位
DISTRIBUTE = "action:distribute"  # 登记问卷发放与签收（文件签收单）：前台、管家、主管+
SURVEY_PAPERS = {"survey": SURVEY_RESULTS, "survey-household": DISTRIBUTE}
CLOSE_MONTH = "action:close-month"  # 月结（冻结当月月度报告）：经理、分公司
MONTHLY_REPORT = {"month-snapshot": "list export"}  # 月度报告（查看、打印、导出）：主管+、分公司

ORG = ("project", "phase", "building", "unit", "parking-space", "department", "staff")
REFERENCE = ("sla-rule", "routing-rule", "scoring-rule", "grade-band", "fee-type")
LEDGERS = (
    "duty-log", "key-record", "key-loan", "lost-item", "item-loan", "goods-pass", "mail-item",
    "meeting-booking", "renovation-application", "worker-permit", "move-in-checklist", "house-defect",
    "rectification-notice", "owner-notice", "vendor-check", "weekly-task", "weekly-review",
    "visitor-entry",
)
# Ledgers a front desk keeps for itself and may correct by deleting a wrong line.
DESK_REGISTERS = ("mail-item", "item-loan", "meeting-booking", "weekly-task", "weekly-review", "visitor-entry")
SURVEYS = ("survey", "survey-household", "survey-response", "survey-score", "corrective-action")
SCORING = ("score-event", "score-month", "monthly-score", "service-star", "reward-entry", "star-deadline")
TRAINING = ("training-session", "training-attendance")
PATROLS = ("patrol-route", "patrol-check-item", "patrol", "patrol-check", "patrol-finding")
# 管家、前台巡查：按路线检查表登记，发现问题转为报事；路线与检查表由主管制定
PATROLLING = {
    "patrol-route": READ, "patrol-check-item": READ, "patrol": "list details create", "patrol-check": READ,
    "patrol-finding": f"list details {REPORT_FINDING}",
}
MONEY = ("bill", "payment", "dunning-run", "dunning-notice")
AUDIT = ("audit-log", "operation-log", "login-attempt", "import-batch")
ACCOUNTS = ("user", "role", "role-grant")
# Views holding personal data (columns with ``info={"pii": …}``): masked unless the role holds VIEW_PII.
PII_VIEWS = (
    "customer", "service-request", "key-loan", "lost-item", "item-loan", "goods-pass", "mail-item",
    "meeting-booking", "renovation-application", "worker-permit", "visitor-entry", "staff",
)


@dataclass(frozen=True)
class RoleSpec:
    name: str
    description: str
    grants: dict[str, str]  # identity → space-separated actions

    def pairs(self) -> list[tuple[str, str]]:
        pairs = {(identity, action) for identity, actions in self.grants.items() for action in actions.split()}
        pairs |= {(identity, ATTACH) for identity, action in pairs if identity in OWNERS and action in ATTACHING}
        return sorted(pairs)


def _each(identities: tuple[str, ...], actions: str) -> dict[str, str]:
    return {identity: actions for identity in identities}


def _merge(*parts: dict[str, str]) -> dict[str, str]:
    """Union of grant maps; the actions of one identity add up."""
    out: dict[str, set[str]] = {}
    for part in parts:
        for identity, actions in part.items():
            out.setdefault(identity, set()).update(actions.split())
    return {identity: " ".join(sorted(actions)) for identity, actions in out.items()}


FRONT_DESK = _merge(
    {
        # 前台职责：需要报事的应填写派工单并发至相关部门；负责派工单的派发工作
        "service-request": f"{WRITE} {HANDLE} {DISPATCH} {ANSWER} {WITHDRAW}",
        "work-order": f"list details edit {HANDLE} {CLOSE}",
        "visit": WRITE,
        "customer": WRITE,
        "unit-customer": WRITE,
        # 节假日、午休及下班后代收费用：可收款，不可改账单
        "bill": READ,
        "payment": "list details create",
        "survey": READ,
        "survey-household": "list details edit",
        "survey-response": "list details create",
        "survey-score": READ,
        "corrective-action": READ,
    },
    _each(ORG, READ),
    _each(REFERENCE, READ),
    _each(LEDGERS, WRITE),
    _each(DESK_REGISTERS, "delete"),
    _each(TRAINING, READ),
    {"staff-visit-plan": READ, "escalation": READ},
    {"bill": ACCOUNT},
    SURVEY_PAPERS,
    PATROLLING,
    _each(DESK_EXTRAS, READ),
    # 下班后代收费用交收银员；每日通知管家领取邮件；办理车位出租手续
    {"mail-notice": NOTIFY_MAIL, "parking-lease": f"create {END_LEASE}"},
)

BUTLER = _merge(
    {
        "service-request": f"{WRITE} {HANDLE} {ANSWER} {WITHDRAW}",
        "work-order": f"list details edit {HANDLE} {CLOSE}",
        "visit": WRITE,
        "customer": WRITE,
        "unit-customer": WRITE,
        # 管家负责所辖房屋：登记房屋状态（交房、装修、入住）；房号、面积等由能新增房屋的角色维护
        "unit": "edit",
        "escalation": READ,
        "bill": READ,
        "payment": READ,
        # 催缴通知由管家送达本楼住户：登记送达情况
        "dunning-run": READ,
        "dunning-notice": "list details edit",
        "survey": READ,
        "survey-household": "list details edit",
        "survey-response": "list details create",
        "survey-score": READ,
        "corrective-action": READ,
    },
    _each(ORG, READ),
    _each(REFERENCE, READ),
    _each(LEDGERS, WRITE),
    DUNNING_PAPERS,
    SURVEY_PAPERS,
    PATROLLING,
    _each(DESK_EXTRAS, READ),
    # 派专人跟进一次性外包服务：跟进人登记发现的问题与整改
    {"outsourced-job": "edit"},
)

CASHIER = _merge(
    {
        "service-request": "list details create",
        "escalation": READ,
        "customer": READ,
        "unit-customer": READ,
        "bill": f"{WRITE_EXPORT} {GENERATE_BILLS} {DUNNING}",
        "payment": f"{WRITE_EXPORT} {REVERSE_PAYMENT}",
        "dunning-run": f"{READ_EXPORT} {DUNNING}",
        "dunning-notice": "list details edit export",
        "fee-type": READ,
        # 前台代收款交收银员：收银员清点确认
        "cash-handover": f"{READ_EXPORT} {CONFIRM_HANDOVER}",
        "parking-lease": f"list details create export {END_LEASE}",
        "fee-review": READ,
    },
    _each(ORG, READ),
    DUNNING_PAPERS,
    {"bill": IMPORT, "payment": IMPORT},
)

SUPERVISOR = _merge(
    FRONT_DESK,
    BUTLER,
    CASHIER,
    {
        "service-request": f"export {DISPATCH} {REASSIGN} {JUDGE_COMPLAINT}",
        "work-order": f"create export {DISPATCH} {REASSIGN}",
        # 走访记录由主管、经理审阅签字
        "visit": f"delete export {SIGN_VISITS}",
        "visit-signoff": READ_EXPORT,
        "customer": "export",
        "unit-customer": "export",
        "staff": "export",
        "unit": "export",
        "survey": f"create edit export {IMPORT_RESPONSES}",
        "survey-household": "create delete export",
        "survey-response": "edit delete export",
        "survey-score": "export",
        "corrective-action": WRITE_EXPORT,
        "score-event": FULL,
        "score-month": f"{READ_EXPORT} {COMPUTE_SCORES} {CONFIRM_SCORES}",
        "monthly-score": f"{READ_EXPORT} {COMPUTE_SCORES} {CONFIRM_SCORES}",
        # 各项目推荐服务之星
        "service-star": "list details create",
        # 主管每月制定登门拜访计划
        "staff-visit-plan": WRITE_EXPORT,
        # 员工无法解决的问题报主管，主管报经理，经理报总经理：上级批复
        "escalation": f"export {RESPOND_ESCALATION}",
        # 确认考核后的奖惩，导出给薪酬
        "reward-entry": READ_EXPORT,
        "import-batch": READ,
        "operation-log": READ,
    },
    _each(LEDGERS, "delete export"),
    # 主管组织培训：计划、实施、签到与考核成绩
    _each(TRAINING, FULL),
    # 主管制定巡查路线与检查表，检查巡查记录
    _each(PATROLS, READ_EXPORT),
    _each(("patrol-route", "patrol-check-item"), FULL),
    {"patrol": "delete", "patrol-finding": "delete"},
    _each(DESK_EXTRAS, READ_EXPORT),
    _each(("special-service", "outsourced-job"), FULL),
    {"cash-handover": CONFIRM_HANDOVER, "mail-notice": NOTIFY_MAIL, "fee-review": SCHEDULE_REVIEWS,
     "parking-lease": f"create {END_LEASE}"},
    _each(("unit", "customer", "parking-space"), IMPORT),
    MONTHLY_REPORT,
)

MANAGER = _merge(
    SUPERVISOR,
    _each(PII_VIEWS, VIEW_PII),
    {
        "bill": APPROVE_DUNNING,
        "dunning-run": APPROVE_DUNNING,
        # 登门拜访计划报总经理（项目经理）批准
        "staff-visit-plan": APPROVE_VISIT_PLANS,
        # 抽查考核；确认后如需更正，由经理重新开放
        "score-month": f"edit {REOPEN_SCORES}",
        "monthly-score": REOPEN_SCORES,
        "service-star": "edit export",
        # 规则与费率的年度复核
        "fee-type": "create edit export",
        "fee-review": COMPLETE_REVIEW,
        "sla-rule": "create edit",
        "routing-rule": "edit",
        "scoring-rule": f"create edit export {REVISE_RULE}",
        "staff": f"create edit {IMPORT}",
        "audit-log": READ,
        "month-snapshot": CLOSE_MONTH,
    },
)
# 确认月度考核是主管的职责；经理抽查、重新开放
MANAGER = {k: " ".join(a for a in v.split() if a != CONFIRM_SCORES) for k, v in MANAGER.items()}

BRANCH = _merge(
    _each(
        ORG + REFERENCE + LEDGERS + SURVEYS + SCORING + TRAINING + MONEY + PATROLS
        + DESK_EXTRAS + ("staff-visit-plan", "escalation", "visit-signoff")
        + ("service-request", "work-order", "visit", "customer", "unit-customer", "branch"),
        READ_EXPORT,
    ),
    _each(AUDIT, READ),
    _each(PII_VIEWS, VIEW_PII),
    {
        "bill": APPROVE_DUNNING,
        "dunning-run": APPROVE_DUNNING,
        "score-month": f"{COMPUTE_SCORES} {REOPEN_SCORES}",
        "monthly-score": f"{COMPUTE_SCORES} {REOPEN_SCORES}",
        # 分公司评定季度服务之星
        "service-star": "edit",
        "staff-visit-plan": APPROVE_VISIT_PLANS,
        "escalation": RESPOND_ESCALATION,
    },
    {"bill": ACCOUNT, "dunning-run": LETTERS, "dunning-notice": LETTERS},
    {"survey": SURVEY_RESULTS},
    MONTHLY_REPORT,
    {"month-snapshot": CLOSE_MONTH},
)

# 工程部维修人员: take and finish the orders dispatched to them; read the request, its unit and its 处理经过
ENGINEERING = _merge(
    {
        "work-order": "list details action:accept action:complete",
        "service-request": READ,
        "visit": READ,
        "house-defect": "list details edit",
    },
    _each(ORG, READ),
)

ROLES: tuple[RoleSpec, ...] = (
    RoleSpec("前台客服", "接听来电来访、受理诉求、填写派工单、回访；台帐登记；下班后代收费用", FRONT_DESK),
    RoleSpec("楼宇管家", "负责所辖楼栋：巡查、装修检查、住户走访、诉求跟进、催缴通知送达", BUTLER),
    RoleSpec("收费员", "账单、收款、催缴（第一至三阶段），收费责任到人", CASHIER),
    RoleSpec("工程部", "维修人员：接单、完工，查看派工单及其处理经过、业主回访意见", ENGINEERING),
    RoleSpec("客服主管", "派工与转派、满意度调查、月度考核评分与确认、走访计划", SUPERVISOR),
    RoleSpec("客服经理", "审批停电/封铺、抽查考核并可重新开放、查看敏感信息、规则与费率复核", MANAGER),
    RoleSpec("分公司管理", "查看并比较分公司全部项目；审批停电/封铺；评定服务之星", BRANCH),
    RoleSpec("系统管理员", "全部权限：账号、角色与系统设置", {"*": "*"}),
)

ROLE_NAMES: tuple[str, ...] = tuple(spec.name for spec in ROLES)


def role_spec(name: str) -> RoleSpec:
    for spec in ROLES:
        if spec.name == name:
            return spec
    raise KeyError(name)
