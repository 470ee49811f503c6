"""Reference data every installation needs: roles and grants, departments, routing and SLA rules,
the assessment rules of 客户服务部员工考核实施细则, grade bands — and the fee-type templates projects copy.

``load_reference`` is idempotent: each table is insert-or-ignore by its natural key, the existing keys read
with one query per table, so a second run inserts nothing and writes nothing (not even an operation-log row).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from actions.audit import log_operation
from models import (
    Department,
    DepartmentKind,
    EventSource,
    FeeBasis,
    GradeBand,
    Priority,
    ProjectKind,
    RequestCategory,
    RequestKind,
    Role,
    RoleGrant,
    RoutingRule,
    RuleCategory,
    ScoringRule,
    SlaRule,
)
from models.fees import FeeCycle

from .roles import ROLES

HERE = Path(__file__).parent
SCORING_RULES_FILE = HERE / "scoring_rules.json"

# 可派工的部门（各项目共用，project_id 为空）
DEPARTMENTS: tuple[tuple[str, DepartmentKind], ...] = (
    ("客服部", DepartmentKind.SERVICE),
    ("工程部", DepartmentKind.ENGINEERING),
    ("安保部", DepartmentKind.SECURITY),
    ("环境管理部", DepartmentKind.ENVIRONMENT),
    ("综合管理部", DepartmentKind.GENERAL),
    ("开发公司工程部", DepartmentKind.DEVELOPER),
    ("外包方", DepartmentKind.VENDOR),
)

# 派工路由：问题类别 → 处理部门类别。房屋质量问题（保修期内）报开发公司工程部整改。
ROUTING: dict[RequestCategory, DepartmentKind] = {
    RequestCategory.PLUMBING: DepartmentKind.ENGINEERING,
    RequestCategory.BUILDING: DepartmentKind.ENGINEERING,
    RequestCategory.ELEVATOR: DepartmentKind.ENGINEERING,
    RequestCategory.DEFECT: DepartmentKind.DEVELOPER,
    RequestCategory.SECURITY: DepartmentKind.SECURITY,
    RequestCategory.PARKING: DepartmentKind.SECURITY,
    RequestCategory.NOISE: DepartmentKind.SECURITY,
    RequestCategory.CLEANING: DepartmentKind.ENVIRONMENT,
    RequestCategory.GREENING: DepartmentKind.ENVIRONMENT,
    RequestCategory.FEES: DepartmentKind.SERVICE,
    RequestCategory.SERVICE: DepartmentKind.SERVICE,
    RequestCategory.OTHER: DepartmentKind.SERVICE,
}

# 默认时限（响应分钟, 完成小时），按诉求类型 × 优先级；项目可另设覆盖。
_U, _H, _N, _L = Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW
SLA: dict[RequestKind, dict[Priority, tuple[int, int]]] = {
    # 急修（跑水、停电、困梯）15 分钟到场、4 小时修复；一般维修 30 分钟响应、24 小时完成
    RequestKind.REPAIR_PRIVATE: {_U: (15, 4), _H: (30, 8), _N: (30, 24), _L: (60, 72)},
    RequestKind.REPAIR_PUBLIC: {_U: (15, 4), _H: (30, 8), _N: (30, 24), _L: (60, 72)},
    # 投诉：受理后 30 分钟内联系业主，48 小时内处理完毕并回复；投诉消化在当月
    RequestKind.COMPLAINT: {_U: (15, 24), _H: (30, 24), _N: (30, 48), _L: (60, 72)},
    RequestKind.INQUIRY: {_U: (30, 4), _H: (30, 8), _N: (60, 24), _L: (120, 48)},
    RequestKind.HELP: {_U: (15, 2), _H: (30, 8), _N: (60, 24), _L: (120, 48)},
    RequestKind.SUGGESTION: {_U: (60, 24), _H: (60, 48), _N: (120, 72), _L: (240, 168)},
    RequestKind.PRAISE: {_U: (60, 24), _H: (120, 48), _N: (240, 72), _L: (480, 168)},
}


def default_fee_types(kind: ProjectKind = ProjectKind.RESIDENTIAL) -> list[dict[str, Any]]:
    """收费项目模板 for a new project of this kind: name, basis, rate, due day, billing cycle (rows for ``FeeType``
    without ``project_id``). Rates are typical figures to be replaced at the annual review."""
    mgmt = {
        ProjectKind.RESIDENTIAL: "2.50",
        ProjectKind.MIXED: "3.80",
        ProjectKind.OFFICE: "6.50",
        ProjectKind.COMMERCIAL: "8.00",
    }[kind]
    parking = "300.00" if kind is ProjectKind.RESIDENTIAL else "500.00"
    monthly, once = FeeCycle.MONTHLY, FeeCycle.ONCE
    rows = [
        {"name": "物业管理费", "basis": FeeBasis.PER_AREA, "rate": Decimal(mgmt), "due_day": 1, "billing_cycle": monthly},
        {"name": "停车费", "basis": FeeBasis.PER_SPACE, "rate": Decimal(parking), "due_day": 1, "billing_cycle": monthly},
        # 按次收取：每次装修收一次，不随月度账单生成
        {"name": "装修管理费", "basis": FeeBasis.FIXED, "rate": Decimal("300.00"), "due_day": 1, "billing_cycle": once},
        # 代收代缴：金额按抄表结果逐户填写，单价为 0
        {"name": "水电费代收", "basis": FeeBasis.FIXED, "rate": Decimal("0"), "due_day": 1, "billing_cycle": monthly},
    ]
    if kind is ProjectKind.RESIDENTIAL:
        rows.append({"name": "公摊水电费", "basis": FeeBasis.PER_AREA, "rate": Decimal("0.20"), "due_day": 1,
                     "billing_cycle": monthly})
    else:
        rows.append({"name": "垃圾清运费", "basis": FeeBasis.FIXED, "rate": Decimal("150.00"), "due_day": 1,
                     "billing_cycle": monthly})
    return rows


def scoring_rule_data() -> dict[str, Any]:
    return json.loads(SCORING_RULES_FILE.read_text(encoding="utf-8"))


def scoring_rule_rows(data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``ScoringRule`` rows from ``scoring_rules.json``."""
    data = data or scoring_rule_data()
    rows = []
    for rule in data["rules"]:
        lo, hi = Decimal(rule["points_min"]), Decimal(rule["points_max"])
        rows.append({
            "code": rule["code"],
            "category": RuleCategory(rule["category"]),
            "description": rule["description"],
            "points_min": lo,
            "points_max": hi,
            "choose_in_range": bool(rule.get("choose_in_range", lo != hi)),
            "source": EventSource(rule.get("source", "manual")),
            "company_own": bool(rule.get("company_own", False)),
            "valid_from": dt.date.fromisoformat(rule.get("valid_from", data["valid_from"])),
            "valid_to": dt.date.fromisoformat(rule["valid_to"]) if rule.get("valid_to") else None,
        })
    return rows


def grade_band_rows(data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    data = data or scoring_rule_data()
    return [{"name": b["name"], "min_total": Decimal(b["min_total"]), "reward": Decimal(b["reward"]),
             "reward_note": data["rewards_note"]} for b in data["grade_bands"]]


def insert_missing(
    session: Session,
    model: type,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    *,
    where: Iterable[Any] = (),
) -> int:
    """Insert the rows whose natural key is not in the table yet; return how many were inserted.

    The existing keys are read in one query (``key[0] IN (…)`` plus ``where``). ``where`` carries the
    part of the key that is NULL (``project_id IS NULL``): a unique constraint does not stop two NULLs.
    """
    if not rows:
        return 0
    columns = [getattr(model, k) for k in key]
    firsts = sorted({row[key[0]] for row in rows}, key=str)
    existing = {tuple(row) for row in session.execute(select(*columns).where(columns[0].in_(firsts), *where))}
    new, seen = [], set()
    for row in rows:
        k = tuple(row[c] for c in key)
        if k in existing or k in seen:
            continue
        seen.add(k)
        new.append(row)
    if new:
        session.execute(insert(model), new)
    return len(new)


def _load_roles(session: Session, *, restore_grants: bool) -> tuple[int, int]:
    names = [spec.name for spec in ROLES]
    before = set(session.scalars(select(Role.name).where(Role.name.in_(names))))
    created = insert_missing(
        session, Role, [{"name": spec.name, "description": spec.description} for spec in ROLES], ["name"]
    )
    ids = dict(session.execute(select(Role.name, Role.id).where(Role.name.in_(names))).all())
    # A role that already existed keeps the grants its editors gave it (the matrix may have removed some).
    targets = [spec for spec in ROLES if restore_grants or spec.name not in before]
    grant_rows = [
        {"group_id": ids[spec.name], "identity": identity, "action": action}
        for spec in targets
        for identity, action in spec.pairs()
    ]
    if not grant_rows:
        return created, 0
    existing = {
        tuple(row)
        for row in session.execute(
            select(RoleGrant.group_id, RoleGrant.identity, RoleGrant.action).where(
                RoleGrant.group_id.in_([ids[spec.name] for spec in targets])
            )
        )
    }
    new = [r for r in grant_rows if (r["group_id"], r["identity"], r["action"]) not in existing]
    if new:
        session.execute(insert(RoleGrant), new)
    return created, len(new)


def load_reference(session: Session, *, restore_grants: bool = False) -> dict[str, int]:
    """Insert whatever reference data is missing; returns the number of rows inserted per table."""
    data = scoring_rule_data()
    counts: dict[str, int] = {}
    counts["role"], counts["role_grant"] = _load_roles(session, restore_grants=restore_grants)
    counts["department"] = insert_missing(
        session,
        Department,
        [{"project_id": None, "name": name, "kind": kind, "active": True} for name, kind in DEPARTMENTS],
        ["name"],
        where=[Department.project_id.is_(None)],
    )
    counts["routing_rule"] = insert_missing(
        session,
        RoutingRule,
        [{"category": category, "department_kind": kind} for category, kind in ROUTING.items()],
        ["category"],
    )
    counts["sla_rule"] = insert_missing(
        session,
        SlaRule,
        [
            {"project_id": None, "kind": kind, "priority": priority, "respond_minutes": m, "complete_hours": h}
            for kind, limits in SLA.items()
            for priority, (m, h) in limits.items()
        ],
        ["kind", "priority"],
        where=[SlaRule.project_id.is_(None)],
    )
    counts["scoring_rule"] = insert_missing(session, ScoringRule, scoring_rule_rows(data), ["code", "valid_from"])
    counts["grade_band"] = insert_missing(session, GradeBand, grade_band_rows(data), ["name"])
    if any(counts.values()):
        log_operation(session, "load_reference", params={"restore_grants": restore_grants}, counts=counts)
    return counts
