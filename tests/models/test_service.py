"""A request's ``stage``, the key its status index finds it by, and ``ServiceRequest.status_in`` (issue 17)."""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import select, text

from models import RequestStatus, ServiceRequest
from tests import factories as f

SR = ServiceRequest


def test_status_in_finds_the_requests_of_every_set_of_statuses(session):
    project = f.project(session)
    made = {}
    for status in RequestStatus:
        made[status] = f.service_request(session, project_=project)
        made[status].status = status
    session.flush()
    # the database computes the stage: 待派工 and 已派工 share one, the others are their own
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
