"""Labels once: templates name a column header with ``label(Model, attr)`` — the label the model declares — instead
of typing it again; a header typed again where a model declares it fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import Environment

from models import Base, Bill, CorrectiveAction, ServiceRequest, Unit, WorkOrder, label, label_of

TEMPLATES = Path(__file__).parents[2] / "admin" / "templates" / "wuye"
# The models whose fields the pages' tables show most; their labels are never typed into a header.
MODELS = ("ServiceRequest", "WorkOrder", "Visit", "Bill", "CorrectiveAction", "PatrolFinding", "PatrolCheckItem",
          "UnitCustomer", "Building", "StaffVisitPlan")
# Pages other branches are rewriting (派工 → dispatch, 催缴/收款 → jobs/receipts): converted once they land.
LEFT = {"orders/dispatch.html", "fees/dunning.html", "fees/approve.html", "fees/deliver.html",
        "fees/generate_bills.html", "fees/account.html", "dashboard/home.html", "jobs/list.html"}


def test_label_reads_what_the_model_declares():
    assert label(Unit) == label("Unit") == Unit.__label__ == "房屋"
    assert label("Bill", "period") == label_of(Bill, "period") == "账期"
    assert label(WorkOrder, "department") == label_of(WorkOrder, "department")
    assert label("CorrectiveAction", "issue") == label_of(CorrectiveAction, "issue")
    with pytest.raises(KeyError):
        label("NoSuchModel")


def test_a_template_header_is_the_models_label():
    env = Environment()
    env.globals["label"] = label
    html = env.from_string('<th>{{ label("ServiceRequest", "content") }}</th><th>{{ label("WorkOrder") }}</th>').render()
    assert html == f"<th>{label_of(ServiceRequest, 'content')}</th><th>{WorkOrder.__label__}</th>"
    # the console registers it for every page: the pages' own tests render the headers through it


def test_no_header_retypes_a_label_the_models_declare():
    by_name = {m.class_.__name__: m.class_ for m in Base.registry.mappers}
    declared = {label_of(by_name[n], a.key) for n in MODELS for a in by_name[n].__mapper__.attrs}
    declared -= {"编号", "类型"}  # words too general to say which field a header meant
    declared |= {by_name[n].__label__ for n in MODELS}
    retyped = {}
    for path in TEMPLATES.rglob("*.html"):
        shown = str(path.relative_to(TEMPLATES))
        if shown in LEFT:
            continue
        words = {w.strip() for w in re.findall(r"<th[^>]*>([^<{]+)</th>", path.read_text())} & declared
        if words:
            retyped[shown] = sorted(words)
    assert not retyped, f"headers typed again instead of label(Model, attr): {retyped}"
