"""Project scope on every access path, for every view (RELIABILITY A03–A06, A10; figure 1).

One data set for the module: the demo (4 projects in 2 branches; loaded once per run, shared with
tests/seeds/test_demo.py) plus an account per role bound to the first project. For each view, a row the P1 user
may not see is looked up through the view's own scope clause; it must stay out of the list query, and its
detail, edit, delete, lookup and filter paths must refuse it.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import UniqueConstraint, func, insert, inspect, not_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from starlette.testclient import TestClient

from actions.actor import actor_for_user
from admin.app import create_app
from admin.views import VIEWS
from admin.views.base import ScopedForeignKeyFilter, target_scope_clause
from admin.views.list_export import INLINE_ROWS
from models import (
    AuditKind,
    AuditLog,
    Department,
    DepartmentKind,
    DunningNotice,
    DunningRun,
    DunningRunStatus,
    DunningStage,
    ImportBatch,
    LoginAttempt,
    OperationLog,
    OperationStatus,
    Priority,
    Project,
    RequestKind,
    SlaRule,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    Unit,
    User,
    utcnow,
)
from seeds.roles import ROLE_NAMES
from tests import factories
from tests.conftest import SECRET, Console, run_async

SCOPED_ROLES = [r for r in ROLE_NAMES if r not in ("系统管理员", "分公司管理")]


@pytest.fixture(scope="module")
def world(demo):
    conn = demo.engine.connect()  # the run's demo database (tests/conftest.py), its writes here rolled back
    trans = conn.begin()
    maker = sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    with maker() as s:
        projects = list(s.scalars(select(Project).order_by(Project.id)))
        p1 = projects[0]
        p2 = next(p for p in projects if p.branch_id != p1.branch_id)
        for role in ROLE_NAMES:
            factories.user(s, username=f"p1-{role}", roles=[role], projects=[p1])
        for view in MODEL_VIEWS:
            if "project_id" in view.model.__table__.c:
                _copy_into(s, view.model, p1.id, p2.id)
        _records_of(s, p2)
        s.commit()
        p1_id, p2_id = p1.id, p2.id
    app = create_app(session_maker=maker, secret_key=SECRET)
    yield SimpleNamespace(maker=maker, app=app, p1=p1_id, p2=p2_id)
    trans.rollback()
    conn.close()


def _login(world, role: str) -> Console:
    c = Console(TestClient(world.app, base_url="http://testserver"))
    assert c.login(f"p1-{role}", factories.PASSWORD).status_code == 302
    return c


def _fake_request(world, role: str):
    with world.maker() as s:
        user = s.scalar(select(User).where(User.username == f"p1-{role}"))
        actor = actor_for_user(s, user)
    return SimpleNamespace(state=SimpleNamespace(actor=actor), query_params={}, path_params={}), actor


def _hidden_row(world, view, request):
    """A row of this view that the P1 user must not see, or None when every row is shared."""
    clause = view.scope_clause(request)
    if clause is None:
        return None
    with world.maker() as s:
        return s.scalar(select(view.model).where(not_(clause)).limit(1))


def _records_of(s, p2: Project) -> None:
    """Rows the demo keeps for one project only (or none): one of each in P2, written directly."""
    unit = s.scalar(select(Unit).where(Unit.project_id == p2.id).limit(1))
    user = s.scalar(select(User).where(User.projects.any(Project.id == p2.id)).limit(1))
    now = utcnow()
    s.add_all([
        Department(project=p2, name="乙项目工程部", kind=DepartmentKind.ENGINEERING),
        SlaRule(project=p2, kind=RequestKind.COMPLAINT, priority=Priority.URGENT, respond_minutes=10, complete_hours=2),
        AuditLog(kind=AuditKind.UPDATE, table_name="unit", record_id=str(unit.id), project_id=p2.id, summary="乙"),
        OperationLog(operation="test", project_id=p2.id, status=OperationStatus.DONE),
        ImportBatch(kind="units", target=f"project:{p2.id}", project_id=p2.id, file_name="乙.xlsx", file_hash="ab" * 32),
        LoginAttempt(at=now, username=user.username, ip="10.0.0.2", success=True),
    ])
    run = DunningRun(project=p2, run_key=f"scope-test-{p2.id}", cycle="2026-11", stage=DunningStage.FIRST,
                     as_of=dt.date(2026, 11, 5), status=DunningRunStatus.DONE)
    s.add(DunningNotice(project=p2, run=run, unit=unit, cycle="2026-11", stage=DunningStage.FIRST,
                        amount=Decimal("100.00"), months_in_arrears=1, oldest_period="2026-10",
                        pay_by=dt.date(2026, 11, 12)))
    survey = Survey(project=p2, title="乙项目满意度调查", period="2026H2")
    response = SurveyResponse(project=p2, survey=survey, unit=unit, overall_score=5, service_score=5)
    s.add_all([SurveyHousehold(project_id=p2.id, survey=survey, unit=unit), response])
    s.flush()


MODEL_VIEWS = [v for v in VIEWS if getattr(v, "model", None) is not None]


def _view_ids():
    return [v.identity for v in MODEL_VIEWS]


def _copy_into(s, model, source_project: int, target_project: int) -> None:
    """Give ``target_project`` a row of ``model`` copied from ``source_project`` when it has none, so every
    view has a row of another project to try; unique text columns get a suffix."""
    table = model.__table__
    if s.scalar(select(table.c.id).where(table.c.project_id == target_project).limit(1)) is not None:
        return
    row = s.execute(select(table).where(table.c.project_id == source_project).limit(1)).mappings().first()
    if row is None:
        return
    unique_cols = {c.name for con in table.constraints if isinstance(con, UniqueConstraint) for c in con.columns}
    values = {k: v for k, v in row.items() if k != "id"}
    values["project_id"] = target_project
    for name in unique_cols:
        if isinstance(values.get(name), str):
            values[name] = values[name] + "-乙"
    try:
        with s.begin_nested():
            s.execute(insert(table).values(**values))
    except IntegrityError:
        pass  # a unique key made of references: the test below then says this view lacks a row


def _view(world, identity):
    return world.app.state.admin._find_model_view(identity)


@pytest.mark.parametrize("identity", _view_ids())
def test_list_query_holds_only_own_project_rows(world, identity):
    view = _view(world, identity)
    for role in SCOPED_ROLES:
        request, actor = _fake_request(world, role)
        with world.maker() as s:
            rows = s.scalars(view.list_query(request).limit(500)).all()
            hidden = _hidden_row(world, view, request)
            if hidden is not None:
                assert hidden.id not in {r.id for r in rows}
            column = view.project_column()
            if column is not None:
                seen = {getattr(r, column.key) for r in rows}
                assert seen <= {world.p1, None}, (identity, role, seen)


@pytest.mark.parametrize("identity", _view_ids())
def test_detail_edit_delete_of_another_project_are_refused(world, identity):
    view = _view(world, identity)
    request, _ = _fake_request(world, "客服经理")
    if view.scope_clause(request) is None:
        pytest.skip(f"{identity}: reference data shared by all projects")
    hidden = _hidden_row(world, view, request)
    assert hidden is not None, f"{identity}: the data set has no row of another project to try"
    pk = hidden.id
    c = _login(world, "客服经理")
    assert c.get(f"/admin/{identity}/details/{pk}").status_code in (403, 404)
    assert c.get(f"/admin/{identity}/edit/{pk}").status_code in (403, 404)
    with world.maker() as s:
        before = {a.key: getattr(s.get(view.model, pk), a.key) for a in inspect(view.model).column_attrs}
    posted = c.post(f"/admin/{identity}/edit/{pk}", {"save": "保存"})
    assert posted.status_code in (400, 403, 404)
    deleted = c.delete(f"/admin/{identity}/delete?pks={pk}")
    assert deleted.status_code in (403, 404)
    with world.maker() as s:
        row = s.get(view.model, pk)
        assert row is not None, "an out-of-scope delete went through"
        assert {a.key: getattr(row, a.key) for a in inspect(view.model).column_attrs} == before


@pytest.mark.parametrize("identity", _view_ids())
def test_lookups_offer_only_own_project_rows(world, identity):
    view = _view(world, identity)
    loaders = getattr(view, "_form_ajax_refs", {})
    if not loaders:
        pytest.skip(f"{identity}: no autocomplete fields")
    c = _login(world, "客服经理")
    request, actor = _fake_request(world, "客服经理")
    for name, loader in loaders.items():
        clause = target_scope_clause(loader.model, actor)
        for term in ("1", "张", "王", "号"):
            response = c.get(f"/admin/{identity}/ajax/lookup?name={name}&term={term}")
            if response.status_code == 403:  # the manager may not use this form at all
                break
            assert response.status_code == 200
            ids = [int(item["id"]) for item in response.json()["results"]]
            if ids and clause is not None:
                with world.maker() as s:
                    outside = s.scalars(select(loader.pk).where(loader.pk.in_(ids), not_(clause))).all()
                assert outside == [], (identity, name, outside)


@pytest.mark.parametrize("identity", _view_ids())
def test_filter_choices_offer_only_own_project_rows(world, identity):
    view = _view(world, identity)
    filters = [f for f in view.get_filters() if isinstance(f, ScopedForeignKeyFilter)]
    if not filters:
        pytest.skip(f"{identity}: no relation filters")
    request, actor = _fake_request(world, "客服经理")
    for flt in filters:
        choices = run_async(flt.lookups, request, view.model, view._run_arbitrary_query)
        ids = [int(value) for value, _ in choices if value.isdigit()]
        clause = target_scope_clause(flt.target, actor)
        if ids and clause is not None:
            with world.maker() as s:
                outside = s.scalars(select(flt.target_pk).where(flt.target_pk.in_(ids), not_(clause))).all()
            assert outside == [], (identity, flt.relation, outside)


@pytest.mark.parametrize("identity", _view_ids())
def test_export_holds_exactly_the_scoped_list(world, identity):
    view = _view(world, identity)
    request, _ = _fake_request(world, "客服经理")
    with world.maker() as s:
        expected = s.scalar(select(func.count()).select_from(view.list_query(request).subquery()))
    if expected > INLINE_ROWS:
        pytest.skip(f"{identity}: {expected} rows export in the background (tests/admin/test_export*.py)")
    c = _login(world, "客服经理")
    response = c.post(f"/admin/{identity}/export/xlsx")
    if response.status_code == 403:
        pytest.skip(f"{identity}: the manager may not export it")
    assert response.status_code == 200, (identity, response.status_code)
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    data_rows = sum(1 for row in sheet.iter_rows(min_row=3, values_only=True) if any(v is not None for v in row))
    assert data_rows == expected, (identity, data_rows, expected)
