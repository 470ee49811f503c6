"""Buildings and rooms sort as people count (2栋 before 10栋, 903 before 1303): by a stored, indexed natural sort
key that every way of writing a building or a unit fills (ORM, a rename, the bulk import)."""

from __future__ import annotations

import re

from sqlalchemy import select

from models import Building, Unit, natural_sort_key
from tests import factories as f


def listed(page: str, identity: str) -> list[int]:
    return [int(i) for i in re.findall(rf'href="[^"]*/admin/{identity}/details/(\d+)"', page)]


def test_unit_and_building_lists_sort_naturally(console, session):
    project = f.project(session)
    b10, b2 = (f.building(session, project_=project, name=n) for n in ("10栋", "2栋"))
    units = {(b, r): f.unit(session, project_=project, building_=b, room_no=r)
             for b in (b10, b2) for r in ("1303", "903")}
    f.user(session, username="desk", roles=["前台客服"], projects=[project])
    session.commit()
    c = console("desk")
    expected = [units[k].id for k in ((b2, "903"), (b2, "1303"), (b10, "903"), (b10, "1303"))]
    assert list(dict.fromkeys(listed(c.get("/admin/unit/list").text, "unit"))) == expected
    by_room = listed(c.get("/admin/unit/list", params={"sortBy": "room_no", "sort": "desc"}).text, "unit")
    assert [session.get(Unit, i).room_no for i in dict.fromkeys(by_room)][:2] == ["1303", "1303"]
    assert list(dict.fromkeys(listed(c.get("/admin/building/list").text, "building"))) == [b2.id, b10.id]
    panel = c.get("/admin/unit/list").text  # the 楼栋 filter lists them in the same order
    assert panel.index(f"building_id={b2.id}") < panel.index(f"building_id={b10.id}")
    assert c.get("/admin/unit/list", params={"sortBy": "sort_key"}).status_code == 400


def test_the_key_follows_a_rename(session):
    building = f.building(session, project_=f.project(session), name="9栋")
    building.name = "11栋"
    session.flush()
    session.expire_all()
    assert session.scalar(select(Building.sort_key).where(Building.id == building.id)) == natural_sort_key("11栋")
    assert natural_sort_key("A座-2-1") == "A座-0000000002-0000000001"
