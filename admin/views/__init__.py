"""The console's views, one module per models module, registered in menu order."""

from __future__ import annotations

from sqladmin import Admin

from .audit import AuditLogAdmin, OperationLogAdmin
from .auth import LoginAttemptAdmin, RoleAdmin, UserAdmin
from .customers import CustomerAdmin, UnitCustomerAdmin
from .fees import BillAdmin, DunningNoticeAdmin, DunningRunAdmin, FeeTypeAdmin, PaymentAdmin
from .imports import ImportBatchAdmin
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
from .scoring import (
    GradeBandAdmin,
    MonthlyScoreAdmin,
    ScoreEventAdmin,
    ScoreMonthAdmin,
    ScoringRuleAdmin,
    ServiceStarAdmin,
)
from .service import RoutingRuleAdmin, ServiceRequestAdmin, SlaRuleAdmin, VisitAdmin, WorkOrderAdmin
from .surveys import (
    CorrectiveActionAdmin,
    SurveyAdmin,
    SurveyHouseholdAdmin,
    SurveyResponseAdmin,
    SurveyScoreAdmin,
)

# Menu order: each category appears where its first view is.
VIEWS = [
    # 客户档案
    ProjectAdmin,
    PhaseAdmin,
    BuildingAdmin,
    UnitAdmin,
    ParkingSpaceAdmin,
    CustomerAdmin,
    UnitCustomerAdmin,
    # 客服工单
    ServiceRequestAdmin,
    WorkOrderAdmin,
    VisitAdmin,
    SlaRuleAdmin,
    RoutingRuleAdmin,
    # 收费催缴
    FeeTypeAdmin,
    BillAdmin,
    PaymentAdmin,
    DunningRunAdmin,
    DunningNoticeAdmin,
    # 满意度调查
    SurveyAdmin,
    SurveyHouseholdAdmin,
    SurveyResponseAdmin,
    SurveyScoreAdmin,
    CorrectiveActionAdmin,
    # 员工考核
    ScoringRuleAdmin,
    ScoreEventAdmin,
    ScoreMonthAdmin,
    MonthlyScoreAdmin,
    ServiceStarAdmin,
    GradeBandAdmin,
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
