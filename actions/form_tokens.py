"""One-time form tokens: a console form that writes carries one, stored (unique) with what it writes, so the
same form submitted twice — a double click, a refresh, a resend — writes once: 录入考核, 受理诉求, 房屋账户收款."""

from __future__ import annotations

import secrets

from .errors import Refused

TOKEN_LENGTH = 32  # the columns' String(32)


def new_form_token() -> str:
    return secrets.token_hex(TOKEN_LENGTH // 2)


# A token names one user's form for one record: sent by another account, or for another 房屋, it is no resubmission
# of that form — answering with the record it made would show another project's record and drop what was typed.
NOT_THIS_FORM = "表单编号无效：该表单不是本账号为此打开的，请重新打开页面后再提交（未保存任何内容）"


def not_this_form(ids: list[int] | None = None) -> Refused:
    return Refused(NOT_THIS_FORM, ids or [])


def form_token(value: str | None) -> str | None:
    """The token a form sent back, or None (the command line and scripts send none)."""
    token = (value or "").strip() or None
    if token is not None and (len(token) > TOKEN_LENGTH or not token.isalnum()):
        raise Refused("表单编号无效，请重新打开页面后再提交")
    return token
