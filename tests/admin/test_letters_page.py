"""The printable letters page (admin/templates/wuye/letters/run.html) is standalone — no console layout — yet
carries the console's icon, so the browser does not ask for /favicon.ico and get a 404. The downloaded copy,
opened from disk, links nothing on the server."""

from __future__ import annotations

from sqlalchemy import select

from models import DunningRun
from tests import factories as f
from tests.actions.test_billing import make_estate, with_bills

ICON = '<link rel="icon" href="/static/wuye/img/favicon.svg">'


def test_the_letters_page_links_the_consoles_icon(session, console):
    e = make_estate(session)
    with_bills(session, e)
    f.user(session, username="cashier", roles=["收费员"], projects=[e.project])
    cashier = console("cashier")
    preview = {"stage": "3", "as_of": "2026-04-15", "scope": "project", "project_id": str(e.project.id)}
    assert cashier.post_job("/admin/dunning", preview).status_code in (200, 302, 303)
    run = session.scalars(select(DunningRun).where(DunningRun.project_id == e.project.id)).one()

    page = cashier.get(f"/admin/dunning-run/action/letters?pks={run.id}")
    assert page.status_code == 200 and '<section class="sheet">' in page.text
    head = page.text.split("</head>", 1)[0]
    assert ICON in head
    assert ICON in cashier.get("/admin/").text  # the same link as the console's
    assert cashier.get("/static/wuye/img/favicon.svg").status_code == 200

    download = cashier.job_file(cashier.post_job(f"/admin/dunning-run/action/letters?pks={run.id}&download=1"))
    assert download.status_code == 200 and '<section class="sheet">' in download.text
    assert 'rel="icon"' not in download.text


def test_letters_come_in_delivery_order_and_a_long_one_is_set_to_fit_its_sheet(session, console):
    import re
    from decimal import Decimal

    p = f.project(session)
    fee = f.fee_type(session, project_=p, name="物业管理费")
    units = [f.unit(session, project_=p, building_=f.building(session, project_=p, name=name), room_no=room)
             for name, room in (("10栋", "101"), ("1栋", "1001"), ("2栋", "201"))]
    units.append(f.unit(session, project_=p, building_=units[1].building, room_no="103"))
    for i, unit in enumerate(units):
        months = 14 if i == 0 else 2  # 10栋-101 owes fourteen months: a long letter
        for m in range(months):
            year, month = divmod(2025 * 12 + 2 + m, 12)  # from 2025-03
            f.bill(session, unit_=unit, fee_type_=fee, period=f"{year}-{month + 1:02d}", amount_due=Decimal("200"))
    f.user(session, username="cashier2", roles=["收费员"], projects=[p])
    cashier = console("cashier2")
    cashier.post_job("/admin/dunning", {"stage": "1", "as_of": "2026-05-05", "scope": "project", "project_id": str(p.id)})
    run = session.scalars(select(DunningRun).where(DunningRun.project_id == p.id)).one()
    page = cashier.get(f"/admin/dunning-run/action/letters?pks={run.id}").text
    order = re.findall(r"（[^（）]*? (\d+栋-\d+)）：", page)
    assert order == ["1栋-103", "1栋-1001", "2栋-201", "10栋-101"]  # not text order (10栋 … 1栋-1001, 1栋-103)
    sheets = re.findall(r'<section class="(sheet[^"]*)">', page)
    assert sheets == ["sheet", "sheet", "sheet", "sheet long"]
