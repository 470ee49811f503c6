"""seeds.reference: the reference data a fresh installation gets, and that loading it again changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqladmin.helpers import slugify_class_name
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models import (
    Base,
    Department,
    DepartmentKind,
    EventSource,
    FeeBasis,
    GradeBand,
    OperationLog,
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
from seeds.reference import (
    DEPARTMENTS,
    default_fee_types,
    load_reference,
    scoring_rule_data,
    scoring_rule_rows,
)
from seeds.roles import PII_VIEWS, ROLE_NAMES, ROLES, role_spec

REFERENCE_MODELS = (Role, RoleGrant, Department, RoutingRule, SlaRule, ScoringRule, GradeBand)


def table_counts(session: Session) -> dict[str, int]:
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def clear_reference(session: Session) -> None:
    for model in (RoleGrant, Role, RoutingRule, SlaRule, ScoringRule, GradeBand):
        session.execute(delete(model))
    session.execute(delete(Department).where(Department.project_id.is_(None)))


def rule(session: Session, text: str) -> list[ScoringRule]:
    return list(session.scalars(select(ScoringRule).where(ScoringRule.description.contains(text)).order_by(ScoringRule.code)))


def grants(session: Session, role: str) -> set[tuple[str, str]]:
    stmt = select(RoleGrant.identity, RoleGrant.action).join(Role, RoleGrant.group_id == Role.id).where(Role.name == role)
    return {tuple(row) for row in session.execute(stmt)}


def test_a_fresh_load_inserts_every_table_and_logs_once(session: Session) -> None:
    clear_reference(session)
    logs = session.scalar(select(func.count()).select_from(OperationLog))

    counts = load_reference(session)

    assert counts == {
        "role": len(ROLES),
        "role_grant": sum(len(spec.pairs()) for spec in ROLES),
        "department": len(DEPARTMENTS),
        "routing_rule": len(RequestCategory),
        "sla_rule": len(RequestKind) * len(Priority),
        "scoring_rule": len(scoring_rule_data()["rules"]),
        "grade_band": 4,
    }
    assert session.scalar(select(func.count()).select_from(OperationLog)) == logs + 1


def test_loading_twice_changes_no_row_count(session: Session) -> None:
    load_reference(session)
    before = table_counts(session)

    counts = load_reference(session)

    assert set(counts.values()) == {0}
    assert table_counts(session) == before  # not even an operation-log row


def test_the_documents_deductions_are_transcribed(session: Session) -> None:
    load_reference(session)

    light, severe = rule(session, "睡觉")  # 上班严禁打瞌睡、睡觉，轻者扣1分，视情况严重扣3-5分
    assert (light.points_min, light.points_max, light.choose_in_range) == (Decimal("-1"), Decimal("-1"), False)
    assert (severe.points_min, severe.points_max, severe.choose_in_range) == (Decimal("-5"), Decimal("-3"), True)
    assert light.category is severe.category is RuleCategory.DISCIPLINE

    (complained,) = rule(session, "被业主投诉")  # 被业主投诉者，视情况扣5-10分
    assert (complained.points_min, complained.points_max, complained.choose_in_range) == (
        Decimal("-10"), Decimal("-5"), True
    )
    assert complained.category is RuleCategory.RECEPTION

    (slippers,) = rule(session, "拖鞋")
    assert (slippers.points_min, slippers.points_max) == (Decimal("-2"), Decimal("-2"))
    (remit,) = rule(session, "不在本部门职责范围内")
    assert remit.points_min == Decimal("-5")
    (hair,) = rule(session, "乱发")
    assert (hair.points_min, hair.points_max) == (Decimal("-1.5"), Decimal("-0.5"))
    (records,) = rule(session, "记录登记情况不完整")
    assert (records.points_min, records.points_max) == (Decimal("-10"), Decimal("-2"))
    assert all(r.valid_from.isoformat() == "2020-01-01" for r in session.scalars(select(ScoringRule)))


def test_each_derived_source_has_exactly_one_rule_fixed_but_the_complaints(session: Session) -> None:
    load_reference(session)
    derived = {r.source: r for r in session.scalars(select(ScoringRule).where(ScoringRule.source != EventSource.MANUAL))}

    assert set(derived) == {EventSource.COMPLAINT, EventSource.OVERDUE_ORDER, EventSource.UNSATISFIED_CALLBACK,
                            EventSource.PRAISE}
    complaint = derived.pop(EventSource.COMPLAINT)
    assert all(r.points_min == r.points_max and not r.choose_in_range for r in derived.values())
    # 被业主投诉者，视情况扣5-10分: the supervisor judges within it; the lower figure is the provisional deduction
    assert (complaint.points_min, complaint.points_max, complaint.choose_in_range) == (Decimal("-10"), Decimal("-5"), True)
    # the documents give no points for the others: the company's own
    assert all(r.company_own for r in derived.values()) and not complaint.company_own
    assert derived[EventSource.PRAISE].points_min > 0


def test_the_rules_file_is_consistent() -> None:
    rows = scoring_rule_rows()
    assert len({r["code"] for r in rows}) == len(rows)
    for r in rows:
        assert r["points_min"] <= r["points_max"], r["code"]
        assert r["choose_in_range"] == (r["points_min"] != r["points_max"]), r["code"]
        manual = r["source"] is EventSource.MANUAL
        assert (r["points_max"] < 0) if manual else True, r["code"]  # the 细则 only deducts


def test_every_category_routes_and_every_kind_has_limits(session: Session) -> None:
    load_reference(session)
    routes = dict(session.execute(select(RoutingRule.category, RoutingRule.department_kind)).all())
    assert set(routes) == set(RequestCategory)
    assert routes[RequestCategory.DEFECT] is DepartmentKind.DEVELOPER
    assert routes[RequestCategory.NOISE] is DepartmentKind.SECURITY
    assert routes[RequestCategory.GREENING] is DepartmentKind.ENVIRONMENT

    limits = {
        (r.kind, r.priority): (r.respond_minutes, r.complete_hours)
        for r in session.scalars(select(SlaRule).where(SlaRule.project_id.is_(None)))
    }
    assert len(limits) == len(RequestKind) * len(Priority)
    assert limits[(RequestKind.REPAIR_PRIVATE, Priority.URGENT)] == (15, 4)
    assert limits[(RequestKind.REPAIR_PRIVATE, Priority.NORMAL)] == (30, 24)
    assert limits[(RequestKind.COMPLAINT, Priority.NORMAL)] == (30, 48)

    kinds = set(session.scalars(select(Department.kind).where(Department.project_id.is_(None))))
    assert kinds == set(DepartmentKind)
    bands = dict(session.execute(select(GradeBand.name, GradeBand.min_total)).all())
    assert bands == {"优秀": 95, "良好": 85, "合格": 70, "不合格": 0}


def test_roles_and_their_grants(session: Session) -> None:
    load_reference(session)
    assert set(session.scalars(select(Role.name))) >= set(ROLE_NAMES)

    assert grants(session, "系统管理员") == {("*", "*")}
    desk = grants(session, "前台客服")
    assert {("service-request", "create"), ("visit", "edit"), ("customer", "edit"), ("payment", "create")} <= desk
    assert not {(i, a) for i, a in desk if i in ("bill", "payment", "fee-type") and a in ("delete", "edit")}
    # 前台职责：负责派工单的派发工作 — on the request, with the supervisor's page; not 新建派工单 by hand
    assert ("service-request", "action:dispatch") in desk and ("work-order", "action:dispatch") not in desk
    assert ("work-order", "action:callback") in desk
    assert ("customer", "action:view-pii") not in desk

    cashier = grants(session, "收费员")
    assert {("bill", "action:generate-bills"), ("bill", "action:dunning")} <= cashier
    assert ("bill", "action:approve-dunning") not in cashier

    for name in ROLE_NAMES[:-1]:  # no role but the system administrator deletes money records
        assert not {(i, a) for i, a in grants(session, name) if i in ("bill", "payment") and a == "delete"}, name
    holders = {
        action: {name for name in ROLE_NAMES[:-1] if any(a == action for _, a in grants(session, name))}
        for action in ("action:approve-dunning", "action:view-pii", "action:confirm-scores", "action:reopen-scores",
                       "action:dispatch", "action:compute-scores")
    }
    assert holders["action:approve-dunning"] == {"客服经理", "分公司管理"}
    assert holders["action:view-pii"] == {"客服经理", "分公司管理"}
    assert holders["action:confirm-scores"] == {"客服主管"}
    assert holders["action:reopen-scores"] == {"客服经理", "分公司管理"}
    assert holders["action:dispatch"] == {"前台客服", "客服主管", "客服经理"}
    assert holders["action:compute-scores"] == {"客服主管", "客服经理", "分公司管理"}


def test_grant_identities_are_view_identities() -> None:
    identities = {slugify_class_name(m.class_.__name__) for m in Base.registry.mappers}
    for spec in ROLES:
        assert {i for i, _ in spec.pairs()} - {"*"} <= identities, spec.name
    with_pii = {
        slugify_class_name(m.class_.__name__)
        for m in Base.registry.mappers
        if any(getattr(c, "info", {}).get("pii") for c in m.columns)
    }
    assert set(PII_VIEWS) == with_pii


def test_an_existing_roles_edited_grants_are_kept_unless_restored(session: Session) -> None:
    load_reference(session)
    desk_id = session.scalar(select(Role.id).where(Role.name == "前台客服"))
    session.execute(delete(RoleGrant).where(RoleGrant.group_id == desk_id, RoleGrant.identity == "customer"))

    assert load_reference(session)["role_grant"] == 0
    assert not {g for g in grants(session, "前台客服") if g[0] == "customer"}

    restored = load_reference(session, restore_grants=True)["role_grant"]
    expected = {g for g in role_spec("前台客服").pairs() if g[0] == "customer"}
    assert restored == len(expected)
    assert {g for g in grants(session, "前台客服") if g[0] == "customer"} == expected


@pytest.mark.parametrize("kind", list(ProjectKind))
def test_default_fee_types(kind: ProjectKind) -> None:
    rows = default_fee_types(kind)
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))
    assert {"物业管理费", "停车费", "装修管理费", "水电费代收"} <= set(names)
    by_name = {r["name"]: r for r in rows}
    assert by_name["物业管理费"]["basis"] is FeeBasis.PER_AREA and by_name["物业管理费"]["rate"] > 0
    assert by_name["停车费"]["basis"] is FeeBasis.PER_SPACE
    assert all(r["rate"] >= 0 and 1 <= r["due_day"] <= 28 for r in rows)
    # 装修管理费 is charged per renovation: the monthly run never bills it; everything else recurs monthly.
    assert {r["name"] for r in rows if r["billing_cycle"] is FeeCycle.ONCE} == {"装修管理费"}
    assert all(r["billing_cycle"] in (FeeCycle.MONTHLY, FeeCycle.ONCE) for r in rows)
