"""The demo data set: two branches, four projects, ~2,400 units with their people, a year of bills and
payments, service requests with work orders and callbacks, a satisfaction survey, staff score events, the
front desk's ledgers, and one login per role.

Deterministic: one ``random.Random(SEED)`` and a fixed reference moment (``NOW``, 2026-11-15 10:00 in
Shanghai), so every load produces the same records. Idempotent: if the demo's first branch exists the load
does nothing. Rows go in with set-based ``INSERT``s (``RETURNING`` ids where later rows need them); the
demo accounts go through ``actions.accounts.add_user`` like any other account.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from actions.accounts import add_user
from actions.actor import actor_for_user
from actions.audit import log_operation
from actions.front_desk import other_methods_text
from actions.scores import compute_scores, confirm_scores
from actions.weekly_plan import carry_over_tasks
from models import (
    SCORE_COLUMNS,
    SHANGHAI,
    ZERO,
    ActionStatus,
    Audience,
    Bill,
    BillStatus,
    BookingStatus,
    Branch,
    Building,
    CashHandover,
    Channel,
    CheckResult,
    ComplaintValidity,
    CorrectiveAction,
    Customer,
    CustomerKind,
    DefectStatus,
    Department,
    DepartmentKind,
    DutyLog,
    Escalation,
    EscalationLevel,
    EventSource,
    FeeReview,
    FeeType,
    FindingStatus,
    GoodsPass,
    GoodsPassStatus,
    HouseDefect,
    ItemLoan,
    ItemLoanStatus,
    KeyKind,
    KeyLoan,
    KeyRecord,
    KeyStatus,
    LostItem,
    LostItemStatus,
    MailItem,
    MailKind,
    MailNotice,
    MeetingBooking,
    MoveInChecklist,
    NoticeStatus,
    OutsourcedJob,
    OutsourcedJobStatus,
    OwnerNotice,
    ParkingLease,
    ParkingSpace,
    Patrol,
    PatrolCheck,
    PatrolCheckItem,
    PatrolFinding,
    PatrolFrequency,
    PatrolRoute,
    Payment,
    PayMethod,
    Phase,
    PlanSection,
    PlanStatus,
    Priority,
    Project,
    ProjectKind,
    Receipt,
    ReceiptSequence,
    RectificationNotice,
    RenovationApplication,
    RenovationStatus,
    RequestCategory,
    RequestKind,
    RequestStatus,
    ReviewStatus,
    RewardEntry,
    RoutingRule,
    Satisfaction,
    ScoreEvent,
    ScoringRule,
    ServiceRequest,
    ServiceStar,
    Shift,
    SlaRule,
    SpecialService,
    Staff,
    StaffPosition,
    StaffVisitPlan,
    StarDeadline,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    SurveyStatus,
    SurveyTopic,
    TaskStatus,
    TrainingAttendance,
    TrainingSession,
    TrainingStatus,
    TrainingTopic,
    Unit,
    UnitCustomer,
    UnitKind,
    UnitRelation,
    UnitStatus,
    User,
    VendorCheck,
    VendorService,
    Visit,
    VisitKind,
    VisitorDocument,
    VisitorEntry,
    VisitPurpose,
    VisitSignoff,
    VisitWay,
    WeeklyReview,
    WeeklyTask,
    WorkerPermit,
    WorkOrder,
    WorkOrderStatus,
    receipt_number,
)
from models.db import controls_stripped

from . import people
from .reference import default_fee_types

UTC = dt.UTC
SEED = 20261115
TODAY = dt.date(2026, 11, 15)
NOW = dt.datetime(2026, 11, 15, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
YEAR_AGO = TODAY - dt.timedelta(days=365)
PERIODS = tuple(f"{y}-{m:02d}" for y, m in [(2025, 12)] + [(2026, m) for m in range(1, 12)])
# 已确认考核的月份（最后两个月：上月计算未确认，本月未结束）之前受理的投诉均已评定
CONFIRMED_BEFORE = dt.datetime(*map(int, PERIODS[-2].split("-")), 1, tzinfo=SHANGHAI).astimezone(UTC)
DEMO_PASSWORD = "wuye-demo-2026"
COMPANY = "锦程物业服务有限公司"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    display: str  # who it is, for the printed table
    project: str | None = None
    branch: str | None = None
    superuser: bool = False
    staff_position: StaffPosition | None = None


@dataclass(frozen=True)
class BuildingSpec:
    name: str
    floors: tuple[str, ...]  # floor labels used in room numbers
    per_floor: int
    kind: UnitKind
    areas: tuple[str, ...]  # area by position on the floor (cycled), m²


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    handover: dt.date
    buildings: tuple[BuildingSpec, ...]


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    kind: ProjectKind
    branch: str
    prefix: str  # employee numbers
    address: str
    phone: str
    phases: tuple[PhaseSpec, ...]
    parking: tuple[tuple[str, str, int], ...]  # (code prefix, area name, count)
    staff: dict[StaffPosition, int]
    requests: int  # service requests over the year
    plate: str


def _tower(name: str, floors: int, per_floor: int, areas: tuple[str, ...], first: int = 1) -> BuildingSpec:
    return BuildingSpec(name, tuple(str(f) for f in range(first, first + floors)), per_floor, UnitKind.HOUSE, areas)


_HOUSE_A = ("89.56", "128.34", "128.34", "89.56")
_HOUSE_B = ("105.20", "143.75", "143.75", "105.20")
_HOUSE_C = ("76.40", "98.62", "118.90", "98.62", "76.40", "118.90")
_SHOPS = ("48.50", "62.30", "35.80", "120.60", "86.40", "210.00", "55.20", "72.90", "38.60", "480.00")
_OFFICES = ("118.40", "86.20", "236.80", "152.60", "98.30", "312.50", "128.70", "86.20", "176.40", "98.30")

PROJECTS: tuple[ProjectSpec, ...] = (
    ProjectSpec(
        name="锦绣华庭", kind=ProjectKind.RESIDENTIAL, branch="上海分公司", prefix="JX",
        address="上海市浦东新区锦绣路2888弄", phone="021-58901234",
        phases=(
            PhaseSpec("一期", dt.date(2019, 6, 28), tuple(_tower(f"{i}栋", 24, 4, _HOUSE_A) for i in range(1, 5))),
            PhaseSpec("二期", dt.date(2021, 3, 30), tuple(_tower(f"{i}栋", 24, 4, _HOUSE_B) for i in range(5, 9))),
            PhaseSpec("三期", dt.date(2025, 10, 18), tuple(_tower(f"{i}栋", 18, 4, _HOUSE_A) for i in range(9, 13))),
        ),
        parking=(("B1-", "地下一层", 420), ("B2-", "地下二层", 300)),
        staff={StaffPosition.MANAGER: 1, StaffPosition.SUPERVISOR: 1, StaffPosition.FRONT_DESK: 2,
               StaffPosition.BUTLER: 3, StaffPosition.CASHIER: 2, StaffPosition.ENGINEER: 3,
               StaffPosition.GUARD: 1, StaffPosition.CLEANER: 1},
        requests=1300, plate="沪",
    ),
    ProjectSpec(
        name="翠湖天地", kind=ProjectKind.RESIDENTIAL, branch="上海分公司", prefix="CH",
        address="上海市闵行区翠湖路666号", phone="021-64561188",
        phases=(
            PhaseSpec("一期", dt.date(2017, 9, 20), tuple(_tower(f"{i}栋", 18, 4, _HOUSE_B) for i in range(1, 7))),
            PhaseSpec("二期", dt.date(2020, 12, 15), tuple(_tower(f"{i}栋", 17, 6, _HOUSE_C) for i in range(7, 11))),
        ),
        parking=(("A", "地下车库A区", 300), ("B", "地下车库B区", 200)),
        staff={StaffPosition.MANAGER: 1, StaffPosition.SUPERVISOR: 1, StaffPosition.FRONT_DESK: 2,
               StaffPosition.BUTLER: 2, StaffPosition.CASHIER: 1, StaffPosition.ENGINEER: 2,
               StaffPosition.GUARD: 1},
        requests=950, plate="沪",
    ),
    ProjectSpec(
        name="环球商业广场", kind=ProjectKind.COMMERCIAL, branch="杭州分公司", prefix="HQ",
        address="杭州市上城区解放东路100号", phone="0571-86012345",
        phases=(
            PhaseSpec("一期", dt.date(2018, 5, 1), (
                BuildingSpec("A座", ("B1", "1F", "2F", "3F", "4F", "5F"), 20, UnitKind.SHOP, _SHOPS),
                BuildingSpec("B座", ("1F", "2F", "3F", "4F"), 20, UnitKind.SHOP, _SHOPS),
            )),
        ),
        parking=(("P1-", "地下停车场P1", 180), ("P2-", "地下停车场P2", 120)),
        staff={StaffPosition.MANAGER: 1, StaffPosition.SUPERVISOR: 1, StaffPosition.FRONT_DESK: 2,
               StaffPosition.BUTLER: 1, StaffPosition.CASHIER: 1, StaffPosition.ENGINEER: 2},
        requests=350, plate="浙A",
    ),
    ProjectSpec(
        name="滨江国际大厦", kind=ProjectKind.OFFICE, branch="杭州分公司", prefix="BJ",
        address="杭州市滨江区江南大道3888号", phone="0571-87706666",
        phases=(
            PhaseSpec("一期", dt.date(2019, 11, 8), (
                BuildingSpec("主楼", tuple(str(f) for f in range(5, 33)), 10, UnitKind.OFFICE, _OFFICES),
                BuildingSpec("裙楼", ("1F", "2F", "3F", "4F"), 8, UnitKind.SHOP, _SHOPS),
            )),
        ),
        parking=(("B1-", "地下一层", 200),),
        staff={StaffPosition.MANAGER: 1, StaffPosition.SUPERVISOR: 1, StaffPosition.FRONT_DESK: 2,
               StaffPosition.BUTLER: 1, StaffPosition.CASHIER: 1, StaffPosition.ENGINEER: 2},
        requests=400, plate="浙A",
    ),
)
BRANCHES = ("上海分公司", "杭州分公司")
FIRST_BRANCH = BRANCHES[0]

ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("qiantai", "前台客服", "锦绣华庭 前台客服", project="锦绣华庭", staff_position=StaffPosition.FRONT_DESK),
    DemoAccount("guanjia", "楼宇管家", "锦绣华庭 楼宇管家", project="锦绣华庭", staff_position=StaffPosition.BUTLER),
    DemoAccount("shoufei", "收费员", "锦绣华庭 收费员", project="锦绣华庭", staff_position=StaffPosition.CASHIER),
    DemoAccount("gongcheng", "工程部", "锦绣华庭 工程部维修工", project="锦绣华庭", staff_position=StaffPosition.ENGINEER),
    DemoAccount("zhuguan", "客服主管", "锦绣华庭 客服主管", project="锦绣华庭", staff_position=StaffPosition.SUPERVISOR),
    DemoAccount("jingli", "客服经理", "锦绣华庭 客服经理", project="锦绣华庭", staff_position=StaffPosition.MANAGER),
    DemoAccount("fengongsi", "分公司管理", "上海分公司（锦绣华庭、翠湖天地）", branch="上海分公司"),
    DemoAccount("admin", "系统管理员", "系统管理员（全部项目）", superuser=True),
    # The other projects' desks and supervisors, so project scoping can be seen from both sides.
    DemoAccount("qiantai2", "前台客服", "翠湖天地 前台客服", project="翠湖天地", staff_position=StaffPosition.FRONT_DESK),
    DemoAccount("zhuguan2", "客服主管", "翠湖天地 客服主管", project="翠湖天地", staff_position=StaffPosition.SUPERVISOR),
    DemoAccount("qiantai3", "前台客服", "环球商业广场 前台客服", project="环球商业广场",
                staff_position=StaffPosition.FRONT_DESK),
    DemoAccount("zhuguan3", "客服主管", "环球商业广场 客服主管", project="环球商业广场",
                staff_position=StaffPosition.SUPERVISOR),
    DemoAccount("qiantai4", "前台客服", "滨江国际大厦 前台客服", project="滨江国际大厦",
                staff_position=StaffPosition.FRONT_DESK),
    DemoAccount("zhuguan4", "客服主管", "滨江国际大厦 客服主管", project="滨江国际大厦",
                staff_position=StaffPosition.SUPERVISOR),
)

# ---------------------------------------------------------------------------------------------------
# Words for the records.
# ---------------------------------------------------------------------------------------------------
C = RequestCategory
K = RequestKind
CV = ComplaintValidity
TEXTS: dict[tuple[RequestKind | None, RequestCategory], tuple[str, ...]] = {
    (K.REPAIR_PRIVATE, C.PLUMBING): (
        "卫生间下水管道堵塞，请派人疏通", "厨房水龙头漏水，关不紧", "家里突然停电，总闸跳了合不上",
        "客厅灯不亮，开关没有反应", "热水器进水阀漏水", "阳台地漏返水", "插座冒火花，不敢使用",
        "马桶水箱一直流水", "楼上渗水到卫生间吊顶", "厨房水槽下水慢，有异味",
    ),
    (K.REPAIR_PUBLIC, C.PLUMBING): (
        "{b}楼道灯不亮", "{b}地下车库照明坏了几盏", "{b}旁路灯不亮", "{b}消防栓箱漏水",
        "{b}单元门禁没电打不开", "{b}公共水表井盖破损",
    ),
    (K.REPAIR_PRIVATE, C.BUILDING): (
        "入户门锁芯坏了，钥匙拧不动", "窗户密封条老化漏风", "阳台推拉门卡住拉不动", "墙面开裂掉皮",
        "卫生间瓷砖空鼓脱落", "橱柜门铰链断裂",
    ),
    (K.REPAIR_PUBLIC, C.BUILDING): (
        "{b}单元门闭门器坏了，门关不上", "{b}楼梯扶手松动", "{b}外墙瓷砖脱落，有安全隐患",
        "{b}天台门锁损坏", "{b}信报箱门脱落",
    ),
    (K.REPAIR_PUBLIC, C.ELEVATOR): (
        "{b}电梯困人，请立即处理", "{b}电梯运行有异响", "{b}电梯按钮失灵", "{b}电梯门关不严，反复开关",
        "{b}电梯轿厢照明不亮",
    ),
    (K.REPAIR_PRIVATE, C.DEFECT): (
        "卧室墙面渗水，疑为外墙防水问题", "卫生间防水失效，楼下反映渗漏", "窗框与墙体之间有缝隙，下雨渗水",
        "地面空鼓开裂", "天花板有裂缝并渗水",
    ),
    (None, C.SECURITY): (
        "{b}单元门口有陌生人推销，请处理", "夜间有人在楼下聚集喧哗，担心安全", "电动车在楼道充电，有火灾隐患",
        "快递在门口被人拿走，请帮忙调取监控", "门岗对外来车辆不登记",
    ),
    (None, C.PARKING): (
        "我的车位被别人占用了", "地下车库有车辆长期占用消防通道", "访客车辆进出登记太慢", "车库道闸识别不了车牌",
    ),
    (None, C.NOISE): (
        "楼上装修超出规定时间施工，噪音很大", "广场舞音乐声音太大", "楼下商铺夜间噪音扰民", "邻居空调外机噪音大",
    ),
    (None, C.CLEANING): (
        "{b}楼道垃圾未及时清运，有异味", "垃圾分类点周围脏乱", "{b}电梯轿厢卫生差", "地下车库积水有异味",
        "草坪上宠物粪便无人清理",
    ),
    (None, C.GREENING): (
        "{b}旁边的树枝挡住窗户，请修剪", "草坪长期没有修剪", "绿化带蚊虫多，请安排消杀", "台风后倒伏树木未清理",
    ),
    (K.COMPLAINT, C.FEES): ("对物业费账单金额有异议", "已缴费但系统仍显示欠费", "停车费调整没有提前公示"),
    (None, C.FEES): (
        "咨询物业费缴费方式和截止日期", "咨询停车月卡办理", "要求开具物业费发票", "咨询水电费代收金额",
        "咨询物业费能否按年缴纳",
    ),
    (K.COMPLAINT, C.SERVICE): (
        "前台接待态度冷淡，不耐烦", "报修后一直没有人联系", "管家承诺的事情没有落实", "服务电话多次无人接听",
    ),
    (K.PRAISE, C.SERVICE): (
        "感谢维修师傅及时上门，服务热情", "管家帮忙找回了丢失的钥匙，特此表扬", "前台服务周到，业主送来锦旗",
        "秩序维护员帮忙搬运重物，表示感谢", "客服回访细致，问题解决得很好",
    ),
    (None, C.SERVICE): ("咨询装修手续办理流程", "咨询出入卡办理需要的材料", "咨询快递代收服务时间"),
    (K.HELP, C.OTHER): (
        "家中老人摔倒，请协助联系家属", "钥匙锁在屋内，请帮忙联系开锁", "需要借用梯子", "宠物走失，请帮忙查看监控",
        "家中水管爆裂，请先帮忙关闭总阀",
    ),
    (K.SUGGESTION, C.OTHER): (
        "建议增加电动车充电桩", "建议小区增设儿童游乐设施", "建议公告栏及时更新", "建议延长前台服务时间",
    ),
    (None, C.OTHER): ("咨询会所开放时间", "咨询业主卡办理", "咨询社区活动报名"),
}
RESULTS: dict[RequestCategory, tuple[str, ...]] = {
    C.PLUMBING: ("已疏通，试水正常", "已更换阀芯，不再漏水", "已更换空气开关，恢复供电", "已更换灯具"),
    C.BUILDING: ("已更换锁芯", "已调整闭门器", "已修补墙面", "已更换密封条"),
    C.ELEVATOR: ("维保单位到场处理，恢复运行", "已解救被困人员，电梯恢复正常", "已更换按钮面板"),
    C.DEFECT: ("已报开发公司工程部，完成防水维修", "开发商施工单位已整改，业主验收合格"),
    C.SECURITY: ("秩序维护员到场劝离", "已调取监控并协助业主报警", "已清理楼道电动车并张贴告示"),
    C.PARKING: ("已联系车主挪车", "已调整道闸识别参数", "已加强车库巡查"),
    C.NOISE: ("已上门劝导，按规定时间施工", "已与商户沟通，降低音量"),
    C.CLEANING: ("已安排保洁清理", "已增加清运频次"),
    C.GREENING: ("已安排修剪", "已完成消杀"),
    C.FEES: ("已核对账单并向业主解释", "已开具发票", "已核实缴费记录并更正"),
    C.SERVICE: ("已约谈当事员工并向业主致歉", "主管已上门沟通，业主表示理解"),
    C.OTHER: ("已协助处理",),
}
REPLIES = {
    K.INQUIRY: ("已电话答复，业主表示清楚", "已当面解答并提供办理材料清单", "已通过微信答复"),
    K.SUGGESTION: ("已记录并转相关部门研究，将在周例会讨论", "感谢建议，已列入下季度工作计划"),
    K.PRAISE: ("已转达表扬并感谢业主认可", "已在部门例会上通报表扬"),
    K.COMPLAINT: ("经核实不属物业服务范围，已向业主解释", "经核实情况不属实，已向业主说明"),
    K.HELP: ("已协助处理完毕",),
}
KIND_WEIGHTS = {
    K.REPAIR_PRIVATE: 40, K.REPAIR_PUBLIC: 17, K.COMPLAINT: 9, K.INQUIRY: 20, K.HELP: 6, K.SUGGESTION: 4, K.PRAISE: 4,
}
CATEGORY_WEIGHTS = {
    K.REPAIR_PRIVATE: {C.PLUMBING: 55, C.BUILDING: 30, C.DEFECT: 15},
    K.REPAIR_PUBLIC: {C.PLUMBING: 40, C.BUILDING: 30, C.ELEVATOR: 30},
    K.COMPLAINT: {C.SERVICE: 20, C.NOISE: 18, C.PARKING: 15, C.CLEANING: 15, C.SECURITY: 10, C.FEES: 12,
                  C.GREENING: 5},
    K.INQUIRY: {C.FEES: 50, C.SERVICE: 30, C.OTHER: 20},
    K.HELP: {C.OTHER: 60, C.SECURITY: 25, C.PLUMBING: 15},
    K.SUGGESTION: {C.OTHER: 50, C.GREENING: 20, C.PARKING: 15, C.CLEANING: 15},
    K.PRAISE: {C.SERVICE: 100},
}
CHANNEL_WEIGHTS = {Channel.PHONE: 50, Channel.VISIT: 18, Channel.WECHAT: 22, Channel.PATROL: 5, Channel.EMAIL: 2,
                   Channel.WEBSITE: 3}
VISIT_NOTES = {
    Satisfaction.SATISFIED: ("业主对处理结果满意", "业主表示满意，感谢及时处理", "问题已解决，业主满意"),
    Satisfaction.BASIC: ("业主基本满意，希望今后响应更快", "问题已解决，业主认为上门时间偏晚"),
    Satisfaction.UNSATISFIED: ("业主反映问题未彻底解决，要求返修", "业主对维修质量不满意，已通知工程部重新处理"),
}
VISIT_ISSUES = (
    "楼道灯不亮", "小区停车难", "快递堆放在大堂不整齐", "希望增加垃圾清运次数", "电梯偶有异响", "绿化修剪不及时",
    "外来人员进出管理不严", "宠物管理问题", "希望公布物业费收支情况",
)


def _money(value: Decimal | float | str) -> Decimal:
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)

# 巡查路线的检查表（楼宇 / 公共区域）与常见问题
PATROL_BUILDING_ITEMS = (
    ("消防通道是否畅通", "无堆放杂物，防火门常闭"), ("楼道照明", "声控灯、应急灯完好"),
    ("电梯运行", "运行平稳，轿厢整洁，五方通话正常"), ("墙面门窗", "无破损、无渗水"), ("违章装修", "无私搭乱建、外置阳台罩"),
)
PATROL_PUBLIC_ITEMS = (
    ("地库照明与排水", "灯具完好，无积水"), ("车辆停放", "按位停放，不占用消防通道"),
    ("园区道路与绿化", "路面无破损，绿化无枯死、无踩踏"), ("宣传栏与标识", "通知及时更新，标识清晰"),
)
PATROL_FAULTS = {
    "消防通道是否畅通": "楼梯间堆放纸箱", "楼道照明": "声控灯不亮", "电梯运行": "轿厢照明一盏不亮",
    "墙面门窗": "楼道窗户玻璃破裂", "违章装修": "阳台加装外置罩", "地库照明与排水": "B区灯管损坏",
    "车辆停放": "车辆占用消防通道", "园区道路与绿化": "草坪被踩出小路", "宣传栏与标识": "通知已过期未撤",
}


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def _period_start(period: str) -> dt.date:
    y, m = period.split("-")
    return dt.date(int(y), int(m), 1)


def _month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


@dataclass
class _ProjectState:
    spec: ProjectSpec
    id: int = 0
    branch_id: int = 0
    units: list[dict[str, Any]] = field(default_factory=list)  # unit rows with id, plus private keys
    staff: dict[StaffPosition, list[int]] = field(default_factory=lambda: defaultdict(list))
    staff_names: dict[int, str] = field(default_factory=dict)
    fee_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    buildings: dict[int, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)  # role name → user id


class _Demo:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.rng = random.Random(SEED)
        self.counts: dict[str, int] = defaultdict(int)
        self.projects: list[_ProjectState] = []
        self.dept: dict[DepartmentKind, int] = {}
        self.routing: dict[RequestCategory, DepartmentKind] = {}
        self.sla: dict[tuple[RequestKind, Priority], tuple[int, int]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.users: dict[str, int] = {}

    # --- helpers -------------------------------------------------------------------------------
    def insert(self, model: type, rows: list[dict[str, Any]], *, returning: bool = False) -> list[int]:
        if not rows:
            return []
        self.counts[model.__tablename__] += len(rows)
        # render_nulls: a None stays in the row instead of being dropped, so every row has the same keys and
        # the whole list goes out as one executemany (rows with differing keys would be sent in small groups).
        stmt = insert(model).execution_options(render_nulls=True)
        # generated text, no control characters: the engine need not look through every value of every row
        with controls_stripped(self.s):
            if not returning:
                self.s.execute(stmt, rows)
                return []
            if self.s.get_bind().dialect.name != "sqlite":
                return list(self.s.scalars(stmt.returning(model.id, sort_by_parameter_order=True), rows))
            # SQLite has no sentinel for ordered RETURNING, so SQLAlchemy would send one INSERT per row. The
            # writer holds the database lock, so ids taken from max(id) are ours; a clash would fail the load.
            start = (self.s.scalar(select(func.max(model.id))) or 0) + 1
            ids = list(range(start, start + len(rows)))
            self.s.execute(stmt, [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)])
            return ids

    def pick(self, weights: dict[Any, float]) -> Any:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def moment(self, start: dt.date, end: dt.date, hours: tuple[int, int] = (8, 20)) -> dt.datetime:
        day = dt.date.fromordinal(self.rng.randint(start.toordinal(), end.toordinal()))
        at = _local(day, self.rng.randint(*hours), self.rng.randrange(60))
        return min(at, NOW - dt.timedelta(minutes=self.rng.randint(5, 90)))

    # --- the load ------------------------------------------------------------------------------
    def run(self) -> dict[str, int]:
        self.reference()
        self.organisation()
        self.staff()
        self.accounts()
        self.units_and_people()
        self.parking()
        self.fees()
        self.service()
        self.regular_visits()
        self.survey()
        self.scores()
        self.monthly_scores()
        self.ledgers()
        return dict(sorted(self.counts.items()))

    def reference(self) -> None:
        rows = self.s.execute(select(Department.kind, Department.id).where(Department.project_id.is_(None))).all()
        self.dept = {kind: id_ for kind, id_ in rows}
        self.routing = dict(self.s.execute(select(RoutingRule.category, RoutingRule.department_kind)).all())
        self.sla = {
            (kind, prio): (m, h)
            for kind, prio, m, h in self.s.execute(
                select(SlaRule.kind, SlaRule.priority, SlaRule.respond_minutes, SlaRule.complete_hours).where(
                    SlaRule.project_id.is_(None)
                )
            )
        }
        for rule in self.s.scalars(select(ScoringRule)):
            self.rules[rule.code] = {"id": rule.id, "min": rule.points_min, "max": rule.points_max}
        missing = [k for k in DepartmentKind if k not in self.dept]
        if missing or len(self.sla) < len(RequestKind) * len(Priority) or not self.rules:
            raise RuntimeError("演示数据需要先载入基础数据（seeds.reference.load_reference）")

    def organisation(self) -> None:
        branch_ids = self.insert(
            Branch, [{"name": name, "company": COMPANY} for name in BRANCHES], returning=True
        )
        branches = dict(zip(BRANCHES, branch_ids, strict=True))
        project_ids = self.insert(
            Project,
            [
                {
                    "branch_id": branches[p.branch], "name": p.name, "kind": p.kind, "address": p.address,
                    "phone": p.phone, "company": f"{COMPANY}{p.branch}",
                }
                for p in PROJECTS
            ],
            returning=True,
        )
        for spec, pid in zip(PROJECTS, project_ids, strict=True):
            self.projects.append(_ProjectState(spec=spec, id=pid, branch_id=branches[spec.branch]))
        self.branches = branches

    def staff(self) -> None:
        rows, owners = [], []
        dept_of = {
            StaffPosition.ENGINEER: DepartmentKind.ENGINEERING,
            StaffPosition.GUARD: DepartmentKind.SECURITY,
            StaffPosition.CLEANER: DepartmentKind.ENVIRONMENT,
        }
        for p in self.projects:
            n = 0
            for position, count in p.spec.staff.items():
                for _ in range(count):
                    n += 1
                    name, _female = people.person_name(self.rng)
                    rows.append({
                        "project_id": p.id, "employee_no": f"{p.spec.prefix}{n:03d}", "name": name,
                        "phone": people.mobile(self.rng), "position": position,
                        "department_id": self.dept[dept_of.get(position, DepartmentKind.SERVICE)],
                        "hired_on": dt.date(self.rng.randint(2016, 2025), self.rng.randint(1, 12), 1),
                        "active": True,
                    })
                    owners.append((p, position, name))
        ids = self.insert(Staff, rows, returning=True)
        for (p, position, name), sid in zip(owners, ids, strict=True):
            p.staff[position].append(sid)
            p.staff_names[sid] = name

    def accounts(self) -> None:
        names = [a.username for a in ACCOUNTS]
        taken = set(self.s.scalars(select(User.username).where(User.username.in_(names))))
        by_name = {p.spec.name: p for p in self.projects}
        for account in ACCOUNTS:
            if account.username in taken:  # e.g. ``wuye init --admin admin`` ran first: keep that account
                uid = self.s.scalar(select(User.id).where(User.username == account.username))
                self.users[account.username] = uid
                continue
            project = by_name.get(account.project) if account.project else None
            staff_id = None
            display = account.display
            if project is not None and account.staff_position is not None:
                staff_id = project.staff[account.staff_position][0]
                display = project.staff_names[staff_id]
            result = add_user(
                self.s,
                username=account.username,
                password=DEMO_PASSWORD,
                roles=[account.role],
                projects=[account.project] if account.project else [],
                branch_id=self.branches[account.branch] if account.branch else None,
                display_name=display,
                superuser=account.superuser,
            )
            if staff_id is not None:
                self.s.get(User, result.user_id).staff_id = staff_id
            self.users[account.username] = result.user_id
            self.counts["user_account"] += 1
        self.s.flush()
        for i, p in enumerate(self.projects, start=1):
            suffix = "" if i == 1 else str(i)
            p.users = {
                "前台客服": self.users[f"qiantai{suffix}"],
                "客服主管": self.users[f"zhuguan{suffix}"],
                "楼宇管家": self.users["guanjia"] if i == 1 else self.users[f"qiantai{suffix}"],
            }

    # --- units, owners, tenants, families --------------------------------------------------------
    def units_and_people(self) -> None:
        rng = self.rng
        for p in self.projects:
            phase_ids = self.insert(
                Phase, [{"project_id": p.id, "name": ph.name} for ph in p.spec.phases], returning=True
            )
            butlers = p.staff[StaffPosition.BUTLER]
            cashiers = p.staff[StaffPosition.CASHIER]
            b_rows, b_specs = [], []
            for ph, phase_id in zip(p.spec.phases, phase_ids, strict=True):
                for b in ph.buildings:
                    b_rows.append({
                        "project_id": p.id, "phase_id": phase_id, "name": b.name, "floors": len(b.floors),
                        "butler_id": butlers[len(b_rows) * len(butlers) // sum(len(x.buildings) for x in p.spec.phases)],
                    })
                    b_specs.append((ph, b))
            b_ids = self.insert(Building, b_rows, returning=True)
            p.buildings = {bid: row["name"] for bid, row in zip(b_ids, b_rows, strict=True)}
            units = []
            for (ph, b), bid, brow in zip(b_specs, b_ids, b_rows, strict=True):
                phase_index = p.spec.phases.index(ph)
                collector = cashiers[phase_index % len(cashiers)]
                for floor in b.floors:
                    for n in range(1, b.per_floor + 1):
                        room = f"{floor}{n:02d}" if floor.isdigit() else f"{floor}-{n:02d}"
                        area = Decimal(b.areas[(n - 1) % len(b.areas)])
                        if b.kind is not UnitKind.HOUSE:
                            area = _money(area * Decimal(rng.choice(("0.85", "1", "1", "1.2", "1.5"))))
                        units.append(self._unit(p, ph, b, bid, brow["butler_id"], collector, room, area))
            ids = self.insert(Unit, [{k: v for k, v in u.items() if not k.startswith("_")} for u in units],
                              returning=True)
            for u, uid in zip(units, ids, strict=True):
                u["id"] = uid
            p.units = units
            self._people(p)

    def _unit(self, p: _ProjectState, ph: PhaseSpec, b: BuildingSpec, bid: int, butler: int | None,
              collector: int, room: str, area: Decimal) -> dict[str, Any]:
        rng = self.rng
        recent = (TODAY - ph.handover).days < 400
        if b.kind is UnitKind.HOUSE:
            weights = ({UnitStatus.OCCUPIED: 35, UnitStatus.DECORATING: 22, UnitStatus.HANDED_OVER: 33,
                        UnitStatus.VACANT: 10} if recent else
                       {UnitStatus.OCCUPIED: 87, UnitStatus.DECORATING: 2, UnitStatus.HANDED_OVER: 6,
                        UnitStatus.VACANT: 5})
        else:
            weights = {UnitStatus.OCCUPIED: 82, UnitStatus.DECORATING: 5, UnitStatus.VACANT: 13}
        status = self.pick(weights)
        handover = None
        if status is not UnitStatus.VACANT:
            handover = ph.handover + dt.timedelta(days=rng.randint(0, 75))
        move_in = None
        if status is UnitStatus.OCCUPIED and handover:
            move_in = min(handover + dt.timedelta(days=rng.randint(30, 420)), TODAY - dt.timedelta(days=3))
        # Vacant units: half are sold and not yet handed over to their buyer, half unsold (no owner, no bills).
        owned = status is not UnitStatus.VACANT or rng.random() < 0.5
        return {
            "project_id": p.id, "building_id": bid, "room_no": room, "kind": b.kind, "status": status,
            "area": area, "handover_date": handover, "move_in_date": move_in, "butler_id": butler,
            "collector_id": collector,
            "key_tenant": b.kind is UnitKind.SHOP and area >= Decimal("200") and rng.random() < 0.6,
            "_owned": owned, "_building": p.buildings.get(bid, ""), "_phase": ph.name,
        }

    def _person(self, p: _ProjectState, *, born: tuple[int, int] = (1950, 1998), note: str = "") -> dict[str, Any]:
        name, female = people.person_name(self.rng)
        return {
            "project_id": p.id, "name": name, "kind": CustomerKind.PERSON, "phone": people.mobile(self.rng),
            "id_number": people.id_number(self.rng, female=female, born_from=born[0], born_to=born[1]),
            "vip": self.rng.random() < 0.01, "emergency_contact": "", "note": note,
        }

    def _company(self, p: _ProjectState, name: str) -> dict[str, Any]:
        contact, _ = people.person_name(self.rng)
        return {
            "project_id": p.id, "name": name, "kind": CustomerKind.COMPANY, "phone": people.mobile(self.rng),
            "id_number": "", "vip": False, "emergency_contact": contact, "note": "",
        }

    def _people(self, p: _ProjectState) -> None:
        """Owners, tenants and family members of the project's units, and their links."""
        rng = self.rng
        customers: list[dict[str, Any]] = []
        links: list[tuple[dict[str, Any], int, UnitRelation, bool, dt.date | None]] = []
        city = "杭州" if p.spec.plate.startswith("浙") else "上海"
        developer = self._company(p, f"{city}{p.spec.name}置业有限公司") if p.spec.kind is not ProjectKind.RESIDENTIAL else None
        if developer:
            customers.append(developer)
        repeat_owner = None
        brands = list(people.SHOP_BRANDS)
        rng.shuffle(brands)
        for u in p.units:
            u["_owner"] = u["_tenant"] = None
            u["_family"] = []
            if not u["_owned"]:
                continue
            start = u["handover_date"] or (TODAY - dt.timedelta(days=rng.randint(30, 300)))
            if u["kind"] is UnitKind.HOUSE:
                if repeat_owner is not None and rng.random() < 0.03:  # some owners hold two flats
                    owner = repeat_owner
                else:
                    owner = self._person(p)
                    customers.append(owner)
                repeat_owner = owner
            elif developer is not None and rng.random() < 0.45:  # the developer keeps and leases these
                owner = developer
            elif rng.random() < 0.5:
                owner = self._company(p, people.company_name(rng, city))
                customers.append(owner)
            else:
                owner = self._person(p)
                customers.append(owner)
            u["_owner"] = owner
            rented = u["status"] is UnitStatus.OCCUPIED and (
                rng.random() < 0.18 if u["kind"] is UnitKind.HOUSE else rng.random() < 0.9
            )
            links.append((owner, u["id"], UnitRelation.OWNER, not rented, start))
            if rented:
                if u["kind"] is UnitKind.HOUSE:
                    tenant = self._person(p, born=(1975, 2002))
                    relation = UnitRelation.TENANT
                elif u["kind"] is UnitKind.SHOP:
                    tenant = self._company(p, brands.pop() if brands and rng.random() < 0.5
                                           else people.company_name(rng, city).replace("有限公司", "店"))
                    relation = UnitRelation.SHOP_TENANT
                else:
                    tenant = self._company(p, people.company_name(rng, city))
                    relation = UnitRelation.TENANT
                customers.append(tenant)
                u["_tenant"] = tenant
                since = max(start, TODAY - dt.timedelta(days=rng.randint(60, 900)))
                links.append((tenant, u["id"], relation, True, since))
            elif u["kind"] is UnitKind.HOUSE and u["status"] is UnitStatus.OCCUPIED:
                for _ in range(self.pick({0: 35, 1: 45, 2: 20})):
                    member = self._person(p, born=(1945, 2012))
                    if rng.random() < 0.3:
                        member["phone"] = ""
                    customers.append(member)
                    u["_family"].append(member)
                    links.append((member, u["id"], UnitRelation.FAMILY, False, u["move_in_date"]))
        ids = self.insert(Customer, customers, returning=True)
        for row, cid in zip(customers, ids, strict=True):
            row["id"] = cid
        self.insert(UnitCustomer, [
            {"project_id": p.id, "unit_id": unit_id, "customer_id": c["id"], "relation": rel, "is_primary": primary,
             "start_date": start, "end_date": None}
            for c, unit_id, rel, primary, start in links
        ])

    def parking(self) -> None:
        rng = self.rng
        for p in self.projects:
            rows = []
            houses = [u for u in p.units if u["_owner"] is not None and u["status"] is UnitStatus.OCCUPIED]
            rng.shuffle(houses)
            linkable = iter(houses)
            for prefix, area_name, count in p.spec.parking:
                for n in range(1, count + 1):
                    unit = None
                    if p.spec.kind is not ProjectKind.COMMERCIAL and rng.random() < 0.62:
                        unit = next(linkable, None)
                    rented = unit is not None and rng.random() < 0.6
                    rows.append({
                        "project_id": p.id, "code": f"{prefix}{n:03d}", "area_name": area_name,
                        "unit_id": unit["id"] if unit else None,
                        "plate_no": people.plate(rng, self._plate_prefix(p)) if unit else "",
                        "is_rented": rented,
                    })
                    if unit is not None and rented:
                        unit["_spaces"] = unit.get("_spaces", 0) + 1
            self.insert(ParkingSpace, rows)

    def _plate_prefix(self, p: _ProjectState) -> str:
        if p.spec.plate == "沪":
            return self.rng.choice(("沪A", "沪B", "沪C", "沪D", "沪E", "沪F", "沪G", "沪H", "沪J", "沪K", "沪L", "沪N"))
        return self.rng.choice(("浙A", "浙A", "浙A", "浙B", "浙C", "浙D"))

    # --- fees: fee types, a year of bills and payments -------------------------------------------
    def fees(self) -> None:
        for p in self.projects:
            rows = [
                {**row, "project_id": p.id, "active": True, "reviewed_on": dt.date(2026, 4, 15)}
                for row in default_fee_types(p.spec.kind)
            ]
            ids = self.insert(FeeType, rows, returning=True)
            p.fee_types = {row["name"]: {**row, "id": fid} for row, fid in zip(rows, ids, strict=True)}
            self._bills(p)

    def _bills(self, p: _ProjectState) -> None:
        rng = self.rng
        ft = p.fee_types
        bills: list[dict[str, Any]] = []
        plans: list[list[tuple[Decimal, dt.datetime, PayMethod]]] = []
        profiles = {"prompt": 80, "late": 8, "arrears": 5, "partial": 5, "chronic": 2}
        for u in p.units:
            owner = u["_owner"]
            if owner is None:
                continue
            payer = u["_tenant"] if u["_tenant"] is not None and u["kind"] is not UnitKind.HOUSE else owner
            profile = self.pick(profiles)
            behind = rng.randint(2, 4) if profile == "arrears" else rng.randint(6, 11)
            renovation_period = None
            if u["status"] is UnitStatus.DECORATING:
                renovation_period = rng.choice(PERIODS[-4:])
                u["_renovation_period"] = renovation_period
            for age, period in zip(range(len(PERIODS) - 1, -1, -1), PERIODS, strict=True):
                start = _period_start(period)
                items = [("物业管理费", _money(u["area"] * ft["物业管理费"]["rate"]))]
                if u.get("_spaces"):
                    items.append(("停车费", _money(ft["停车费"]["rate"] * u["_spaces"])))
                if u["kind"] is not UnitKind.HOUSE and u["status"] is UnitStatus.OCCUPIED:
                    per_m2 = rng.uniform(9, 26) if u["kind"] is UnitKind.SHOP else rng.uniform(3, 6.5)
                    items.append(("水电费代收", _money(float(u["area"]) * per_m2)))
                    if u["kind"] is UnitKind.SHOP and "垃圾清运费" in ft:
                        items.append(("垃圾清运费", ft["垃圾清运费"]["rate"]))
                if period == renovation_period:
                    items.append(("装修管理费", ft["装修管理费"]["rate"]))
                for fee_name, amount in items:
                    due = start.replace(day=ft[fee_name]["due_day"])
                    plan = self._payments(profile, age, behind, amount, due)
                    paid = sum((a for a, _, _ in plan), Decimal("0"))
                    status = BillStatus.PAID if paid >= amount else BillStatus.PARTIAL if paid else BillStatus.UNPAID
                    if status is BillStatus.UNPAID and age > 2 and rng.random() < 0.01:
                        status = BillStatus.WAIVED  # 经理批准的减免（如空置房、维修补偿）
                    issued = _local(start - dt.timedelta(days=3), 9)
                    bills.append({
                        "project_id": p.id, "unit_id": u["id"], "customer_id": payer["id"],
                        "fee_type_id": ft[fee_name]["id"], "period": period, "amount_due": amount,
                        "amount_paid": paid, "due_date": due, "status": status, "collector_id": u["collector_id"],
                        "created_at": issued, "updated_at": max([issued] + [t for _, t, _ in plan]),
                    })
                    plans.append(plan)
        # Bills have a natural key: read their ids back in one query rather than through RETURNING, which
        # PostgreSQL drivers handle slowly for tens of thousands of rows.
        self.insert(Bill, bills)
        by_key = {
            (u, f, period): id_
            for id_, u, f, period in self.s.execute(
                select(Bill.id, Bill.unit_id, Bill.fee_type_id, Bill.period).where(Bill.project_id == p.id)
            )
        }
        ids = [by_key[(b["unit_id"], b["fee_type_id"], b["period"])] for b in bills]
        payments = []
        for bill, bid, plan in zip(bills, ids, plans, strict=True):
            for amount, at, method in plan:
                online = method in (PayMethod.WECHAT, PayMethod.ALIPAY)
                payments.append({
                    "project_id": p.id, "bill_id": bid, "amount": amount, "method": method, "paid_at": at,
                    "collector_id": None if online and rng.random() < 0.5 else bill["collector_id"],
                    "receipt_no": None, "created_at": at, "updated_at": at,
                })
        payments.sort(key=lambda r: r["paid_at"])
        serials: Counter[int] = Counter()  # 收据号: the project's sequence of each year, in the order paid
        for row in payments:
            year = row["paid_at"].astimezone(SHANGHAI).year
            serials[year] += 1
            row["receipt_no"] = receipt_number(year, serials[year])
        self.insert(Receipt, [{"project_id": p.id, "number": r["receipt_no"], "created_at": r["paid_at"],
                               "updated_at": r["paid_at"]} for r in payments])
        self.insert(ReceiptSequence, [{"project_id": p.id, "year": y, "last_no": n} for y, n in sorted(serials.items())])
        self.insert(Payment, payments)

    def _payments(self, profile: str, age: int, behind: int, amount: Decimal,
                  due: dt.date) -> list[tuple[Decimal, dt.datetime, PayMethod]]:
        """When and how much was paid on one bill, given the account's habits and the bill's age (months)."""
        rng = self.rng
        method = self.pick({PayMethod.WECHAT: 45, PayMethod.ALIPAY: 20, PayMethod.TRANSFER: 13, PayMethod.CASH: 10,
                            PayMethod.CARD: 12})
        if profile in ("chronic", "arrears") and age < behind:
            return []
        if profile == "late":
            at = _local(due + dt.timedelta(days=rng.randint(20, 55)), rng.randint(9, 19), rng.randrange(60))
        elif rng.random() < 0.03:  # even good payers miss a month now and then and catch up
            at = _local(due + dt.timedelta(days=rng.randint(30, 55)), rng.randint(9, 19), rng.randrange(60))
        else:
            at = _local(due + dt.timedelta(days=rng.randint(-6, 27)), rng.randint(8, 21), rng.randrange(60))
        if at > NOW:
            return []
        if profile == "partial" and rng.random() < 0.5:
            first = _money(amount * Decimal(rng.choice(("0.3", "0.5", "0.6", "0.8"))))
            second_at = at + dt.timedelta(days=rng.randint(20, 80))
            if first <= 0:
                return [(amount, at, method)]
            if second_at > NOW or rng.random() < 0.4:
                return [(first, at, method)]
            return [(first, at, method), (amount - first, second_at, method)]
        return [(amount, at, method)]

    # --- service requests, work orders and their callbacks ---------------------------------------
    def service(self) -> None:
        for p in self.projects:
            self._service(p)

    def _assignee(self, p: _ProjectState, kind: DepartmentKind) -> int | None:
        pool = {
            DepartmentKind.ENGINEERING: p.staff[StaffPosition.ENGINEER],
            DepartmentKind.SECURITY: p.staff[StaffPosition.GUARD],
            DepartmentKind.ENVIRONMENT: p.staff[StaffPosition.CLEANER],
            DepartmentKind.SERVICE: p.staff[StaffPosition.FRONT_DESK] + p.staff[StaffPosition.BUTLER],
        }.get(kind) or []
        return self.rng.choice(pool) if pool else None

    def _text(self, kind: RequestKind, category: RequestCategory, unit: dict[str, Any] | None) -> str:
        options = TEXTS.get((kind, category)) or TEXTS.get((None, category)) or TEXTS[(None, C.OTHER)]
        where = unit["_building"] if unit else self.rng.choice(["1号门", "中心花园", "地下车库", "东门", "会所"])
        return self.rng.choice(options).replace("{b}", where)

    def _service(self, p: _ProjectState) -> None:
        rng = self.rng
        occupied = [u for u in p.units if u["_owner"] is not None and u["status"] is not UnitStatus.VACANT]
        service_staff = (p.staff[StaffPosition.FRONT_DESK] + p.staff[StaffPosition.BUTLER]
                         + p.staff[StaffPosition.CASHIER])
        all_staff = [sid for ids in p.staff.values() for sid in ids]
        staff_of = dict(self.s.execute(select(User.id, User.staff_id).where(User.id.in_(set(p.users.values())))).all())
        # 首问负责制不受部门限制：业主在楼下拦住的秩序维护员、维修工也是首问负责人
        on_the_ground = p.staff[StaffPosition.GUARD] + p.staff[StaffPosition.ENGINEER]
        plans: list[dict[str, Any]] = []
        for _ in range(p.spec.requests):
            kind = self.pick(KIND_WEIGHTS)
            if p.spec.kind is ProjectKind.RESIDENTIAL and kind is K.REPAIR_PRIVATE:
                cat_weights = dict(CATEGORY_WEIGHTS[kind])
            else:
                cat_weights = {c: w for c, w in CATEGORY_WEIGHTS[kind].items() if c is not C.DEFECT} or {C.OTHER: 1}
            category = self.pick(cat_weights)
            if category is C.DEFECT:  # defects come mostly from the newly handed-over phase
                recent = [u for u in occupied if u["handover_date"] and (TODAY - u["handover_date"]).days < 700]
                unit = rng.choice(recent or occupied)
            else:
                unit = rng.choice(occupied)
            channel = self.pick(CHANNEL_WEIGHTS)
            if kind is K.REPAIR_PUBLIC and rng.random() < 0.4:
                channel = Channel.PATROL  # 管家巡查发现的公共报修
            elif channel is Channel.PATROL and kind is not K.REPAIR_PUBLIC:
                channel = Channel.PHONE
            customer = None if channel is Channel.PATROL else (unit["_tenant"] or unit["_owner"])
            unit_id = None if (kind is K.REPAIR_PUBLIC and rng.random() < 0.7) else unit["id"]
            priority = self.pick({Priority.URGENT: 5, Priority.HIGH: 15, Priority.NORMAL: 70, Priority.LOW: 10})
            text = self._text(kind, category, unit)
            if "困人" in text or "爆裂" in text:
                priority = Priority.URGENT
            # 全年均匀分布，另有一部分落在最近几天，控制台里有待派工、处理中的单子可看
            since = YEAR_AGO if rng.random() < 0.95 else TODAY - dt.timedelta(days=3)
            received = self.moment(since, TODAY, (7, 21) if rng.random() < 0.95 else (0, 23))
            receiver = p.users["楼宇管家"] if channel is Channel.PATROL else p.users[
                self.pick({"前台客服": 80, "客服主管": 8, "楼宇管家": 12})]
            row = {
                "project_id": p.id, "channel": channel, "kind": kind, "category": category, "priority": priority,
                "status": RequestStatus.PENDING, "unit_id": unit_id,
                "customer_id": customer["id"] if customer else None,
                "contact_name": customer["name"] if customer else "", "contact_phone": customer["phone"] if customer
                else "", "content": text, "received_at": received, "receiver_id": receiver, "repeat_of_id": None,
                "first_staff_id": on_the_ground[received.minute % len(on_the_ground)]
                if channel is Channel.VISIT and kind is K.REPAIR_PUBLIC and on_the_ground else staff_of.get(receiver),
                "complaint_validity": None, "complaint_points": None, "complaint_judged_by_id": None,
                "complaint_judged_at": None, "complaint_major": False, "complained_staff_id": None,
                "praised_staff_id": None, "reply": "", "closed_at": None, "created_at": received,
                "updated_at": received,
            }
            if kind is K.COMPLAINT:
                valid = rng.random() < 0.72
                # 主管一般在受理后数日内判定：近几天受理、不成立的那些尚待判定
                judged = valid or received < NOW - dt.timedelta(days=5)
                row["complaint_validity"] = (CV.VALID if valid else CV.INVALID) if judged else CV.PENDING
                if judged:
                    row["complaint_judged_by_id"] = p.users["客服主管"]
                    row["complaint_judged_at"] = received + dt.timedelta(days=1)
                row["complaint_major"] = valid and rng.random() < 0.05
                if valid and (category is C.SERVICE or rng.random() < 0.12):
                    row["complained_staff_id"] = rng.choice(service_staff)
                    # 视情况扣5-10分：已确认月份的均已由主管评定（确认前须评定）；最近两个月约一半已评定
                    # （替代暂定的 5 分），其余仍为暂定
                    if received.minute % 2 == 0 or received < CONFIRMED_BEFORE:
                        row["complaint_points"] = -Decimal(5 + received.minute % 6)
            if kind is K.PRAISE:
                row["praised_staff_id"] = rng.choice(all_staff)
            plans.append({"row": row, "unit": unit})
        # 重复报事：同一房屋同类问题短期内再次报修
        repeats = []
        for plan in rng.sample([x for x in plans if x["row"]["kind"] is K.REPAIR_PRIVATE], k=p.spec.requests // 40):
            first = plan["row"]
            received = first["received_at"] + dt.timedelta(days=rng.randint(2, 20), hours=rng.randint(0, 8))
            if received > NOW - dt.timedelta(hours=2):
                continue
            row = {**first, "content": "再次报修：" + first["content"], "received_at": received,
                   "created_at": received, "updated_at": received, "priority": Priority.HIGH}
            repeats.append({"row": row, "unit": plan["unit"], "repeat_of": plan})
        plans.sort(key=lambda x: x["row"]["received_at"])
        for plan in plans + repeats:
            self._settle(p, plan)
        ids = self.insert(ServiceRequest, [x["row"] for x in plans], returning=True)
        for plan, rid in zip(plans, ids, strict=True):
            plan["id"] = rid
        for plan in repeats:
            plan["row"]["repeat_of_id"] = plan["repeat_of"]["id"]
        ids = self.insert(ServiceRequest, [x["row"] for x in repeats], returning=True)
        for plan, rid in zip(repeats, ids, strict=True):
            plan["id"] = rid
        with_orders = [x for x in plans + repeats if x.get("order")]
        for plan in with_orders:
            plan["order"]["request_id"] = plan["id"]
        order_ids = self.insert(WorkOrder, [x["order"] for x in with_orders], returning=True)
        visits = []
        for plan, oid in zip(with_orders, order_ids, strict=True):
            for v in plan["visits"]:
                visits.append({**v, "work_order_id": oid, "request_id": plan["id"]})
        for plan in plans + repeats:
            if not plan.get("order"):
                for v in plan["visits"]:
                    visits.append({**v, "work_order_id": None, "request_id": plan["id"]})
        self.insert(Visit, visits)

    def _settle(self, p: _ProjectState, plan: dict[str, Any]) -> None:
        """Decide what happened to a request by ``NOW``: its order's timeline, callbacks and status."""
        rng = self.rng
        row = plan["row"]
        plan["visits"] = []
        kind, category, received = row["kind"], row["category"], row["received_at"]
        needs_order = kind in (K.REPAIR_PRIVATE, K.REPAIR_PUBLIC) or (
            kind is K.COMPLAINT and row["complaint_validity"] is CV.VALID) or (kind is K.HELP and rng.random() < 0.6)
        age = NOW - received
        if age < dt.timedelta(hours=3) and rng.random() < 0.6:
            return  # 待派工
        if rng.random() < 0.015 and kind not in (K.PRAISE,):
            row["status"] = RequestStatus.CANCELLED
            row["reply"] = "业主来电告知已自行解决，撤销报事"
            row["closed_at"] = row["updated_at"] = received + dt.timedelta(minutes=rng.randint(20, 600))
            if row["closed_at"] > NOW:
                row["status"], row["closed_at"], row["reply"] = RequestStatus.PENDING, None, ""
                row["updated_at"] = received
            return
        visitor = p.users["前台客服"]
        if not needs_order:
            replied = received + dt.timedelta(minutes=rng.randint(5, 240))
            if replied > NOW:
                return
            row["reply"] = rng.choice(REPLIES.get(kind, REPLIES[K.HELP]))
            rng.random()  # (was: left 已答复 four times in ten; 答复办结 closes) — keeps the demo's later draws
            row["status"], row["closed_at"] = RequestStatus.CLOSED, replied  # 答复办结: the answer closes it
            row["updated_at"] = replied
            if kind is K.COMPLAINT:  # 无效投诉也要回访，说明核实结果
                at = replied + dt.timedelta(hours=rng.randint(2, 48))
                if at <= NOW:
                    plan["visits"].append(self._visit(p, VisitKind.COMPLAINT, row, at, visitor, self._result()))
            return
        dept_kind = self.routing.get(category, DepartmentKind.SERVICE)
        respond_minutes, complete_hours = self.sla[(kind, row["priority"])]
        dispatched = received + dt.timedelta(minutes=rng.randint(3, 40))
        if dispatched > NOW:
            return
        slow = dept_kind is DepartmentKind.DEVELOPER
        order = {
            "project_id": p.id, "request_id": None, "department_id": self.dept[dept_kind],
            "assignee_id": self._assignee(p, dept_kind), "priority": row["priority"],
            "status": WorkOrderStatus.DISPATCHED, "dispatched_at": dispatched,
            "dispatched_by_id": p.users["客服主管"] if rng.random() < 0.7 else p.users["前台客服"],
            "respond_due_at": dispatched + dt.timedelta(minutes=respond_minutes),
            "complete_due_at": dispatched + dt.timedelta(hours=complete_hours),
            "accepted_at": None, "completed_at": None, "closed_at": None, "result": "",
            "paid_service": False, "quote": Decimal("0"), "quote_accepted": False, "charge": Decimal("0"),
            "reopen_count": 0, "reassign_note": "", "created_at": dispatched, "updated_at": dispatched,
        }
        plan["order"] = order
        row["status"] = RequestStatus.DISPATCHED
        row["updated_at"] = dispatched
        if kind is K.REPAIR_PRIVATE and category is not C.DEFECT and rng.random() < 0.18:
            order["paid_service"] = True  # 有偿服务：施工前业主确认报价
            order["quote"] = Decimal(rng.choice(("30", "50", "80", "120", "150", "200", "260", "350", "480")))
            order["quote_accepted"] = True
        late_response = rng.random() < 0.07
        accepted = dispatched + dt.timedelta(
            minutes=respond_minutes * (rng.uniform(1.1, 3) if late_response else rng.uniform(0.15, 0.95)))
        if accepted > NOW:
            return
        order.update(status=WorkOrderStatus.ACCEPTED, accepted_at=accepted, updated_at=accepted)
        overdue = rng.random() < (0.35 if slow else 0.08)
        if overdue:
            completed = order["complete_due_at"] + dt.timedelta(hours=rng.uniform(1, 72 if slow else 30))
        else:
            completed = accepted + dt.timedelta(hours=complete_hours * rng.uniform(0.05, 0.75))
            completed = min(completed, order["complete_due_at"] - dt.timedelta(minutes=5))
            completed = max(completed, accepted + dt.timedelta(minutes=10))
        if completed > NOW:
            return
        order.update(status=WorkOrderStatus.DONE, completed_at=completed, updated_at=completed,
                     result=rng.choice(RESULTS[category]))
        if order["paid_service"]:
            order["charge"] = order["quote"]
        visit_kind = (VisitKind.COMPLAINT if kind is K.COMPLAINT else  # as work_orders._callback_kind
                      VisitKind.PAID_SERVICE if order["paid_service"] else
                      VisitKind.REPAIR if kind in (K.REPAIR_PRIVATE, K.REPAIR_PUBLIC) else VisitKind.SPECIAL)
        called = completed + dt.timedelta(hours=rng.uniform(1, 30))
        if called > NOW:
            return
        result = self._result()
        plan["visits"].append(self._visit(p, visit_kind, row, called, visitor, result))
        if result is Satisfaction.UNSATISFIED:
            # 回访不满意：退回返工，直至业主满意
            order.update(status=WorkOrderStatus.ACCEPTED, reopen_count=1, completed_at=None, updated_at=called)
            redone = called + dt.timedelta(hours=rng.uniform(3, 48))
            if redone > NOW:
                return
            order.update(status=WorkOrderStatus.DONE, completed_at=redone, updated_at=redone,
                         result=order["result"] + "；返工后复查正常")
            called = redone + dt.timedelta(hours=rng.uniform(1, 24))
            if called > NOW:
                return
            plan["visits"].append(self._visit(p, visit_kind, row, called, visitor,
                                              self.pick({Satisfaction.SATISFIED: 75, Satisfaction.BASIC: 25})))
        order.update(status=WorkOrderStatus.CALLED_BACK, updated_at=called)
        closed = called + dt.timedelta(hours=rng.uniform(0.2, 30))
        if closed > NOW:
            return
        order.update(status=WorkOrderStatus.CLOSED, closed_at=closed, updated_at=closed)
        row.update(status=RequestStatus.CLOSED, closed_at=closed, updated_at=closed, reply=order["result"])

    def _result(self) -> Satisfaction:
        return self.pick({Satisfaction.SATISFIED: 84, Satisfaction.BASIC: 11, Satisfaction.UNSATISFIED: 5})

    def _visit(self, p: _ProjectState, kind: VisitKind, row: dict[str, Any], at: dt.datetime, visitor: int,
               result: Satisfaction) -> dict[str, Any]:
        return {
            "project_id": p.id, "kind": kind, "way": self.pick({VisitWay.PHONE: 85, VisitWay.DOOR: 15}),
            "unit_id": row["unit_id"], "customer_id": row["customer_id"], "visited_at": at, "visitor_id": visitor,
            "result": result, "notes": self.rng.choice(VISIT_NOTES[result]), "issues_raised": "",
            "created_at": at, "updated_at": at,
        }

    def regular_visits(self) -> None:
        """定期走访 (about every household each quarter — the demo holds the last six months' sample) and
        专项走访 (装修户、新交房户)."""
        rng = self.rng
        rows = []
        for p in self.projects:
            visitor = p.users["楼宇管家"]
            occupied = [u for u in p.units if u["_owner"] is not None and u["status"] is UnitStatus.OCCUPIED]
            for u in rng.sample(occupied, k=len(occupied) // 4):
                at = self.moment(TODAY - dt.timedelta(days=180), TODAY, (9, 18))
                result = self.pick({Satisfaction.SATISFIED: 78, Satisfaction.BASIC: 17, Satisfaction.UNSATISFIED: 5})
                customer = u["_tenant"] or u["_owner"]
                rows.append({
                    "project_id": p.id, "kind": VisitKind.REGULAR,
                    "way": self.pick({VisitWay.DOOR: 60, VisitWay.PHONE: 40}), "unit_id": u["id"],
                    "customer_id": customer["id"], "work_order_id": None, "request_id": None, "visited_at": at,
                    "visitor_id": visitor, "result": result,
                    "notes": "介绍近期物业工作，听取意见建议",
                    "issues_raised": rng.choice(VISIT_ISSUES) if rng.random() < 0.18 else "",
                    "created_at": at, "updated_at": at,
                })
            special = [u for u in p.units if u["status"] in (UnitStatus.DECORATING, UnitStatus.HANDED_OVER)
                       and u["_owner"] is not None]
            for u in special[:40]:
                at = self.moment(TODAY - dt.timedelta(days=90), TODAY, (9, 17))
                rows.append({
                    "project_id": p.id, "kind": VisitKind.SPECIAL, "way": VisitWay.DOOR, "unit_id": u["id"],
                    "customer_id": u["_owner"]["id"], "work_order_id": None, "request_id": None, "visited_at": at,
                    "visitor_id": visitor, "result": self.pick({Satisfaction.SATISFIED: 85, Satisfaction.BASIC: 15}),
                    "notes": "装修及入住情况专项走访，提醒装修规定及消防安全", "issues_raised": "",
                    "created_at": at, "updated_at": at,
                })
        self.insert(Visit, rows)

    # --- the satisfaction survey ------------------------------------------------------------------
    def survey(self) -> None:
        rng = self.rng
        p = self.projects[0]
        sid = self.insert(Survey, [{
            "project_id": p.id, "title": f"{p.spec.name}2026年上半年业主满意度调查", "period": "2026H1",
            "start_date": dt.date(2026, 6, 1), "end_date": dt.date(2026, 6, 30), "status": SurveyStatus.CLOSED,
            "scale_max": 5,
        }], returning=True)[0]
        households, answered = [], []
        units = [u for u in p.units if u["_owner"] is not None and u["status"] is UnitStatus.OCCUPIED
                 and u["move_in_date"] and u["move_in_date"] < dt.date(2026, 6, 1)]
        for u in units:
            handed = dt.date(2026, 6, rng.randint(1, 10))
            signed = rng.random() < 0.985
            collected = signed and rng.random() < 0.965
            households.append({"project_id": p.id, "survey_id": sid, "unit_id": u["id"], "distributed_at": handed,
                               "receipt_signed": signed, "collected": collected})
            if collected:
                answered.append((u, handed))
        self.insert(SurveyHousehold, households)
        bias = {SurveyTopic.SERVICE: 0.15, SurveyTopic.ENGINEERING: -0.35, SurveyTopic.SECURITY: 0.05,
                SurveyTopic.ENVIRONMENT: 0.0, SurveyTopic.GREENING: 0.2, SurveyTopic.DEVELOPER: -0.7}
        responses = []
        comments = ("希望维修响应再快一些", "小区绿化很好", "地下车库照明不足", "保安很负责", "希望加强装修管理",
                    "开发商遗留问题迟迟没有解决", "前台服务热情", "垃圾清运要及时")
        for u, handed in answered:
            overall = self.pick({5: 42, 4: 36, 3: 13, 2: 6, 1: 3})
            signed = rng.random() < 0.78
            owner = u["_owner"]
            responses.append({
                "project_id": p.id, "survey_id": sid, "unit_id": u["id"],
                "respondent": owner["name"] if signed else "", "signed": signed,
                "answered_on": handed + dt.timedelta(days=rng.randint(1, 12)), "overall_score": overall,
                "comments": rng.choice(comments) if rng.random() < 0.22 else "", "batch_id": None,
            })
            for topic, b in bias.items():
                unanswered = topic is SurveyTopic.DEVELOPER and rng.random() < 0.1  # 不了解，未填
                responses[-1][SCORE_COLUMNS[topic]] = (
                    None if unanswered else max(1, min(5, round(overall + b + rng.gauss(0, 0.7)))))
        self.insert(SurveyResponse, responses)
        engineer = p.staff[StaffPosition.ENGINEER][0]
        self.insert(CorrectiveAction, [
            {"project_id": p.id, "survey_id": sid, "topic": SurveyTopic.ENGINEERING,
             "issue": "维修响应慢、部分维修需返工", "action": "实行维修工单限时响应，完工后由客服回访确认",
             "owner_id": engineer, "due_date": dt.date(2026, 8, 31), "status": ActionStatus.VERIFIED,
             "followed_up_at": _local(dt.date(2026, 9, 12), 15), "follow_up_note": "抽样回访30户，28户满意"},
            {"project_id": p.id, "survey_id": sid, "topic": SurveyTopic.DEVELOPER,
             "issue": "三期外墙及卫生间渗水问题整改慢", "action": "每周汇总房屋整改清单报开发公司工程部，逐户跟进",
             "owner_id": p.staff[StaffPosition.SUPERVISOR][0], "due_date": dt.date(2026, 12, 31),
             "status": ActionStatus.OPEN, "followed_up_at": None, "follow_up_note": ""},
            {"project_id": p.id, "survey_id": sid, "topic": SurveyTopic.ENVIRONMENT,
             "issue": "垃圾清运不及时，分类点周边有异味", "action": "垃圾清运由每日一次改为两次，增加分类点冲洗",
             "owner_id": (p.staff[StaffPosition.CLEANER] or [None])[0], "due_date": dt.date(2026, 7, 31),
             "status": ActionStatus.DONE, "followed_up_at": None, "follow_up_note": ""},
        ])

    # --- staff assessment --------------------------------------------------------------------------
    def scores(self) -> None:
        rng = self.rng
        common = {"1.1": 14, "1.2": 4, "2.1": 8, "3.1": 4, "3.2": 6, "4.1": 6, "5.1": 12, "5.2": 4, "5.4": 6,
                  "5.6": 6, "5.7": 8, "5.8": 1, "6.1": 2, "7.1": 2, "8.1": 12}
        common = {k: w for k, w in common.items() if k in self.rules}
        rows, stars = [], []
        for p in self.projects:
            scored = (p.staff[StaffPosition.FRONT_DESK] + p.staff[StaffPosition.BUTLER]
                      + p.staff[StaffPosition.CASHIER])
            for period in PERIODS:
                start = _period_start(period)
                end = min(_month_end(start), TODAY)
                for sid in scored:
                    for _ in range(self.pick({0: 55, 1: 30, 2: 12, 3: 3})):
                        code = self.pick(common)
                        rule = self.rules[code]
                        lo, hi = rule["min"], rule["max"]
                        steps = int((hi - lo) / Decimal("0.5"))
                        points = lo + Decimal("0.5") * rng.randint(0, steps) if steps else lo
                        day = dt.date.fromordinal(rng.randint(start.toordinal(), end.toordinal()))
                        rows.append({
                            "project_id": p.id, "staff_id": sid, "event_date": day, "rule_id": rule["id"],
                            "points": points, "note": "日常检查记录", "source": EventSource.MANUAL, "source_id": None,
                            "recorded_by_id": p.users["客服主管"],
                        })
            stars.append({"project_id": p.id, "quarter": "2026Q3", "staff_id": rng.choice(scored),
                          "reason": "本季度考核成绩名列前茅，多次获业主表扬", "nominated_by_id": p.users["客服主管"],
                          "chosen": False, "chosen_by_id": None, "chosen_at": None, "commendation": "", "reward": None})
        # 各分公司从推荐人选中评定一名
        for branch_id in self.branches.values():
            pick = next(s for s, p in zip(stars, self.projects, strict=True) if p.branch_id == branch_id)
            pick.update(chosen=True, chosen_by_id=self.users.get("fengongsi") if branch_id == self.branches[
                FIRST_BRANCH] else self.users.get("admin"), chosen_at=_local(dt.date(2026, 10, 15), 16),
                commendation="2026年第三季度服务之星，在分公司范围内通报表扬", reward=Decimal("500"))
        self.insert(ScoreEvent, rows)
        self.insert(ServiceStar, stars)
        # 公司把本季度的推荐截止日提前一周（默认为季度末月最后一个星期三 12-30）
        self.insert(StarDeadline, [{"quarter": "2026Q4", "deadline": dt.date(2026, 12, 23),
                                    "note": "元旦前汇总，提前一周", "set_by_id": self.users.get("admin")}])

    def monthly_scores(self) -> None:
        """Each project's supervisor has computed every finished month and confirmed all but the last, which
        is still a draft (the current month is not over, so not computed)."""
        for p in self.projects:
            supervisor = actor_for_user(self.s, self.s.get(User, p.users["客服主管"]))
            for period in PERIODS[:-1]:
                done = compute_scores(self.s, month=period, project_ids=[p.id], actor=supervisor)
                self.counts["score_event"] += done.derived_added
                self.counts["score_month"] += 1
                self.counts["monthly_score"] += done.scored
                if period != PERIODS[-2]:
                    confirm_scores(self.s, month=period, project_ids=[p.id], actor=supervisor)
            self.counts["reward_entry"] += self.s.scalar(
                select(func.count()).select_from(RewardEntry).where(RewardEntry.project_id == p.id))

    # --- the front desk's ledgers -----------------------------------------------------------------
    def ledgers(self) -> None:
        for p in self.projects:
            self._duty_logs(p)
            self._keys(p)
            self._desk(p)
            self._renovation(p)
            self._move_in(p)
            self._notices(p)
            self._visitors(p)
            self._training(p)
            self._visit_plans(p)
            self._escalations(p)
            self._patrols(p)
            self._desk_extras(p)
            self._fee_tasks(p)

    def _duty_logs(self, p: _ProjectState) -> None:
        rng = self.rng
        desk = p.staff[StaffPosition.FRONT_DESK] + p.staff[StaffPosition.BUTLER][:1]
        events = ("巡查大堂及电梯厅，无异常", "3号电梯报修一次，维保已处理", "接收快递38件，已通知业主领取",
                  "夜间巡查发现地下车库照明故障一处，已报工程部", "暴雨预警，已检查排水沟及地库挡水板",
                  "外来装修工人未带出入证，已劝离并通知业主", "消防控制室交接正常")
        rows = []
        for back in range(14, 0, -1):
            day = TODAY - dt.timedelta(days=back)
            for i, (shift, hour) in enumerate(((Shift.MORNING, 15), (Shift.MIDDLE, 23), (Shift.NIGHT, 7))):
                on, to = desk[(back + i) % len(desk)], desk[(back + i + 1) % len(desk)]
                handed_day = day + dt.timedelta(days=1) if shift is Shift.NIGHT else day
                rows.append({
                    "project_id": p.id, "duty_date": day, "shift": shift, "post": "大堂前台", "on_duty_id": on,
                    "handed_to_id": to, "handed_over_at": _local(handed_day, hour),
                    "events": "；".join(rng.sample(events, k=2)),
                    "pending": rng.choice(("", "", "跟进2栋1202漏水维修进度", "提醒业主领取挂号信")),
                })
        self.insert(DutyLog, rows)

    def _keys(self, p: _ProjectState) -> None:
        rng = self.rng
        public = ("配电房", "水泵房", "消防控制室", "天台", "电梯机房", "会所", "垃圾房", "监控室")
        rows = [
            {"project_id": p.id, "code": f"GG{n:03d}", "name": name, "kind": KeyKind.PUBLIC, "unit_id": None,
             "area_name": name, "copies": 2, "location": f"钥匙柜A-{n:02d}", "status": KeyStatus.IN_STOCK, "note": ""}
            for n, name in enumerate(public, start=1)
        ]
        vacant = [u for u in p.units if u["status"] in (UnitStatus.VACANT, UnitStatus.HANDED_OVER)][:25]
        for n, u in enumerate(vacant, start=1):
            rows.append({"project_id": p.id, "code": f"FW{n:03d}", "name": f"{u['_building']}-{u['room_no']}入户门",
                         "kind": KeyKind.UNIT, "unit_id": u["id"], "area_name": "", "copies": 3,
                         "location": f"钥匙柜B-{n:02d}", "status": KeyStatus.IN_STOCK, "note": "空置房钥匙"})
        lent = set(rng.sample(range(len(rows)), k=3))
        for i in lent:
            rows[i]["status"] = KeyStatus.LENT
        ids = self.insert(KeyRecord, rows, returning=True)
        engineers = p.staff[StaffPosition.ENGINEER]
        loans = []
        for i, kid in enumerate(ids):
            count = 1 if i in lent else (rng.randint(0, 2) if i < len(public) else 0)
            for j in range(count):
                at = self.moment(TODAY - dt.timedelta(days=60), TODAY, (8, 17))
                open_ = i in lent and j == count - 1
                loans.append({
                    "project_id": p.id, "key_id": kid, "borrower": p.staff_names[rng.choice(engineers)],
                    "borrower_phone": "", "borrower_staff_id": rng.choice(engineers),
                    "purpose": rng.choice(("设备巡检", "维修", "消防检查", "带看房")), "lent_at": at,
                    "returned_at": None if open_ else min(at + dt.timedelta(hours=rng.uniform(0.5, 6)), NOW),
                    "recorded_by_id": p.users["前台客服"], "created_at": at, "updated_at": at,
                })
        self.insert(KeyLoan, loans)

    def _desk(self, p: _ProjectState) -> None:
        """失物招领、物品借用、放行条、邮件包裹、会议室预订、外包方检查、周计划."""
        rng = self.rng
        units = [u for u in p.units if u["_owner"] is not None and u["status"] is UnitStatus.OCCUPIED]
        desk_user = p.users["前台客服"]
        items = ("钱包", "手机", "钥匙串", "雨伞", "儿童滑板车", "身份证", "耳机", "水杯")
        lost = []
        for _ in range(10):
            at = self.moment(TODAY - dt.timedelta(days=120), TODAY)
            returned = rng.random() < 0.7 and at + dt.timedelta(days=2) < NOW
            who = rng.choice(units)["_owner"] if returned else None
            lost.append({
                "project_id": p.id, "name": rng.choice(items), "description": "", "found_at": at,
                "found_place": rng.choice(("大堂", "电梯厅", "中心花园", "地下车库", "会所")), "finder": "保洁员",
                "storage_place": "前台失物柜",
                "status": LostItemStatus.RETURNED if returned else LostItemStatus.HELD,
                "claimant": who["name"] if who else "", "claimant_phone": who["phone"] if who else "",
                "customer_id": who["id"] if who else None,
                "returned_at": at + dt.timedelta(days=rng.uniform(0.2, 2)) if returned else None,
                "recorded_by_id": desk_user, "note": "",
            })
        self.insert(LostItem, lost)
        loans = []
        for _ in range(12):
            u = rng.choice(units)
            at = self.moment(TODAY - dt.timedelta(days=60), TODAY)
            back = at + dt.timedelta(hours=rng.uniform(1, 30))
            done = back < NOW
            loans.append({
                "project_id": p.id, "name": rng.choice(("雨伞", "工具箱", "手推车", "人字梯", "打气筒")), "quantity": 1,
                "borrower": u["_owner"]["name"], "borrower_phone": u["_owner"]["phone"], "unit_id": u["id"],
                "customer_id": u["_owner"]["id"], "deposit": Decimal("0"), "lent_at": at,
                "due_at": at + dt.timedelta(days=1), "returned_at": back if done else None,
                "status": ItemLoanStatus.RETURNED if done else ItemLoanStatus.LENT,
                "return_condition": "完好" if done else "", "recorded_by_id": desk_user,
            })
        self.insert(ItemLoan, loans)
        passes = []
        for n in range(1, 11):
            u = rng.choice(units)
            who = u["_tenant"] or u["_owner"]
            day = TODAY - dt.timedelta(days=rng.randint(0, 90))
            passes.append({
                "project_id": p.id, "code": f"FX{day:%Y%m}{n:03d}", "unit_id": u["id"], "applicant": who["name"],
                "customer_id": who["id"], "owner_confirmed": True,
                "items": rng.choice(("旧沙发一套", "冰箱一台、纸箱5个", "办公桌椅10套", "装修剩余材料一批")),
                "carrier": people.person_name(rng)[0], "carrier_phone": people.mobile(rng),
                "plate_no": people.plate(rng, self._plate_prefix(p)), "pass_date": day,
                "approved_by_id": p.staff[StaffPosition.SUPERVISOR][0],
                "status": GoodsPassStatus.RELEASED if day < TODAY else GoodsPassStatus.ISSUED,
                "recorded_by_id": desk_user,
            })
        self.insert(GoodsPass, passes)
        mail = []
        carriers = ("顺丰", "中通", "圆通", "韵达", "京东", "EMS", "申通")
        for n in range(60):
            u = rng.choice(units)
            at = self.moment(TODAY - dt.timedelta(days=30), TODAY)
            picked = rng.random() < 0.85 and at + dt.timedelta(hours=4) < NOW
            who = u["_tenant"] or u["_owner"]
            mail.append({
                "project_id": p.id, "kind": self.pick({MailKind.PARCEL: 80, MailKind.LETTER: 10,
                                                       MailKind.REGISTERED: 5, MailKind.NEWSPAPER: 5}),
                "unit_id": u["id"], "recipient": who["name"], "recipient_phone": who["phone"],
                "carrier": rng.choice(carriers), "tracking_no": f"{p.spec.prefix}{SEED}{n:05d}", "received_at": at,
                "picked_up_by": who["name"] if picked else "",
                "picked_up_at": min(at + dt.timedelta(hours=rng.uniform(1, 48)), NOW) if picked else None,
                "recorded_by_id": desk_user,
            })
        self.insert(MailItem, mail)
        if p.spec.kind in (ProjectKind.OFFICE, ProjectKind.COMMERCIAL):
            bookings = []
            tenants = [u for u in p.units if u["_tenant"] is not None]
            for _ in range(15):
                u = rng.choice(tenants)
                start = self.moment(TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=10), (9, 16))
                if start.date() > TODAY:
                    start = _local(TODAY + dt.timedelta(days=rng.randint(1, 10)), rng.randint(9, 16))
                bookings.append({
                    "project_id": p.id, "room": rng.choice(("多功能厅", "3楼会议室", "贵宾接待室")), "starts_at": start,
                    "ends_at": start + dt.timedelta(hours=rng.choice((1, 2, 3))),
                    "booked_by": u["_tenant"]["emergency_contact"] or u["_tenant"]["name"],
                    "phone": u["_tenant"]["phone"], "unit_id": u["id"], "customer_id": u["_tenant"]["id"],
                    "purpose": rng.choice(("客户洽谈", "季度总结会", "新员工培训", "项目评审")),
                    "attendees": rng.randint(4, 40), "services": rng.choice(("", "茶水", "投影、茶水")),
                    "status": BookingStatus.USED if start < NOW else BookingStatus.APPROVED,
                    "approved_by_id": p.staff[StaffPosition.SUPERVISOR][0], "recorded_by_id": desk_user,
                })
            self.insert(MeetingBooking, bookings)
        vendors = [("洁安保洁服务有限公司", VendorService.CLEANING), ("绿源园林绿化有限公司", VendorService.GREENING)]
        if p.spec.kind is not ProjectKind.RESIDENTIAL:
            vendors = [("洁安保洁服务有限公司", VendorService.CLEANING), ("迅达电梯维保", VendorService.ELEVATOR)]
        checks = []
        for period in PERIODS:
            for name, service in vendors:
                score = rng.randint(78, 97)
                checks.append({
                    "project_id": p.id, "vendor_name": name, "service_kind": service, "month": period, "score": score,
                    "findings": "" if score >= 90 else rng.choice(("楼道地面有污渍", "垃圾桶未及时清洗", "草坪修剪不齐")),
                    "rectify_by": None if score >= 90 else _period_start(period) + dt.timedelta(days=34),
                    "checked_by_id": p.staff[StaffPosition.SUPERVISOR][0],
                })
        self.insert(VendorCheck, checks)
        tasks = []
        monday = TODAY - dt.timedelta(days=TODAY.weekday())
        owners = p.staff[StaffPosition.FRONT_DESK] + p.staff[StaffPosition.BUTLER] + p.staff[StaffPosition.CASHIER]
        texts = (("完成本周欠费户第二次催缴", PlanSection.FOCUS, dt.time(17)),
                 ("整理上周报修统计并上报", PlanSection.ROUTINE, dt.time(12)),
                 ("回访上周完工的维修工单", PlanSection.ROUTINE, None),
                 ("检查装修户施工情况", PlanSection.SPECIAL, None),
                 ("更新公告栏通知", PlanSection.ROUTINE, dt.time(10)),
                 ("组织前台服务礼仪培训", PlanSection.TRAINING, dt.time(15)),
                 ("寒潮来临前检查水管防冻", PlanSection.RISK, None),
                 ("本周投诉处理率达到98%", PlanSection.GOAL, None))
        for back in range(5):
            week = monday - dt.timedelta(weeks=back)
            for text, section, at in rng.sample(texts, k=5):
                deadline = week + dt.timedelta(days=rng.randint(1, 6))
                status = (TaskStatus.DONE if deadline < TODAY and rng.random() < 0.8 else
                          TaskStatus.DELAYED if deadline < TODAY else TaskStatus.IN_PROGRESS)
                tasks.append({"project_id": p.id, "week_start": week, "section": section, "task": text,
                              "owner_id": rng.choice(owners), "deadline": deadline, "deadline_time": at,
                              "status": status, "note": ""})
        self.insert(WeeklyTask, tasks)
        last = monday - dt.timedelta(weeks=1)
        self.insert(WeeklyReview, [{
            "project_id": p.id, "week_start": last, "reviewed_on": last + dt.timedelta(days=4),
            "chaired_by_id": p.users["客服主管"], "summary": "本周计划工作基本完成，催缴和回访按时推进。",
            "problems": "个别维修工单回访滞后；装修巡查发现两户未办出入证。",
            "improvements": "回访当日完成并登记；装修户开工前由管家核对出入证。",
        }])
        supervisor = actor_for_user(self.s, self.s.get(User, p.users["客服主管"]))
        self.counts["weekly_task"] += carry_over_tasks(self.s, week_start=monday, project_ids=[p.id],
                                                       actor=supervisor).carried

    def _renovation(self, p: _ProjectState) -> None:
        rng = self.rng
        decorating = [u for u in p.units if u["status"] is UnitStatus.DECORATING and u["_owner"] is not None]
        done = [u for u in p.units if u["status"] is UnitStatus.OCCUPIED and u["move_in_date"]
                and u["move_in_date"] > YEAR_AGO][:20]
        apps, plans = [], []
        for u in decorating + done:
            current = u in decorating
            period = u.get("_renovation_period") or rng.choice(PERIODS[:6])
            start = _period_start(period) + dt.timedelta(days=rng.randint(0, 20))
            end = start + dt.timedelta(days=rng.randint(45, 120))
            if current:
                status = RenovationStatus.IN_PROGRESS if start <= TODAY else RenovationStatus.APPROVED
            else:
                end = min(end, u["move_in_date"] - dt.timedelta(days=1)) if u["move_in_date"] > start else end
                status = RenovationStatus.REFUNDED
            owner = u["_owner"]
            deposit = Decimal("2000") if u["kind"] is UnitKind.HOUSE else Decimal("5000")
            apps.append({
                "project_id": p.id, "unit_id": u["id"], "applicant": owner["name"], "applicant_phone": owner["phone"],
                "customer_id": owner["id"],
                "contractor": rng.choice(("业之峰装饰", "东易日盛", "金螳螂家装", "圣都装饰", "自行装修")),
                "contractor_contact": people.person_name(rng)[0], "contractor_phone": people.mobile(rng),
                "scope": rng.choice(("全屋硬装", "厨卫改造", "局部翻新", "商铺装修")), "start_date": start,
                "end_date": max(end, start), "deposit": deposit,
                "deposit_refunded": deposit if status is RenovationStatus.REFUNDED else Decimal("0"),
                "status": status, "approved_by_id": p.staff[StaffPosition.SUPERVISOR][0],
                "approved_on": start - dt.timedelta(days=3),
                "inspected_on": max(end, start) if status is RenovationStatus.REFUNDED else None,
                "refunded_on": max(end, start) + dt.timedelta(days=15) if status is RenovationStatus.REFUNDED else None,
                "note": "",
            })
            plans.append((start, max(end, start), status))
        ids = self.insert(RenovationApplication, apps, returning=True)
        permits = []
        n = 0
        for rid, (start, end, status) in zip(ids, plans, strict=True):
            for _ in range(rng.randint(1, 3)):
                n += 1
                name, female = people.person_name(rng, female=rng.random() < 0.1)
                permits.append({
                    "project_id": p.id, "renovation_id": rid, "code": f"ZX{n:04d}", "name": name,
                    "id_number": people.id_number(rng, female=female, born_from=1965, born_to=2000),
                    "phone": people.mobile(rng), "trade": rng.choice(("水电", "泥工", "木工", "油漆")),
                    "valid_from": start, "valid_to": end, "fee": Decimal("20"),
                    "returned_on": end if status is RenovationStatus.REFUNDED else None,
                })
        self.insert(WorkerPermit, permits)

    def _move_in(self, p: _ProjectState) -> None:
        rng = self.rng
        recent = [u for u in p.units if u["handover_date"] and u["handover_date"] > YEAR_AGO and u["_owner"]][:120]
        if not recent:
            return
        rows = []
        for u in recent:
            rows.append({
                "project_id": p.id, "unit_id": u["id"], "customer_id": u["_owner"]["id"],
                "received_by": u["_owner"]["name"], "handover_date": u["handover_date"],
                "water_reading": _money(rng.uniform(0, 3)), "power_reading": _money(rng.uniform(0, 20)),
                "gas_reading": _money(rng.uniform(0, 1)), "keys_count": 3,
                "documents": "业主手册、房屋使用说明书、房屋质量保证书", "accepted": True, "owner_signed": True,
                "handled_by_id": p.staff[StaffPosition.BUTLER][0], "note": "",
            })
        ids = self.insert(MoveInChecklist, rows, returning=True)
        defects = []
        where = ("主卧", "次卧", "卫生间", "厨房", "阳台", "客厅")
        what = ("墙面有裂缝", "窗户密封不严", "地面空鼓", "卫生间防水不合格，闭水试验渗漏", "入户门变形关不严", "墙面渗水")
        for cid, u in zip(ids, recent, strict=True):
            if rng.random() > 0.35:
                continue
            found = u["handover_date"]
            status = self.pick({DefectStatus.CLOSED: 55, DefectStatus.IN_PROGRESS: 25, DefectStatus.SENT: 15,
                                DefectStatus.PENDING: 5})
            closed = found + dt.timedelta(days=rng.randint(10, 60)) if status is DefectStatus.CLOSED else None
            defects.append({
                "project_id": p.id, "unit_id": u["id"], "checklist_id": cid, "location": rng.choice(where),
                "description": rng.choice(what), "found_on": found,
                "sent_on": None if status is DefectStatus.PENDING else found + dt.timedelta(days=2), "status": status,
                "follow_up_id": p.staff[StaffPosition.BUTLER][0],
                "result": "开发商已整改，业主验收签字" if closed else "",
                "closed_on": min(closed, TODAY) if closed else None,
            })
        self.insert(HouseDefect, defects)

    def _notices(self, p: _ProjectState) -> None:
        rng = self.rng
        issuer = p.staff[StaffPosition.SUPERVISOR][0]
        notices = [
            ("关于2026年度物业费缴纳的通知", "请各位业主于每月5日前缴纳当月物业费，可通过微信、支付宝或前台缴纳。", Audience.OWNERS,
             dt.date(2026, 1, 3)),
            ("停水通知", "因二次供水设施清洗，定于本周六9:00-15:00停水，请提前储水。", Audience.PART, dt.date(2026, 5, 20)),
            ("防汛防台温馨提示", "台风即将来临，请关好门窗，阳台勿堆放杂物。", Audience.ALL, dt.date(2026, 8, 1)),
            ("冬季消防安全提示", "请勿在楼道内堆放杂物，电动车严禁进楼充电。", Audience.ALL, dt.date(2026, 11, 1)),
            ("业主满意度调查结果公示", "上半年满意度调查已完成，各部门整改措施见公告栏。", Audience.ALL, dt.date(2026, 7, 20)),
        ]
        self.insert(OwnerNotice, [
            {"project_id": p.id, "title": title, "body": body, "audience": audience,
             "audience_note": "3栋、5栋" if audience is Audience.PART else "", "published_from": start,
             "published_to": start + dt.timedelta(days=14), "issued_by_id": issuer}
            for title, body, audience, start in notices
        ])
        units = [u for u in p.units if u["_owner"] is not None and u["status"] is not UnitStatus.VACANT]
        rows = []
        for n in range(1, 7):
            u = rng.choice(units)
            issued = TODAY - dt.timedelta(days=rng.randint(5, 200))
            status = self.pick({NoticeStatus.RECTIFIED: 60, NoticeStatus.ISSUED: 20, NoticeStatus.OVERDUE: 15,
                                NoticeStatus.ESCALATED: 5})
            deadline = issued + dt.timedelta(days=7)
            if status is NoticeStatus.ISSUED:
                deadline = max(deadline, TODAY + dt.timedelta(days=3))
            rows.append({
                "project_id": p.id, "code": f"ZG{issued:%Y}{n:03d}", "unit_id": u["id"],
                "customer_id": u["_owner"]["id"],
                "violation": rng.choice(("私搭乱建阳台小阁楼", "安装外置阳台罩", "违规拆改承重墙", "占用公共楼道堆放杂物")),
                "requirement": "限期拆除并恢复原状", "issued_on": issued, "deadline": deadline,
                "issued_by_id": p.staff[StaffPosition.BUTLER][0], "status": status,
                "checked_on": deadline if status is not NoticeStatus.ISSUED else None,
                "check_result": {NoticeStatus.RECTIFIED: "已整改", NoticeStatus.OVERDUE: "逾期未整改",
                                 NoticeStatus.ESCALATED: "已报城管执法"}.get(status, ""),
            })
        self.insert(RectificationNotice, rows)

    def _escalations(self, p: _ProjectState) -> None:
        """重大投诉 go up to the manager (answered) and, the first one, on to the branch (waiting)."""
        complaints = self.s.execute(
            select(ServiceRequest.id, ServiceRequest.received_at).where(
                ServiceRequest.project_id == p.id, ServiceRequest.kind == RequestKind.COMPLAINT,
                ServiceRequest.complaint_major.is_(True)).order_by(ServiceRequest.id).limit(3)).all()
        rows = []
        for n, (rid, at) in enumerate(complaints):
            rows.append({"project_id": p.id, "request_id": rid, "level": EscalationLevel.MANAGER,
                         "reason": "重大投诉，按规定报客服经理", "escalated_by_id": p.users["客服主管"],
                         "escalated_at": at + dt.timedelta(hours=2), "response": "经理约见业主，三日内给出处理方案",
                         "responded_by_id": p.users.get("客服经理", self.users.get("admin")),
                         "responded_at": at + dt.timedelta(days=1)})
            if n == 0:
                rows.append({"project_id": p.id, "request_id": rid, "level": EscalationLevel.GENERAL,
                             "reason": "业主要求赔偿，超出项目权限，报分公司", "escalated_by_id": p.users["客服主管"],
                             "escalated_at": at + dt.timedelta(days=2), "response": "", "responded_by_id": None,
                             "responded_at": None})
        self.insert(Escalation, rows)

    def _visit_plans(self, p: _ProjectState) -> None:
        """The butlers' 登门拜访计划 of the last three months: approved by the manager, this month's still waiting."""
        rows = []
        for period in PERIODS[-3:]:
            current = period == PERIODS[-1]
            for sid in p.staff[StaffPosition.BUTLER]:
                rows.append({
                    "project_id": p.id, "month": period, "staff_id": sid, "planned": 40,
                    "focus": "欠费户、本月投诉户、新入住业主", "planned_by_id": p.users["客服主管"],
                    "status": PlanStatus.DRAFT if current else PlanStatus.APPROVED,
                    "approved_by_id": None if current else p.users.get("客服经理", self.users.get("admin")),
                    "approved_at": None if current else _local(_period_start(period) + dt.timedelta(days=2), 10),
                })
        self.insert(StaffVisitPlan, rows)
        # 主管签阅: last month's 走访 records are signed, this month's wait on 走访统计
        start, end = _period_start(PERIODS[-2]), _period_start(PERIODS[-1])
        signed = self.s.execute(select(Visit.id, Visit.visited_at).where(
            Visit.project_id == p.id, Visit.kind.in_((VisitKind.REGULAR, VisitKind.SPECIAL)),
            Visit.visited_at >= _local(start, 0), Visit.visited_at < _local(end, 0),
            Visit.visitor_id.is_distinct_from(p.users["客服主管"]))).all()  # nobody signs their own
        self.insert(VisitSignoff, [
            {"project_id": p.id, "visit_id": vid, "signed_by_id": p.users["客服主管"],
             "signed_at": max(at + dt.timedelta(days=2), _local(end, 17)), "comment": "已阅"} for vid, at in signed])

    def _visitors(self, p: _ProjectState) -> None:
        rng = self.rng
        units = [u for u in p.units if u["_owner"] is not None and u["status"] is not UnitStatus.VACANT]
        names = ("张先生", "李女士", "王师傅", "刘先生", "陈女士", "赵师傅", "周先生", "吴女士")
        rows = []
        for _ in range(40):
            u = rng.choice(units)
            purpose = self.pick({VisitPurpose.VISIT: 50, VisitPurpose.DELIVERY: 20, VisitPurpose.REPAIR: 15,
                                 VisitPurpose.VIEWING: 5, VisitPurpose.BUSINESS: 10})
            at = self.moment(TODAY - dt.timedelta(days=20), TODAY)
            left = at + dt.timedelta(minutes=rng.randint(15, 180))
            rows.append({
                "project_id": p.id, "visitor": rng.choice(names), "visitor_phone": people.mobile(rng),
                "people": rng.choice((1, 1, 1, 2, 3)), "purpose": purpose, "visiting": u["_owner"]["name"],
                "unit_id": u["id"], "plate_no": rng.choice(("", "", f"沪A{rng.randint(10000, 99999)}")),
                "document": VisitorDocument.WORK_PASS if purpose is VisitPurpose.REPAIR else VisitorDocument.ID_CARD,
                "arrived_at": at, "left_at": left if left < NOW else None, "note": "",
                "recorded_by_id": p.users["前台客服"],
            })
        self.insert(VisitorEntry, rows)

    def _training(self, p: _ProjectState) -> None:
        """每季度至少一次培训（礼仪、投诉技巧、巡查、法规）, held and scored; next quarter's still planned."""
        rng = self.rng
        plan = ((TrainingTopic.ETIQUETTE, "前台接待礼仪与仪容仪表", 1), (TrainingTopic.COMPLAINT, "投诉处理技巧与情绪安抚", 4),
                (TrainingTopic.PATROL, "楼宇巡查要点与隐患上报", 7), (TrainingTopic.LAW, "《物业管理条例》与业主权益", 10),
                (TrainingTopic.SAFETY, "冬季消防安全与应急疏散", 12))
        staff = p.staff[StaffPosition.FRONT_DESK] + p.staff[StaffPosition.BUTLER] + p.staff[StaffPosition.CASHIER]
        sessions = []
        for topic, title, month in plan:
            day = dt.date(TODAY.year, month, 15)
            held = day <= TODAY
            sessions.append({
                "project_id": p.id, "topic": topic, "title": title, "trainer": "客服经理" if held else "待定",
                "planned_on": day, "held_on": day if held else None, "hours": Decimal("2"), "has_test": True,
                "status": TrainingStatus.HELD if held else TrainingStatus.PLANNED,
                "summary": "笔试及现场演练，成绩记入个人培训档案" if held else "",
                "recorded_by_id": p.users["客服主管"],
            })
        ids = self.insert(TrainingSession, sessions, returning=True)
        attendance = []
        for sid, row in zip(ids, sessions, strict=True):
            if row["status"] is not TrainingStatus.HELD:
                continue
            for person in staff:
                present = rng.random() < 0.9
                attendance.append({"session_id": sid, "staff_id": person, "attended": present,
                                   "score": Decimal(rng.randint(70, 98)) if present else None,
                                   "note": "" if present else "当班请假，安排补训"})
        self.insert(TrainingAttendance, attendance)

    def _patrols(self, p: _ProjectState) -> None:
        """管家每日巡查 of two buildings and the desk's round of the public areas over the last two weeks: each
        item's result, what was found — mostly settled on the spot, the 巡查 requests of those days linked to the
        finding they came from, the last few still waiting to be reported (转为报事)."""
        rng = self.rng
        rounds = [(bid, f"{name}楼宇巡查", f"{name}各楼层楼道、消防通道、电梯厅、天台", PATROL_BUILDING_ITEMS)
                  for bid, name in list(p.buildings.items())[:2]]
        rounds.append((None, "地库及公共区域巡查", "地下车库、园区道路、绿化带、宣传栏", PATROL_PUBLIC_ITEMS))
        route_ids = self.insert(PatrolRoute, [
            {"project_id": p.id, "name": name, "building_id": bid, "frequency": PatrolFrequency.DAILY,
             "description": scope, "active": True} for bid, name, scope, _ in rounds], returning=True)
        items: dict[int, list[tuple[int, str]]] = {}
        for rid, (_, _, _, checklist) in zip(route_ids, rounds, strict=True):
            rows = [{"route_id": rid, "seq": n, "item": item, "standard": standard, "active": True}
                    for n, (item, standard) in enumerate(checklist, 1)]
            items[rid] = list(zip(self.insert(PatrolCheckItem, rows, returning=True), (i for i, _ in checklist),
                                  strict=True))
        walkers = {rid: p.staff[StaffPosition.BUTLER] if bid else p.staff[StaffPosition.FRONT_DESK]
                   for rid, (bid, *_) in zip(route_ids, rounds, strict=True)}
        patrols, results = [], []
        for back in range(14, 0, -1):
            day = TODAY - dt.timedelta(days=back)
            for rid in route_ids:
                marks = [(iid, item, rng.random() < 0.08) for iid, item in items[rid]]
                start = _local(day, 9, rng.randrange(0, 50))
                patrols.append({"project_id": p.id, "route_id": rid, "patroller_id": rng.choice(walkers[rid]),
                                "started_at": start, "ended_at": start + dt.timedelta(minutes=rng.randint(30, 60)),
                                "abnormal": sum(bad for *_, bad in marks), "summary": "",
                                "recorded_by_id": p.users["楼宇管家" if rid != route_ids[-1] else "前台客服"]})
                results.append(marks)
        patrol_ids = self.insert(Patrol, patrols, returning=True)
        checks, findings = [], []
        for pid, marks in zip(patrol_ids, results, strict=True):
            for iid, item, bad in marks:
                note = PATROL_FAULTS.get(item, "需跟进") if bad else ""
                checks.append({"patrol_id": pid, "item_id": iid, "result": CheckResult.ABNORMAL if bad else CheckResult.OK,
                               "note": note})
                if bad:
                    findings.append({"project_id": p.id, "patrol_id": pid, "item_id": iid, "location": "",
                                     "unit_id": None, "category": RequestCategory.OTHER, "description": note,
                                     "status": FindingStatus.RESOLVED, "request_id": None})
        for row in findings[-2:]:  # the latest two wait for 转为报事
            row["status"] = FindingStatus.OPEN
        # the 巡查 requests of these two weeks were found on the public round of their day
        public = {row["started_at"].astimezone(SHANGHAI).date(): pid for pid, row in zip(patrol_ids, patrols, strict=True)
                  if row["route_id"] == route_ids[-1]}
        for rid, at, unit_id, category, content in self.s.execute(
                select(ServiceRequest.id, ServiceRequest.received_at, ServiceRequest.unit_id, ServiceRequest.category,
                       ServiceRequest.content)
                .where(ServiceRequest.project_id == p.id, ServiceRequest.channel == Channel.PATROL,
                       ServiceRequest.received_at >= _local(TODAY - dt.timedelta(days=14), 0))):
            day = at.astimezone(SHANGHAI).date()
            if day in public:
                findings.append({"project_id": p.id, "patrol_id": public[day], "item_id": None, "location": "",
                                 "unit_id": unit_id, "category": category, "description": content,
                                 "status": FindingStatus.REPORTED, "request_id": rid})
        self.insert(PatrolCheck, checks)
        self.insert(PatrolFinding, findings)

    def _desk_extras(self, p: _ProjectState) -> None:
        """特约服务 on offer; 一次性外包 followed by a butler (accepted, being put right, planned); the last three
        nights' collections at the desk handed to the cashier (the latest still to count); mail notified each
        morning to the butlers."""
        rng = self.rng
        self.insert(SpecialService, [
            {"project_id": p.id, "name": name, "price": price, "price_unit": unit, "provider": provider,
             "description": "", "active": True}
            for name, price, unit, provider in (("家政保洁", Decimal("50"), "小时", "本公司家政服务部"),
                                                ("家电清洗", Decimal("120"), "台", "合作单位：洁家电器"),
                                                ("开荒保洁", Decimal("8"), "平方米", "本公司家政服务部"),
                                                ("管道疏通", Decimal("80"), "次", "本公司工程部"),
                                                ("搬家", None, "", "合作单位：安心搬家"))])
        butlers = p.staff[StaffPosition.BUTLER]
        jobs = (("外墙清洗", "洁美高空清洗有限公司", TODAY - dt.timedelta(days=40), OutsourcedJobStatus.ACCEPTED,
                 "3栋西立面有水渍，已返工"),
                ("化粪池清掏", "城环市政服务公司", TODAY - dt.timedelta(days=6), OutsourcedJobStatus.RECTIFYING,
                 "清掏后井盖周边污渍未清理，限 2 日内整改"),
                ("地下车库地坪修补", "固德地坪工程公司", TODAY + dt.timedelta(days=10), OutsourcedJobStatus.PLANNED, ""))
        self.insert(OutsourcedJob, [
            {"project_id": p.id, "title": title, "vendor": vendor, "follower_id": rng.choice(butlers),
             "planned_on": day, "status": status, "issues": issues,
             "done_on": day + dt.timedelta(days=3) if status is OutsourcedJobStatus.ACCEPTED else None}
            for title, vendor, day, status, issues in jobs])
        desk = p.staff[StaffPosition.FRONT_DESK][0]
        handovers = []
        for back in (3, 2, 1):
            start, end = _local(TODAY - dt.timedelta(days=back), 17), _local(TODAY - dt.timedelta(days=back - 1), 9)
            taken = self.s.execute(select(Payment.id, Payment.amount, Payment.method).where(
                Payment.project_id == p.id, Payment.paid_at >= start, Payment.paid_at < end
            ).order_by(Payment.method != PayMethod.CASH, Payment.id).limit(6)).all()
            if not any(m is PayMethod.CASH for _, _, m in taken):
                continue  # 没有现金，无需交接
            # 下班后由前台代收：应交的是现金，其他方式直接入公司账户，列明不交
            self.s.execute(update(Payment).where(Payment.id.in_([i for i, _, _ in taken])).values(collector_id=desk))
            cash = [a for _, a, m in taken if m is PayMethod.CASH]
            others: dict[PayMethod, tuple[int, Decimal]] = {}
            for _, a, m in taken:
                if m is not PayMethod.CASH:
                    n, total = others.get(m, (0, ZERO))
                    others[m] = (n + 1, total + a)
            amount = sum(cash, ZERO)
            done = back > 1
            handovers.append({
                "project_id": p.id, "collector_id": desk, "period_from": start, "period_to": end,
                "payments": len(cash), "amount": amount, "other_methods": other_methods_text(others),
                "handed_by_id": p.users["前台客服"], "handed_at": end,
                "cashier_id": p.users.get("收费员", p.users["客服主管"]) if done else None,
                "confirmed_at": end + dt.timedelta(minutes=40) if done else None,
                "counted": amount if done else None, "note": ""})
        self.insert(CashHandover, handovers)
        # each payment names the handover that took it (the next handover takes only those no handover took)
        took = (select(CashHandover.id).where(CashHandover.collector_id == Payment.collector_id,
                                               Payment.paid_at >= CashHandover.period_from,
                                               Payment.paid_at < CashHandover.period_to).scalar_subquery())
        self.s.execute(update(Payment).where(Payment.collector_id == desk, Payment.reversed_at.is_(None))
                       .values(handover_id=took).execution_options(synchronize_session=False))
        butler = func.coalesce(Unit.butler_id, Building.butler_id)
        notices = []
        for back in (3, 2, 1):
            morning = _local(TODAY - dt.timedelta(days=back), 9, 30)
            for butler_id, n in self.s.execute(
                    select(butler, func.count(MailItem.id)).select_from(MailItem)
                    .join(Unit, Unit.id == MailItem.unit_id).join(Building, Building.id == Unit.building_id)
                    .where(MailItem.project_id == p.id, MailItem.received_at < morning,
                           MailItem.picked_up_at.is_(None) | (MailItem.picked_up_at > morning), butler.is_not(None))
                    .group_by(butler)):
                notices.append({"project_id": p.id, "day": TODAY - dt.timedelta(days=back), "butler_id": butler_id,
                                "items": n, "notified_by_id": p.users["前台客服"], "notified_at": morning})
        self.insert(MailNotice, notices)

    def _fee_tasks(self, p: _ProjectState) -> None:
        """This year's 收费标准年审, done in May — the car park's still open in the first project; and the leases
        of the rented spaces, a year each, let to the owner of the linked unit at the 停车费 rate — the rent their
        bills (made at the rate, ``_bills``) charged, as 生成账单 charges a lease's 月租."""
        rng = self.rng
        reviews = []
        for n, (fid, name) in enumerate(self.s.execute(select(FeeType.id, FeeType.name).where(
                FeeType.project_id == p.id, FeeType.active.is_(True)).order_by(FeeType.id))):
            open_ = p is self.projects[0] and "停车" in name
            reviews.append({"project_id": p.id, "year": TODAY.year, "fee_type_id": fid,
                            "due_from": dt.date(TODAY.year, 4, 1), "due_by": dt.date(TODAY.year, 5, 31),
                            "status": ReviewStatus.PENDING if open_ else ReviewStatus.DONE,
                            "reviewed_on": None if open_ else dt.date(TODAY.year, 5, 10 + n),
                            "reviewer_id": None if open_ else p.users.get("客服经理", p.users["客服主管"]),
                            "outcome": "" if open_ else "维持现行收费标准"})
        self.insert(FeeReview, reviews)
        owners = dict(self.s.execute(select(UnitCustomer.unit_id, func.min(UnitCustomer.customer_id))
                                     .where(UnitCustomer.project_id == p.id).group_by(UnitCustomer.unit_id)).all())
        leases = []
        for sid, unit_id, plate in self.s.execute(select(ParkingSpace.id, ParkingSpace.unit_id, ParkingSpace.plate_no)
                                                  .where(ParkingSpace.project_id == p.id, ParkingSpace.is_rented)
                                                  .order_by(ParkingSpace.id)):
            if unit_id not in owners:
                continue
            start = TODAY - dt.timedelta(days=rng.randint(20, 330))
            leases.append({"project_id": p.id, "space_id": sid, "customer_id": owners[unit_id], "plate_no": plate,
                           "start_date": start, "end_date": start + dt.timedelta(days=364),
                           "monthly_rent": p.fee_types["停车费"]["rate"], "note": ""})
        self.insert(ParkingLease, leases)


def demo_loaded(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Branch).where(Branch.name == FIRST_BRANCH)) > 0


def load_demo(session: Session) -> dict[str, int]:
    """Load the demo data set (the reference data must be loaded first). Returns rows inserted per table;
    an empty dict when the demo is already there."""
    if demo_loaded(session):
        return {}
    counts = _Demo(session).run()
    log_operation(session, "load_demo", params={"seed": SEED, "as_of": NOW}, counts=counts)
    return counts
