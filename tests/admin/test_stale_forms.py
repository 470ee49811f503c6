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
    Role,
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



def _sent(fields: dict[str, str]) -> dict[str, str]:
    """A multiple select with nothing chosen is not sent by a browser at all."""
    return {k: v for k, v in fields.items() if v or k not in ("projects", "roles")}


@pytest.mark.parametrize("identity", ["user", "role"])
def test_a_stale_account_or_role_form_is_refused(session, console, identity):
    """账号 and 角色 are edited through their own actions and checked the same way — also when the first save
    changed only their links (an account's projects, a role's grants), which leave the row's columns as they were."""
    p = f.project(session)
    f.user(session, username="root", superuser=True)
    row = (f.user(session, username="clerk", roles=["客服经理"]) if identity == "user"
           else Role(name="临时角色", description=""))
    session.add(row)
    session.flush()
    url = f"/admin/{identity}/edit/{row.id}"
    first, second = console("root"), console("root")
    form_a, form_b, form_c = (_sent(_opened(c, url)) for c in (first, second, second))
    # the first save changes links only
    links = {"projects": str(p.id)} if identity == "user" else {"permissions": "unit:list"}
    done = first.post(url, {**form_a, **links})
    assert done.status_code == 302
    operation = f"save_{identity}"
    assert session.scalar(select(func.count()).where(OperationLog.operation == operation)) == 1
    logs = session.scalar(select(func.count()).select_from(OperationLog))
    attr = "display_name" if identity == "user" else "description"
    for stale in (form_b, form_c):
        late = second.post(url, {**stale, attr: "乙改的"})
        assert late.status_code == 400 and "已被他人修改，请刷新后重试" in html.unescape(late.text)
    missing = second.post(url, {**{k: v for k, v in _sent(_opened(second, url)).items() if k != "version"},
                                attr: "乙改的", "version": None})
    assert missing.status_code == 400 and "表单缺少版本号" in html.unescape(missing.text)
    session.expire_all()
    saved = session.get(type(row), row.id)
    assert getattr(saved, attr) != "乙改的"
    assert session.scalar(select(func.count()).select_from(OperationLog)) == logs  # nothing written
    # a fresh form saves
    assert second.post(url, {**_sent(_opened(second, url)), attr: "乙改的"}).status_code == 302


def test_an_account_form_opened_before_its_user_logs_in_still_saves(session, console):
    """A login wrote 最近登录 on the account and so moved its version: an administrator who had the account's form
    open was told 「已被他人修改」 on saving though nobody had edited it. The login time is kept, the version not."""
    f.user(session, username="root", superuser=True)
    clerk = f.user(session, username="clerk", roles=["客服经理"])
    url = f"/admin/user/edit/{clerk.id}"
    admin = console("root")
    form = _sent(_opened(admin, url))
    version = session.scalar(select(User.version).where(User.id == clerk.id))
    console("clerk")
    session.expire_all()
    assert session.get(User, clerk.id).last_login_at is not None
    assert session.get(User, clerk.id).version == version
    saved = admin.post(url, {**form, "display_name": "改名后"})
    assert saved.status_code == 302, html.unescape(saved.text)[:500]
    session.expire_all()
    assert session.get(User, clerk.id).display_name == "改名后"


def test_a_form_opened_before_a_bulk_step_is_refused(session, console, records):
    """送达登记 and 问卷发放 change many rows with one UPDATE: their versions move too, so an edit form opened
    before either is refused instead of putting back what the step wrote."""
    from actions.actor import SYSTEM
    from actions.dunning import record_delivery
    from actions.surveys import record_distribution
    from models import DeliveryWay, DunningRunStatus, SurveyHousehold

    notice, survey = records["dunning-notice"], records["survey"]
    session.get(DunningRun, notice.run_id).status = DunningRunStatus.DONE
    household = SurveyHousehold(project_id=survey.project_id, survey_id=survey.id, unit_id=notice.unit_id)
    session.add(household)
    session.flush()
    c = console("boss")
    notice_url, household_url = f"/admin/dunning-notice/edit/{notice.id}", f"/admin/survey-household/edit/{household.id}"
    notice_form, household_form = _opened(c, notice_url), _opened(c, household_url)

    record_delivery(session, notice_ids=[notice.id], actor=SYSTEM, way=DeliveryWay.HAND, signed_by="业主",
                    delivered_by_id=f.staff(session, project_=session.get(DunningRun, notice.run_id).project).id)
    record_distribution(session, survey_id=survey.id, unit_ids=[notice.unit_id], distributed_on=dt.date(2026, 11, 2),
                        receipt_signed=True, actor=SYSTEM)
    session.flush()
    logs = session.scalar(select(func.count()).select_from(OperationLog))

    # (the parser does not see the unit an ajax select shows: sent as the browser would)
    stale = ((notice_url, {**notice_form, "note": "旧表单"}),
             (household_url, {**household_form, "unit": str(notice.unit_id), "collected": "y"}))
    for url, form in stale:
        late = c.post(url, form)
        assert late.status_code == 400 and "已被他人修改，请刷新后重试" in html.unescape(late.text), url
    session.expire_all()
    assert (session.get(DunningNotice, notice.id).note != "旧表单", session.get(DunningNotice, notice.id).signed_by) == (True, "业主")
    assert (session.get(SurveyHousehold, household.id).receipt_signed,
            session.get(SurveyHousehold, household.id).collected) == (True, False)
    assert session.scalar(select(func.count()).select_from(OperationLog)) == logs  # nothing written
