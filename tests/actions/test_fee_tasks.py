"""收费标准年审 as dated tasks and 车位租赁 (issue 19 item 10): reviews due April–May, scheduled once, completed
with who, when and the outcome; a space's leases never overlap and its 租用 flag follows them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from actions.actor import actor_for_user
from actions.errors import NotPermitted, Refused
from actions.fee_tasks import (
    complete_fee_review,
    end_parking_lease,
    lease_parking_space,
    schedule_fee_reviews,
)
from actions.kernel.periods import today_local
from actions.records import TEXT_MAX
from models import FeeReview, FeeType, OperationLog, ParkingLease, ParkingSpace, ReviewStatus
from tests import factories as f


@pytest.fixture
def case(session):
    p, other = f.project(session, name="锦绣华庭"), f.project(session, name="翠湖天地")
    fees = [f.fee_type(session, project_=p, name=n) for n in ("物业管理费", "地下停车费")]
    f.fee_type(session, project_=p, name="已停用", active=False)
    f.fee_type(session, project_=other, name="他人的管理费")
    space = ParkingSpace(project=p, code="B1-018")
    theirs = ParkingSpace(project=other, code="A-001")
    session.add_all([space, theirs])
    tenant = f.customer(session, project_=p, name="李强")
    stranger = f.customer(session, project_=other, name="外人")
    boss = f.user(session, username="zhuguan", roles=["客服主管"], projects=[p])
    manager = f.user(session, username="jingli", roles=["客服经理"], projects=[p])
    session.flush()
    return {"p": p, "other": other, "fees": fees, "space": space, "theirs": theirs, "tenant": tenant,
            "stranger": stranger, "boss": actor_for_user(session, boss), "manager": actor_for_user(session, manager),
            "manager_user": manager}


def test_reviews_are_scheduled_once_for_april_and_may_and_completed(session, case):
    done = schedule_fee_reviews(session, year=2027, actor=case["boss"])
    assert (done.scheduled, done.already) == (2, 0)
    assert done.message == "已生成 2027 年收费标准年审任务 2 项（2027-04-01 至 2027-05-31）"
    rows = session.scalars(select(FeeReview).order_by(FeeReview.fee_type_id)).all()
    assert [(r.fee_type_id, r.due_from, r.due_by, r.status) for r in rows] == [
        (fee.id, dt.date(2027, 4, 1), dt.date(2027, 5, 31), ReviewStatus.PENDING) for fee in case["fees"]]
    again = schedule_fee_reviews(session, year=2027, actor=case["boss"])
    assert (again.scheduled, again.already) == (0, 2)
    assert session.scalar(select(func.count()).select_from(FeeReview)) == 2

    result = complete_fee_review(session, review_id=rows[0].id, outcome="维持现行标准 2.50 元/㎡·月",
                                 actor=case["manager"], on=dt.date(2027, 5, 20))
    assert result.message == "2027年「物业管理费」年审已完成" and not result.late
    session.refresh(rows[0])
    assert (rows[0].status, rows[0].reviewed_on, rows[0].reviewer_id) == (
        ReviewStatus.DONE, dt.date(2027, 5, 20), case["manager_user"].id)
    assert session.get(FeeType, case["fees"][0].id).reviewed_on == dt.date(2027, 5, 20)
    late = complete_fee_review(session, review_id=rows[1].id, outcome="报物价部门调整", actor=case["manager"],
                               on=dt.date(2027, 6, 3))
    assert late.late and late.message.endswith("（已超过 5 月 31 日期限）")
    with pytest.raises(Refused, match="该项年审已于 2027-05-20 完成"):
        complete_fee_review(session, review_id=rows[0].id, outcome="再审", actor=case["manager"])


def test_review_refusals_write_nothing(session, case):
    schedule_fee_reviews(session, year=2027, actor=case["boss"])
    review = session.scalars(select(FeeReview)).first()
    with pytest.raises(Refused, match="请填写年审结论"):
        complete_fee_review(session, review_id=review.id, outcome=" ", actor=case["manager"])
    with pytest.raises(Refused, match="年度无效"):
        schedule_fee_reviews(session, year=20277, actor=case["boss"])
    outsider = actor_for_user(session, f.user(session, username="waibu", roles=["客服经理"], projects=[case["other"]]))
    with pytest.raises(Refused, match="不存在或无权查看"):
        complete_fee_review(session, review_id=review.id, outcome="维持", actor=outsider)
    session.refresh(review)
    assert review.status is ReviewStatus.PENDING and session.get(FeeType, review.fee_type_id).reviewed_on is None


def test_texts_beyond_their_columns_are_refused_not_cut(session, case):
    """年审结论 (no set length) holds at most TEXT_MAX characters, 车牌号 16 and 备注 TEXT_MAX: one more is refused
    naming the field — a plate was cut to 16 without a word — and nothing is written."""
    schedule_fee_reviews(session, year=2027, actor=case["boss"])
    review = session.scalars(select(FeeReview)).first()
    with pytest.raises(Refused, match=f"年审结论过长：最多 {TEXT_MAX:,} 字，现为 {TEXT_MAX + 1:,} 字"):
        complete_fee_review(session, review_id=review.id, outcome="维" * (TEXT_MAX + 1), actor=case["manager"])
    session.refresh(review)
    assert (review.status, review.outcome) == (ReviewStatus.PENDING, "")
    before = session.scalar(select(func.count()).select_from(ParkingLease))
    lease = {"space_id": case["space"].id, "customer_id": case["tenant"].id, "start_date": dt.date(2026, 1, 1),
             "end_date": dt.date(2026, 12, 31), "monthly_rent": Decimal("300"), "actor": case["boss"]}
    with pytest.raises(Refused, match="车牌号过长：最多 16 字，现为 17 字"):
        lease_parking_space(session, plate_no="沪A1234567890ABCDE", **lease)
    with pytest.raises(Refused, match=f"备注过长：最多 {TEXT_MAX:,} 字"):
        lease_parking_space(session, note="备" * (TEXT_MAX + 1), **lease)
    assert session.scalar(select(func.count()).select_from(ParkingLease)) == before
    session.refresh(case["space"])
    assert (case["space"].is_rented, case["space"].plate_no) == (False, "")


def test_leases_of_a_space_never_overlap_and_the_flag_follows_them(session, case, monkeypatch):
    monkeypatch.setattr("actions.fee_tasks.today_local", lambda: dt.date(2026, 11, 20))
    space, tenant = case["space"], case["tenant"]
    first = lease_parking_space(session, space_id=space.id, customer_id=tenant.id, start_date=dt.date(2026, 1, 1),
                                end_date=dt.date(2026, 12, 31), monthly_rent=Decimal("300"), plate_no="沪a12345",
                                actor=case["boss"])
    assert first.message == "车位 B1-018 已租给 李强：2026-01-01 至 2026-12-31，月租 300.00 元"
    session.refresh(space)
    assert (space.is_rented, space.plate_no) == (True, "沪A12345")
    with pytest.raises(Refused, match=r"车位 B1-018 在 2026-01-01 至 2026-12-31 已出租（租赁 #\d+），租期不能重叠"):
        lease_parking_space(session, space_id=space.id, customer_id=tenant.id, start_date=dt.date(2026, 12, 31),
                            end_date=dt.date(2027, 12, 31), monthly_rent=Decimal("300"), actor=case["boss"])
    following = lease_parking_space(session, space_id=space.id, customer_id=tenant.id, start_date=dt.date(2027, 1, 1),
                                    end_date=dt.date(2027, 12, 31), monthly_rent=Decimal("320"), actor=case["boss"])
    assert following.lease_id != first.lease_id

    ended = end_parking_lease(session, lease_id=first.lease_id, end_date=dt.date(2026, 11, 15), actor=case["boss"])
    assert ended.message == "车位 B1-018 于 2026-11-15 退租"
    session.refresh(space)
    assert space.is_rented is False  # nothing covers 11-20 now; the 2027 lease has not begun
    with pytest.raises(Refused, match="退租日期须在 2026-01-01 至 2026-11-15 之间"):
        end_parking_lease(session, lease_id=first.lease_id, end_date=dt.date(2026, 12, 1), actor=case["boss"])
    assert session.scalar(select(func.count()).select_from(OperationLog)
                          .where(OperationLog.operation == "lease_parking_space")) == 2


@pytest.mark.parametrize("change, message", [
    ("stranger", "承租人须为本项目客户"),
    ("order", "到期日期不能早于起租日期"),
    ("rent", "请填写月租金"),
    ("theirs", "无权办理该车位的租赁"),
])
def test_lease_refusals_write_nothing(session, case, change, message):
    kwargs = {"space_id": case["space"].id, "customer_id": case["tenant"].id, "start_date": dt.date(2026, 1, 1),
              "end_date": dt.date(2026, 12, 31), "monthly_rent": Decimal("300")}
    if change == "stranger":
        kwargs["customer_id"] = case["stranger"].id
    elif change == "order":
        kwargs["end_date"] = dt.date(2025, 12, 31)
    elif change == "rent":
        kwargs["monthly_rent"] = None
    elif change == "theirs":
        kwargs["space_id"] = case["theirs"].id
    with pytest.raises(NotPermitted if change == "theirs" else Refused, match=message):
        lease_parking_space(session, **kwargs, actor=case["boss"])
    assert session.scalar(select(func.count()).select_from(ParkingLease)) == 0


def test_the_console_leases_through_the_action(session, console, case):
    boss = console("zhuguan")
    form = {"space": str(case["space"].id), "customer": str(case["tenant"].id), "plate_no": "", "start_date": "2026-01-01",
            "end_date": "2026-12-31", "monthly_rent": "300", "note": ""}
    assert boss.post("/admin/parking-lease/create", form).status_code == 302
    refused = boss.post("/admin/parking-lease/create", {**form, "start_date": "2026-06-01"})
    assert refused.status_code == 400 and "租期不能重叠" in refused.text
    assert session.scalar(select(func.count()).select_from(ParkingLease)) == 1
    assert boss.post("/admin/fee-review/schedule", {"year": "2027"}).status_code == 303
    assert session.scalar(select(func.count()).select_from(FeeReview)) == 2
    review = session.scalars(select(FeeReview)).first()
    assert boss.post("/admin/fee-review/complete", {"review_id": str(review.id), "outcome": "维持"}).status_code == 403
    assert console("jingli").post("/admin/fee-review/complete", {"review_id": str(review.id),
                                                                 "outcome": "维持"}).status_code == 303


def test_a_space_let_today_is_not_set_unrented_by_hand_or_by_an_import(session, console, case):
    """租用 follows the leases: a space let today set 否 in the console or by a parking import would be offered for
    rent while it is let. Refused naming the lease, nothing written; a space never leased here may be set 是 (spaces
    let before their leases were typed in), and one let set 是 again is unchanged."""
    from actions.bulk_import import import_records
    from tests.data.workbooks import workbook

    today = today_local()
    lease = lease_parking_space(session, space_id=case["space"].id, customer_id=case["tenant"].id,
                                start_date=today - dt.timedelta(days=30), end_date=today + dt.timedelta(days=300),
                                monthly_rent=Decimal("300"), actor=case["boss"])
    free = ParkingSpace(project=case["p"], code="B1-019")
    session.add(free)
    session.flush()
    data = workbook({"车位": [["项目", "车位号", "租用"], ["锦绣华庭", "B1-018", "否"], ["锦绣华庭", "B1-019", "是"]]})
    result = import_records(session, kind="parking", data=data, file_name="车位.xlsx", actor=case["boss"])
    assert not result.written
    assert [p.message for p in result.problems] == [
        f"「车位」第2行 租用 车位 B1-018 租期 {today - dt.timedelta(days=30)} 至 {today + dt.timedelta(days=300)}（租赁 #{lease.lease_id}）："
        "租用随车位租赁，退租请在车位租赁中办理"]
    session.expire_all()
    assert (session.get(ParkingSpace, case["space"].id).is_rented, session.get(ParkingSpace, free.id).is_rented) == (
        True, False)

    f.user(session, username="root", superuser=True)
    admin = console("root")
    form = {"project": str(case["p"].id), "code": "B1-018", "area_name": "", "plate_no": ""}
    edit = admin.get(f"/admin/parking-space/edit/{case['space'].id}")
    version = re.search(r'name="version"[^>]*value="(\d+)"', edit.text) or re.search(
        r'value="(\d+)"[^>]*name="version"', edit.text)
    refused = admin.post(f"/admin/parking-space/edit/{case['space'].id}", {**form, "version": version.group(1)})
    assert refused.status_code == 400 and "租用随车位租赁" in refused.text, refused.text[:300]
    session.expire_all()
    assert session.get(ParkingSpace, case["space"].id).is_rented is True
    data = workbook({"车位": [["项目", "车位号", "租用"], ["锦绣华庭", "B1-018", "是"], ["锦绣华庭", "B1-019", "是"]]})
    result = import_records(session, kind="parking", data=data, file_name="车位2.xlsx", actor=case["boss"])
    assert result.written and not result.problems
    session.expire_all()
    assert session.get(ParkingSpace, free.id).is_rented is True
