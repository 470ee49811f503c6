"""Every console model view saves through actions/records.py (issue 13 item 1): no view keeps a save hook of its
own, and the rules of the records are refused the same way from a console form as from the action."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

import admin.views  # noqa: F401  (registers every view)
from actions import records
from admin.views.base import ScopedModelView
from models import Bill, ItemLoan, KeyLoan, KeyRecord, KeyStatus, OperationLog, Unit, VendorCheck
from tests import factories as f

SAVE_HOOKS = ("on_model_change", "after_model_change", "on_model_delete", "after_model_delete", "insert_model",
              "update_model", "delete_model")
# Edge hooks that stay in a view — they check who may do what and read the form, no rule of the record:
EDGE_HOOKS = {
    # accounts and roles save through their own actions (actions/accounts.py: the escalation guard, the last
    # administrator and the 系统管理员 role kept), the console and the CLI alike
    *((view, hook) for view in ("UserAdmin", "RoleAdmin") for hook in ("insert_model", "update_model", "delete_model")),
    ("SurveyHouseholdAdmin", "on_model_change"),  # a household's project is its survey's, scope checked on it
    ("WorkOrderAdmin", "insert_model"),  # a new order is 派工 of a request (actions/work_orders.py)
    ("WorkOrderAdmin", "update_model"),  # an edit is the work-order steps' own actions
}


def _views() -> list[type]:
    found, todo = [], [ScopedModelView]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if getattr(sub, "model", None) is not None:
                found.append(sub)
    return found


def test_no_view_keeps_a_save_hook_of_its_own():
    kept = sorted((view.__name__, hook) for view in _views() for hook in SAVE_HOOKS
                  if hook in vars(view) and (view.__name__, hook) not in EDGE_HOOKS)
    assert kept == []


def test_the_save_path_knows_the_rules_the_views_used_to_run():
    for model in (KeyLoan, KeyRecord, ItemLoan, VendorCheck, Bill, Unit):
        assert records._RULES[model], model.__name__


@pytest.fixture
def desk(session):
    p = f.project(session)
    return p, f.user(session, username="desk", roles=["客服主管"], projects=[p])


def _logs(session, operation: str) -> int:
    return session.scalar(select(func.count()).select_from(OperationLog).where(OperationLog.operation == operation))


def test_a_console_form_is_refused_as_the_action_refuses_and_a_save_is_logged_with_who(session, console, desk):
    desk, user = desk
    key = KeyRecord(project_id=desk.id, code="K-7", name="机房", copies=1, status=KeyStatus.LOST)
    session.add(key)
    session.flush()
    c = console("desk")
    form = {"project": str(desk.id), "key": str(key.id), "borrower": "张师傅", "lent_at": "2026-11-20 09:00:00"}
    refused = c.post("/admin/key-loan/create", form)
    assert refused.status_code == 400 and "钥匙 K-7 机房 遗失，不能借出" in html.unescape(refused.text)
    assert session.scalar(select(func.count()).select_from(KeyLoan).where(KeyLoan.key_id == key.id)) == 0
    assert _logs(session, "create:key_loan") == 0
    # an edit from the console: one operation-log row naming the user
    saved = c.post(f"/admin/key-record/edit/{key.id}", {"project": str(desk.id), "code": "K-7", "name": "机房门",
                                                        "kind": "unit", "copies": "1", "status": "lost"})
    assert saved.status_code == 302, html.unescape(saved.text)[-800:]
    log = session.scalars(select(OperationLog).where(OperationLog.operation == "update:key_record")).one()
    assert (log.params["id"], log.actor_id) == (key.id, user.id)
