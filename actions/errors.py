"""Typed refusals: an action that will not do what it was asked raises one, with a Chinese message."""

from __future__ import annotations

from collections.abc import Iterable


class Refused(Exception):
    """The request is refused as a whole; nothing was written. ``ids`` name the offending records."""

    def __init__(self, message: str, ids: Iterable[object] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.ids = list(ids)

    def __str__(self) -> str:
        return self.message


class NotPermitted(Refused):
    """The actor may not do this, or not on these records (another project, a missing grant)."""
