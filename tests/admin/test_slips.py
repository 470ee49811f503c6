"""打印单据 (actions/slips.py, admin/views/slips.py): 派工单, 放行条, 施工人员出入证, 整改通知书 and 收据 print from their
record's page, within the user's projects, personal data masked for roles without the full view."""

from __future__ import annotations

import datetime as dt
import html

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
