"""Migrations: up → down → up works, and the models match the migrations (RELIABILITY M01)."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

import models
from models.base import on_database
from models.db import alembic_config, make_engine


@pytest.fixture
def scratch_url(tmp_path):
    """A database of its own, so going down to base does not disturb the other tests."""
    url = os.environ.get("WUYE_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    parsed = make_url(url)
    name = f"{parsed.database}_migrate"
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield parsed.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate(engine, target: str, down: bool = False) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def test_up_down_up_and_no_drift(scratch_url):
    engine = make_engine(scratch_url)
    _migrate(engine, "head")
    tables = set(inspect(engine).get_table_names())
    assert set(models.Base.metadata.tables) <= tables

    _migrate(engine, "base", down=True)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

    _migrate(engine, "head")
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_object": lambda obj, *_: on_database(obj, conn.dialect.name)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), models.Base.metadata)
    assert diff == []
    engine.dispose()


SCORES_ON_FORM = "5c0e7d2a91b4"  # survey scores move from survey_score onto survey_response


def _insert(conn, table: str, **values) -> int:
    """One row of ``table`` as the schema stands at this revision: the given values, every other required
    column a plain value of its type."""
    import datetime as dt
    from decimal import Decimal

    from sqlalchemy import Boolean, Date, DateTime, Enum, Integer, MetaData, Numeric, Table, insert

    t = Table(table, MetaData(), autoload_with=conn)
    for c in t.columns:
        if c.name in values or c.nullable or c.primary_key or c.server_default is not None:
            continue
        kind = c.type
        values[c.name] = (kind.enums[0] if isinstance(kind, Enum) else False if isinstance(kind, Boolean)
                          else Decimal("1") if isinstance(kind, Numeric) else 1 if isinstance(kind, Integer)
                          else dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if isinstance(kind, DateTime)
                          else dt.date(2026, 1, 1) if isinstance(kind, Date) else f"{table}-{len(values)}")
    return conn.execute(insert(t).values(**values).returning(t.c.id)).scalar_one()


def _campaign(conn, units: int) -> tuple[int, list[int], int]:
    """A project with ``units`` units in one building and a survey of it: (project, units, survey)."""
    branch = _insert(conn, "branch", name="分公司")
    project = _insert(conn, "project", name="甲项目", branch_id=branch)
    building = _insert(conn, "building", name="1栋", project_id=project)
    made = [_insert(conn, "unit", project_id=project, building_id=building, room_no=f"10{i}") for i in range(units)]
    return project, made, _insert(conn, "survey", project_id=project, title="2026H1", period="2026H1", scale_max=5)


def test_survey_scores_move_onto_the_form_and_back(scratch_url):
    """Each answer of survey_score lands in its department's column of the form and back again on downgrade;
    a form without answers keeps empty columns."""
    engine = make_engine(scratch_url)
    _migrate(engine, f"{SCORES_ON_FORM}-1")
    with engine.begin() as conn:
        project, units, survey = _campaign(conn, 3)
        forms = [_insert(conn, "survey_response", project_id=project, survey_id=survey, unit_id=u, overall_score=4)
                 for u in units]
        answers = {(forms[0], "service", 5), (forms[0], "developer", 2), (forms[1], "engineering", 3),
                   (forms[1], "security", 4), (forms[1], "environment", 1), (forms[1], "greening", 5)}
        for form, topic, score in sorted(answers):
            conn.execute(text("INSERT INTO survey_score (response_id, topic, score) VALUES (:f, :t, :s)"),
                         {"f": form, "t": topic, "s": score})

    _migrate(engine, SCORES_ON_FORM)
    assert "survey_score" not in inspect(engine).get_table_names()
    topics = ("service", "engineering", "security", "environment", "greening", "developer")
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, overall_score, {', '.join(t + '_score' for t in topics)} "
                                 "FROM survey_response ORDER BY id")).all()
    assert rows == [(forms[0], 4, 5, None, None, None, None, 2), (forms[1], 4, None, 3, 4, 1, 5, None),
                    (forms[2], 4, None, None, None, None, None, None)]

    _migrate(engine, f"{SCORES_ON_FORM}-1", down=True)
    assert not {f"{t}_score" for t in topics} & {c["name"] for c in inspect(engine).get_columns("survey_response")}
    assert "survey_score_move" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        back = conn.execute(text("SELECT response_id, topic, score FROM survey_score ORDER BY id")).all()
        assert conn.scalar(text("SELECT count(*) FROM survey_response")) == 3
    assert set(back) == answers
    assert [r[0] for r in back] == sorted(r[0] for r in back)  # each form's answers next to each other
    engine.dispose()


RECEIPTS = "55533d28dc1a"  # 收据: a receipt per 收款, numbered; 分期 sort keys; the attachment grant


def test_existing_payments_get_their_receipts_and_back(scratch_url):
    """The lines of one 收款 share a receipt (an account payment's R-1, R-2 become R); a typed number is kept; a
    payment without one is numbered in its project·year's sequence, after a number of that form already used.
    Phases get their natural sort keys; roles that could edit a record with attachments may attach to it."""
    import datetime as dt

    engine = make_engine(scratch_url)
    _migrate(engine, f"{RECEIPTS}-1")
    at = dt.datetime(2026, 3, 5, 2, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        branch = _insert(conn, "branch", name="分公司")
        project = _insert(conn, "project", name="甲项目", branch_id=branch)
        phases = {name: _insert(conn, "phase", project_id=project, name=name) for name in ("十一期", "二期", "十期")}
        building = _insert(conn, "building", name="1栋", project_id=project)
        a, b = (_insert(conn, "unit", project_id=project, building_id=building, room_no=r) for r in ("101", "102"))
        fee = _insert(conn, "fee_type", project_id=project, name="物业管理费")
        bills = [_insert(conn, "bill", project_id=project, unit_id=u, fee_type_id=fee, period=f"2026-0{m}")
                 for u in (a, b) for m in (1, 2, 3)]

        def pay(bill: int, when: dt.datetime, number: str | None = None, token: str | None = None) -> int:
            return _insert(conn, "payment", project_id=project, bill_id=bill, paid_at=when, receipt_no=number,
                           form_token=token)

        account = [pay(bills[0], at, "R-1", "t1"), pay(bills[1], at, "R-2", "t1")]  # one account payment
        typed = pay(bills[2], at + dt.timedelta(hours=1), "SJ2026-000005")
        unnumbered = [pay(bills[3], at, None), pay(bills[4], at, None)]  # unit b, one moment: one 收款
        last_year = pay(bills[5], dt.datetime(2025, 12, 31, 15, 0, tzinfo=dt.UTC))  # 23:00 in Beijing
        role = _insert(conn, "role", name="前台客服", description="")
        for identity, action in (("service-request", "create"), ("work-order", "list"), ("house-defect", "edit")):
            _insert(conn, "role_grant", group_id=role, identity=identity, action=action)

    _migrate(engine, RECEIPTS)
    with engine.connect() as conn:
        numbers = dict(conn.execute(text("SELECT id, receipt_no FROM payment")).all())
        assert [numbers[i] for i in account] == ["R", "R"] and numbers[typed] == "SJ2026-000005"
        assert [numbers[i] for i in unnumbered] == ["SJ2026-000006"] * 2 and numbers[last_year] == "SJ2025-000001"
        assert sorted(conn.execute(text("SELECT number FROM receipt")).scalars()) == [
            "R", "SJ2025-000001", "SJ2026-000005", "SJ2026-000006"]
        assert dict(conn.execute(text("SELECT year, last_no FROM receipt_sequence")).all()) == {2025: 1, 2026: 6}
        order = conn.execute(text("SELECT id FROM phase ORDER BY sort_key")).scalars().all()
        assert order == [phases["二期"], phases["十期"], phases["十一期"]]
        assert sorted(conn.execute(text("SELECT identity FROM role_grant WHERE action = 'action:attach'")).scalars()) \
            == ["house-defect", "service-request"]

    _migrate(engine, f"{RECEIPTS}-1", down=True)
    with engine.connect() as conn:
        numbers = dict(conn.execute(text("SELECT id, receipt_no FROM payment")).all())
    assert [numbers[i] for i in account] == ["R-1", "R-2"] and numbers[typed] == "SJ2026-000005"
    assert [numbers[i] for i in unnumbered] == ["SJ2026-000006-1", "SJ2026-000006-2"]
    engine.dispose()


FORM_HOUSEHOLD_KEY = "d7b3e5a19c42"  # a survey form's one foreign key: its household (project, survey, unit)


def test_every_form_gets_its_household_and_the_key_holds(scratch_url):
    """A form whose unit was not in the campaign gets its household (已回收) on upgrade; after it the database
    refuses a form without a household and deleting the household deletes its form; down again the form keeps
    its own three keys."""
    from sqlalchemy.exc import IntegrityError

    engine = make_engine(scratch_url)
    _migrate(engine, f"{FORM_HOUSEHOLD_KEY}-1")
    with engine.begin() as conn:
        project, (listed, outside, later), survey = _campaign(conn, 3)
        _insert(conn, "survey_household", project_id=project, survey_id=survey, unit_id=listed, collected=False)
        forms = [_insert(conn, "survey_response", project_id=project, survey_id=survey, unit_id=u, overall_score=4)
                 for u in (listed, outside)]

    _migrate(engine, FORM_HOUSEHOLD_KEY)
    with engine.connect() as conn:
        households = conn.execute(text("SELECT unit_id, project_id, collected FROM survey_household ORDER BY unit_id")).all()
        assert households == [(listed, project, False), (outside, project, True)]
        assert conn.scalar(text("SELECT count(*) FROM survey_response")) == 2
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _insert(conn, "survey_response", project_id=project, survey_id=survey, unit_id=later, overall_score=3)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM survey_household WHERE unit_id = :u"), {"u": outside})
        assert conn.scalars(text("SELECT id FROM survey_response")).all() == [forms[0]]

    _migrate(engine, f"{FORM_HOUSEHOLD_KEY}-1", down=True)
    with pytest.raises(IntegrityError), engine.begin() as conn:  # its own key to the unit again
        _insert(conn, "survey_response", project_id=project, survey_id=survey, unit_id=later + 100, overall_score=3)
    engine.dispose()


PLAIN_STAGE = "e3c1a7f5b9d2"  # a request's stage: a plain column written with its status, held by a CHECK


def test_request_stage_becomes_a_plain_column_held_by_a_check_and_back(scratch_url):
    """Each request keeps its stage (filled on SQLite, kept on PostgreSQL); after the upgrade the database refuses
    a status written without its stage; down again it computes the stage from the status. PostgreSQL keeps the
    table's fillfactor both ways."""
    from sqlalchemy.exc import IntegrityError

    statuses = ("pending", "dispatched", "answered", "closed", "cancelled")
    expected = {"pending": "open", "dispatched": "open", "answered": "answered", "closed": "closed",
                "cancelled": "cancelled"}
    engine = make_engine(scratch_url)
    postgresql = engine.dialect.name == "postgresql"
    fillfactor = text("SELECT reloptions FROM pg_class WHERE relname = 'service_request'")
    _migrate(engine, f"{PLAIN_STAGE}-1")
    with engine.begin() as conn:
        branch = _insert(conn, "branch", name="分公司")
        project = _insert(conn, "project", name="甲项目", branch_id=branch)
        made = {_insert(conn, "service_request", project_id=project, channel="phone", kind="inquiry", category="other",
                        priority="normal", status=s, contact_phone="13800000000"): s for s in statuses}

    def stages(conn) -> dict[str, str]:
        return {made[i]: stage for i, stage in conn.execute(text("SELECT id, stage FROM service_request"))}

    _migrate(engine, PLAIN_STAGE)
    with engine.connect() as conn:
        assert stages(conn) == expected
        if postgresql:
            assert conn.scalar(fillfactor) == ["fillfactor=50"]
    assert not next(c for c in inspect(engine).get_columns("service_request") if c["name"] == "stage").get("computed")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE service_request SET status = 'closed' WHERE status = 'pending'"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE service_request SET status = 'closed', stage = 'closed' WHERE status = 'pending'"))
    expected["closed"], expected["pending"] = "closed", "closed"

    _migrate(engine, f"{PLAIN_STAGE}-1", down=True)
    assert next(c for c in inspect(engine).get_columns("service_request") if c["name"] == "stage").get("computed")
    with engine.begin() as conn:
        conn.execute(text("UPDATE service_request SET status = 'answered' WHERE status = 'dispatched'"))
        assert stages(conn) == {**expected, "dispatched": "answered"}
        if postgresql:
            assert conn.scalar(fillfactor) == ["fillfactor=50"]


BIGRAM_INDEXES = "e5c2a8f04b17"  # PostgreSQL: each searched column's 2-character substrings indexed (bigrams)


def _schema(conn) -> set[tuple]:
    if conn.dialect.name == "sqlite":
        return set(conn.execute(text("SELECT type, name, sql FROM sqlite_master")).all())
    return set(conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                                 "UNION ALL SELECT proname, prosrc FROM pg_proc WHERE proname = 'bigrams'")).all())


def test_the_two_character_search_indexes_come_and_go_on_postgresql_only(scratch_url):
    """On PostgreSQL the upgrade creates ``bigrams`` (a text's lowercase 2-character substrings; NULL
    for NULL or a shorter text) and an index of it beside every trigram index — the audit rows' leading with the
    project — filled from the rows already there; the downgrade drops both. SQLite's schema stays as it was."""
    engine = make_engine(scratch_url)
    _migrate(engine, f"{BIGRAM_INDEXES}-1")
    with engine.begin() as conn:
        project, _, _ = _campaign(conn, 1)
        old = _insert(conn, "customer", project_id=project, name="老张三丰")
        before = _schema(conn)

    _migrate(engine, BIGRAM_INDEXES)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert _schema(conn) == before
        else:
            assert sorted(conn.scalar(text("SELECT bigrams('老张三丰 AB')"))) == sorted(
                ["老张", "张三", "三丰", "丰 ", " a", "ab"])
            assert conn.execute(text("SELECT bigrams(NULL), bigrams('张'), bigrams('')")).one() == (None, None, None)
            indexes = dict(conn.execute(text("SELECT indexname, indexdef FROM pg_indexes "
                                             "WHERE indexname LIKE '%\\_bigram'")).all())
            assert set(indexes) == {f"ix_{table}_bigram" for table in (
                "audit_log_actor_name", "audit_log_summary", "audit_log_record_id", "bill_period", "customer_name",
                "payment_receipt_no", "service_request_contact_name", "service_request_contact_phone", "staff_name",
                "unit_room_no", "work_order_result")}
            assert "gin (project_id, bigrams((actor_name)::text))" in indexes["ix_audit_log_actor_name_bigram"]
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(conn.scalars(text(
                "EXPLAIN SELECT id FROM customer WHERE bigrams(name) @> ARRAY['张三'] AND name ILIKE '%张三%'")))
            assert "ix_customer_name_bigram" in plan
            assert conn.scalars(text("SELECT id FROM customer WHERE bigrams(name) @> ARRAY['张三']")).all() == [old]

    _migrate(engine, f"{BIGRAM_INDEXES}-1", down=True)
    with engine.connect() as conn:
        assert _schema(conn) == before
    engine.dispose()


SCORE_TOTALS = "b4d8e1f2a6c3"  # score_total: the score events added up per project, month, employee and rule


def _triggers(conn) -> set[str]:
    if conn.dialect.name == "sqlite":
        return set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'score_event'")))
    return set(conn.scalars(text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'score_event'::regclass "
                                 "AND NOT tgisinternal")))


def test_the_score_totals_are_counted_from_the_events_held_and_kept_then_dropped(scratch_url):
    """The upgrade adds up the events already there (one employee's two events of October under one rule, a
    September one apart) and puts the triggers in place that keep the totals with every later write; the downgrade
    drops the table, its triggers (and on PostgreSQL their function), the events untouched."""
    import datetime as dt
    from decimal import Decimal

    engine = make_engine(scratch_url)
    _migrate(engine, f"{SCORE_TOTALS}-1")
    with engine.begin() as conn:
        branch = _insert(conn, "branch", name="分公司")
        project = _insert(conn, "project", name="甲项目", branch_id=branch)
        staff = _insert(conn, "staff", project_id=project, name="王芳", employee_no="A1", position="front_desk")
        rule = conn.scalar(text("SELECT id FROM scoring_rule ORDER BY id LIMIT 1")) or _insert(
            conn, "scoring_rule", code="1.1", category="service", description="x", points_min=-1, points_max=-1,
            source="manual", valid_from=dt.date(2026, 1, 1))
        for day, points in ((dt.date(2026, 10, 1), "-1.5"), (dt.date(2026, 10, 31), "-2"), (dt.date(2026, 9, 30), "2")):
            _insert(conn, "score_event", project_id=project, staff_id=staff, rule_id=rule, event_date=day,
                    points=Decimal(points), source="manual", note="")
        before = _triggers(conn)

    def totals(conn) -> dict:
        return {(m, float(p), n) for m, p, n in conn.execute(text("SELECT month, points, events FROM score_total"))}

    _migrate(engine, SCORE_TOTALS)
    with engine.begin() as conn:
        assert totals(conn) == {("2026-10", -3.5, 2), ("2026-09", 2.0, 1)}
        assert _triggers(conn) - before == {"score_total_insert", "score_total_update", "score_total_delete"}
        conn.execute(text("UPDATE score_event SET event_date = '2026-10-02' WHERE event_date = '2026-09-30'"))
        conn.execute(text("DELETE FROM score_event WHERE points = -2"))
        assert totals(conn) == {("2026-10", 0.5, 2), ("2026-09", 0.0, 0)}

    _migrate(engine, f"{SCORE_TOTALS}-1", down=True)
    with engine.connect() as conn:
        assert "score_total" not in inspect(conn).get_table_names()
        assert _triggers(conn) == before
        if conn.dialect.name == "postgresql":
            assert conn.scalar(text("SELECT count(*) FROM pg_proc WHERE proname = 'score_total_keep'")) == 0
        assert conn.scalar(text("SELECT count(*) FROM score_event")) == 2
    _migrate(engine, SCORE_TOTALS)  # up again: counted afresh
    with engine.connect() as conn:
        assert totals(conn) == {("2026-10", 0.5, 2)}
    engine.dispose()


AUDIT_ACTORS = "d1a7c3e5f9b2"  # 操作人 searched among the names the trail holds (audit_actor), by a B-tree


def test_the_audit_rows_names_move_into_audit_actor_and_back(scratch_url):
    """The upgrade lists each name the audit rows hold once (none for an empty one), puts a B-tree on
    ``(actor_name, project_id)`` and, on PostgreSQL, drops the column's trigram and 2-character indexes; the
    downgrade puts them back and drops the table. On SQLite the search table leaves the column: a 3-character
    part of a name is found by the names, a part of the 摘要 still by its index."""
    from models.search import sync_search_tables

    engine = make_engine(scratch_url)
    _migrate(engine, f"{AUDIT_ACTORS}-1")
    with engine.begin() as conn:
        rows = [_insert(conn, "audit_log", actor_name=name, summary=f"修改账单 #{n}", kind="update", source="cli",
                        table_name="bill", record_id=str(n), ip="", changes="{}")
                for n, name in enumerate(["张三丰", "张三丰", "命令行", ""])]
    _migrate(engine, AUDIT_ACTORS)
    with engine.begin() as conn:
        assert sorted(conn.scalars(text("SELECT name FROM audit_actor"))) == sorted(["张三丰", "命令行"])
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("audit_log")}
        assert "ix_audit_log_actor_name_project_id" in indexes
        assert not {"ix_audit_log_actor_name_trgm", "ix_audit_log_actor_name_bigram"} & indexes
        if conn.dialect.name == "sqlite":
            sync_search_tables(conn)  # as the migration environment does after every upgrade
            columns = {row[1] for row in conn.execute(text("PRAGMA table_info(audit_log_search)"))}
            assert columns == {"summary"}
            assert conn.scalars(text("SELECT rowid FROM audit_log_search WHERE summary LIKE '%账单 #1%' "
                                     "ORDER BY rowid")).all() == [rows[1]]
    _migrate(engine, f"{AUDIT_ACTORS}-1", down=True)
    with engine.begin() as conn:
        assert "audit_actor" not in inspect(conn).get_table_names()
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("audit_log")}
        assert "ix_audit_log_actor_name_project_id" not in indexes
        if conn.dialect.name == "postgresql":
            assert {"ix_audit_log_actor_name_trgm", "ix_audit_log_actor_name_bigram"} <= {
                name for (name,) in conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log'"))}
    engine.dispose()


LANDLINES_DASHED = "c5d1e8a3f7b9"  # a landline stored 021-58888888, as one with an extension is


def test_stored_landlines_are_dashed_and_back(scratch_url):
    """The upgrade rewrites the landlines stored as digits (02158888888) as clean.phone now stores them, in every
    phone column; a mobile, a number without an area code, one with an extension, an empty one and what is no
    landline stay as they are. The downgrade gives the digits back."""
    engine = make_engine(scratch_url)
    _migrate(engine, f"{LANDLINES_DASHED}-1")
    before = {"02158888888": "021-58888888", "075588888888": "0755-88888888", "01065432100": "010-65432100",
              "13812345678": "13812345678", "58888888": "58888888", "021-58888888-8023": "021-58888888-8023",
              "": "", "01234567": "01234567", "0211234567": "0211234567"}
    with engine.begin() as conn:
        project = _insert(conn, "project", name="锦绣华庭", branch_id=_insert(conn, "branch", name="华东分公司"))
        customers = {_insert(conn, "customer", project_id=project, name=f"客户{n}", phone=phone): phone
                     for n, phone in enumerate(before)}
        staff = _insert(conn, "staff", project_id=project, name="王芳", employee_no="E1", phone="02164381234")
        request = _insert(conn, "service_request", project_id=project, contact_phone="057188886666", status="pending",
                          channel="phone", kind="inquiry", category="other", priority="normal",
                          stage="open")

    def stored() -> tuple[dict[str, str], str, str]:
        with engine.begin() as conn:
            phones = dict(conn.execute(text("SELECT id, phone FROM customer")).all())
            return ({customers[i]: phone for i, phone in phones.items()},
                    conn.scalar(text("SELECT phone FROM staff WHERE id = :i"), {"i": staff}),
                    conn.scalar(text("SELECT contact_phone FROM service_request WHERE id = :i"), {"i": request}))

    _migrate(engine, LANDLINES_DASHED)
    assert stored() == (before, "021-64381234", "0571-88886666")
    _migrate(engine, f"{LANDLINES_DASHED}-1", down=True)
    assert stored() == ({phone: phone for phone in before}, "02164381234", "057188886666")
    engine.dispose()


PAYMENT_HANDOVER = "c7e1a9d4b3f2"


def test_each_payment_is_given_the_handover_whose_window_took_it_and_back(scratch_url):
    """The upgrade names on each payment the handover that counted it (its collector, its project, 收款时间 in
    [代收起, 代收止), not reversed); a payment no window held — typed in after a handover with an earlier time, or
    of a collector never handed over — is left for the next handover. The downgrade drops the column."""
    import datetime as dt

    engine = make_engine(scratch_url)
    _migrate(engine, f"{PAYMENT_HANDOVER}-1")
    at = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        project = _insert(conn, "project", name="交接苑", branch_id=_insert(conn, "branch", name="华东分公司"))
        desk, other = (_insert(conn, "staff", project_id=project, name=n, employee_no=n) for n in ("王丽", "赵收费"))
        building = _insert(conn, "building", name="1栋", project_id=project)
        unit = _insert(conn, "unit", project_id=project, building_id=building, room_no="101")
        bill = _insert(conn, "bill", project_id=project, unit_id=unit, period="2026-11",
                       fee_type_id=_insert(conn, "fee_type", project_id=project, name="物业管理费"))
        handover = _insert(conn, "cash_handover", project_id=project, collector_id=desk, period_from=at,
                           period_to=at + dt.timedelta(hours=10), handed_at=at + dt.timedelta(hours=10))

        def pay(n: int, who: int, hours: float, reversed_at: dt.datetime | None = None) -> int:
            number = _insert(conn, "receipt", project_id=project, number=f"R{n}") and f"R{n}"
            return _insert(conn, "payment", project_id=project, bill_id=bill, collector_id=who, receipt_no=number,
                           paid_at=at + dt.timedelta(hours=hours), method="cash", reversed_at=reversed_at)

        inside, reversed_, before, after, others = (
            pay(1, desk, 2), pay(2, desk, 3, at), pay(3, desk, -1), pay(4, desk, 11), pay(5, other, 2))

    _migrate(engine, PAYMENT_HANDOVER)
    with engine.connect() as conn:
        taken = dict(conn.execute(text("SELECT id, handover_id FROM payment")).all())
    assert taken == {inside: handover, reversed_: None, before: None, after: None, others: None}
    _migrate(engine, f"{PAYMENT_HANDOVER}-1", down=True)
    with engine.connect() as conn:
        assert "handover_id" not in {c["name"] for c in inspect(conn).get_columns("payment")}
    engine.dispose()
