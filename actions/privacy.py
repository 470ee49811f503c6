"""Masking of personal data (PIPL): ID-card numbers and phone numbers outside the detail page."""

from __future__ import annotations

import re
from typing import Any

TAIL = 4  # the last characters a masked number shows: its 尾号


def mask(kind: str, value: str | None) -> str:
    """``13812345678`` → ``138****5678``; ``110101199003071234`` → ``110***********1234``."""
    if not value:
        return ""
    value = str(value)
    if kind == "phone":
        return value[:3] + "****" + value[-TAIL:] if len(value) >= 7 else "****"
    if kind == "id_number":
        return value[:3] + "*" * (len(value) - 7) + value[-TAIL:] if len(value) > 7 else "****"
    return value


# An ID number (18 characters, or a legacy 15 digits) and a phone number (7 digits or more, a mobile typed in
# groups ``138 1234 5678``, a landline as stored ``021-58888888``) inside free text: a list's search as an export's audit row records it.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:1\d{2}[ -]\d{4}[ -]\d{4}|0\d{2,3}-\d{7,8}|\d{7,})(?!\d)")


def masked_text(value: Any) -> Any:
    """``value`` with every ID and phone number in it masked as the lists show them; dicts and lists walked.

    What a user typed to find a record (``search=13812345678``) is kept by the audit trail and the operation
    log, which are read by more people than may see the number itself (RELIABILITY P02)."""
    if isinstance(value, str):
        value = _ID_IN_TEXT.sub(lambda m: mask("id_number", m.group()), value)
        return _PHONE_IN_TEXT.sub(lambda m: mask("phone", re.sub(r"[ -]", "", m.group())), value)
    if isinstance(value, dict):
        return {k: masked_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(masked_text(v) for v in value)
    return value


def whole_number(kind: str, term: str) -> str | None:
    """The number ``term`` is, whole and as it is stored (``138 1234 5678`` → ``13812345678``), or None.

    Who may not see a number finds a record by it only by typing it whole, as a caller gives it to the front
    desk — it is then matched whole, never as a part: a part of it (``1381234``) would tell, record by record,
    the digits the mask hides (its 尾号 is no secret: ``shown_tail``). An ID number is taken as typed (a number stored before the check-digit rule
    is still found by itself)."""
    from .spreadsheets import clean  # noqa: PLC0415 — the cleaners import the models; masking does not need them

    if not term:
        return None
    if kind == "id_number":
        shown = "".join(term.split()).upper()
        return shown if _WHOLE_ID.match(shown) else None
    if kind == "phone":
        value = clean.phone()(term)
        return value if isinstance(value, str) and value else None
    return None


_WHOLE_ID = re.compile(r"^(?:\d{17}[\dX]|\d{15})$")


_TAILS = {"phone": re.compile(rf"^\d{{{TAIL}}}$"), "id_number": re.compile(rf"^\d{{{TAIL - 1}}}[\dX]$")}


def shown_tail(kind: str, term: str) -> str | None:
    """``term`` when it is a number's 尾号 — the last characters the mask shows (``5678``, ``123X``) — else None.
    Callers give it ("手机尾号 5678") and the lists show it: a search by it tells nothing the mask hides."""
    shown = "".join((term or "").split()).upper()
    return shown if kind in _TAILS and _TAILS[kind].match(shown) else None
