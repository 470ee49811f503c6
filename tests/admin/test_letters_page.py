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
    assert cashier.post("/admin/dunning", preview).status_code in (200, 302, 303)
    run = session.scalars(select(DunningRun).where(DunningRun.project_id == e.project.id)).one()

    page = cashier.get(f"/admin/dunning-run/action/letters?pks={run.id}")
    assert page.status_code == 200 and '<section class="sheet">' in page.text
    head = page.text.split("</head>", 1)[0]
    assert ICON in head
    assert ICON in cashier.get("/admin/").text  # the same link as the console's
    assert cashier.get("/static/wuye/img/favicon.svg").status_code == 200

    download = cashier.get(f"/admin/dunning-run/action/letters?pks={run.id}&download=1")
    assert download.status_code == 200 and '<section class="sheet">' in download.text
    assert 'rel="icon"' not in download.text
