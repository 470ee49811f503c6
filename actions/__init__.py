"""Business operations: plain functions over a Session. Importing the package installs the audit hooks."""

from . import audit  # noqa: F401  (registers the flush listener that writes the audit trail)
