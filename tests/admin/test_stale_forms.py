"""Lost updates (issue 14 item 5): every editable record carries a version; a form saved after someone else saved
the same record is refused (「已被他人修改，请刷新后重试」), and a form without its version too — nothing written."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from actions.records import version_attr
from models import (
    CorrectiveAction,
    DunningNotice,
    DunningRun,
    DunningStage,
    ItemLoan,
    KeyRecord,
    LostItem,
    OperationLog,
    OwnerNotice,
    Survey,
    SurveyTopic,
    User,
    utcnow,
)
from tests import factories as f


class _Form(HTMLParser):
    """The fields of the page's edit form as the browser would send them: inputs, checked boxes, the selected
    options and the texts."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields[name] = a.get("value") or "y"
            else:
                self.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def _opened(c, url: str) -> dict[str, str]:
    page = c.get(url)
    assert page.status_code == 200, page.text[:300]
    parser = _Form()
    parser.feed(page.text)
    fields = {k: v for k, v in parser.fields.items() if k not in ("csrf_token", "save")}
    assert "version" in fields, f"{url}: the edit form carries no version"
    return fields


@pytest.fixture
def records(session):
    p = f.project(session)
    unit = f.unit(session, project_=p)
    customer = f.customer(session, project_=p)
    f.user(session, username="boss", roles=["客服经理"], projects=[p])
    run = DunningRun(project_id=p.id, run_key=f"run-{p.id}", cycle="2026-10", stage=DunningStage.FIRST,
                     as_of=dt.date(2026, 10, 5))
    survey = Survey(project_id=p.id, title="2026年上半年满意度调查", period="2026H1")
    session.add_all([run, survey])
    session.flush()
    rows = {
        "customer": customer,
        "dunning-notice": DunningNotice(project_id=p.id, run_id=run.id, unit_id=unit.id, cycle="2026-10",
                                        stage=DunningStage.FIRST, amount=Decimal("250.00"), months_in_arrears=1,
                                        oldest_period="2026-09", pay_by=dt.date(2026, 10, 20)),
        "survey": survey,
        "corrective-action": CorrectiveAction(project_id=p.id, survey_id=survey.id, topic=SurveyTopic.SERVICE,
                                              issue="回访不及时", action="每日回访"),
        "key-record": KeyRecord(project_id=p.id, code="K-1", name="大门", copies=1),
        "lost-item": LostItem(project_id=p.id, name="雨伞", found_at=utcnow()),
        "item-loan": ItemLoan(project_id=p.id, name="梯子", borrower="张师傅"),
        "owner-notice": OwnerNotice(project_id=p.id, title="停水通知", body="明日停水", published_from=dt.date(2026, 11, 1)),
        "service-request": f.service_request(session, project_=p),
    }
    session.add_all(rows.values())
    session.flush()
    return rows


# What each save changes: a text field of the form.
CHANGED = {"customer": "name", "dunning-notice": "note", "survey": "title", "corrective-action": "issue",
           "key-record": "name", "lost-item": "name", "item-loan": "name", "owner-notice": "title",
           "service-request": "content"}


@pytest.mark.parametrize("identity", list(CHANGED))
def test_the_second_of_two_stale_forms_is_refused(session, console, records, identity):
    row = records[identity]
    model, attr = type(row), CHANGED[identity]
    assert version_attr(model) == "version"
    url = f"/admin/{identity}/edit/{row.id}"
    first, second = console("boss"), console("boss")
    form_a, form_b = _opened(first, url), _opened(second, url)
    saved = first.post(url, {**form_a, attr: "甲改的"})
    assert saved.status_code == 302, html.unescape(saved.text)[-1500:]
    table = model.__table__.name
    log = session.scalars(select(OperationLog).where(OperationLog.operation == f"update:{table}")).one()
    assert (log.params["id"], log.actor_id) == (row.id, session.scalar(select(User.id).where(User.username == "boss")))
    logs = session.scalar(select(func.count()).select_from(OperationLog))
    late = second.post(url, {**form_b, attr: "乙改的"})
    assert late.status_code == 400 and "已被他人修改，请刷新后重试" in html.unescape(late.text)
    # and a form with its version taken out is refused, not taken as "no lock"
    bare = {k: v for k, v in _opened(second, url).items() if k != "version"}
    missing = second.post(url, {**bare, attr: "乙改的", "version": None})
    assert missing.status_code == 400 and "表单缺少版本号" in html.unescape(missing.text)
    session.expire_all()
    assert getattr(session.get(model, row.id), attr) == "甲改的"
    assert session.scalar(select(func.count()).select_from(OperationLog)) == logs  # nothing written

