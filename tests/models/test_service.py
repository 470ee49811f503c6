"""A request's ``stage``, the key its status index finds it by, written with the status and held by a CHECK, and
``ServiceRequest.status_in`` (issue 17)."""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from actions.errors import integrity_message
from models import RequestKind, RequestStatus, ServiceRequest, utcnow
from tests import factories as f

SR = ServiceRequest


def test_status_in_finds_the_requests_of_every_set_of_statuses(session):
    project = f.project(session)
    made = {}
    for status in RequestStatus:
        made[status] = f.service_request(session, project_=project)
        made[status].status = status
    session.flush()
    # an ORM write of the status writes the stage: 待派工 and 已派工 share one, the others are their own
    stages = dict(session.execute(select(SR.status, SR.stage).where(SR.project_id == project.id)).all())
    assert stages == {RequestStatus.PENDING: "open", RequestStatus.DISPATCHED: "open",
                      RequestStatus.ANSWERED: "answered", RequestStatus.CLOSED: "closed",
                      RequestStatus.CANCELLED: "cancelled"}
    for size in (1, 2, 3):
        for statuses in itertools.combinations(RequestStatus, size):
            found = set(session.scalars(select(SR.id).where(SR.project_id == project.id, SR.status_in(*statuses))))
            assert found == {made[s].id for s in statuses}, statuses


def test_no_index_of_a_request_names_its_status(session):
    """A status in an index — a key, an expression, a predicate — makes a dispatch rewrite each request through
    every index (PostgreSQL: no HOT update; SQLite: the entry moves)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        ddl = session.scalars(text("SELECT indexdef FROM pg_indexes WHERE tablename = 'service_request'")).all()
    elif dialect == "sqlite":
        ddl = session.scalars(text("SELECT sql FROM sqlite_master WHERE type = 'index' "
                                   "AND tbl_name = 'service_request' AND sql IS NOT NULL")).all()
    else:
        pytest.skip("read from PostgreSQL's and SQLite's catalogues")
    assert any("stage" in d for d in ddl)
    assert [d for d in ddl if re.search(r"\bstatus\b", d)] == []


STAGES = {RequestStatus.PENDING: "open", RequestStatus.DISPATCHED: "open", RequestStatus.ANSWERED: "answered",
          RequestStatus.CLOSED: "closed", RequestStatus.CANCELLED: "cancelled"}


def test_an_insert_writes_the_stage_of_the_status_it_writes(session):
    """A set-based INSERT (the demo data, an import) names the status only; the ORM's new request none at all."""
    project = f.project(session)
    rows = [{"project_id": project.id, "kind": RequestKind.INQUIRY, "content": status.label, "received_at": utcnow(),
             "status": status} for status in RequestStatus]
    session.execute(insert(SR), rows)  # one executemany
    default = f.service_request(session, project_=project)
    session.flush()
    written = dict(session.execute(select(SR.content, SR.stage).where(SR.project_id == project.id,
                                                                     SR.id != default.id)).all())
    assert written == {status.label: STAGES[status] for status in RequestStatus}
    assert session.scalar(select(SR.stage).where(SR.id == default.id)) == "open"


def test_status_values_set_the_stage_in_an_update(session):
    project = f.project(session)
    r = f.service_request(session, project_=project)
    session.flush()
    for status in (RequestStatus.CANCELLED, RequestStatus.PENDING, RequestStatus.ANSWERED, RequestStatus.CLOSED):
        session.execute(update(SR).where(SR.id == r.id).values(**SR.status_values(status)))
        assert session.execute(select(SR.status, SR.stage).where(SR.id == r.id)).one() == (status, STAGES[status])


@pytest.mark.parametrize("values", [
    {"stage": "closed"},  # the stage alone
    {"status": RequestStatus.CLOSED},  # the status without its stage
    {"status": RequestStatus.DISPATCHED, "stage": "dispatched"},  # a stage of another status
])
def test_the_database_refuses_a_stage_that_is_not_its_status_s(session, values):
    project = f.project(session)
    r = f.service_request(session, project_=project)
    session.flush()
    with pytest.raises(IntegrityError) as caught, session.begin_nested():
        session.execute(update(SR).where(SR.id == r.id).values(**values))
    assert integrity_message(caught.value) == "客户诉求：办理阶段与状态不符"
    assert session.execute(select(SR.status, SR.stage).where(SR.id == r.id)).one() == (RequestStatus.PENDING, "open")
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(insert(SR).values(project_id=project.id, kind=RequestKind.INQUIRY, content="咨询",
                                          received_at=utcnow(), status=RequestStatus.CLOSED, stage="open"))
    assert session.scalar(select(SR.id).where(SR.project_id == project.id, SR.id != r.id)) is None
