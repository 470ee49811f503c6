"""Business operations: plain functions over a Session. Importing the package installs the flush hooks."""

from . import (
    audit,  # noqa: F401  (registers the flush listener that writes the audit trail)
    units,  # noqa: F401  (a unit's state follows its 交房验收 and 装修申请 in the same flush)
)
