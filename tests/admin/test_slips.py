"""打印单据 (actions/slips.py, admin/views/slips.py): 派工单, 放行条, 施工人员出入证, 整改通知书 and 收据 print from their
record's page, within the user's projects, personal data masked for roles without the full view."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal

from sqlalchemy import select

from actions.actor import SYSTEM
from actions.work_orders import dispatch_requests
from models import GoodsPass, RectificationNotice, RenovationApplication, WorkerPermit, WorkOrder
from tests import factories as f


def test_each_slip_prints_from_its_record(console, session):
    p1, p2 = f.project(session), f.project(session)
    unit = f.unit(session, project_=p1, building_=f.building(session, project_=p1, name="3栋"), room_no="1303")
    request = f.service_request(session, project_=p1, unit_=unit, content="厨房水管漏水")
    dispatch_requests(session, request_ids=[request.id], actor=SYSTEM)
    order = session.scalar(select(WorkOrder).where(WorkOrder.request_id == request.id))
    goods = GoodsPass(project=p1, code="FX-01", unit=unit, applicant="陈静", items="旧沙发一套", carrier="王师傅",
                      carrier_phone="13900001111", plate_no="沪A12345", pass_date=dt.date(2026, 12, 7))
    renovation = RenovationApplication(project=p1, unit=unit, applicant="陈静", contractor="美家装饰",
                                       start_date=dt.date(2026, 12, 1), end_date=dt.date(2027, 2, 1))
    session.add_all([goods, renovation])
    session.flush()
    permit = WorkerPermit(project=p1, renovation=renovation, code="CR-01", name="刘工", id_number="110101199003071234",
                          phone="13700002222", trade="木工", valid_from=dt.date(2026, 12, 1), valid_to=dt.date(2027, 2, 1))
    notice = RectificationNotice(project=p1, code="ZG-01", unit=unit, violation="阳台违规搭建", requirement="拆除搭建物",
                                 issued_on=dt.date(2026, 12, 6), deadline=dt.date(2026, 12, 20))
    session.add_all([permit, notice])
    f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    f.user(session, username="other", roles=["前台客服"], projects=[p2])
    session.flush()

    c = console("desk")
    cases = (("work-order", order.id, "派工单", ("3栋-1303", "厨房水管漏水", "138****5678", "维修人签字")),
             ("goods-pass", goods.id, "放行条", ("FX-01", "旧沙发一套", "139****1111", "保安核验放行")),
             ("worker-permit", permit.id, "施工人员出入证", ("CR-01", "刘工", "美家装饰", "2026-12-01 至 2027-02-01")),
             ("rectification-notice", notice.id, "整改通知书", ("阳台违规搭建", "拆除搭建物", "2026-12-20", "签收")))
    for identity, record_id, title, words in cases:
        details = html.unescape(c.get(f"/admin/{identity}/details/{record_id}").text)
        assert f"/admin/{identity}/print?id={record_id}" in details, identity
        page = c.get(f"/admin/{identity}/print", params={"id": record_id})
        assert page.status_code == 200 and f"<h1>{title}</h1>" in page.text, identity
        text = html.unescape(page.text)
        for word in words:
            assert word in text, (identity, word)
        for secret in ("13812345678", "13900001111", "13700002222", "110101199003071234"):  # masked for the desk
            assert secret not in text, (identity, secret)
        assert console("other").get(f"/admin/{identity}/print", params={"id": record_id}).status_code == 403
        assert c.get(f"/admin/{identity}/print", params={"id": "x"}).status_code == 400


def test_a_move_in_checklist_prints_as_the_walk_through_sheet_both_sign(console, session):
    """「持《物业验收清单》带领业主……将室内水、电、气表读数记录其中……双方签字」 — one copy kept in the owner's file, one for
    the owner. The 交房验收 was recorded but had nothing to print for the two signatures: it prints as the 物业验收清单,
    业主联 and 存档联, with the readings, keys, documents and the defects found on the walk (房屋整改工程记录)."""
    from models import Customer, DefectStatus, HouseDefect, MoveInChecklist, UnitStatus

    p1, p2 = f.project(session), f.project(session)
    unit = f.unit(session, project_=p1, building_=f.building(session, project_=p1, name="3栋"), room_no="1303",
                  status=UnitStatus.VACANT)
    owner = Customer(project=p1, name="陈静", phone="13812345678")
    guide = f.staff(session, project_=p1, name="王芳")
    session.add(owner)
    session.flush()
    checklist = MoveInChecklist(project=p1, unit=unit, customer=owner, received_by="陈静", handled_by_id=guide.id,
                                handover_date=dt.date(2026, 12, 5), water_reading=Decimal("12.50"),
                                power_reading=Decimal("1234.50"), gas_reading=Decimal("0.80"), keys_count=3,
                                documents="业主手册、房屋使用说明书", accepted=True, owner_signed=True)
    session.add(checklist)
    session.flush()
    session.add_all([
        HouseDefect(project=p1, unit=unit, checklist=checklist, location="卫生间", description="闭水试验渗漏",
                    found_on=dt.date(2026, 12, 5), status=DefectStatus.PENDING),
        HouseDefect(project=p1, unit=unit, location="阳台", description="另一次发现的问题",
                    found_on=dt.date(2026, 12, 6), status=DefectStatus.PENDING),  # not of this walk-through
    ])
    f.user(session, username="desk", roles=["前台客服"], projects=[p1])
    f.user(session, username="other", roles=["前台客服"], projects=[p2])
    session.flush()
    before = session.scalar(select(MoveInChecklist.version).where(MoveInChecklist.id == checklist.id))

    c = console("desk")
    details = html.unescape(c.get(f"/admin/move-in-checklist/details/{checklist.id}").text)
    assert f"/admin/move-in-checklist/print?id={checklist.id}" in details
    page = c.get("/admin/move-in-checklist/print", params={"id": checklist.id})
    assert page.status_code == 200 and "<h1>物业验收清单</h1>" in page.text
    text = html.unescape(page.text)
    for word in ("3栋-1303", "陈静", "2026-12-05", "12.50", "1234.50", "0.80", "业主手册、房屋使用说明书", "王芳",
                 "卫生间", "闭水试验渗漏", "业主联", "存档联", "业主（受托人）签字", "带房人员签字"):
        assert word in text, word
    assert "另一次发现的问题" not in text and "13812345678" not in text
    assert text.count('data-slip="move-in-checklist"') == 2  # a copy for the owner, a copy for the file
    assert "一页 A4，共 2 页（业主联、存档联）" in text
    assert console("other").get("/admin/move-in-checklist/print", params={"id": checklist.id}).status_code == 403
    assert c.get("/admin/move-in-checklist/print", params={"id": "x"}).status_code == 400
    session.expire_all()  # printing writes nothing
    assert session.scalar(select(MoveInChecklist.version).where(MoveInChecklist.id == checklist.id)) == before
