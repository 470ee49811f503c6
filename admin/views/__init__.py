"""The console's views, one module per models module, registered in menu order."""

from __future__ import annotations

from sqladmin import Admin

from .attachments import AttachmentPages
from .audit import AuditLogAdmin, OperationLogAdmin
from .auth import LoginAttemptAdmin, RoleAdmin, UserAdmin
from .building_week import BuildingWeekPage
from .customers import CustomerAdmin, UnitCustomerAdmin
from .dashboard import HomePage, SessionPing, TrendsPage
from .escalations import EscalationAdmin
from .fee_tasks import FeeReviewAdmin, ParkingLeaseAdmin
from .fees import (
    ArrearsPage,
    BillAdmin,
    CollectionRatePage,
    DunningNoticeAdmin,
    DunningPage,
    DunningRunAdmin,
    FeeTypeAdmin,
    PaymentAdmin,
)
from .front_desk import CashHandoverAdmin, MailNoticeAdmin, OutsourcedJobAdmin, SpecialServiceAdmin
from .imports import ImportBatchAdmin
from .jobs import JobPages
from .ledgers import (
    DutyLogAdmin,
    GoodsPassAdmin,
    HouseDefectAdmin,
    ItemLoanAdmin,
    KeyLoanAdmin,
    KeyRecordAdmin,
    LostItemAdmin,
    MailItemAdmin,
    MeetingBookingAdmin,
    MoveInChecklistAdmin,
    OwnerNoticeAdmin,
    RectificationNoticeAdmin,
    RenovationApplicationAdmin,
    VendorCheckAdmin,
    VisitorEntryAdmin,
    WeeklyReviewAdmin,
    WeeklyTaskAdmin,
    WorkerPermitAdmin,
)
from .org import (
    BranchAdmin,
    BuildingAdmin,
    DepartmentAdmin,
    ParkingSpaceAdmin,
    PhaseAdmin,
    ProjectAdmin,
    StaffAdmin,
    UnitAdmin,
)
from .patrols import PatrolAdmin, PatrolCheckAdmin, PatrolCheckItemAdmin, PatrolFindingAdmin, PatrolRouteAdmin
from .reports import ReportPage
from .scoring import (
    ComputePage,
    GradeBandAdmin,
    MonthlyScoreAdmin,
    RecordEventsPage,
    ResultsPage,
    RewardEntryAdmin,
    ScoreEventAdmin,
    ScoreMonthAdmin,
    ScoringRuleAdmin,
    ServiceStarAdmin,
    StarDeadlineAdmin,
    StarsPage,
)
from .service import (
    CallbacksPage,
    ComplaintStatsPage,
    DepartmentReportPage,
    FirstResponsibilityPage,
    IntakePage,
    RoutingRuleAdmin,
    ServiceRequestAdmin,
    SlaRuleAdmin,
    VisitAdmin,
    VisitPlanPage,
    WorkOrderAdmin,
)
from .spreadsheets import SpreadsheetPages
from .surveys import (
    CorrectiveActionAdmin,
    SurveyAdmin,
    SurveyHouseholdAdmin,
    SurveyResponseAdmin,
    SurveyScoreAdmin,
)
from .training import TrainingAttendanceAdmin, TrainingSessionAdmin
from .visit_plans import StaffVisitPlanAdmin, VisitSignoffAdmin, VisitStatsPage

# Menu order: each category appears where its first view is.
VIEWS = [
    # 首页看板
    HomePage,
    SessionPing,
    AttachmentPages,
    TrendsPage,
    ReportPage,
    # 客户档案
    ProjectAdmin,
    PhaseAdmin,
    BuildingAdmin,
    UnitAdmin,
    ParkingSpaceAdmin,
    CustomerAdmin,
    UnitCustomerAdmin,
    # 客服工单
    IntakePage,
    FirstResponsibilityPage,
    ServiceRequestAdmin,
    WorkOrderAdmin,
    CallbacksPage,
    VisitAdmin,
    VisitPlanPage,
    StaffVisitPlanAdmin,
    VisitStatsPage,
    VisitSignoffAdmin,
    EscalationAdmin,
    DepartmentReportPage,
    BuildingWeekPage,
    ComplaintStatsPage,
    SlaRuleAdmin,
    RoutingRuleAdmin,
    # 巡查
    PatrolAdmin,
    PatrolFindingAdmin,
    PatrolRouteAdmin,
    PatrolCheckItemAdmin,
    PatrolCheckAdmin,
    # 收费催缴
    FeeTypeAdmin,
    BillAdmin,
    PaymentAdmin,
    DunningRunAdmin,
    DunningNoticeAdmin,
    DunningPage,
    ArrearsPage,
    CollectionRatePage,
    ParkingLeaseAdmin,
    FeeReviewAdmin,
    # 满意度调查
    SurveyAdmin,
    SurveyHouseholdAdmin,
    SurveyResponseAdmin,
    SurveyScoreAdmin,
    CorrectiveActionAdmin,
    # 员工考核
    RecordEventsPage,
    ComputePage,
    ResultsPage,
    StarsPage,
    ScoringRuleAdmin,
    ScoreEventAdmin,
    ScoreMonthAdmin,
    MonthlyScoreAdmin,
    ServiceStarAdmin,
    StarDeadlineAdmin,
    RewardEntryAdmin,
    GradeBandAdmin,
    TrainingSessionAdmin,
    TrainingAttendanceAdmin,
    # 前台台帐
    DutyLogAdmin,
    KeyRecordAdmin,
    KeyLoanAdmin,
    LostItemAdmin,
    ItemLoanAdmin,
    GoodsPassAdmin,
    MailItemAdmin,
    MeetingBookingAdmin,
    RenovationApplicationAdmin,
    WorkerPermitAdmin,
    MoveInChecklistAdmin,
    HouseDefectAdmin,
    RectificationNoticeAdmin,
    OwnerNoticeAdmin,
    VendorCheckAdmin,
    WeeklyTaskAdmin,
    WeeklyReviewAdmin,
    VisitorEntryAdmin,
    CashHandoverAdmin,
    MailNoticeAdmin,
    SpecialServiceAdmin,
    OutsourcedJobAdmin,
    # 导入导出
    SpreadsheetPages,
    JobPages,
    # 系统管理
    BranchAdmin,
    DepartmentAdmin,
    StaffAdmin,
    UserAdmin,
    RoleAdmin,
    AuditLogAdmin,
    OperationLogAdmin,
    ImportBatchAdmin,
    LoginAttemptAdmin,
]


def register_views(admin: Admin) -> None:
    for view in VIEWS:
        admin.add_view(view)


__all__ = ["VIEWS", "register_views"]
