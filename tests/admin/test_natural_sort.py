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


def test_phases_sort_by_their_chinese_numerals(console, session):
    """一期, 二期 … 十期, 十一期 — not 一期, 十一期, 十期, 二期 as text — in the 分期 list and the 楼栋 list's 分期 filter."""
    from models import Phase

    project = f.project(session)
    phases = {name: Phase(project=project, name=name) for name in ("十一期", "二期", "十期", "一期")}
    session.add_all(phases.values())
    session.flush()
    for name, phase in phases.items():
        f.building(session, project_=project, name=f"{name}1栋").phase_id = phase.id
    f.user(session, username="desk", roles=["前台客服"], projects=[project])
    session.commit()
    order = [phases[n].id for n in ("一期", "二期", "十期", "十一期")]
    c = console("desk")
    assert list(dict.fromkeys(listed(c.get("/admin/phase/list").text, "phase"))) == order
    panel = c.get("/admin/building/list").text
    assert [panel.index(f"phase_id={i}") for i in order] == sorted(panel.index(f"phase_id={i}") for i in order)
    assert natural_sort_key("十一期") == "0000000011期" and natural_sort_key("二十三栋") == "0000000023栋"
    phases["一期"].name = "十二期"  # renamed: sorts by its new name
    session.flush()
    assert session.scalar(select(Phase.sort_key).where(Phase.id == phases["一期"].id)) == "0000000012期"


def test_the_intake_lookup_and_the_visit_plan_list_units_as_people_count(console, session):
    """受理诉求's lookup of 「1303」 listed 10栋-1303, 11栋-1303, 1栋-1303, 2栋-1303 …, and 定期走访 a butler's households
    10栋-1001, 10栋-101 … before 9栋's: by the buildings' and rooms' text. They follow the natural sort key too."""
    from actions.actor import actor_for_user
    from actions.requests import find_units
    from actions.visits import households_not_visited

    project = f.project(session)
    b10, b2 = (f.building(session, project_=project, name=n) for n in ("10栋", "2栋"))
    units = {(b, r): f.unit(session, project_=project, building_=b, room_no=r)
             for b in (b10, b2) for r in ("1303", "903")}
    desk = f.user(session, username="desk", roles=["前台客服"], projects=[project])
    session.commit()
    actor = actor_for_user(session, desk)
    found = find_units(session, actor=actor, project_id=project.id, room_no="1303")
    assert [m.unit for m in found] == ["2栋-1303", "10栋-1303"]
    plan = households_not_visited(session, project_id=project.id, actor=actor)
    assert [d.unit_id for d in plan.due] == [units[k].id for k in ((b2, "903"), (b2, "1303"), (b10, "903"),
                                                                    (b10, "1303"))]
    page = console("desk").get("/admin/intake", params={"room_no": "1303"}).text
    assert page.index("2栋-1303") < page.index("10栋-1303")
