"""Masking of personal data (PIPL): ID-card numbers and phone numbers outside the detail page."""

from __future__ import annotations


def mask(kind: str, value: str | None) -> str:
    """``13812345678`` → ``138****5678``; ``110101199003071234`` → ``110***********1234``."""
    if not value:
        return ""
    value = str(value)
    if kind == "phone":
        return value[:3] + "****" + value[-4:] if len(value) >= 7 else "****"
    if kind == "id_number":
        return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "****"
    return value
