"""Business operations: plain functions over a Session. Importing the package installs the flush hooks."""

# The rules records.save_record applies and the trail links (audit.TRAIL_LINKS), registered by the domain
# modules that hold them.
from . import (  # noqa: E402
    audit,  # noqa: F401  (registers the flush listener that writes the audit trail)
    billing,  # noqa: F401
    ledgers,  # noqa: F401
    scores,  # noqa: F401
    surveys,  # noqa: F401
    units,  # noqa: F401  (a unit's state follows its 交房验收 and 装修申请 in the same flush)
    visit_plans,  # noqa: F401
    weekly_plan,  # noqa: F401
    work_orders,  # noqa: F401  (a request's 变更记录 lists its orders' 派工 rows)
)
