"""All records of the console, re-exported: ``from models import Unit, Bill``."""

from .attachments import (  # noqa: F401
    Attachment,
    AttachmentStage,
)
from .audit import (  # noqa: F401
    AuditActor,
    AuditKind,
    AuditLog,
    AuditSource,
    FormSubmission,
    OperationLog,
    OperationStatus,
)
from .auth import (  # noqa: F401
    LoginAttempt,
    Role,
    RoleGrant,
    User,
    user_project,
    user_role,
)
from .base import (  # noqa: F401
    SHANGHAI,
    ZERO,
    Base,
    LabeledEnum,
    label,
    label_of,
    labels_of,
    natural_sort_key,
    utcnow,
)
from .customers import (  # noqa: F401
    Customer,
    CustomerKind,
    UnitCustomer,
    UnitRelation,
)
from .escalations import (  # noqa: F401
    Escalation,
    EscalationLevel,
)
from .fee_tasks import (  # noqa: F401
    FeeReview,
    ParkingLease,
    ReviewStatus,
)
from .fees import (  # noqa: F401
    Bill,
    BillStatus,
    BillTotal,
    DeliveryWay,
    DunningNotice,
    DunningRun,
    DunningRunStatus,
    DunningStage,
    FeeBasis,
    FeeType,
    Payment,
    PayMethod,
    Receipt,
    ReceiptSequence,
    receipt_number,
)
from .front_desk import (  # noqa: F401
    CashHandover,
    MailNotice,
    OutsourcedJob,
    OutsourcedJobStatus,
    SpecialService,
)
from .imports import (  # noqa: F401
    BatchStatus,
    ImportBatch,
    ProjectMark,
)
from .jobs import (  # noqa: F401
    ACTIVE_STATES,
    Job,
    JobFile,
    JobLock,
    JobState,
)
from .ledgers import (  # noqa: F401
    Audience,
    BookingStatus,
    DefectStatus,
    DutyLog,
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
    MeetingBooking,
    MoveInChecklist,
    NoticeStatus,
    OwnerNotice,
    PlanSection,
    RectificationNotice,
    RenovationApplication,
    RenovationStatus,
    Shift,
    TaskStatus,
    VendorCheck,
    VendorRectification,
    VendorService,
    VisitorDocument,
    VisitorEntry,
    VisitPurpose,
    WeeklyReview,
    WeeklyTask,
    WorkerPermit,
)
from .org import (  # noqa: F401
    Branch,
    Building,
    Department,
    DepartmentKind,
    ParkingSpace,
    Phase,
    Project,
    ProjectKind,
    Staff,
    StaffPosition,
    Unit,
    UnitKind,
    UnitStatus,
)
from .patrols import (  # noqa: F401
    CheckResult,
    FindingStatus,
    Patrol,
    PatrolCheck,
    PatrolCheckItem,
    PatrolFinding,
    PatrolFrequency,
    PatrolRoute,
)
from .reports import (  # noqa: F401
    MonthSnapshot,
)
from .scoring import (  # noqa: F401
    EventSource,
    GradeBand,
    MonthlyScore,
    MonthStatus,
    RewardEntry,
    RewardKind,
    RuleCategory,
    ScoreEvent,
    ScoreMonth,
    ScoreTotal,
    ScoringRule,
    ServiceStar,
    StarDeadline,
)
from .service import (  # noqa: F401
    CALLBACK_KINDS,
    Channel,
    ComplaintValidity,
    Priority,
    RequestCategory,
    RequestKind,
    RequestStatus,
    RoutingRule,
    Satisfaction,
    ServiceRequest,
    SlaRule,
    Visit,
    VisitKind,
    VisitWay,
    WorkOrder,
    WorkOrderStatus,
)
from .surveys import (  # noqa: F401
    SCORE_COLUMNS,
    ActionStatus,
    CorrectiveAction,
    Survey,
    SurveyAnswerTally,
    SurveyHousehold,
    SurveyHouseholdTally,
    SurveyResponse,
    SurveyScore,
    SurveyStatus,
    SurveyTopic,
    score_column,
)
from .training import (  # noqa: F401
    TrainingAttendance,
    TrainingSession,
    TrainingStatus,
    TrainingTopic,
)
from .visit_plans import (  # noqa: F401
    PlanStatus,
    StaffVisitPlan,
    VisitSignoff,
)
